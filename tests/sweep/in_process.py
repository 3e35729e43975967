"""``cpa-ops`` run in-process for the sweep: exactly the given settings variables set, both
streams captured, the process's environment restored afterwards."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from cpa_ops.cli import run
from cpa_ops.core.known_secrets import forget_secrets, register_secret, registered_secrets
from tests.conftest import _SETTINGS_VARS


class Outcome(NamedTuple):
    """What one run did: its exit code and what it wrote to each stream."""

    code: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def process_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Exactly ``values`` as the settings variables, restored afterwards."""
    saved = dict(os.environ)
    for name in _SETTINGS_VARS:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def own_secrets() -> Iterator[None]:
    """The secrets a run registers are its own, as a process's are: the registry is left as
    it was found (a fuzzed value registered by one run masked text in every later test)."""
    before = registered_secrets()
    try:
        yield
    finally:
        forget_secrets()
        register_secret(*before)


def in_process(argv: list[str], env: Mapping[str, str] | None = None) -> Outcome:
    """``cpa-ops argv`` through ``cpa_ops.cli.run`` with ``env`` as its settings variables."""
    out, err = io.StringIO(), io.StringIO()
    with (
        own_secrets(),
        process_environment(env or {}),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = run(argv)
    return Outcome(code, out.getvalue(), err.getvalue())
