"""Redis for the platform: the pool factory, the liveness boolean, and the diagnosing probe.

The probe (:func:`probe_redis`) is what ``cpa-ops health`` runs: one connection named
``cpa-ops-health``, no retries, explicit connect and read timeouts cut from one budget, and a
:class:`RedisDiagnosis` value naming the fault by a reason code (see :data:`REASONS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from cpa_ops.core.health import Check, Status
from cpa_ops.core.settings import mask_url

if TYPE_CHECKING:
    from redis.asyncio import BlockingConnectionPool, RedisCluster
    from redis.asyncio.connection import AbstractConnection

    from cpa_ops.core.redis_topology import TopologyDiagnosis
    from cpa_ops.core.settings import Settings

PROBE_CLIENT_NAME = "cpa-ops-health"
WRITE_KEY_TTL_MS = 10_000
#: warn when used_memory or connected_clients reach this share of their limit
NEAR_LIMIT = 0.9

_T = TypeVar("_T")
# each step's own timeout ends this long before the budget, so it (not the budget) names the fault
_STEP_MARGIN = 0.05


@dataclass(frozen=True)
class Reason:
    """A fault the probe can name: what it means and what to do about it."""

    code: str
    explanation: str
    hint: str


REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason(
            "refused",
            "nothing accepts connections at that address (connection refused)",
            "start Redis, or fix the host/port in REDIS_URL",
        ),
        Reason(
            "unreachable",
            "the network has no route to that address",
            "check the host in REDIS_URL and the network between here and Redis",
        ),
        Reason(
            "timeout",
            "the TCP connection was not accepted in time (host black-holed, firewalled or down)",
            "check that the host is up and that a firewall or security group lets this pod in",
        ),
        Reason(
            "read_timeout",
            "connected, but the server did not answer in time (frozen, overloaded or not Redis)",
            "check the server's CPU and SLOWLOG; a SIGSTOPped or swapping process looks like this",
        ),
        Reason(
            "dns",
            "the host name in REDIS_URL could not be resolved",
            "check the host name and the pod's DNS (resolv.conf, CoreDNS)",
        ),
        Reason(
            "tls",
            "the TLS handshake failed: the server's certificate is not trusted or does not match",
            "pass the right CA (rediss://...?ssl_ca_certs=/path/ca.pem) or fix the host name",
        ),
        Reason(
            "auth",
            "Redis refused our credentials (NOAUTH, WRONGPASS or NOPERM)",
            "set the right password (and user) in REDIS_URL: redis://user:password@host:6379/0",
        ),
        Reason(
            "protocol",
            "the peer does not speak Redis here (not Redis, or a TLS/plain mismatch)",
            "use rediss:// for a TLS port and redis:// for a plain one; check the port",
        ),
        Reason(
            "loading",
            "Redis is loading its dataset into memory and refuses commands until done",
            "wait for loading to finish (see the ETA); it is not ready for traffic yet",
        ),
        Reason(
            "max_clients",
            "Redis has reached maxclients and refuses new connections",
            "find the client leaking connections (CLIENT LIST) or raise maxclients",
        ),
        Reason(
            "misconf",
            "Redis refuses writes (and PING) because its last RDB/AOF save failed (MISCONF)",
            "fix the disk or permissions of Redis's dir, then BGSAVE; see the server log",
        ),
        Reason(
            "masterdown",
            "this replica has lost its master and is set not to serve stale data (MASTERDOWN)",
            "restore the master or the replication link; see INFO replication",
        ),
        Reason(
            "readonly",
            "the server is a read-only replica: writes are refused",
            "point REDIS_URL at the master (or the Sentinel/Cluster entry point)",
        ),
        Reason(
            "oom",
            "Redis is at maxmemory with a noeviction policy: writes are refused (OOM)",
            "free memory, raise maxmemory, or choose an eviction policy",
        ),
        Reason(
            "write_timeout",
            "a write was not answered in time (CLIENT PAUSE WRITE, a slow disk with "
            "appendfsync always, or a blocked server)",
            "check CLIENT LIST for a pause, and the server's latency (LATENCY DOCTOR)",
        ),
        Reason(
            "error",
            "Redis answered with an unexpected error",
            "read the error above and the server log",
        ),
        Reason(
            "deadline",
            "the check did not finish within its time budget",
            "raise --timeout, or look for a hanging DNS lookup or a frozen server",
        ),
    )
}


@dataclass(frozen=True)
class ServerFacts:
    """What INFO said about the server (None where a field was missing)."""

    version: str | None = None
    role: str | None = None
    used_memory: int | None = None
    maxmemory: int | None = None
    maxmemory_policy: str | None = None
    connected_clients: int | None = None
    maxclients: int | None = None
    loading: bool = False
    loading_loaded_perc: float | None = None
    loading_eta_seconds: int | None = None
    master_link_status: str | None = None
    master_last_io_seconds_ago: int | None = None

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> ServerFacts:
        def num(key: str) -> int | None:
            value = info.get(key)
            try:
                return int(value) if value is not None else None
            except (TypeError, ValueError):
                return None

        def real(key: str) -> float | None:
            value = info.get(key)
            try:
                return float(value) if value is not None else None
            except (TypeError, ValueError):
                return None

        return cls(
            version=str(info["redis_version"]) if "redis_version" in info else None,
            role=str(info["role"]) if "role" in info else None,
            used_memory=num("used_memory"),
            maxmemory=num("maxmemory"),
            maxmemory_policy=str(info["maxmemory_policy"]) if "maxmemory_policy" in info else None,
            connected_clients=num("connected_clients"),
            maxclients=num("maxclients"),
            loading=bool(num("loading")),
            loading_loaded_perc=real("loading_loaded_perc"),
            loading_eta_seconds=num("loading_eta_seconds"),
            master_link_status=str(info["master_link_status"])
            if "master_link_status" in info
            else None,
            master_last_io_seconds_ago=num("master_last_io_seconds_ago"),
        )

    @property
    def memory_share(self) -> float | None:
        if self.used_memory is None or not self.maxmemory:
            return None
        return self.used_memory / self.maxmemory

    @property
    def clients_share(self) -> float | None:
        if self.connected_clients is None or not self.maxclients:
            return None
        return self.connected_clients / self.maxclients


@dataclass(frozen=True)
class RedisDiagnosis:
    """The probe's verdict: a status, a reason code when not healthy, and what was measured."""

    status: Status
    url: str  #: REDIS_URL, masked
    reason: str | None = None
    detail: str | None = None  #: the failing step's own words (secrets removed)
    connect_ms: float | None = None
    rtt_ms: float | None = None
    write_ms: float | None = None
    write_checked: bool = False
    facts: ServerFacts | None = None
    warnings: tuple[tuple[str, str], ...] = ()  #: (reason code, text) of each warn
    checks: tuple[Check, ...] = field(default=(), compare=False)

    @property
    def healthy(self) -> bool:
        return self.status is not Status.FAIL


