"""The Redis fault classifier, ``classify_failure(exc, phase=...)``, over real exception chains.

Each row does the failing thing with redis-py's asyncio connection, set up as the probe sets it
up (no retry, a connect and a read timeout, a client name sent while connecting, the TLS
handshake bounded apart from the TCP connect), against one real fault of the harness
(tests/servers/redis_faults.py), and the exception redis-py raised, with its __cause__ and
__context__, is what the classifier gets. Only the rows marked synthetic are built by hand:
those faults cannot be produced on a loopback-only machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cpa_ops.core.redis import classify_failure
from tests.servers import redis_faults as faults
from tests.servers.redis_faults import RedisServer, TlsFiles
from tests.servers.redis_fixtures import REDIS_PASSWORD

pytestmark = pytest.mark.timeout(30)

#: the step budget: redis-py's connect and read timeouts
STEP = 1.0
#: the TLS handshake's own bound: asyncio takes a moment past it to abort, so well inside STEP
HANDSHAKE_TIMEOUT = STEP / 3
PING = ("PING",)
WRITE = ("SET", "cpa-ops-classify-test", "1", "PX", "10000")


@dataclass(frozen=True)
class Row:
    """One fault: the fixture that makes it, the URL to it, the commands after the connect,
    and where it fails with which reason."""

    fixture: str
    url: Callable[[Any, TlsFiles], str]
    phase: str
    reason: str
    commands: tuple[tuple[str, ...], ...] = (PING,)


def _port(scheme: str = "redis") -> Callable[[Any, TlsFiles], str]:
    def url(target: Any, _: TlsFiles) -> str:
        port = target if isinstance(target, int) else target.port
        return f"{scheme}://{faults.LOOPBACK}:{port}/0"

    return url


def _server(ca: str | None = None, **url_args: Any) -> Callable[[Any, TlsFiles], str]:
    def url(server: RedisServer, tls: TlsFiles) -> str:
        return server.url(**url_args, ca=getattr(tls, ca) if ca else None)

    return url


def _unresolvable(_: Any, __: TlsFiles) -> str:
    return f"redis://redis{faults.FAKE_DOMAIN}:6379/0"


def _missing_socket(directory: Path, _: TlsFiles) -> str:
    return f"unix://{directory / 'missing.sock'}"


ROWS = {
    "refused": Row("refused_port", _port(), "connect", "refused"),
    "black-hole": Row("syn_black_hole", _port(), "connect", "timeout"),
    "silent-listener": Row("silent_listener", _port(), "connect", "read_timeout"),
    "sigstop": Row("redis_frozen", _server(), "connect", "read_timeout"),
    "not-redis": Row("http_listener", _port(), "connect", "protocol"),
    "missing-unix-socket": Row("tmp_path", _missing_socket, "connect", "refused"),
    "unresolvable-name": Row("failing_resolver", _unresolvable, "connect", "dns"),
    "tls-to-plain-port": Row(
        "redis_server", _server(ca="ca", scheme="rediss"), "connect", "protocol"
    ),
    "plain-to-tls-port": Row("redis_tls", _server(scheme="redis"), "connect", "protocol"),
    "tls-other-ca": Row("redis_tls", _server(ca="other_ca"), "connect", "tls"),
    "tls-system-trust": Row("redis_tls", _server(), "connect", "tls"),
    "wrong-password": Row(
        "redis_with_password", _server(password="not-the-password"), "connect", "auth"
    ),
    "no-password": Row("redis_with_password", _server(), "connect", "auth"),
    # the right password: NOPERM is the ACL's, not the credentials' (auth)
    "noperm": Row(
        "redis_acl_limited",
        _server(user=faults.LIMITED_USER, password=REDIS_PASSWORD),
        "connect",
        "denied",
    ),
    "max-clients": Row("redis_max_clients", _server(), "connect", "max_clients"),
    "loading": Row("redis_loading", _server(), "read", "loading"),
    "misconf": Row("redis_misconf", _server(), "read", "misconf"),
    "masterdown": Row("redis_masterdown_replica", _server(), "read", "masterdown"),
    "readonly-write": Row("redis_readonly_replica", _server(), "write", "readonly", (WRITE,)),
    "oom-write": Row("redis_oom", _server(), "write", "oom", (WRITE,)),
    "paused-write": Row("redis_write_paused", _server(), "write", "write_timeout", (WRITE,)),
}


def _handshake_bounded_ssl_connection() -> type:
    """The probe's TLS connection: a handshake never answered (TLS into a plain port) is
    aborted apart from the TCP connect, as in cpa_ops's probe."""
    from redis.asyncio import SSLConnection

    class HandshakeBounded(SSLConnection):
        def _connection_arguments(self) -> Any:
            arguments = dict(super()._connection_arguments())
            arguments["ssl_handshake_timeout"] = HANDSHAKE_TIMEOUT
            return arguments

    return HandshakeBounded


