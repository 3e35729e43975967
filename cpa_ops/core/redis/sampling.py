"""What ``cpa-ops ping`` samples: one PING per sample on one connection named ``cpa-ops-ping``.

No retries inside a sample; each sample is bounded by its own timeout; a failed sample is
counted under the reason codes of ``cpa-ops health``. After a transport failure (timeout,
closed or garbled connection) the next sample reconnects, and the time that connect took is
recorded apart from the round-trip. Error replies (LOADING, NOAUTH, MISCONF, ...) are failed
samples too, but leave the connection in step, so it is kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cpa_ops.core.redis.classify import REPLY_REASONS, classify_failure, classify_reply
from cpa_ops.core.redis.connection import close_connection, open_probe_connection
from cpa_ops.core.redis.latency import Sample
from cpa_ops.core.redis.model import PROBE_CLIENT_NAME, ProbeFailure, TopologyDiagnosis
from cpa_ops.core.redis.probe import diagnose

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection

    from cpa_ops.core.target import RedisTarget

PING_CLIENT_NAME = "cpa-ops-ping"
_PING = b"*1\r\n$4\r\nPING\r\n"
# error replies after which Redis closes the connection: the next sample must reconnect
_CLOSING_REPLIES = frozenset({"max_clients"})


class LatencySampler:
    """One connection to ``target``, one PING per :meth:`sample`, reconnecting after a
    transport failure. Always :meth:`close` it (``sample_latency`` does)."""

    def __init__(
        self, target: RedisTarget, *, timeout: float, client_name: str = PING_CLIENT_NAME
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.client_name = client_name
        self._conn: AbstractConnection | None = None
        self._opened: list[AbstractConnection] = []

    async def sample(self, seq: int) -> Sample:
        """Connect if not connected, then PING; within ``timeout`` seconds; never raises for a
        Redis fault."""
        import redis.asyncio  # noqa: F401 - before the clock: a sample times the network, not imports

        deadline = time.monotonic() + self.timeout
        loop = asyncio.get_running_loop()
        connect_ms = None
        phase = "connect"
        try:
            async with asyncio.timeout_at(loop.time() + self.timeout):
                conn = self._conn
                if conn is None:
                    started = time.perf_counter()
                    conn = await open_probe_connection(
                        self.target, deadline, self.client_name, self._opened
                    )
                    connect_ms = (time.perf_counter() - started) * 1000
                    self._conn = conn
                phase = "read"
                rtt_ms = await self._ping(conn)
        except ProbeFailure as failure:
            if (
                phase == "connect"
                or failure.reason not in REPLY_REASONS
                or failure.reason in _CLOSING_REPLIES
            ):
                await self._drop()
            detail = self.target.without_secrets(failure.detail)
            return Sample(seq, None, connect_ms, failure.reason, detail)
        except TimeoutError:
            # the sample's own timeout, before redis-py's: the connection is out of step.
            # In the connect phase, a socket that got as far as streams was accepted (a frozen
            # server's kernel still completes the TCP handshake): that is a read timeout too.
            tcp_up = any(getattr(c, "_writer", None) is not None for c in self._opened)
            await self._drop()
            reason = "timeout" if phase == "connect" and not tcp_up else "read_timeout"
            detail = f"no reply within {self.timeout:g} s"
            return Sample(seq, None, connect_ms, reason, detail)
        return Sample(seq, rtt_ms, connect_ms)

    async def _ping(self, conn: AbstractConnection) -> float:
        # PING straight on the connection's streams: redis-py's command path costs ~25 us a call,
        # as much as the loopback round-trip itself (see benchmarks/bench_ping.py)
        reader: asyncio.StreamReader | None = getattr(conn, "_reader", None)
        writer: asyncio.StreamWriter | None = getattr(conn, "_writer", None)
        if reader is None or writer is None:
            raise ProbeFailure("protocol", "the connection has no stream to write to")
        try:
            started = time.perf_counter()
            writer.write(_PING)
            line = await reader.readline()
            elapsed = (time.perf_counter() - started) * 1000
        except ValueError:  # a line longer than the stream's limit: not a PING reply
            raise ProbeFailure("protocol", "oversized reply to PING") from None
        except (OSError, EOFError) as exc:
            raise classify_failure(exc, phase="read") from None
        if line.startswith(b"+"):
            return elapsed
        if line.startswith(b"-"):
            raise classify_reply(line[1:].decode("utf-8", "replace").strip())
        if not line:
            from redis.exceptions import ConnectionError

            raise classify_failure(ConnectionError("Connection closed by server."), phase="read")
        raise ProbeFailure("protocol", f"unexpected reply to PING: {line[:40]!r}")

    async def _drop(self) -> None:
        self._conn = None
        while self._opened:
            await close_connection(self._opened.pop())

    async def close(self) -> None:
        await self._drop()


async def paced(count: int, interval: float) -> AsyncIterator[int]:
    """Sequence numbers 1..``count`` (0: until the caller stops), one every ``interval``
    seconds (0: back to back); a round that overruns the interval starts the next one at once."""
    loop = asyncio.get_running_loop()
    seq = 0
    next_start = loop.time()
    while count == 0 or seq < count:
        seq += 1
        yield seq
        if interval and (count == 0 or seq < count):
            next_start = max(next_start + interval, loop.time())
            await asyncio.sleep(next_start - loop.time())


async def sample_latency(
    target: RedisTarget,
    *,
    count: int = 0,
    interval: float = 1.0,
    timeout: float = 1.0,
    client_name: str = PING_CLIENT_NAME,
) -> AsyncGenerator[Sample, None]:
    """Yield ``count`` samples of ``target`` (0: until the caller stops), paced by
    :func:`paced`."""
    import redis.asyncio  # noqa: F401 - imported before the first sample's connect is timed

    sampler = LatencySampler(target, timeout=timeout, client_name=client_name)
    try:
        async for seq in paced(count, interval):
            yield await sampler.sample(seq)
    finally:
        await sampler.close()


@dataclass(frozen=True)
class NodeTarget:
    """A data node to sample: where it is, how to reach it (credentials: never shown), its role."""

    address: str
    target: RedisTarget
    role: str | None


async def ping_targets(
    target: RedisTarget, *, deadline: float, client_name: str = PROBE_CLIENT_NAME
) -> tuple[list[NodeTarget], TopologyDiagnosis]:
    """The nodes ``cpa-ops ping`` samples outside standalone mode: every node of the cluster,
    or the master the sentinels name; with the diagnosis they came from (it names the fault
    when there are none)."""
    diagnosis = await diagnose(target, deadline=deadline, client_name=client_name)
    assert isinstance(diagnosis, TopologyDiagnosis)  # only called outside standalone mode
    roles: dict[str, str | None] = {}
    for check in diagnosis.checks:
        if check.key == "redis:ping" and check.component_id:
            # a node that did not answer ROLE still has its role in the cluster's flags
            flags = str(check.details.get("flags", "")).split(",")
            role = check.details.get("role") or next(
                (f for f in flags if f in ("master", "slave")), None
            )
            roles[check.component_id] = role
    members = diagnosis.members[:1] if diagnosis.mode == "sentinel" else diagnosis.members
    nodes = [NodeTarget(a, target.for_node(a), roles.get(a)) for a in members]
    return nodes, diagnosis


async def sample_nodes(
    targets: Sequence[NodeTarget],
    *,
    count: int = 0,
    interval: float = 1.0,
    timeout: float = 1.0,
) -> AsyncGenerator[tuple[str, Sample], None]:
    """``cpa-ops ping`` across nodes: each round PINGs every node concurrently (one connection
    per node) and yields ``(address, sample)`` per node, rounds paced by :func:`paced`."""
    samplers = [(t.address, LatencySampler(t.target, timeout=timeout)) for t in targets]
    try:
        async for seq in paced(count, interval):
            samples = await asyncio.gather(*(sampler.sample(seq) for _, sampler in samplers))
            for (address, _), sample in zip(samplers, samples, strict=True):
                yield address, sample
    finally:
        await asyncio.gather(*(sampler.close() for _, sampler in samplers))
