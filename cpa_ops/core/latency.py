"""Redis latency sampling, ping(8)-style, and its statistics as values.

:func:`sample_latency` sends one PING per sample on one connection named ``cpa-ops-ping``: no
retries inside a sample, each sample bounded by its own timeout, a failed sample counted under
the same reason codes as ``cpa-ops health`` (:data:`cpa_ops.core.redis.REASONS`). After a
transport failure (timeout, closed or garbled connection) the next sample reconnects, and the
time that connect took is recorded apart from the command round-trip. Error replies (LOADING,
NOAUTH, MISCONF, ...) are failed samples too, but leave the connection in step, so it is kept.

:class:`LatencyRecorder` turns samples into a :class:`LatencySummary`: sent, ok, errors by
reason, and min / avg / p50 / p90 / p99 / max / stddev of round-trips and of connects.
"""

from __future__ import annotations

import asyncio
import math
import time
from array import array
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cpa_ops.core.redis import (
    ProbeFailure,
    classify_failure,
    close_connection,
    open_probe_connection,
)
from cpa_ops.core.settings import mask_url

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection

PING_CLIENT_NAME = "cpa-ops-ping"
_PING = b"*1\r\n$4\r\nPING\r\n"
# error replies after which Redis closes the connection: the next sample must reconnect
_CLOSING_REPLIES = frozenset({"max_clients"})


@dataclass(frozen=True, slots=True)
class Sample:
    """One PING: its round-trip when answered PONG, else the reason code of the failure."""

    seq: int
    rtt_ms: float | None = None
    connect_ms: float | None = None  #: set when this sample (re)connected first
    reason: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Spread:
    """Statistics of a series of durations, in ms. Percentiles are nearest-rank (an observed
    value); stddev is the population standard deviation."""

    count: int
    min: float
    avg: float
    p50: float
    p90: float
    p99: float
    max: float
    stddev: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread | None:
        """The spread of ``values``; None when there are none."""
        ordered = sorted(values)
        n = len(ordered)
        if n == 0:
            return None
        mean = math.fsum(ordered) / n
        variance = math.fsum((v - mean) ** 2 for v in ordered) / n

        def rank(q: float) -> float:
            return ordered[max(math.ceil(q * n), 1) - 1]

        return cls(
            count=n,
            min=ordered[0],
            avg=mean,
            p50=rank(0.50),
            p90=rank(0.90),
            p99=rank(0.99),
            max=ordered[-1],
            stddev=math.sqrt(variance),
        )

    def as_dict(self, digits: int = 3) -> dict[str, float | int]:
        return {
            "count": self.count,
            **{
                name: round(getattr(self, name), digits)
                for name in ("min", "avg", "p50", "p90", "p99", "max", "stddev")
            },
        }


