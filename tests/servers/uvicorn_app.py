"""A real uvicorn serving an app module on a free loopback port, started and stopped by PID.

``with uvicorn_app("pkg.module:app", env=..., pythonpath=...) as server:`` waits until the
port accepts connections and ``/livez`` (or ``ready_path``) answers, yields a
:class:`UvicornServer` (``url``, ``process``, ``output()``), then stops the process by PID with
SIGTERM (SIGKILL after ``stop_timeout``). stdout and stderr go to files in ``workdir`` so a test
can read every line uvicorn and the app wrote.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.servers.net import LOOPBACK, free_port


@dataclass
class UvicornServer:
    port: int
    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def output(self) -> str:
        return self.stdout() + self.stderr()

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM by PID and wait (SIGKILL after ``timeout``); the exit code."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode


def _answers(port: int, path: str | None) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1.0) as sock:
            if path is None:
                return True
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {LOOPBACK}\r\nConnection: close\r\n\r\n".encode()
            )
            return sock.recv(16).startswith(b"HTTP/1.1 ")
    except OSError:
        return False


@contextlib.contextmanager
def uvicorn_app(
    app: str,
    *,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    pythonpath: Path | str | None = None,
    args: tuple[str, ...] = (),
    ready_path: str | None = "/livez",
    start_timeout: float = 30.0,
    stop_timeout: float = 15.0,
    python_args: tuple[str, ...] = (),
) -> Iterator[UvicornServer]:
    """Run ``python -m uvicorn app --host 127.0.0.1 --port <free>`` until the block ends.

    ``env`` replaces the environment (PATH and the like are added); ``pythonpath`` is put first
    on PYTHONPATH, the repository root after it.
    """
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = workdir / "uvicorn.out", workdir / "uvicorn.err"
    root = Path(__file__).resolve().parents[2]
    child_env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    child_env.update(env or {})
    paths = [str(p) for p in (pythonpath, root) if p is not None]
    child_env["PYTHONPATH"] = os.pathsep.join(paths)
    command = [
        sys.executable,
        *python_args,
        "-m",
        "uvicorn",
        app,
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        *args,
    ]
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(command, env=child_env, stdout=out, stderr=err, cwd=workdir)
    server = UvicornServer(port, process, stdout_path, stderr_path)
    try:
        end = time.monotonic() + start_timeout
        while not _answers(port, ready_path):
            if process.poll() is not None:
                raise RuntimeError(
                    f"uvicorn exited {process.returncode}: {server.output()[-2000:]}"
                )
            if time.monotonic() > end:
                raise RuntimeError(
                    f"uvicorn not answering in {start_timeout} s: {server.output()[-2000:]}"
                )
            time.sleep(0.05)
        yield server
    finally:
        server.terminate(stop_timeout)
