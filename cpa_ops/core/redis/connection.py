"""The probe's connection: name resolution, connect (TLS handshake bounded apart), one
send-and-read of a command, close. No retries anywhere: a failed step is the verdict.

Time is one thing here: a ``deadline`` is a :func:`time.monotonic` instant. Each step's own
timeout ends :data:`STEP_MARGIN` before it, so the step (not the deadline) names the fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from cpa_ops.core.redis.classify import classify_failure, hung_up
from cpa_ops.core.redis.handshake import use_handshake
from cpa_ops.core.redis.model import ProbeFailure

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection

    from cpa_ops.core.target import RedisTarget

_T = TypeVar("_T")
STEP_MARGIN = 0.05


def remaining(deadline: float) -> float:
    """Seconds left until ``deadline`` (a time.monotonic() instant)."""
    return deadline - time.monotonic()


def step_timeout(deadline: float) -> float:
    """The timeout of a step that must end (and name its fault) before ``deadline``."""
    return max(remaining(deadline) - STEP_MARGIN, 0.001)


def timeout_at(deadline: float) -> asyncio.Timeout:
    """asyncio.timeout_at for a time.monotonic() ``deadline`` (the loop's clock may differ)."""
    loop = asyncio.get_running_loop()
    return asyncio.timeout_at(loop.time() + remaining(deadline))


async def resolve(target: RedisTarget, deadline: float) -> None:
    """Resolve the target's host in a daemon thread (a hung resolver cannot hold the process);
    ProbeFailure ``dns`` when it fails or does not answer in time."""
    host = target.host
    if not host:
        return
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return  # an address literal: nothing to resolve
    except OSError:
        pass
    budget = max(remaining(deadline) - STEP_MARGIN, 0.0)
    port = target.port
    try:
        await in_daemon_thread(lambda: socket.getaddrinfo(host, port), budget)
    except socket.gaierror as exc:
        raise ProbeFailure("dns", f"cannot resolve {host!r}: {exc.strerror}") from None
    except TimeoutError:
        silent = f"DNS lookup of {host!r} did not answer in {budget:.2f} s"
        raise ProbeFailure("dns", silent) from None


async def in_daemon_thread(func: Callable[[], _T], timeout: float) -> _T:
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
    target: RedisTarget, deadline: float, client_name: str, opened: list[AbstractConnection]
) -> AbstractConnection:
    """Connect with no retry, by ``deadline``; ``opened`` gets the connection first so the
    caller closes it whatever happens. This side's own files (TLS, unix socket) are checked
    first: their fault is named without connecting (:mod:`cpa_ops.core.redis.preflight`)."""
    from redis.asyncio import ConnectionPool, SSLConnection

    from cpa_ops.core.redis.preflight import connect_failure, local_failure

    local = local_failure(target)
    if local is not None:
        raise local
    step = step_timeout(deadline)
    pool = ConnectionPool.from_url(
        target.url,
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
    use_handshake(pool)
    conn: AbstractConnection = pool.make_connection()  # type: ignore[no-untyped-call]
    opened.append(conn)
    try:
        await conn.connect()  # type: ignore[no-untyped-call]
    except Exception as exc:
        failure = connect_failure(target, exc, conn) or classify_failure(exc, phase="connect")
        # a TLS port fed plain text hangs up too, but only once it was sent something
        hangs_up = failure.reason in ("protocol", "tls") and hung_up(exc)
        if hangs_up and await closes_unasked(target, deadline):
            detail = f"{target.address} accepted the connection and closed it unasked"
            failure = ProbeFailure("closed", detail)
        raise failure from None
    return conn


async def closes_unasked(target: RedisTarget, deadline: float, wait: float = 0.15) -> bool:
    """Whether the peer closes a fresh connection before it is sent anything (a proxy with no
    backend does; a Redis, TLS port or not, waits for the client): up to ``wait`` seconds.
    A host name is looked up in a daemon thread, as in :func:`resolve`."""
    budget = min(wait, step_timeout(deadline) / 2)  # half what is left: the verdict comes first
    writer = None
    try:
        async with asyncio.timeout(budget):
            if target.is_unix:
                reader, writer = await asyncio.open_unix_connection(target.address)
            else:
                host, port = target.host, target.port
                found = await in_daemon_thread(
                    lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), budget
                )
                reader, writer = await _open_first(found)
            return await reader.read(1) == b""
    except (OSError, TimeoutError):
        return False
    finally:
        if writer is not None:
            writer.close()


async def _open_first(found: list[Any]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the first of getaddrinfo's addresses that accepts one."""
    error: OSError = ConnectionRefusedError("no address")
    for address in dict.fromkeys(info[4][:2] for info in found):
        try:
            return await asyncio.open_connection(str(address[0]), int(address[1]))
        except OSError as exc:
            error = exc
    raise error


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
            from cpa_ops.core.redis.tls_files import watch_certificate_request

            watch_certificate_request(self, arguments.get("ssl"))
            return arguments

    return ProbeSSLConnection


@dataclass(frozen=True, slots=True)
class Reply:
    """One command's answer: its value, or the error reply Redis sent; the round-trip."""

    value: Any
    error: Exception | None
    elapsed_ms: float

    def raise_error(self, phase: str = "read") -> Reply:
        """This reply, or the ProbeFailure its error reply stands for."""
        if self.error is not None:
            raise classify_failure(self.error, phase=phase)
        return self


async def send_command(
    conn: AbstractConnection, deadline: float, *args: Any, phase: str = "read"
) -> Reply:
    """Send one command and read its reply by ``deadline``: the one send/read of the probe.

    An error reply is returned (:attr:`Reply.error`); a transport fault (timeout, closed or
    garbled connection) raises the ProbeFailure it stands for.
    """
    from redis.exceptions import ResponseError

    conn.socket_timeout = step_timeout(deadline)
    started = time.perf_counter()
    try:
        await conn.send_command(*args, check_health=False)
        # the bound is conn.socket_timeout: redis-py's read_response(timeout=...) returns None
        # when that timeout runs out (a poll), which would pass an unanswered command as done
        value = await conn.read_response()
    except ResponseError as exc:
        return Reply(None, exc, (time.perf_counter() - started) * 1000)
    except Exception as exc:
        raise classify_failure(exc, phase=phase) from None
    elapsed = (time.perf_counter() - started) * 1000
    if isinstance(value, Exception):
        return Reply(None, value, elapsed)
    return Reply(value, None, elapsed)


async def close_connection(conn: AbstractConnection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.disconnect(nowait=True), 0.1)
