"""The Redis core against a real redis-server: the services' pool and liveness boolean, and the
probe's value (facts, connection name, closing what it opened)."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis

from cpa_ops.core.health import Status
from cpa_ops.core.redis import (
    PROBE_CLIENT_NAME,
    RedisDiagnosis,
    check_redis_health,
    create_redis_pool,
    diagnose,
)
from cpa_ops.core.settings import load_settings
from cpa_ops.core.target import RedisTarget
from tests.servers.net import wait_until
from tests.servers.redis_faults import RedisServer
from tests.servers.redis_fixtures import REDIS_PASSWORD

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server(redis_server: RedisServer) -> int:
    """The port of a healthy redis-server from the fault harness."""
    return redis_server.port


def _clients(port: int, name: str | None = None) -> list[dict[str, str]]:
    side = redis.Redis(port=port, socket_timeout=2, decode_responses=True)
    try:
        everyone = side.client_list()
        side_id = str(side.client_id())
    finally:
        side.close()
    return [c for c in everyone if c["id"] != side_id and (name is None or c["name"] == name)]


class TestPool:
    def test_1000_concurrent_checks_share_at_most_20_connections(self, server: int) -> None:
        """1000 concurrent check_redis_health calls on one pool of 20: all True, and the
        server never sees more than 20 connections from it."""
        settings = load_settings(redis_url=f"redis://127.0.0.1:{server}/0")
        assert settings.redis_max_connections == 20
        peak = 0

        async def main() -> list[bool]:
            nonlocal peak
            pool = await create_redis_pool(settings, client_name="pool-under-test")
            stop = asyncio.Event()

            async def watch() -> None:
                nonlocal peak
                while not stop.is_set():
                    count = await asyncio.to_thread(
                        lambda: len(_clients(server, "pool-under-test"))
                    )
                    peak = max(peak, count)
                    await asyncio.sleep(0.002)

            watcher = asyncio.create_task(watch())
            try:
                return await asyncio.gather(*(check_redis_health(pool) for _ in range(1000)))
            finally:
                stop.set()
                await watcher
                await pool.disconnect()

        results = asyncio.run(main())
        assert results == [True] * 1000
        assert 1 <= peak <= 20, peak

    def test_a_busy_pool_is_not_an_unhealthy_redis(self, redis_server: RedisServer) -> None:
        """Every connection of a pool of 2 lent out: the check is True at once, over one
        connection of its own that it closes; 50 checks at once share that one connection."""
        server = redis_server
        settings = load_settings(redis_url=server.url(), redis_max_connections=2)

        async def main() -> tuple[list[bool], float]:
            pool = await create_redis_pool(settings, client_name="busy-pool", acquire_timeout=30)
            held = [await pool.get_connection(), await pool.get_connection()]
            for connection in held:
                await connection.send_command("PING")
                await connection.read_response()
            try:
                started = time.monotonic()
                results = await asyncio.gather(
                    *(check_redis_health(pool, timeout=5) for _ in range(50))
                )
                return results, time.monotonic() - started
            finally:
                for connection in held:
                    await pool.release(connection)
                await pool.disconnect()

        results, elapsed = asyncio.run(main())
        assert results == [True] * 50
        assert elapsed < 4.0, elapsed  # never waited for the pool's 30 s acquire timeout
        # the probe's own connection is closed, and so is the pool's
        wait_until(lambda: not _clients(server.port, PROBE_CLIENT_NAME), 5, "probe closed")
        wait_until(lambda: not _clients(server.port, "busy-pool"), 5, "pool closed")

    def test_a_busy_pool_of_a_frozen_redis_is_false_in_time(
        self, redis_server: RedisServer
    ) -> None:
        """The pool busy and the server SIGSTOPped: False within the timeout, never raised."""
        server = redis_server
        settings = load_settings(redis_url=server.url(), redis_max_connections=1)

        async def main() -> tuple[bool, float]:
            pool = await create_redis_pool(settings, acquire_timeout=30)
            held = await pool.get_connection()
            server.freeze()
            try:
                started = time.monotonic()
                return await check_redis_health(pool, timeout=1.0), time.monotonic() - started
            finally:
                server.thaw()
                await pool.release(held)
                await pool.disconnect()

        healthy, elapsed = asyncio.run(main())
        assert healthy is False
        assert elapsed < 3.0, elapsed

    def test_check_is_false_not_an_exception_when_redis_is_down(self, refused_port: int) -> None:
        """A refused port gives False within the timeout; nothing is raised."""
        settings = load_settings(redis_url=f"redis://127.0.0.1:{refused_port}/0")

        async def main() -> tuple[bool, float]:
            pool = await create_redis_pool(settings)
            started = time.monotonic()
            try:
                return await check_redis_health(pool, timeout=1.0), time.monotonic() - started
            finally:
                await pool.disconnect()

        healthy, elapsed = asyncio.run(main())
        assert healthy is False
        assert elapsed < 2.0

    def test_a_dropped_connection_is_retried_a_wrong_password_is_not(
        self, redis_with_password: RedisServer
    ) -> None:
        """The services' retry policy: a connection the server dropped is reopened and the
        command succeeds; a wrong password fails at once (redis-py's defaults retry it ~4 s)."""
        from redis.asyncio import Redis
        from redis.exceptions import AuthenticationError

        server = redis_with_password
        good = load_settings(redis_url=server.url(password=REDIS_PASSWORD))
        bad = load_settings(redis_url=server.url(password="wr0ng-PW-987"))

        async def main() -> tuple[bool, float]:
            pool = await create_redis_pool(good, client_name="retry-under-test")
            client = Redis(connection_pool=pool)
            try:
                assert await client.ping()
                with server.client() as admin:  # drop every connection of the pool
                    admin.check("CLIENT", "KILL", "USER", "default")
                answered = bool(await client.ping())
            finally:
                await pool.disconnect()
            pool = await create_redis_pool(bad)
            started = time.monotonic()
            try:
                with pytest.raises(AuthenticationError):
                    await Redis(connection_pool=pool).ping()
                return answered, time.monotonic() - started
            finally:
                await pool.disconnect()

        answered, refused_after = asyncio.run(main())
        assert answered
        assert refused_after < 0.5, f"a wrong password took {refused_after:.2f} s"


async def probe_url(url: str, budget: float, write: bool = False) -> RedisDiagnosis:
    """The standalone probe of ``url`` within ``budget`` seconds from now."""
    target = RedisTarget.from_url(url)
    diagnosis = await diagnose(target, deadline=time.monotonic() + budget, write=write)
    assert isinstance(diagnosis, RedisDiagnosis)
    return diagnosis


class TestProbe:
    def test_healthy_server_facts(self, server: int) -> None:
        """A healthy server: pass, round-trip measured, INFO facts filled in."""
        diagnosis = asyncio.run(probe_url(f"redis://127.0.0.1:{server}/0", 2))
        assert diagnosis.status is Status.PASS
        assert diagnosis.reason is None
        assert diagnosis.rtt_ms is not None and diagnosis.rtt_ms > 0
        facts = diagnosis.facts
        assert facts is not None
        assert facts.version and facts.version.startswith(("6.", "7."))
        assert facts.role == "master"
        assert facts.connected_clients and facts.connected_clients >= 1
        assert facts.maxclients and facts.maxclients > 0
        assert [c.key for c in diagnosis.checks][:2] == ["redis:ping", "redis:memory"]

    def test_connection_is_named_and_closed(self, server: int) -> None:
        """The probe's connection is named cpa-ops-health while open and gone afterwards."""
        seen: list[list[dict[str, str]]] = []

        async def main() -> None:
            probe = asyncio.create_task(probe_url(f"redis://127.0.0.1:{server}/0", 2, write=True))
            # look while the probe runs: CLIENT LIST from a side connection in a thread
            while not probe.done():
                seen.append(await asyncio.to_thread(_clients, server, PROBE_CLIENT_NAME))
                await asyncio.sleep(0)
            assert (await probe).status is Status.PASS

        for _ in range(200):  # the probe is brief: on a loaded machine the side look may miss it
            asyncio.run(main())
            if any(seen):
                break
        assert any(seen), "the probe's connection never showed up named cpa-ops-health"
        # the server notices the close asynchronously: give it time on a loaded machine
        wait_until(lambda: not _clients(server, PROBE_CLIENT_NAME), 5, "probe connection closed")

    def test_write_key_is_removed(self, server: int) -> None:
        """--write leaves no cpa-ops:health:* key behind."""
        diagnosis = asyncio.run(probe_url(f"redis://127.0.0.1:{server}/0", 2, write=True))
        assert diagnosis.status is Status.PASS
        assert diagnosis.write_ms is not None
        side = redis.Redis(port=server, socket_timeout=2)
        assert side.keys("cpa-ops:health:*") == []

    def test_refused_port_is_named(self, refused_port: int) -> None:
        """Nothing listening: fail, reason refused, well inside the budget."""
        started = time.monotonic()
        diagnosis = asyncio.run(probe_url(f"redis://127.0.0.1:{refused_port}/0", 1))
        assert diagnosis.status is Status.FAIL
        assert diagnosis.reason == "refused"
        assert time.monotonic() - started < 1.0

    def test_password_never_in_the_diagnosis(self, refused_port: int) -> None:
        """A password in the URL appears nowhere in the value the probe returns."""
        secret = "s3cr3t-PW-xyz"
        diagnosis = asyncio.run(probe_url(f"redis://:{secret}@127.0.0.1:{refused_port}/0", 1))
        assert secret not in repr(diagnosis)
        assert ":***@" in diagnosis.url
