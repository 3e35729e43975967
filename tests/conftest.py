"""Shared fixtures: the installed ``cpa-ops`` run as a subprocess, and a clean environment."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.servers.redis_fixtures",
    "tests.servers.sentry_fixtures",
    "tests.servers.local_and_sync_fixtures",
]

BIN = Path(sys.executable).parent / "cpa-ops"
# Variables that would leak the developer's own configuration into a test run.
_SETTINGS_VARS = (
    "REDIS_URL",
    "REDIS_MODE",
    "REDIS_SENTINELS",
    "REDIS_SENTINEL_MASTER",
    "REDIS_SENTINEL_PASSWORD",
    "REDIS_SENTINEL_USERNAME",
    "REDIS_HEALTH_KEY_PREFIX",
    "REDIS_MAX_CONNECTIONS",
    "SENTRY_DSN",
    "SENTRY_TRACES_SAMPLE_RATE",
    "ENVIRONMENT",
    "LOG_LEVEL",
    "NO_COLOR",
    "FORCE_COLOR",
    "CPA_OPS_ENV_FILE",
    "ALLOWED_EXCEPTION_MESSAGES",
)


@dataclass
class Ran:
    """What one run of the installed ``cpa-ops`` did."""

    returncode: int
    stdout: str
    stderr: str
    elapsed: float


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any cpa-ops setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS_VARS}
    env.update(extra)
    return env


def run_cpa_ops(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 30,
    cwd: str | Path | None = None,
) -> Ran:
    """Run the installed console script; ``timeout`` kills it (and fails the test) if it hangs."""
    start = time.monotonic()
    proc = subprocess.run(
        [str(BIN), *args],
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )
    return Ran(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def slow_env_file(directory: Path) -> Path:
    """A valid .env just under the 1 MiB cap: parsing it takes seconds, so a command is still
    loading its settings when its deadline comes (a FIFO is refused at once)."""
    slow = directory / "slow.env"
    slow.write_text("A=1\n" * ((1 << 18) - 16))
    return slow


class TtyText(io.StringIO):
    """A text stream that says it is a terminal (so console logs are coloured)."""

    def isatty(self) -> bool:
        return True


@contextlib.contextmanager
def console_logs_on_a_tty() -> Iterator[TtyText]:
    """Console logging, coloured, into a TtyText; the root logger and structlog put back
    afterwards."""
    import structlog

    from cpa_ops.core.logging import configure_logging
    from cpa_ops.core.settings import load_settings

    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = TtyText()
    configure_logging(
        load_settings(environment="development"), stream=stream, log_format="console", environ={}
    )
    try:
        yield stream
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's settings or a stray ./.env."""
    for name in _SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def redis_server_bin() -> str:
    path = shutil.which("redis-server")
    if path is None:
        pytest.exit("the tests need redis-server 7 on PATH: 'sudo apt-get install redis-server'", 1)
    return path
