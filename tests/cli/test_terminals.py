"""Colour and terminals: every command run into a pipe, on a real pseudo-terminal, under NO_COLOR,
FORCE_COLOR and TERM=dumb. No ANSI code where none belongs; colour where the command colours and
the terminal wants it."""

from __future__ import annotations

import json
import logging
import re
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import typer

from cpa_ops.cli import app
from cpa_ops.core.logging import get_logger
from tests.cli.conftest import Background, OnTerminal
from tests.conftest import Ran, TtyText, clean_env, console_logs_on_a_tty, run_cpa_ops
from tests.servers import redis_faults as faults
from tests.servers.evil_redis import EVIL, RICH_CURSOR, SGR, EvilRedis, evil_redis, raw_controls
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


# --------------------------------------------------------------------------------------------
# Terminal injection: a Redis whose replies carry escape sequences (OSC title, CSI clear-screen,
# C1 CSI, BEL, bidi override, NUL) reaches the person only as visible text


INJECTING = ("hello", "ping", "loading", "noauth", "info")
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[H\\x9b31mred\\x07\\u202etxt.exe\\x00end"


def _health(server: EvilRedis, *args: str, **env: str) -> Ran:
    return run_cpa_ops(
        "health", "--redis-url", server.url, "--timeout", "3", *args, env=clean_env(**env)
    )


@pytest.mark.parametrize("scenario", INJECTING)
@pytest.mark.parametrize("fmt", ["text", "nagios"])
def test_health_shows_a_reply_s_escape_sequences_visibly(scenario: str, fmt: str) -> None:
    """health's text (coloured: our SGR codes survive) and nagios outputs: no raw control
    character from the reply, which is shown spelled out."""
    with evil_redis(scenario) as server:
        ran = _health(server, "--format", fmt, FORCE_COLOR="1")
    out = ran.stdout + ran.stderr
    assert ran.returncode in ((0,) if scenario == "info" else (1, 2)), out
    assert raw_controls(out, SGR) == [], out
    assert SHOWN in out
    assert bool(COLOUR.search(out)) is (fmt == "text")
    assert "Traceback" not in out


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("scenario", INJECTING)
def test_health_json_escapes_every_control_and_keeps_the_value(scenario: str) -> None:
    """health --format json: not one raw control character (C1 and bidi included), and the
    parsed document carries the reply exactly as the server sent it."""
    with evil_redis(scenario) as server:
        ran = _health(server, "--format", "json")
    assert raw_controls(ran.stdout) == [], ran.stdout
    document = json.loads(ran.stdout)
    assert any(EVIL in text for text in _strings(document)), document


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_ping_lines_show_a_reply_visibly(fmt: str) -> None:
    """ping into a pipe (a line per sample, coloured when forced) and its JSON summary."""
    with evil_redis("ping") as server:
        ran = run_cpa_ops("ping", "--redis-url", server.url, "-c", "2", "-i", "0.05",
                          "--format", fmt, env=clean_env(FORCE_COLOR="1"))  # fmt: skip
    out = ran.stdout + ran.stderr
    assert ran.returncode == 1, out
    assert raw_controls(out, SGR) == [], out
    if fmt == "text":
        assert SHOWN in ran.stdout
    else:
        assert json.loads(ran.stdout)["failed"] == 2


def _on_pty(on_terminal: Callable[..., OnTerminal], *args: str, until: bytes) -> str:
    proc = on_terminal(*args, env=clean_env(TERM="xterm-256color", COLUMNS="200"))
    proc.read_until(until, timeout=20)
    proc.proc.send_signal(signal.SIGINT)
    proc.finish(timeout=20)
    return proc.output.decode("utf-8", "replace")


def test_ping_live_view_shows_a_reply_visibly(on_terminal: Callable[..., OnTerminal]) -> None:
    """ping's live view on a real pseudo-terminal (Rich): only colour and Rich's own cursor
    moves reach the terminal; the reply's sequences are shown spelled out."""
    with evil_redis("ping") as server:
        text = _on_pty(on_terminal, "ping", "--redis-url", server.url, "-i", "0.2",
                       until=b"seq=2")  # fmt: skip
    assert raw_controls(text, SGR, RICH_CURSOR) == [], text
    assert COLOUR.search(text)
    assert "\\x1b]0;pwned" in text


@pytest.mark.parametrize("scenario", ["ping", "info"])
def test_health_watch_table_shows_a_reply_visibly(
    scenario: str, on_terminal: Callable[..., OnTerminal]
) -> None:
    """health --watch's table on a real pseudo-terminal (Rich)."""
    with evil_redis(scenario) as server:
        text = _on_pty(on_terminal, "health", "--redis-url", server.url, "--watch", "5",
                       "--timeout", "3", until=b"end")  # fmt: skip
    assert raw_controls(text, SGR, RICH_CURSOR) == [], text
    assert "\\x1b]0;pwned" in text


@pytest.fixture
def console_log() -> Iterator[TtyText]:
    """Console logging, coloured, into a stream that says it is a TTY; put back afterwards."""
    with console_logs_on_a_tty() as stream:
        yield stream


def test_console_log_lines_show_controls_visibly(console_log: TtyText) -> None:
    """A message, a value, a key, a nested value, a stdlib record and an exception's traceback
    carrying escape sequences: coloured console lines with none of them raw."""
    log = get_logger("svc.terminal")
    log.info(f"reply {EVIL}", detail=EVIL, nested={"k": EVIL}, **{f"key{EVIL}": 1})
    logging.getLogger("svc.stdlib").warning("stdlib %s", EVIL)
    try:
        raise ValueError(EVIL)
    except ValueError:
        log.exception("failed", line=f"forged\n2026-01-01 [info] {EVIL}")
    text = console_log.getvalue()
    assert COLOUR.search(text)
    assert raw_controls(text, SGR) == [], text
    assert text.count("\\x1b]0;pwned") >= 5
    assert "forged\\n2026" in text  # a value cannot forge a second log line


def test_console_log_of_a_redis_py_error(console_log: TtyText) -> None:
    """What a service logs when redis-py raises on the fake server's reply."""
    import redis

    with evil_redis("ping") as server:
        client = redis.Redis.from_url(server.url, socket_timeout=3)
        try:
            client.ping()
        except redis.RedisError as exc:
            get_logger("svc.cache").exception("redis failed", error=str(exc))
        finally:
            client.close()
    text = console_log.getvalue()
    assert raw_controls(text, SGR) == [], text
    assert "\\x1b]0;pwned" in text


def test_console_log_message_cannot_forge_a_line(console_log: TtyText) -> None:
    """A message with a line break and escape sequences stays one line, spelled out."""
    get_logger("svc.terminal").info(f"done\n2026-01-01 [error] forged {EVIL}")
    (line,) = console_log.getvalue().splitlines()
    assert "done\\x0a2026-01-01" in line
    assert raw_controls(line, SGR) == []
