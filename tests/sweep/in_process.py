"""``cpa-ops`` run in-process for the sweep: exactly the given settings variables set, both
streams captured, the process's environment restored afterwards."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from cpa_ops.cli import run
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


def in_process(argv: list[str], env: Mapping[str, str] | None = None) -> Outcome:
    """``cpa-ops argv`` through ``cpa_ops.cli.run`` with ``env`` as its settings variables."""
    out, err = io.StringIO(), io.StringIO()
    with (
        process_environment(env or {}),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = run(argv)
    return Outcome(code, out.getvalue(), err.getvalue())
