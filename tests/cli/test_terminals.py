"""Colour and terminals: every command run into a pipe, on a real pseudo-terminal, under NO_COLOR,
FORCE_COLOR and TERM=dumb. No ANSI code where none belongs; colour where the command colours and
the terminal wants it."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import typer

from cpa_ops.cli import app
from tests.cli.conftest import Background, OnTerminal
from tests.conftest import clean_env, run_cpa_ops
from tests.servers import redis_faults as faults
from tests.servers.sentry_ingest import SentryIngest

pytestmark = pytest.mark.timeout(60)

ANY_ESCAPE = re.compile(r"\x1b")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # SGR: colour and bold/dim


@dataclass(frozen=True)
class Run:
    """One way to run a command so it prints its usual output."""

    args: tuple[str, ...]  # "{redis}", "{refused}" and "{dsn}" are filled in (loopback)
    coloured: bool  # whether this output carries colour on a colour terminal
    interrupt_after: str | None = None  # a live view: Ctrl-C once this text has been shown
    env: tuple[tuple[str, str], ...] = ()  # settings, filled in like args
    logs_a_traceback: bool = False  # log-test shows how a logged exception looks


# One row per command at least (test_every_command_is_checked keeps this complete).
RUNS = {
    "health": Run(("health", "--redis-url", "{redis}", "--timeout", "5"), coloured=True),
    "health failing": Run(("health", "--redis-url", "{refused}"), coloured=True),
    "health --wait spinner": Run(("health", "--redis-url", "{refused}", "--wait", "0.6"), True),
    # Ctrl-C after round 1, while the watch sleeps (one landing inside a probe can leave an
    # asyncio warning on stderr: a known race in the watch loop, not what this file checks)
    "health --watch": Run(
        ("health", "--redis-url", "{redis}", "--watch", "5", "--timeout", "5"),
        coloured=True,
        interrupt_after="redis:ping",
    ),
    "health json": Run(
        ("health", "--redis-url", "{redis}", "--format", "json", "--timeout", "5"), coloured=False
    ),
    "ping": Run(("ping", "--redis-url", "{redis}", "-c", "2", "-i", "0.05"), coloured=True),
    "ping failing": Run(("ping", "--redis-url", "{refused}", "-c", "2", "-i", "0.05"), True),
    "ping until Ctrl-C": Run(
        ("ping", "--redis-url", "{redis}", "-i", "2"), coloured=True, interrupt_after="seq=1"
    ),
    "config": Run(("config", "--redis-url", "{redis}"), coloured=True),
    "config check": Run(("config", "check", "--redis-url", "{redis}"), coloured=False),
    "log-test": Run(("log-test",), coloured=True, logs_a_traceback=True),
    "log-test json": Run(("log-test", "--format", "json"), coloured=False, logs_a_traceback=True),
    "sentry-test": Run(("sentry-test",), coloured=True, env=(("SENTRY_DSN", "{dsn}"),)),
    "sentry-test without a DSN": Run(("sentry-test",), coloured=False),
    "sentry-test --dry-run": Run(("sentry-test", "--dry-run"), coloured=False),
    "health --help": Run(("health", "--help"), coloured=False),
    "--help": Run(("--help",), coloured=False),
}


@pytest.fixture(scope="module")
def urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A healthy redis-server, a loopback port that refuses connections, and the DSN of a real
    Sentry ingest server on loopback (all shared by the module, stopped after it)."""
    with (
        faults.redis_server(workdir=tmp_path_factory.mktemp("redis")) as server,
        faults.refused_port() as refused,
        SentryIngest() as ingest,
    ):
        yield {
            "redis": f"redis://127.0.0.1:{server.port}/0",
            "refused": f"redis://127.0.0.1:{refused}/0",
            "dsn": ingest.dsn,
        }


def argv(run: Run, urls: dict[str, str]) -> list[str]:
    return [arg.format(**urls) for arg in run.args]


def settings(run: Run, urls: dict[str, str]) -> dict[str, str]:
    return {name: value.format(**urls) for name, value in run.env}


def run_in_pipe(run: Run, urls: dict[str, str], **env: str) -> str:
    """stdout + stderr of the installed cpa-ops writing into pipes."""
    proc = Background(*argv(run, urls), env=clean_env(**settings(run, urls), **env))
    try:
        if run.interrupt_after:
            proc.wait_for(lambda line: run.interrupt_after in line, timeout=20)
            _, stdout, stderr = proc.stop(signal.SIGINT, timeout=20)
        else:
            _, stdout, stderr = proc.finish(timeout=30)
    finally:
        proc.kill()
    assert "Traceback" not in stderr, stderr
    out = "\n".join(proc.seen) + stdout + stderr
    assert run.logs_a_traceback or "Traceback" not in out
    return out


