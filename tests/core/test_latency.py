"""The latency core: statistics as values, and the sampling loop against real redis-servers
(reconnect after a failure with its connect time recorded apart, errors by reason code, no
retries inside a sample, each sample bounded by its timeout, the connection's name)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable

import pytest

from cpa_ops.core.redis import (
    PING_CLIENT_NAME,
    LatencyRecorder,
    LatencySampler,
    Sample,
    Spread,
    sample_latency,
)
from cpa_ops.core.target import RedisTarget
from tests.servers.redis_faults import RedisServer

pytestmark = pytest.mark.timeout(40)


def collect(url: str, **options: float) -> list[Sample]:
    async def run() -> list[Sample]:
        samples = sample_latency(RedisTarget.from_url(url), **options)  # type: ignore[arg-type]
        async with contextlib.aclosing(samples):
            return [sample async for sample in samples]

    return asyncio.run(run())


class TestSpread:
    def test_one_to_a_hundred(self) -> None:
        """1..100: nearest-rank percentiles are observed values; population stddev."""
        spread = Spread.of(float(v) for v in range(1, 101))
        assert spread is not None
        assert (spread.count, spread.min, spread.max) == (100, 1.0, 100.0)
        assert spread.avg == pytest.approx(50.5)
        assert (spread.p50, spread.p90, spread.p99) == (50.0, 90.0, 99.0)
        assert spread.stddev == pytest.approx(math.sqrt((100**2 - 1) / 12))

    def test_unordered_input_and_a_single_value(self) -> None:
        """Order of input does not matter; one value is every statistic, stddev 0."""
        assert Spread.of([3.0, 1.0, 2.0]) == Spread.of([1.0, 2.0, 3.0])
        one = Spread.of([0.25])
        assert one is not None
        assert (one.min, one.p50, one.p99, one.max, one.stddev) == (0.25, 0.25, 0.25, 0.25, 0.0)

    def test_none_for_no_values(self) -> None:
        """No samples, no spread (not zeros that would read as measurements)."""
        assert Spread.of([]) is None

    def test_p99_of_ten_is_the_largest(self) -> None:
        """With fewer than 100 values p99 is the maximum (nearest rank, never interpolated)."""
        spread = Spread.of([float(v) for v in range(10)])
        assert spread is not None
        assert spread.p99 == 9.0
        assert spread.p90 == 8.0


class TestRecorder:
    def test_counts_errors_by_reason_and_connects_apart(self) -> None:
        """Failures are counted per reason in order of first occurrence; round-trips only from
        successful samples; connect times apart, failed connects included only as errors."""
        recorder = LatencyRecorder(RedisTarget.from_url("redis://:hunter2@cache:6379/0").masked)
        for sample in (
            Sample(1, rtt_ms=0.5, connect_ms=2.0),
            Sample(2, rtt_ms=1.5),
            Sample(3, reason="read_timeout", detail="no reply"),
            Sample(4, reason="refused"),
            Sample(5, reason="read_timeout"),
            Sample(6, rtt_ms=1.0, connect_ms=4.0),
        ):
            recorder.add(sample)
        summary = recorder.summary()
        assert recorder.running_avg == pytest.approx(1.0)
        assert summary.url == "redis://:***@cache:6379/0"
        assert (summary.sent, summary.ok, summary.failed) == (6, 3, 3)
        assert list(summary.errors.items()) == [("read_timeout", 2), ("refused", 1)]
        assert summary.round_trip is not None and summary.connect is not None
        assert (summary.round_trip.count, summary.round_trip.avg) == (3, 1.0)
        assert (summary.connect.count, summary.connect.min, summary.connect.max) == (2, 2.0, 4.0)
        document = summary.as_dict()
        assert document["errors"] == {"read_timeout": 2, "refused": 1}
        assert document["roundTripMs"]["p50"] == 1.0
        assert document["connectMs"]["count"] == 2

    def test_empty_summary(self) -> None:
        """Before any sample: zero counts and no statistics."""
        recorder = LatencyRecorder("redis://localhost:6379/0")
        assert recorder.running_avg is None
        summary = recorder.summary()
        assert (summary.sent, summary.ok, summary.failed) == (0, 0, 0)
        assert summary.round_trip is None and summary.connect is None


class TestSampling:
    def test_healthy_server_one_connect_then_round_trips(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """20 samples back to back: all PONG; only the first connected (timed apart)."""
        server = redis_server_factory()
        samples = collect(server.url(), count=20, interval=0, timeout=1.0)
        assert [s.seq for s in samples] == list(range(1, 21))
        assert all(s.ok and s.rtt_ms is not None and s.rtt_ms > 0 for s in samples)
        assert samples[0].connect_ms is not None and samples[0].connect_ms > 0
        assert all(s.connect_ms is None for s in samples[1:])

    def test_connection_is_named_and_closed(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """While sampling, the connection shows in CLIENT LIST as cpa-ops-ping; closed after."""
        server = redis_server_factory()
        admin = server.client()

        async def run() -> tuple[list[str], list[str]]:
            sampler = LatencySampler(RedisTarget.from_url(server.url()), timeout=1.0)
            assert (await sampler.sample(1)).ok
            during = [c["name"] for c in admin.client_list()]
            await sampler.close()
            await asyncio.sleep(0.1)
            after = [c["name"] for c in admin.client_list()]
            return during, after

        during, after = asyncio.run(run())
        assert PING_CLIENT_NAME in during
        assert PING_CLIENT_NAME not in after

    def test_interval_paces_the_samples(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """interval 0.15 over 4 samples: about 0.45 s from first to last."""
        server = redis_server_factory()
        started = time.monotonic()
        samples = collect(server.url(), count=4, interval=0.15, timeout=1.0)
        assert len(samples) == 4
        assert 0.43 <= time.monotonic() - started < 1.5

    def test_refused(self, refused_port: int) -> None:
        """Nothing listening: each sample fails as refused, no connect recorded."""
        samples = collect(f"redis://127.0.0.1:{refused_port}/0", count=2, interval=0, timeout=1)
        assert [s.reason for s in samples] == ["refused", "refused"]
        assert all(s.connect_ms is None and s.rtt_ms is None for s in samples)

    def test_requirepass_without_password_is_auth(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """requirepass and no password: auth, each sample trying again (no hidden retry loop:
        one attempt per sample, quickly)."""
        server = redis_server_factory(password="sesame")
        started = time.monotonic()
        samples = collect(server.url(), count=3, interval=0, timeout=1.0)
        assert [s.reason for s in samples] == ["auth", "auth", "auth"]
        assert time.monotonic() - started < 1.0  # redis-py's default retries take seconds

    def test_wrong_password_detail_has_no_secret(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """WRONGPASS is auth; the sample's detail does not contain the password."""
        server = redis_server_factory(password="sesame")
        samples = collect(
            f"redis://:not-it-42@127.0.0.1:{server.port}/0", count=1, interval=0, timeout=1
        )
        assert samples[0].reason == "auth"
        assert "not-it-42" not in (samples[0].detail or "")

    def test_frozen_server_times_out_then_reconnects(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """SIGSTOP mid-run: the sample fails as read_timeout within its timeout; after SIGCONT
        the next sample reconnects (connect time recorded apart) and succeeds."""
        server = redis_server_factory()

        async def run() -> tuple[Sample, Sample, Sample, float]:
            sampler = LatencySampler(RedisTarget.from_url(server.url()), timeout=0.3)
            try:
                first = await sampler.sample(1)
                server.freeze()
                started = time.monotonic()
                frozen = await sampler.sample(2)
                took = time.monotonic() - started
                server.thaw()
                return first, frozen, await sampler.sample(3), took
            finally:
                await sampler.close()

        first, frozen, after, took = asyncio.run(run())
        assert first.ok and first.connect_ms is not None
        assert frozen.reason == "read_timeout" and frozen.connect_ms is None
        assert 0.2 <= took < 0.7  # bounded by the 0.3 s timeout (slack for a busy machine)
        assert after.ok and after.connect_ms is not None and after.rtt_ms is not None

    def test_loading_error_replies_keep_the_connection(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """LOADING replies are failures counted as loading; the stream stays in step, so the
        connection is kept: at most the first sample connects."""
        server = redis_server_factory("--enable-debug-command", "local")
        server.start_loading()
        samples = collect(server.url(), count=3, interval=0.05, timeout=1.0)
        assert [s.reason for s in samples] == ["loading"] * 3
        assert all(s.detail and s.detail.startswith("LOADING") for s in samples)
        assert all(s.connect_ms is None for s in samples[1:])

    def test_killed_connection_fails_one_sample_then_reconnects(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """CLIENT KILL of our connection: the next sample fails (no retry inside it), naming
        the closed connection; the one after reconnects and succeeds."""
        server = redis_server_factory()
        admin = server.client()

        async def run() -> list[Sample]:
            sampler = LatencySampler(RedisTarget.from_url(server.url()), timeout=1.0)
            try:
                samples = [await sampler.sample(1)]
                ours = [c for c in admin.client_list() if c["name"] == PING_CLIENT_NAME]
                admin.check("CLIENT", "KILL", "ID", ours[0]["id"])
                samples.append(await sampler.sample(2))
                samples.append(await sampler.sample(3))
                return samples
            finally:
                await sampler.close()

        first, killed, after = asyncio.run(run())
        assert first.ok
        assert not killed.ok and killed.connect_ms is None
        assert "closed" in (killed.detail or "").lower()
        assert after.ok and after.connect_ms is not None
