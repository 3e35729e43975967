"""SIGINT and SIGTERM in the middle of every long-running command: a prompt exit with the
documented code, no traceback, the partial results where the command has them, and no
connection left open on the server."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator

import pytest

from tests.cli.conftest import Background
from tests.conftest import clean_env
from tests.servers import redis_faults as faults
from tests.servers.net import wait_until
from tests.servers.redis_faults import RedisServer
from tests.servers.redis_fixtures import REDIS_PASSWORD
from tests.servers.sentry_ingest import PUBLIC_KEY, Mode, SentryIngest

#: `./dev test -m "not slow"` skips the sweep (the quick loop); `./dev test` runs it as well
pytestmark = pytest.mark.slow

SIGNAL_EXITS = {signal.SIGINT: 130, signal.SIGTERM: 143}
#: from the signal to the process gone
PROMPT = 2.0
both_signals = pytest.mark.parametrize("signum", list(SIGNAL_EXITS), ids=["SIGINT", "SIGTERM"])


def other_clients(server: RedisServer) -> list[str]:
    """The CLIENT LIST lines of every connection but the one asking."""
    with server.client() as admin:
        lines = str(admin.check("CLIENT", "LIST")).splitlines()
        me = str(admin.check("CLIENT", "ID"))
    return [line for line in lines if not line.startswith(f"id={me} ")]


def wait_for_client(server: RedisServer, name: str = "", timeout: float = 10) -> str:
    """The first connection of another client (cpa-ops) the server sees; with ``name``, once
    it has named itself (a connection shows nameless until its handshake is done)."""

    def seen() -> list[str]:
        return [line for line in other_clients(server) if f" name={name}" in line]

    return wait_until(seen, timeout, f"cpa-ops is connected {name}")[0]


def assert_no_client_left(server: RedisServer) -> None:
    """CLIENT LIST is back to the asking connection alone."""
    wait_until(lambda: not other_clients(server), 3, "every cpa-ops connection is closed")


def stopped(run: Background, signum: int) -> tuple[int, str, str, float]:
    """Send ``signum``; the exit code, the rest of stdout, stderr and seconds to exit."""
    sent = time.monotonic()
    code, rest, stderr = run.stop(signum, timeout=10)
    return code, rest, stderr, time.monotonic() - sent


def assert_clean_end(stderr: str) -> None:
    """No traceback, no secret: the signal ended the command, nothing crashed."""
    assert "Traceback" not in stderr
    assert "internal error" not in stderr
    assert REDIS_PASSWORD not in stderr and PUBLIC_KEY not in stderr


@pytest.fixture
def protected_redis() -> Iterator[RedisServer]:
    """A healthy password-protected server."""
    with faults.redis_server(password=REDIS_PASSWORD) as server:
        yield server


@pytest.fixture
def paused_redis() -> Iterator[RedisServer]:
    """Writes paused: ``health --write --wait`` keeps connecting and retrying."""
    with faults.write_paused_redis(password=REDIS_PASSWORD) as server:
        yield server


@both_signals
@pytest.mark.timeout(30)
def test_health_wait(
    signum: int, paused_redis: RedisServer, background: Callable[..., Background]
) -> None:
    """``health --wait`` retrying a failing write: the signal ends it at once with 130/143."""
    env = clean_env(REDIS_URL=paused_redis.url(password=REDIS_PASSWORD))
    run = background("health", "--write", "--wait", "60", "--timeout", "0.5", env=env)
    wait_for_client(paused_redis, "cpa-ops-health")
    time.sleep(0.3)  # into a retry
    code, _, stderr, took = stopped(run, signum)
    assert code == SIGNAL_EXITS[signum]
    assert took < PROMPT
    assert_clean_end(stderr)
    assert_no_client_left(paused_redis)


@both_signals
@pytest.mark.timeout(30)
def test_health_watch(
    signum: int, protected_redis: RedisServer, background: Callable[..., Background]
) -> None:
    """``health --watch``: the rounds so far are on stdout; SIGTERM exits 143 and Ctrl-C 0
    (a watch's normal end, as the README documents)."""
    env = clean_env(REDIS_URL=protected_redis.url(password=REDIS_PASSWORD))
    run = background("health", "--watch", "0.2", "--format", "json", env=env)
    first = run.next_line()
    run.next_line()
    assert '"status": "pass"' in first
    code, _, stderr, took = stopped(run, signum)
    assert code == (0 if signum == signal.SIGINT else 143)
    assert took < PROMPT
    assert "Traceback" not in stderr and REDIS_PASSWORD not in stderr + "".join(run.seen)
    assert_no_client_left(protected_redis)


@both_signals
@pytest.mark.timeout(30)
def test_ping(
    signum: int, protected_redis: RedisServer, background: Callable[..., Background]
) -> None:
    """``ping`` without a count: the signal prints the summary so far, then 130/143."""
    env = clean_env(REDIS_URL=protected_redis.url(password=REDIS_PASSWORD))
    run = background("ping", "-i", "0.05", env=env)
    run.wait_for(lambda line: line.startswith("seq=3 "))
    code, rest, stderr, took = stopped(run, signum)
    assert code == SIGNAL_EXITS[signum]
    assert took < PROMPT
    assert_clean_end(stderr)
    assert "ping statistics ---" in rest
    assert " ok, 0 failed" in rest
    assert REDIS_PASSWORD not in rest
    assert_no_client_left(protected_redis)


@both_signals
@pytest.mark.timeout(30)
def test_sentry_test_against_a_never_answering_ingest(
    signum: int, background: Callable[..., Background]
) -> None:
    """``sentry-test`` waiting on an ingest server that never answers: the signal ends it
    promptly with 130/143 (not after --timeout, not after the SDK's flush)."""
    with SentryIngest(Mode.SILENT) as ingest:
        env = clean_env(SENTRY_DSN=ingest.dsn)
        run = background("sentry-test", "--timeout", "30", "--message", "ssn 123-45-6789", env=env)
        [envelope] = ingest.wait_for(1, timeout=10)
        assert "123-45-6789" not in envelope.text
        code, _, stderr, took = stopped(run, signum)
        assert code == SIGNAL_EXITS[signum]
        assert took < PROMPT
        assert_clean_end(stderr)
