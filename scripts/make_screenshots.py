"""Draw docs/img/*.svg from cpa-ops' own output: each shot runs the installed console script with
FORCE_COLOR=1 against a redis-server this script starts on a free loopback port (and stops by
PID), and a Rich recording console turns the ANSI output into an SVG terminal picture.

    ./dev python scripts/make_screenshots.py

A shot whose command this cpa-ops does not have is skipped with a note.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "docs" / "img"
CPA_OPS = Path(sys.executable).parent / "cpa-ops"
WIDTH = 100


@dataclass(frozen=True)
class Shot:
    """One picture: the command line shown, and the settings it runs with."""

    file: str
    args: tuple[str, ...]
    redis: str  # "healthy": the started server; "refused": a free port nobody listens on
    env: tuple[tuple[str, str], ...] = ()
    width: int = WIDTH


SHOTS = (
    Shot("health-healthy.svg", ("health",), "healthy"),
    Shot("health-failing.svg", ("health",), "refused"),
    Shot("ping.svg", ("ping", "-c", "5", "-i", "0.2"), "healthy"),
    Shot("log-test.svg", ("log-test",), "healthy", (("ENVIRONMENT", "development"),), width=140),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[int]:
    """A throwaway redis-server on 127.0.0.1 (no persistence), stopped by its PID."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("make_screenshots: needs redis-server on PATH")
    port = _free_port()
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", workdir],
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
            yield port
        finally:
            proc.terminate()
            proc.wait(10)


def commands() -> set[str]:
    """The commands of the installed cpa-ops, asked the way a shell's Tab asks."""
    env = {**os.environ, "_CPA_OPS_COMPLETE": "complete_bash", "COMP_WORDS": "cpa-ops ",
           "COMP_CWORD": "1"}  # fmt: skip
    ran = subprocess.run([str(CPA_OPS)], env=env, capture_output=True, text=True, check=True)
    return set(ran.stdout.split())


def terminal_output(shot: Shot, redis_url: str) -> str:
    """What the command writes to a colour terminal (stdout and stderr, in order)."""
    settings = {"REDIS_URL", "SENTRY_DSN", "ENVIRONMENT", "LOG_LEVEL", "NO_COLOR"}
    env = {k: v for k, v in os.environ.items() if k not in settings}
    env.update(FORCE_COLOR="1", COLUMNS=str(shot.width), TERM="xterm-256color", REDIS_URL=redis_url)
    env.update(shot.env)
    ran = subprocess.run(
        [str(CPA_OPS), *shot.args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=30,
        cwd=tempfile.gettempdir(),  # no stray ./.env
    )
    # traceback lines name files relative to the repo, not the checkout the picture was made in
    return ran.stdout.replace(f"{REPO}{os.sep}", "")


def save_svg(shot: Shot, output: str) -> Path:
    from rich.console import Console
    from rich.text import Text

    console = Console(
        record=True,
        width=shot.width,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
    )
    console.print(Text("$ ", style="dim") + Text(" ".join(("cpa-ops", *shot.args)), style="bold"))
    console.print(Text.from_ansi(output.rstrip("\n")))
    path = IMAGES / shot.file
    console.save_svg(str(path), title=" ".join(("cpa-ops", *shot.args)))
    return path


def main() -> int:
    available = commands()
    IMAGES.mkdir(parents=True, exist_ok=True)
    with redis_server() as port:
        urls = {
            "healthy": f"redis://127.0.0.1:{port}/0",
            "refused": f"redis://127.0.0.1:{_free_port()}/0",
        }
        for shot in SHOTS:
            if shot.args[0] not in available:
                print(f"skipped {shot.file}: this cpa-ops has no '{shot.args[0]}' command")
                continue
            path = save_svg(shot, terminal_output(shot, urls[shot.redis]))
            print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
