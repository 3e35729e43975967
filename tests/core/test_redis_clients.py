"""create_redis_client for every REDIS_MODE against real servers: one client that owns its pool,
so ``aclose()`` leaves no connection on any server; and check_redis_health on it."""

from __future__ import annotations

import asyncio
import time

import pytest

from cpa_ops.core.redis import check_redis_health, create_redis_client, create_redis_pool
from cpa_ops.core.settings import Settings, load_settings
from tests.servers.net import wait_until
from tests.servers.redis_faults import RedisServer
from tests.servers.redis_topology import MASTER_NAME, ClusterSetup, SentinelSetup
from tests.servers.resp import command_text

pytestmark = pytest.mark.timeout(90)

NAME = "cpa-ops-client-test"


def _ours(port: int) -> int:
    """How many connections named NAME the server on ``port`` has."""
    return command_text(port, "CLIENT", "LIST").count(f"name={NAME}")


async def _busy(client: object, n: int = 8) -> None:
    """``n`` commands at once, so the pool opens several connections."""
    await asyncio.gather(
        *(client.execute_command("BLPOP", "cpa-ops-test:nothing", "0.1") for _ in range(n))
    )  # type: ignore[attr-defined]


def _open_use_close(settings: Settings, ports: list[int]) -> tuple[list[int], bool]:
    """Open a client, use several connections, close it; the connections seen while open."""

    async def main() -> tuple[list[int], bool]:
        client = await create_redis_client(settings, client_name=NAME)
        try:
            await _busy(client)
            healthy = await check_redis_health(client, timeout=5)
            return [_ours(port) for port in ports], healthy
        finally:
            await client.aclose()

    return asyncio.run(main())


class TestStandalone:
    def test_aclose_closes_every_connection_of_its_pool(self, redis_server: RedisServer) -> None:
        settings = load_settings(redis_url=redis_server.url())
        during, healthy = _open_use_close(settings, [redis_server.port])
        assert healthy and during[0] >= 2, during
        wait_until(lambda: _ours(redis_server.port) == 0, 5, "no connection of ours is left")

    def test_a_bare_client_on_the_pool_would_leave_them_open(
        self, redis_server: RedisServer
    ) -> None:
        """Why create_redis_client exists: redis-py's Redis(connection_pool=pool).aclose()
        leaves the pool's connections open (the trap the factory closes)."""
        from redis.asyncio import Redis

        settings = load_settings(redis_url=redis_server.url())

        async def main() -> int:
            pool = await create_redis_pool(settings, client_name=NAME)
            client = Redis(connection_pool=pool)  # type: ignore[arg-type]
            await _busy(client)
            await client.aclose()
            left = _ours(redis_server.port)
            await pool.disconnect()  # type: ignore[union-attr]
            return left

        assert asyncio.run(main()) >= 2

    def test_the_limit_holds(self, redis_server: RedisServer) -> None:
        """REDIS_MAX_CONNECTIONS=3: 12 commands at once never open a fourth connection."""
        settings = load_settings(redis_url=redis_server.url(), redis_max_connections=3)

        async def main() -> int:
            client = await create_redis_client(settings, client_name=NAME)
            try:
                await _busy(client, 12)
                return _ours(redis_server.port)
            finally:
                await client.aclose()

        assert 1 <= asyncio.run(main()) <= 3


class TestTopologies:
    def test_cluster_client_closes_every_node(self, redis_cluster: ClusterSetup) -> None:
        settings = load_settings(redis_mode="cluster", redis_url=redis_cluster.seed_urls)
        ports = [node.port for node in redis_cluster.masters]

        async def main() -> bool:
            client = await create_redis_client(settings, client_name=NAME)
            try:
                await client.initialize()  # type: ignore[union-attr]
                await asyncio.gather(*(client.set(f"k{i}", i) for i in range(30)))
                return await check_redis_health(client, timeout=5)
            finally:
                await client.aclose()

        assert asyncio.run(main())
        wait_until(lambda: sum(_ours(p) for p in ports) == 0, 5, "no connection of ours is left")

    def test_sentinel_client_follows_the_master_and_closes(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        settings = load_settings(
            redis_mode="sentinel",
            redis_sentinels=redis_sentinels_per_module.sentinel_addresses,
            redis_sentinel_master=MASTER_NAME,
        )
        master = redis_sentinels_per_module.node_at(
            redis_sentinels_per_module.master_as_sentinels_see_it()
        )
        during, healthy = _open_use_close(settings, [master.port])
        assert healthy and during[0] >= 1, during
        started = time.monotonic()
        wait_until(lambda: _ours(master.port) == 0, 5, "no connection of ours is left")
        assert time.monotonic() - started < 5
