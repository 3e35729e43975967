"""Real redis-server processes on free loopback ports (healthy or put into one fault), and the
installed ``cpa-ops`` run in the background for signal and live-output tests."""

from __future__ import annotations

import os
import pty
import queue
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import BIN, clean_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """One redis-server on 127.0.0.1, started and stopped by its PID."""

    def __init__(self, binary: str, workdir: Path, *args: str, password: str | None = None):
        self.port = free_port()
        self.password = password
        self.workdir = workdir
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(workdir), *args]
        if password:
            command += ["--requirepass", password]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.frozen = False
        deadline = time.monotonic() + 10
        while True:
            try:
                with self.client() as first:  # closed at once: maxclients 1 must stay free
                    first.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, socket_timeout=5)

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections, nothing answers."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def start_loading(self, keys: int = 3000, delay_us: int = 1000) -> None:
        """Put the server into LOADING for about ``keys * delay_us`` microseconds (DEBUG RELOAD
        with a per-key load delay); needs ``--enable-debug-command local``."""
        admin = self.client()
        admin.config_set("key-load-delay", delay_us)
        admin.config_set("loading-process-events-interval-bytes", 1024)
        admin.execute_command("DEBUG", "POPULATE", keys, "key", 100)
        # DEBUG RELOAD answers only when loading is over: send it and do not wait
        raw = socket.create_connection(("127.0.0.1", self.port))
        if self.password:
            raw.sendall(f"AUTH {self.password}\r\n".encode())
            raw.recv(100)
        raw.sendall(b"DEBUG RELOAD\r\n")
        self._reload_socket = raw
        # redis-py's client retries LOADING replies: look at the raw reply instead
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(100).startswith(b"-LOADING"):
                    return
            time.sleep(0.01)
        raise AssertionError("the server never reported LOADING")

    def stop(self) -> None:
        if self.frozen:
            self.thaw()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def redis_factory(
    redis_server_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., RedisProcess]]:
    """Start redis-servers with extra arguments; all are stopped (by PID) after the test."""
    started: list[RedisProcess] = []

    def start(*args: str, password: str | None = None) -> RedisProcess:
        server = RedisProcess(
            redis_server_bin, tmp_path_factory.mktemp("redis"), *args, password=password
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def healthy_redis(
    redis_server_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisProcess]:
    """One healthy redis-server shared by a module's tests."""
    server = RedisProcess(redis_server_bin, tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


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