def run_on_tty(run: Run, urls: dict[str, str], **env: str) -> str:
    """Everything the installed cpa-ops writes to a real pseudo-terminal (stdout and stderr)."""
    proc = OnTerminal(
        *argv(run, urls),
        env=clean_env(**{"TERM": "xterm-256color", "COLUMNS": "100", **settings(run, urls), **env}),
    )
    try:
        if run.interrupt_after:
            proc.read_until(run.interrupt_after.encode(), timeout=20)
            proc.proc.send_signal(signal.SIGINT)
        proc.finish(timeout=30)
    finally:
        proc.kill()
    text = proc.output.decode("utf-8", "replace")
    assert run.logs_a_traceback or "Traceback" not in text
    return text


Outputs = Callable[[str], dict[str, str]]


def registered_commands() -> set[str]:
    group = typer.main.get_command(app)
    return {name for name, command in group.commands.items() if not command.hidden}  # type: ignore[attr-defined]


def test_every_command_is_checked() -> None:
    """Each registered command has at least one row in RUNS."""
    checked = {run.args[0] for run in RUNS.values()}
    assert registered_commands() <= checked


# How each row is run: (runner, colour variables). The six runs of a row go side by side.
MODES: dict[str, tuple[Callable[..., str], dict[str, str]]] = {
    "pipe": (run_in_pipe, {}),
    "pipe, NO_COLOR and FORCE_COLOR": (run_in_pipe, {"NO_COLOR": "1", "FORCE_COLOR": "1"}),
    "pipe, FORCE_COLOR": (run_in_pipe, {"FORCE_COLOR": "1"}),
    "terminal": (run_on_tty, {}),
    "terminal, NO_COLOR": (run_on_tty, {"NO_COLOR": "1"}),
    "terminal, TERM=dumb": (run_on_tty, {"TERM": "dumb"}),
}


@pytest.fixture(scope="module")
def outputs(urls: dict[str, str]) -> Callable[[str], dict[str, str]]:
    """A row's output in every mode (run once per module, the modes in parallel)."""
    done: dict[str, dict[str, str]] = {}

    def of(name: str) -> dict[str, str]:
        if name not in done:
            with ThreadPoolExecutor(len(MODES)) as pool:
                running = {
                    mode: pool.submit(runner, RUNS[name], urls, **env)
                    for mode, (runner, env) in MODES.items()
                }
                done[name] = {mode: future.result() for mode, future in running.items()}
        return done[name]

    return of


@pytest.mark.parametrize("name", list(RUNS))
class TestColour:
    def test_pipe_gets_no_escape_codes(self, name: str, outputs: Outputs) -> None:
        """Into a pipe, with no colour variables: plain text, not one escape code."""
        out = outputs(name)["pipe"]
        assert out.strip()
        assert not ANY_ESCAPE.search(out), out

    def test_no_color_on_a_terminal(self, name: str, outputs: Outputs) -> None:
        """NO_COLOR on a real terminal: no colour."""
        out = outputs(name)["terminal, NO_COLOR"]
        assert out.strip()
        assert not COLOUR.search(out), out

    def test_no_color_beats_force_color(self, name: str, outputs: Outputs) -> None:
        """NO_COLOR wins over FORCE_COLOR."""
        out = outputs(name)["pipe, NO_COLOR and FORCE_COLOR"]
        assert not ANY_ESCAPE.search(out), out

    def test_dumb_terminal_gets_no_escape_codes(self, name: str, outputs: Outputs) -> None:
        """TERM=dumb on a real terminal: no escape code of any kind (no colour, no cursor moves)."""
        out = outputs(name)["terminal, TERM=dumb"]
        assert out.strip()
        assert not ANY_ESCAPE.search(out), out

    def test_colour_terminal(self, name: str, outputs: Outputs) -> None:
        """A colour terminal, no variables: colour exactly where the command colours."""
        out = outputs(name)["terminal"]
        assert bool(COLOUR.search(out)) is RUNS[name].coloured, out


@pytest.mark.parametrize("name", list(RUNS))
def test_force_color_into_a_pipe(name: str, outputs: Outputs) -> None:
    """FORCE_COLOR=1 into a pipe: colour exactly where the command colours its output."""
    out = outputs(name)["pipe, FORCE_COLOR"]
    assert bool(COLOUR.search(out)) is RUNS[name].coloured, out


def test_force_color_keeps_json_parseable(urls: dict[str, str]) -> None:
    """--format json stays plain JSON on stdout even with FORCE_COLOR (machines read it)."""
    import json

    ran = run_cpa_ops("health", "--redis-url", urls["redis"], "--format", "json", "--timeout", "5",
                      env=clean_env(FORCE_COLOR="1"))  # fmt: skip
    assert json.loads(ran.stdout)["status"] in {"pass", "warn"}