@dataclass(frozen=True)
class LatencySummary:
    """What a run of samples measured."""

    url: str  #: REDIS_URL, masked
    sent: int
    ok: int
    errors: dict[str, int]  #: reason code -> failed samples, in order of first occurrence
    elapsed_s: float
    round_trip: Spread | None  #: over successful samples only
    connect: Spread | None  #: over successful connects only

    @property
    def failed(self) -> int:
        return self.sent - self.ok

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, keys in the health+json style (camelCase, units in the name)."""
        return {
            "url": self.url,
            "sent": self.sent,
            "ok": self.ok,
            "failed": self.failed,
            "errors": dict(self.errors),
            "elapsedSeconds": round(self.elapsed_s, 3),
            "roundTripMs": self.round_trip.as_dict() if self.round_trip else None,
            "connectMs": self.connect.as_dict() if self.connect else None,
        }


@dataclass
class LatencyRecorder:
    """Accumulates samples; :meth:`summary` can be taken at any time (e.g. on Ctrl-C)."""

    url: str
    sent: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    # compact float arrays: an unbounded run keeps 8 bytes a sample
    round_trips: array[float] = field(default_factory=lambda: array("d"))
    connects: array[float] = field(default_factory=lambda: array("d"))
    started: float = field(default_factory=time.monotonic)
    round_trip_total: float = 0.0  #: kept as it goes: a live view shows the mean every sample

    def __post_init__(self) -> None:
        self.url = mask_url(self.url)

    def add(self, sample: Sample) -> None:
        self.sent += 1
        if sample.connect_ms is not None:
            self.connects.append(sample.connect_ms)
        if sample.reason is None:
            self.ok += 1
            if sample.rtt_ms is not None:
                self.round_trips.append(sample.rtt_ms)
                self.round_trip_total += sample.rtt_ms
        else:
            self.errors[sample.reason] = self.errors.get(sample.reason, 0) + 1

    @property
    def running_avg(self) -> float | None:
        """The mean round-trip so far, in ms (cheap: for a live view)."""
        return self.round_trip_total / len(self.round_trips) if self.round_trips else None

    def summary(self) -> LatencySummary:
        return LatencySummary(
            url=self.url,
            sent=self.sent,
            ok=self.ok,
            errors=dict(self.errors),
            elapsed_s=time.monotonic() - self.started,
            round_trip=Spread.of(self.round_trips),
            connect=Spread.of(self.connects),
        )


class LatencySampler:
    """One connection to ``url``, one PING per :meth:`sample`, reconnecting after a transport
    failure. Always :meth:`close` it (``sample_latency`` does)."""

    def __init__(self, url: str, *, timeout: float, client_name: str = PING_CLIENT_NAME) -> None:
        self.url = url
        self.timeout = timeout
        self.client_name = client_name
        self._conn: AbstractConnection | None = None
        self._opened: list[AbstractConnection] = []

    async def sample(self, seq: int) -> Sample:
        """Connect if not connected, then PING; within ``timeout`` seconds; never raises for a
        Redis fault."""
        import redis.asyncio  # noqa: F401 - before the clock: a sample times the network, not imports

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        connect_ms = None
        phase = "connect"
        try:
            async with asyncio.timeout_at(deadline):
                conn = self._conn
                if conn is None:
                    started = time.perf_counter()
                    conn = await open_probe_connection(
                        self.url, self.timeout, self.client_name, self._opened
                    )
                    connect_ms = (time.perf_counter() - started) * 1000
                    self._conn = conn
                phase = "read"
                rtt_ms = await self._ping(conn)
        except ProbeFailure as failure:
            if (
                phase == "connect"
                or failure.reason not in _REPLY_REASONS
                or failure.reason in _CLOSING_REPLIES
            ):
                await self._drop()
            return Sample(seq, None, connect_ms, failure.reason, failure.detail)
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
            raise _reply_failure(line[1:].decode("utf-8", "replace").strip())
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


# the reason codes an error reply (not a broken connection) is classified as
_REPLY_REASONS = frozenset(
    {"auth", "loading", "max_clients", "misconf", "masterdown", "readonly", "oom", "error"}
)


def _reply_failure(text: str) -> ProbeFailure:
    """Classify a Redis error reply as redis-py would have raised it."""
    from redis._parsers.base import BaseParser

    exc = BaseParser.parse_error(text)  # type: ignore[no-untyped-call]
    failure = classify_failure(exc, phase="read")
    # classify_failure sees the text without its error code: name the reply as Redis sent it
    return ProbeFailure(failure.reason, text)


async def sample_latency(
    url: str,
    *,
    count: int = 0,
    interval: float = 1.0,
    timeout: float = 1.0,
    client_name: str = PING_CLIENT_NAME,
) -> AsyncGenerator[Sample, None]:
    """Yield ``count`` samples (0: until the caller stops), one every ``interval`` seconds
    (0: back to back); a sample that overruns the interval starts the next one at once."""
    import redis.asyncio  # noqa: F401 - imported before the first sample's connect is timed

    loop = asyncio.get_running_loop()
    sampler = LatencySampler(url, timeout=timeout, client_name=client_name)
    try:
        seq = 0
        next_start = loop.time()
        while count == 0 or seq < count:
            seq += 1
            yield await sampler.sample(seq)
            if interval and (count == 0 or seq < count):
                next_start = max(next_start + interval, loop.time())
                await asyncio.sleep(next_start - loop.time())
    finally:
        await sampler.close()
