"""Colour and terminals: every command run into a pipe, on a real pseudo-terminal, under NO_COLOR,
FORCE_COLOR and TERM=dumb. No ANSI code where none belongs; colour where the command colours and
the terminal wants it."""

from __future__ import annotations

import os
import pty
import re
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from cpa_ops.cli import app
from tests.conftest import BIN, clean_env, run_cpa_ops

pytestmark = pytest.mark.timeout(60)

ANY_ESCAPE = re.compile(r"\x1b")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # SGR: colour and bold/dim


@dataclass(frozen=True)
class Run:
    """One way to run a command so it prints its usual output."""

    args: tuple[str, ...]  # "{redis}" and "{refused}" are filled in with loopback URLs
    coloured: bool  # whether this output carries colour on a colour terminal


# One row per command at least (test_every_command_is_checked keeps this complete).
RUNS = {
    "health": Run(("health", "--redis-url", "{redis}"), coloured=True),
    "health failing": Run(("health", "--redis-url", "{refused}"), coloured=True),
    "health --wait spinner": Run(("health", "--redis-url", "{refused}", "--wait", "0.6"), True),
    "health json": Run(("health", "--redis-url", "{redis}", "--format", "json"), coloured=False),
    "health --help": Run(("health", "--help"), coloured=False),
    "--help": Run(("--help",), coloured=False),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def urls(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str
) -> Iterator[dict[str, str]]:
    """A healthy redis-server on a free loopback port (stopped by PID) and a refused address."""
    port = _free_port()
    workdir: Path = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [redis_server_bin, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield {
            "redis": f"redis://127.0.0.1:{port}/0",
            "refused": f"redis://127.0.0.1:{_free_port()}/0",
        }
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def argv(run: Run, urls: dict[str, str]) -> list[str]:
    return [arg.format(**urls) for arg in run.args]


def run_in_pipe(args: list[str], **env: str) -> str:
    """stdout + stderr of the installed cpa-ops writing into pipes."""
    ran = run_cpa_ops(*args, env=clean_env(**env))
    assert "Traceback" not in ran.stderr
    return ran.stdout + ran.stderr


def run_on_tty(args: list[str], **env: str) -> str:
    """Everything the installed cpa-ops writes to a real pseudo-terminal (stdout and stderr)."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [str(BIN), *args],
        env=clean_env(**{"TERM": "xterm-256color", "COLUMNS": "100", **env}),
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    chunks = []
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the process closed its end
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(10)
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert "Traceback" not in text
    return text


def registered_commands() -> set[str]:
    group = typer.main.get_command(app)
    return {name for name, command in group.commands.items() if not command.hidden}  # type: ignore[attr-defined]


def test_every_command_is_checked() -> None:
    """Each registered command has at least one row in RUNS."""
    checked = {run.args[0] for run in RUNS.values()}
    assert registered_commands() <= checked


@pytest.mark.parametrize("name", list(RUNS))
class TestColour:
    def test_pipe_gets_no_escape_codes(self, name: str, urls: dict[str, str]) -> None:
        """Into a pipe, with no colour variables: plain text, not one escape code."""
        out = run_in_pipe(argv(RUNS[name], urls))
        assert out.strip()
        assert not ANY_ESCAPE.search(out), out

    def test_no_color_on_a_terminal(self, name: str, urls: dict[str, str]) -> None:
        """NO_COLOR on a real terminal: no colour."""
        out = run_on_tty(argv(RUNS[name], urls), NO_COLOR="1")
        assert out.strip()
        assert not COLOUR.search(out), out

    def test_no_color_beats_force_color(self, name: str, urls: dict[str, str]) -> None:
        """NO_COLOR wins over FORCE_COLOR."""
        out = run_in_pipe(argv(RUNS[name], urls), NO_COLOR="1", FORCE_COLOR="1")
        assert not ANY_ESCAPE.search(out), out

    def test_dumb_terminal_gets_no_escape_codes(self, name: str, urls: dict[str, str]) -> None:
        """TERM=dumb on a real terminal: no escape code of any kind (no colour, no cursor moves)."""
        out = run_on_tty(argv(RUNS[name], urls), TERM="dumb")
        assert out.strip()
        assert not ANY_ESCAPE.search(out), out

    def test_force_color_into_a_pipe(self, name: str, urls: dict[str, str]) -> None:
        """FORCE_COLOR=1 into a pipe: colour exactly where the command colours its output."""
        out = run_in_pipe(argv(RUNS[name], urls), FORCE_COLOR="1")
        assert bool(COLOUR.search(out)) is RUNS[name].coloured, out

    def test_colour_terminal(self, name: str, urls: dict[str, str]) -> None:
        """A colour terminal, no variables: colour exactly where the command colours."""
        out = run_on_tty(argv(RUNS[name], urls))
        assert bool(COLOUR.search(out)) is RUNS[name].coloured, out


def test_force_color_keeps_json_parseable(urls: dict[str, str]) -> None:
    """--format json stays plain JSON on stdout even with FORCE_COLOR (machines read it)."""
    import json

    ran = run_cpa_ops("health", "--redis-url", urls["redis"], "--format", "json",
                      env=clean_env(FORCE_COLOR="1"))  # fmt: skip
    assert json.loads(ran.stdout)["status"] in {"pass", "warn"}
