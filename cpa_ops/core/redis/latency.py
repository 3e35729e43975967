"""Latency statistics as values: one sample, the spread of a series, the summary of a run, and
the recorder that turns samples into it (min / avg / p50 / p90 / p99 / max / stddev of
round-trips and of connects; failures counted by reason code)."""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


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

    url: str  #: what is sampled, for people: a masked URL (RedisTarget.masked)
    sent: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    # compact float arrays: an unbounded run keeps 8 bytes a sample
    round_trips: array[float] = field(default_factory=lambda: array("d"))
    connects: array[float] = field(default_factory=lambda: array("d"))
    started: float = field(default_factory=time.monotonic)
    round_trip_total: float = 0.0  #: kept as it goes: a live view shows the mean every sample

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