class ProbeFailure(Exception):
    """A probe step failed with a known reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------------------------
# The services' pool and liveness boolean


async def create_redis_pool(
    settings: Settings,
    *,
    acquire_timeout: float = 5.0,
    socket_timeout: float = 5.0,
    connect_timeout: float = 2.0,
    client_name: str | None = None,
) -> BlockingConnectionPool | RedisCluster:
    """A pool of at most ``settings.redis_max_connections`` connections to REDIS_URL.

    A caller that finds every connection in use waits up to ``acquire_timeout`` seconds for one
    to be released (then ConnectionError), instead of failing at once. Only connection errors and
    timeouts are retried, twice, with a short capped backoff.

    REDIS_MODE=sentinel: the same pool, to the master the sentinels name. REDIS_MODE=cluster: a
    ``RedisCluster`` client with the same limit per node, timeouts and bounded wait.
    """
    if settings.redis_mode != "standalone":
        from cpa_ops.core import redis_topology

        create = (
            redis_topology.create_cluster_client
            if settings.redis_mode == "cluster"
            else redis_topology.create_sentinel_pool
        )
        client: BlockingConnectionPool | RedisCluster = await create(
            settings,
            acquire_timeout=acquire_timeout,
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            client_name=client_name,
        )
        return client
    from redis.asyncio import BlockingConnectionPool

    return BlockingConnectionPool.from_url(
        settings.redis_url.get_secret_value(),
        max_connections=settings.redis_max_connections,
        timeout=acquire_timeout,
        **service_connection_options(socket_timeout, connect_timeout, client_name),
    )


def service_connection_options(
    socket_timeout: float, connect_timeout: float, client_name: str | None
) -> dict[str, Any]:
    """What every services' client (standalone, sentinel, cluster) sets on its connections:
    explicit timeouts; connection errors and timeouts retried twice with a short capped backoff
    (Retry's default errors: nothing that cannot succeed, such as a wrong password); a health
    check of a connection idle for 30 s."""
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    return {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
        "retry": Retry(ExponentialBackoff(cap=0.25, base=0.02), 2),
        "health_check_interval": 30,
        "client_name": client_name,
    }


async def check_redis_health(
    pool: BlockingConnectionPool | RedisCluster, timeout: float = 1.0
) -> bool:
    """True when a PING through ``pool`` is answered PONG within ``timeout`` seconds; for a
    cluster client, when every master says cluster_state:ok.

    Never raises (cancellation aside): any error or the timeout is False.
    """
    from redis.asyncio import Redis, RedisCluster

    if isinstance(pool, RedisCluster):
        from cpa_ops.core.redis_topology import check_cluster_health

        return await check_cluster_health(pool, timeout)

    client = Redis(connection_pool=pool)
    # redis-py can swallow a cancellation during a connection's handshake and keep reading from
    # a frozen server, so asyncio.timeout() alone does not bound the call: stop waiting instead
    ping = asyncio.ensure_future(client.ping())
    try:
        done, _ = await asyncio.wait({ping}, timeout=timeout)
    except asyncio.CancelledError:
        ping.cancel()
        raise
    if not done:
        ping.cancel()
        ping.add_done_callback(_retrieve_outcome)  # it ends on its own, in the background
        return False
    try:
        return bool(ping.result())
    except Exception:
        return False


def _retrieve_outcome(task: asyncio.Future[Any]) -> None:
    """Mark an abandoned task's exception as seen (no "never retrieved" warning)."""
    if not task.cancelled():
        task.exception()


# --------------------------------------------------------------------------------------------
# The diagnosing probe


async def probe_redis(
    url: str,
    *,
    budget: float,
    write: bool = False,
    warn_ms: float = 100.0,
    client_name: str = PROBE_CLIENT_NAME,
) -> RedisDiagnosis:
    """Diagnose the Redis at ``url`` within ``budget`` seconds; never raises for a Redis fault.

    Steps: resolve the host (in a daemon thread, so a hung resolver cannot hold the process),
    connect (TCP, TLS, AUTH/HELLO, CLIENT SETNAME), PING (round-trip), INFO (server facts),
    and with ``write`` a SET PX + DEL of ``cpa-ops:health:<host>:<pid>``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    import redis.asyncio  # noqa: F401 - imported before timing: connectMs measures the network

    masked = mask_url(url)
    password = _password_of(url)

    def remaining() -> float:
        return deadline - loop.time()

    opened: list[AbstractConnection] = []
    facts: ServerFacts | None = None
    connect_ms = rtt_ms = write_ms = None
    try:
        try:
            async with asyncio.timeout_at(deadline):
                await _check_dns(url, remaining)
                started = time.perf_counter()
                conn = await open_probe_connection(url, remaining(), client_name, opened)
                connect_ms = (time.perf_counter() - started) * 1000
                try:
                    rtt_ms = await timed_command(conn, remaining, "PING")
                except ProbeFailure as failure:
                    if failure.reason == "loading":
                        facts = await _facts_or_none(conn, remaining)
                    raise
                facts = await _facts_or_none(conn, remaining)
                if write:
                    key = f"cpa-ops:health:{socket.gethostname()}:{os.getpid()}"
                    write_ms = await timed_command(
                        conn, remaining, "SET", key, "1", "PX", WRITE_KEY_TTL_MS, phase="write"
                    )
                    await timed_command(conn, remaining, "DEL", key, phase="write")
        except TimeoutError:
            # asyncio's own budget ran out before redis-py's timeouts fired
            raise ProbeFailure("deadline", f"no verdict within {budget:.2f} s") from None
    except ProbeFailure as failure:
        detail = _without(failure.detail, password)
        return _diagnosis(
            Status.FAIL,
            masked,
            reason=failure.reason,
            detail=detail,
            connect_ms=connect_ms,
            rtt_ms=rtt_ms,
            facts=facts,
            write_checked=write,
            warn_ms=warn_ms,
        )
    finally:
        for conn in opened:
            await close_connection(conn)
    return _diagnosis(
        Status.PASS,
        masked,
        connect_ms=connect_ms,
        rtt_ms=rtt_ms,
        write_ms=write_ms,
        facts=facts,
        write_checked=write,
        warn_ms=warn_ms,
    )


async def probe_settings(
    settings: Settings,
    *,
    budget: float,
    write: bool = False,
    warn_ms: float = 100.0,
    client_name: str = PROBE_CLIENT_NAME,
) -> RedisDiagnosis | TopologyDiagnosis:
    """The probe REDIS_MODE asks for: standalone here, cluster and sentinel in redis_topology
    (imported only then: the standalone probe is on every probe's start-up path)."""
    url = settings.redis_url.get_secret_value()
    if settings.redis_mode != "standalone":
        from cpa_ops.core.redis_topology import probe_cluster, probe_sentinel
    if settings.redis_mode == "cluster":
        return await probe_cluster(
            settings.redis_seed_urls,
            budget=budget,
            write=write,
            warn_ms=warn_ms,
            client_name=client_name,
        )
    if settings.redis_mode == "sentinel":
        assert settings.redis_sentinel_master is not None  # validated with the mode
        return await probe_sentinel(
            settings.redis_sentinels,
            settings.redis_sentinel_master,
            url,
            budget=budget,
            write=write,
            warn_ms=warn_ms,
            client_name=client_name,
        )
    return await probe_redis(
        url, budget=budget, write=write, warn_ms=warn_ms, client_name=client_name
    )


async def _check_dns(url: str, remaining: Callable[[], float]) -> None:
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme == "unix" or not host:
        return
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return  # an address literal: nothing to resolve
    except OSError:
        pass
    budget = max(remaining() - _STEP_MARGIN, 0.0)
    try:
        await _in_daemon_thread(lambda: socket.getaddrinfo(host, parts.port or 6379), budget)
    except socket.gaierror as exc:
        raise ProbeFailure("dns", f"cannot resolve {host!r}: {exc.strerror}") from None
    except TimeoutError:
        silent = f"DNS lookup of {host!r} did not answer in {budget:.2f} s"
        raise ProbeFailure("dns", silent) from None


async def _in_daemon_thread(func: Callable[[], _T], timeout: float) -> _T:
    """Run a blocking call in a daemon thread: unlike the default executor, a call that never
    returns does not keep the process alive at exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def settle(result: _T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = func()
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name="cpa-ops-resolver", daemon=True).start()
    return await asyncio.wait_for(future, timeout)


async def open_probe_connection(
    url: str, budget: float, client_name: str, opened: list[AbstractConnection]
) -> AbstractConnection:
    """Connect with no retry; ``opened`` gets the connection first so the caller closes it."""
    from redis.asyncio import ConnectionPool, SSLConnection

    # leave asyncio's own budget room so redis-py's timeouts fire first and name the phase
    step = max(budget - _STEP_MARGIN, 0.001)
    pool = ConnectionPool.from_url(
        url,
        socket_connect_timeout=step,
        socket_timeout=step,
        retry=None,
        retry_on_error=[],
        retry_on_timeout=False,
        health_check_interval=0,
        client_name=client_name,
        max_connections=1,
    )
    if pool.connection_class is SSLConnection:
        pool.connection_class = _probe_ssl_connection_class()
    conn: AbstractConnection = pool.make_connection()  # type: ignore[no-untyped-call]
    opened.append(conn)
    try:
        await conn.connect()  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise classify_failure(exc, phase="connect") from None
    return conn


def _probe_ssl_connection_class() -> type:
    from redis.asyncio import SSLConnection

    class ProbeSSLConnection(SSLConnection):
        """Bounds the TLS handshake apart from the TCP connect, so a handshake that is never
        answered (TLS into a plain port) is told apart from a black-holed host."""

        def _connection_arguments(self) -> Mapping[str, Any]:
            arguments = dict(super()._connection_arguments())
            # asyncio takes ~0.1 s past this to abort: keep it well inside the step
            timeout = self.socket_connect_timeout or 1.0
            arguments["ssl_handshake_timeout"] = max(timeout - 0.2, timeout / 2, 0.01)
            return arguments

    return ProbeSSLConnection


async def timed_command(
    conn: AbstractConnection, remaining: Callable[[], float], *args: Any, phase: str = "read"
) -> float:
    """Send one command, read its reply within the budget; the round-trip in ms."""
    conn.socket_timeout = max(remaining() - _STEP_MARGIN, 0.001)
    started = time.perf_counter()
    try:
        await conn.send_command(*args, check_health=False)
        # the bound is conn.socket_timeout: redis-py's read_response(timeout=...) returns None
        # when that timeout runs out (a poll), which would pass an unanswered command as done
        reply = await conn.read_response()
    except Exception as exc:
        raise classify_failure(exc, phase=phase) from None
    elapsed = (time.perf_counter() - started) * 1000
    if isinstance(reply, Exception):
        raise classify_failure(reply, phase=phase)
    return elapsed


async def _facts_or_none(
    conn: AbstractConnection, remaining: Callable[[], float]
) -> ServerFacts | None:
    """INFO's facts; None when INFO is not allowed (ACL) or does not arrive in time."""
    from redis._parsers.helpers import parse_info

    conn.socket_timeout = max(remaining() - _STEP_MARGIN, 0.001)
    try:
        await conn.send_command("INFO", check_health=False)
        raw = await conn.read_response()  # bounded by socket_timeout (see timed_command)
    except Exception as exc:
        failure = classify_failure(exc, phase="read")
        if failure.reason in ("read_timeout", "refused", "protocol"):
            raise failure from None
        return None
    if isinstance(raw, Exception):
        return None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return ServerFacts.from_info(parse_info(text))  # type: ignore[no-untyped-call]


async def close_connection(conn: AbstractConnection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.disconnect(nowait=True), 0.1)


def classify_failure(exc: BaseException, *, phase: str) -> ProbeFailure:
    """Map an exception from redis-py (or below) to a reason code."""
    from redis import exceptions as rx

    text = _one_line(str(exc))
    chain = _causes(exc)
    if any(isinstance(e, ConnectionAbortedError) and "handshake" in str(e) for e in chain):
        return ProbeFailure("protocol", f"TLS handshake not answered: {text}")
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
        return ProbeFailure("tls", text)
    for e in chain:
        if isinstance(e, ssl.SSLError):
            mismatch = ("WRONG_VERSION_NUMBER", "RECORD_LAYER", "PACKET_LENGTH", "HTTP_REQUEST")
            if any(m in str(e).upper() for m in mismatch):
                return ProbeFailure("protocol", text)
            return ProbeFailure("tls", text)
    if isinstance(exc, rx.TimeoutError | TimeoutError | socket.timeout):
        if phase == "connect" and "connecting" in text.lower():
            return ProbeFailure("timeout", text)
        return ProbeFailure("write_timeout" if phase == "write" else "read_timeout", text)
    if isinstance(exc, rx.BusyLoadingError):
        return ProbeFailure("loading", text)
    if isinstance(exc, rx.AuthenticationError | rx.NoPermissionError):
        return ProbeFailure("auth", text)
    if isinstance(exc, rx.MasterDownError):
        return ProbeFailure("masterdown", text)
    if isinstance(exc, rx.ReadOnlyError):
        return ProbeFailure("readonly", text)
    if isinstance(exc, rx.OutOfMemoryError):
        return ProbeFailure("oom", text)
    upper = text.upper()
    if "MAX NUMBER OF CLIENTS" in upper:
        return ProbeFailure("max_clients", text)
    if upper.startswith("MISCONF") or "MISCONF" in upper[:20]:
        return ProbeFailure("misconf", text)
    if upper.startswith(_AUTH_PREFIXES) or "CALLED WITHOUT ANY PASSWORD" in upper:
        return ProbeFailure("auth", text)
    for e in chain:
        if isinstance(e, ConnectionRefusedError | FileNotFoundError):
            return ProbeFailure("refused", text)
        if isinstance(e, socket.gaierror):
            return ProbeFailure("dns", text)
        if isinstance(e, OSError) and e.errno in (101, 113):  # ENETUNREACH, EHOSTUNREACH
            return ProbeFailure("unreachable", text)
        if isinstance(e, TimeoutError):
            return ProbeFailure("timeout" if phase == "connect" else "read_timeout", text)
    if "CONNECTION REFUSED" in upper or "ERROR 111 " in upper:
        return ProbeFailure("refused", text)
    if isinstance(exc, rx.InvalidResponse) or "PROTOCOL ERROR" in upper:
        return ProbeFailure("protocol", text)
    if isinstance(exc, rx.ConnectionError | ConnectionError | EOFError):
        # the peer hung up mid-handshake: not Redis, or plain text into a TLS port
        return ProbeFailure("protocol", text)
    if isinstance(exc, rx.ResponseError):
        return ProbeFailure("error", text)
    return ProbeFailure("error", f"{type(exc).__name__}: {text}")


_AUTH_PREFIXES = ("NOAUTH", "WRONGPASS", "NOPERM", "INVALID PASSWORD", "INVALID USERNAME")


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _password_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.password or (parts.username if parts.username and not parts.password else None)


def _without(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


# --------------------------------------------------------------------------------------------
# From measurements to checks


def _diagnosis(
    status: Status,
    masked: str,
    *,
    reason: str | None = None,
    detail: str | None = None,
    connect_ms: float | None = None,
    rtt_ms: float | None = None,
    write_ms: float | None = None,
    facts: ServerFacts | None = None,
    write_checked: bool = False,
    warn_ms: float,
) -> RedisDiagnosis:
    # measured facts warn even when a write then failed: both belong in the verdict
    warnings: list[tuple[str, str]] = []
    if rtt_ms is not None and rtt_ms > warn_ms:
        warnings.append(("slow", f"round-trip {rtt_ms:.1f} ms is above {warn_ms:g} ms"))
    if facts is not None:
        warnings.extend(_fact_warnings(facts))
    if warnings and status is Status.PASS:
        status = Status.WARN
    diagnosis = RedisDiagnosis(
        status=status,
        url=masked,
        reason=reason,
        detail=detail,
        connect_ms=connect_ms,
        rtt_ms=rtt_ms,
        write_ms=write_ms,
        write_checked=write_checked,
        facts=facts,
        warnings=tuple(warnings),
    )
    object.__setattr__(diagnosis, "checks", tuple(redis_checks(diagnosis, warn_ms=warn_ms)))
    return diagnosis


def _fact_warnings(facts: ServerFacts) -> list[tuple[str, str]]:
    warnings = []
    share = facts.memory_share
    if share is not None and share >= NEAR_LIMIT:
        warnings.append(
            (
                "memory",
                f"used memory {_mib(facts.used_memory)} is {share:.0%} of maxmemory "
                f"{_mib(facts.maxmemory)} (policy {facts.maxmemory_policy})",
            )
        )
    share = facts.clients_share
    if share is not None and share >= NEAR_LIMIT:
        warnings.append(
            (
                "clients",
                f"{facts.connected_clients} clients connected of maxclients {facts.maxclients}",
            )
        )
    if facts.role == "slave" and facts.master_link_status not in (None, "up"):
        warnings.append(
            ("stale", "replica serving possibly stale data: its link to the master is down")
        )
    return warnings


def _mib(size: int | None) -> str:
    return "?" if size is None else f"{size / 1048576:.1f} MiB"


def loading_text(facts: ServerFacts | None) -> str:
    """``42.0% loaded, ETA 12 s`` from INFO persistence, or empty when unknown."""
    if facts is None or facts.loading_loaded_perc is None:
        return ""
    eta = f", ETA {facts.loading_eta_seconds} s" if facts.loading_eta_seconds is not None else ""
    return f"{facts.loading_loaded_perc:.1f}% loaded{eta}"


_WARN_HINTS = {
    "slow": "check network latency and the server's load (LATENCY DOCTOR)",
    "memory": "free memory, raise maxmemory or pick an eviction policy",
    "clients": "find the client leaking connections (CLIENT LIST) or raise maxclients",
    "stale": "restore the master or the replication link (INFO replication)",
}
_WRITE_REASONS = frozenset({"readonly", "oom", "write_timeout"})


def redis_checks(diagnosis: RedisDiagnosis, *, warn_ms: float) -> list[Check]:
    """The health checks a diagnosis stands for: ``redis:ping`` always, and when the server
    answered, ``redis:memory``, ``redis:clients``, ``redis:replication`` (and ``redis:write``)."""
    d = diagnosis
    facts = d.facts
    warned = dict(d.warnings)
    if d.status is Status.FAIL and d.reason not in _WRITE_REASONS:
        extra = f": {loading_text(facts)}" if d.reason == "loading" and loading_text(facts) else ""
        return [_failed_check("ping", d, extra, details=_facts_details(facts))]
    version = f"Redis {facts.version} {facts.role}" if facts and facts.version else "Redis"
    checks = [
        _watched_check(
            "ping",
            "slow",
            warned,
            f"{version} answered PONG at {d.url}",
            observed_value=_round(d.rtt_ms),
            observed_unit="ms",
            details={"connectMs": _round(d.connect_ms), "warnMs": warn_ms, **_facts_details(facts)},
        )
    ]
    if facts is not None:
        if facts.used_memory is not None:
            limit = f" of {_mib(facts.maxmemory)}" if facts.maxmemory else " (no maxmemory)"
            checks.append(
                _watched_check(
                    "memory",
                    "memory",
                    warned,
                    f"used {_mib(facts.used_memory)}{limit}",
                    observed_value=facts.used_memory,
                    observed_unit="B",
                    details={"maxMemory": facts.maxmemory},
                )
            )
        if facts.connected_clients is not None:
            checks.append(
                _watched_check(
                    "clients",
                    "clients",
                    warned,
                    f"{facts.connected_clients} of {facts.maxclients} clients",
                    observed_value=facts.connected_clients,
                    details={"maxClients": facts.maxclients},
                )
            )
        if facts.role is not None:
            link = f", master link {facts.master_link_status}" if facts.master_link_status else ""
            checks.append(
                _watched_check("replication", "stale", warned, f"role {facts.role}{link}")
            )
    if d.write_checked:
        if d.status is Status.FAIL:
            checks.append(_failed_check("write", d))
        else:
            checks.append(
                Check(
                    "redis",
                    "write",
                    Status.PASS,
                    "SET PX and DEL of a health key succeeded",
                    observed_value=_round(d.write_ms),
                    observed_unit="ms",
                )
            )
    return checks


def _failed_check(
    measurement: str, d: RedisDiagnosis, extra: str = "", details: dict[str, Any] | None = None
) -> Check:
    reason = REASONS.get(d.reason or "error", REASONS["error"])
    output = f"{reason.explanation}{extra} ({d.url})" + (f": {d.detail}" if d.detail else "")
    return Check(
        "redis",
        measurement,
        Status.FAIL,
        output,
        reason=reason.code,
        hint=reason.hint,
        details=details or {},
    )


def _watched_check(
    measurement: str, warn_code: str, warned: dict[str, str], ok_output: str, **measured: Any
) -> Check:
    """A check that passes with ``ok_output`` unless the diagnosis warned ``warn_code``."""
    if warn_code in warned:
        return Check(
            "redis",
            measurement,
            Status.WARN,
            warned[warn_code],
            reason=warn_code,
            hint=_WARN_HINTS[warn_code],
            **measured,
        )
    return Check("redis", measurement, Status.PASS, ok_output, **measured)


def _facts_details(facts: ServerFacts | None) -> dict[str, Any]:
    if facts is None:
        return {}
    details: dict[str, Any] = {
        "version": facts.version,
        "role": facts.role,
        "usedMemory": facts.used_memory,
        "maxMemory": facts.maxmemory,
        "connectedClients": facts.connected_clients,
        "maxClients": facts.maxclients,
    }
    if facts.loading:
        details["loadingPercent"] = facts.loading_loaded_perc
        details["loadingEtaSeconds"] = facts.loading_eta_seconds
    if facts.master_link_status is not None:
        details["masterLinkStatus"] = facts.master_link_status
    return {k: v for k, v in details.items() if v is not None}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def run_with_budget(coro: Awaitable[_T]) -> _T:
    """Run ``coro`` on a fresh event loop and close it without waiting for executor threads."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
