"""The installed ``cpa-ops`` run in the background (on a pipe or a pseudo-terminal) for signal
and live-output tests."""

from __future__ import annotations

import codecs
import os
import pty
import queue
import select
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import BIN, clean_env


class Background:
    """The installed ``cpa-ops`` running in the background; its stdout read line by line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [str(BIN), *args],
            env=clean_env() if env is None else env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def next_line(self, timeout: float = 10) -> str:
        line = self._lines.get(timeout=timeout)
        if line is None:
            raise AssertionError(f"cpa-ops ended early; output so far: {self.seen}")
        self.seen.append(line)
        return line

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 10) -> str:
        """The first further stdout line matching ``predicate``."""
        end = time.monotonic() + timeout
        while True:
            line = self.next_line(max(end - time.monotonic(), 0.01))
            if predicate(line):
                return line

    def stop(self, signum: int, timeout: float = 10) -> tuple[int, str, str]:
        """Send ``signum``; the exit code, the rest of stdout, and stderr."""
        self.proc.send_signal(signum)
        return self.finish(timeout)

    def finish(self, timeout: float = 10) -> tuple[int, str, str]:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        rest = []
        while True:
            line = self._lines.get(timeout=5)
            if line is None:
                break
            rest.append(line)
        assert self.proc.stderr is not None
        return code, "\n".join(rest), self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def background() -> Iterator[Callable[..., Background]]:
    """Start ``cpa-ops`` in the background; any still running after the test is killed."""
    running: list[Background] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Background:
        run = Background(*args, env=env)
        running.append(run)
        return run

    yield start
    for run in running:
        run.kill()


class OnTerminal:
    """The installed ``cpa-ops`` with stdout and stderr on a pseudo-terminal."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.master, slave = pty.openpty()
        env = clean_env(TERM="xterm-256color", COLUMNS="120") if env is None else env
        self.proc = subprocess.Popen(
            [str(BIN), *args], env=env, stdin=slave, stdout=slave, stderr=slave
        )
        os.close(slave)
        self.output = b""

    @property
    def text(self) -> str:
        """The output so far as text. A character the last read cut in two is left out (a read
        may end inside a box-drawing character), and a broken one shows as U+FFFD: under heavy
        load a live view's frame has been seen cut short mid-character just before the next
        frame erased it (cause not found; on a terminal the redraw hides it)."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        return decoder.decode(self.output, final=False)

    def read_until(self, needle: bytes, timeout: float = 10) -> bytes:
        end = time.monotonic() + timeout
        while needle not in self.output:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} not seen; output: {self.output[-2000:]!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{needle!r} not seen; output: {self.output!r}")
                self.output += chunk
        return self.output

    def finish(self, timeout: float = 10) -> int:
        end = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    break
        code = self.proc.wait(max(end - time.monotonic(), 0.1))
        # drain what was written just before the exit
        while select.select([self.master], [], [], 0.05)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk
        os.close(self.master)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def on_terminal() -> Iterator[Callable[..., OnTerminal]]:
    """Start ``cpa-ops`` on a pseudo-terminal; killed after the test if still running."""
    running: list[OnTerminal] = []

    def start(*args: str, env: dict[str, str] | None = None) -> OnTerminal:
        run = OnTerminal(*args, env=env)
        running.append(run)
        return run

    yield start
    for run in running:
        run.kill()