async def _fail(url: str, commands: tuple[tuple[str, ...], ...], phase: str) -> tuple[str, Any]:
    """Connect, then run ``commands``: the phase that failed and what redis-py raised (or the
    error reply it returned)."""
    from redis.asyncio import ConnectionPool, SSLConnection

    pool = ConnectionPool.from_url(
        url,
        socket_connect_timeout=STEP,
        socket_timeout=STEP,
        retry=None,
        retry_on_error=[],
        retry_on_timeout=False,
        health_check_interval=0,
        client_name="cpa-ops-classify-test",
        max_connections=1,
    )
    if pool.connection_class is SSLConnection:
        pool.connection_class = _handshake_bounded_ssl_connection()
    conn = pool.make_connection()
    try:
        try:
            await conn.connect()
        except Exception as exc:
            return "connect", exc
        for args in commands:
            try:
                await conn.send_command(*args, check_health=False)
                reply = await conn.read_response()
            except Exception as exc:
                return phase, exc
            if isinstance(reply, Exception):
                return phase, reply
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.disconnect(nowait=True), 1)
    raise AssertionError(f"nothing failed: {url} answered {commands}")


@pytest.fixture
def failing_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``*.invalid-test`` names fail to resolve (EAI_NONAME) in this process; nothing real is
    ever looked up because of it."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else (host or "")
        if name.rstrip(".").endswith(faults.FAKE_DOMAIN):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield


def _chain(exc: BaseException) -> list[str]:
    return [f"{type(e).__module__}.{type(e).__qualname__}: {e}" for e in _chain_of(exc)]


@pytest.mark.parametrize("name", list(ROWS))
def test_a_real_fault_is_classified(request: pytest.FixtureRequest, name: str) -> None:
    row = ROWS[name]
    target = request.getfixturevalue(row.fixture)
    url = row.url(target, request.getfixturevalue("tls_files"))
    phase, exc = asyncio.run(_fail(url, row.commands, row.phase))
    shown = "\n  ".join(["the chain:", *_chain(exc)])
    assert phase == row.phase, shown
    failure = classify_failure(exc, phase=phase)
    assert failure.reason == row.reason, shown
    assert failure.detail, shown


def test_the_real_chains_are_chains() -> None:
    """The table is worth something only if redis-py hides the root cause behind its own
    exception: a refused connect is a redis ConnectionError caused by ConnectionRefusedError."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    with faults.refused_port() as port:
        _, exc = asyncio.run(_fail(f"redis://{faults.LOOPBACK}:{port}/0", (PING,), "read"))
    assert isinstance(exc, RedisConnectionError)
    causes = [type(e) for e in _chain_of(exc)]
    assert ConnectionRefusedError in causes, _chain(exc)


def _chain_of(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


# --------------------------------------------------------------------------------------------
# Synthetic rows: faults a loopback-only machine cannot produce


def _wrapped(cause: BaseException, text: str) -> BaseException:
    """redis-py's shape: its ConnectionError raised from the OS error."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        try:
            raise cause
        except OSError as exc:
            raise RedisConnectionError(text) from exc
    except RedisConnectionError as exc:
        return exc


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.ENETUNREACH, "unreachable"), (errno.EHOSTUNREACH, "unreachable")],
)
def test_synthetic_unreachable_network_or_host(code: int, reason: str) -> None:
    """SYNTHETIC: no route to a network or host needs a network; the chain is built the way
    redis-py builds a connect error."""
    exc = _wrapped(OSError(code, errno.errorcode[code]), f"Error {code} connecting to 10.0.0.1")
    assert classify_failure(exc, phase="connect").reason == reason


def test_synthetic_unknown_exception_is_an_error_naming_its_type() -> None:
    """SYNTHETIC: an exception no rule knows is ``error``, its type named in the detail."""
    failure = classify_failure(ValueError("something odd"), phase="read")
    assert (failure.reason, failure.detail) == ("error", "ValueError: something odd")
