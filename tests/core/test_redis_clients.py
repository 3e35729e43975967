"""create_redis_client for every REDIS_MODE against real servers: one client that owns its pool,
so ``aclose()`` leaves no connection on any server; and check_redis_health on it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from cpa_ops.core.redis import check_redis_health, create_redis_client, create_redis_pool
from cpa_ops.core.settings import Settings, load_settings
from tests.servers.net import wait_until
from tests.servers.redis_faults import RedisServer, TlsFiles
from tests.servers.redis_fixtures import REDIS_PASSWORD, SENTINEL_PASSWORD
from tests.servers.redis_topology import MASTER_NAME, ClusterSetup, SentinelSetup
from tests.servers.redis_verdict_faults import ACL_PASSWORD
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


async def _shaped_replies(settings: Settings) -> list[object]:
    """Replies whose Python shape depends on the wire protocol (sorted-set scores, hashes,
    streams), and the protocol the client's connection speaks."""
    client = await create_redis_client(settings, client_name=NAME)
    try:
        await client.delete("cpa-ops-test:z", "cpa-ops-test:h", "cpa-ops-test:x")
        await client.zadd("cpa-ops-test:z", {"a": 1.5, "b": 2})
        await client.hset("cpa-ops-test:h", mapping={"x": "1"})
        await client.xadd("cpa-ops-test:x", {"f": "v"}, id="1-1")
        return [
            await client.zrange("cpa-ops-test:z", 0, -1, withscores=True),
            await client.zscore("cpa-ops-test:z", "a"),
            await client.zpopmin("cpa-ops-test:z"),
            await client.hgetall("cpa-ops-test:h"),
            await client.xrange("cpa-ops-test:x"),
            await client.config_get("maxmemory"),
            (await client.client_info())["resp"],
        ]
    finally:
        await client.aclose()


#: _shaped_replies as redis-py gives them by default, over RESP2
SHAPED_REPLIES = [
    [(b"a", 1.5), (b"b", 2.0)],
    1.5,
    [(b"a", 1.5)],
    {b"x": b"1"},
    [(b"1-1", {b"f": b"v"})],
    {"maxmemory": "0"},
    "2",
]


class TestProtocol:
    """The services' clients speak RESP2 unless REDIS_URL asks for protocol=3: every Redis
    speaks it, and the replies have the shapes redis-py gives by default."""

    def test_replies_from_a_server_without_hello(self, redis_hello_renamed: RedisServer) -> None:
        """A server without HELLO (Redis 5): the same replies as from any other (a client
        left at RESP3 fell back to RESP2 on the wire and its ZRANGE WITHSCORES raised)."""
        settings = load_settings(redis_url=redis_hello_renamed.url(password=REDIS_PASSWORD))
        assert asyncio.run(_shaped_replies(settings)) == SHAPED_REPLIES

    def test_replies_from_a_server_with_hello(self, redis_server: RedisServer) -> None:
        settings = load_settings(redis_url=redis_server.url())
        assert asyncio.run(_shaped_replies(settings)) == SHAPED_REPLIES

    def test_protocol_3_in_the_url_wins(self, redis_server: RedisServer) -> None:
        settings = load_settings(redis_url=f"{redis_server.url()}?protocol=3")
        assert asyncio.run(_shaped_replies(settings))[-1] == "3"


class TestTopologies:
    def test_cluster_client_closes_every_node(self, redis_cluster: ClusterSetup) -> None:
        settings = load_settings(redis_mode="cluster", redis_url=redis_cluster.seed_urls)
        ports = [node.port for node in redis_cluster.masters]

        async def main() -> bool:
            client = await create_redis_client(settings, client_name=NAME)
            try:
                await asyncio.gather(*(client.set(f"k{i}", i) for i in range(30)))
                return await check_redis_health(client, timeout=5)
            finally:
                await client.aclose()

        assert asyncio.run(main())
        wait_until(lambda: sum(_ours(p) for p in ports) == 0, 5, "no connection of ours is left")

    def test_cluster_client_over_tls(self, redis_cluster_tls_per_module: ClusterSetup) -> None:
        """rediss:// seeds with the CA: every connection of the cluster client (startup and
        discovered nodes) speaks TLS; keys reach every master; aclose() closes them all."""
        setup = redis_cluster_tls_per_module
        settings = load_settings(redis_mode="cluster", redis_url=setup.seed_urls)
        ports = [node.port for node in setup.masters]

        async def main() -> tuple[set[int], bool, int]:
            client = await create_redis_client(settings, client_name=NAME)
            try:
                keys = [f"cpa-ops-test:tls:{i}" for i in range(30)]
                await asyncio.gather(*(client.set(key, key) for key in keys))
                values = await asyncio.gather(*(client.get(key) for key in keys))
                assert values == [key.encode() for key in keys]
                owners = {client.get_node_from_key(key).port for key in keys}  # type: ignore[union-attr]
                return owners, await check_redis_health(client, timeout=5), sum(map(_ours, ports))
            finally:
                await client.aclose()

        owners, healthy, during = asyncio.run(main())
        assert owners == {setup.tls_ports[port] for port in ports} and healthy, (owners, healthy)
        assert during >= 3
        wait_until(lambda: sum(_ours(p) for p in ports) == 0, 5, "no connection of ours is left")

    def test_a_burst_of_first_commands_on_a_new_cluster_client(
        self, redis_cluster: ClusterSetup
    ) -> None:
        """A service's first commands arrive at once, before any topology is known: each of 40
        SETs then GETs across the slots succeeds, on each of three new clients (redis-py 8.1's
        own cluster client failed some of them in 9 of 10 bursts: AttributeError 'writelines' on
        a connection another task's discovery closed)."""
        settings = load_settings(redis_mode="cluster", redis_url=redis_cluster.seed_urls)
        keys = [f"cpa-ops-test:burst:{i}" for i in range(40)]

        async def burst() -> list[object]:
            client = await create_redis_client(settings, client_name=NAME)
            try:
                sets = await asyncio.gather(
                    *(client.set(key, key) for key in keys), return_exceptions=True
                )
                gets = await asyncio.gather(*(client.get(key) for key in keys))
                return [*sets, *gets]
            finally:
                await client.aclose()

        for _ in range(3):
            replies = asyncio.run(burst())
            assert replies == [True] * len(keys) + [key.encode() for key in keys], replies

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

    def test_the_sentinels_are_asked_over_resp2(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """The pool's own connections to the sentinels speak RESP2 too (a Redis 5 sentinel has
        no HELLO): seen in the sentinels' CLIENT LIST while the client is open."""
        setup = redis_sentinels_per_module
        settings = load_settings(
            redis_mode="sentinel",
            redis_sentinels=setup.sentinel_addresses,
            redis_sentinel_master=MASTER_NAME,
        )

        async def main() -> list[str]:
            client = await create_redis_client(settings, client_name=NAME)
            try:
                await client.set("cpa-ops-test:sentinel-resp", "1")
                return [command_text(s.port, "CLIENT", "LIST") for s in setup.sentinels]
            finally:
                await client.aclose()

        lines = [line for listing in asyncio.run(main()) for line in listing.splitlines()]
        # the sentinels' own links to each other are named sentinel-<id>; ours asked SENTINEL
        ours = [line for line in lines if "cmd=sentinel|" in line and " name= " in line]
        assert ours and all(line.endswith("resp=2") or " resp=2 " in line for line in ours), ours


def _set_get(settings: Settings, key: str) -> object:
    """SET ``key`` (10 s) and GET it with a new client of ``settings``, closed after."""

    async def main() -> object:
        client = await create_redis_client(settings, client_name=NAME)
        try:
            await client.set(key, "through the master", px=10_000)
            return await client.get(key)
        finally:
            await client.aclose()

    return asyncio.run(main())


class TestPasswordProtectedSentinels:
    """The pool asks the sentinels with REDIS_SENTINEL_PASSWORD and the master with REDIS_URL's
    password (the set-up's own passwords, or one for all)."""

    @staticmethod
    def _settings(setup: SentinelSetup, **extra: str) -> Settings:
        return load_settings(
            redis_mode="sentinel",
            redis_sentinels=setup.sentinel_addresses,
            redis_sentinel_master=MASTER_NAME,
            redis_url=f"redis://:{setup.data_password}@unused/0",
            **extra,
        )

    def test_set_and_get_through_the_master(
        self, redis_sentinels_with_passwords_per_module: SentinelSetup
    ) -> None:
        setup = redis_sentinels_with_passwords_per_module
        settings = self._settings(setup, redis_sentinel_password=SENTINEL_PASSWORD)
        assert _set_get(settings, "cpa-ops-test:sentinel-auth") == b"through the master"
        master = setup.node_at(setup.master_as_sentinels_see_it())
        assert master.ask("GET", "cpa-ops-test:sentinel-auth") == "through the master"

    def test_without_the_sentinel_password_no_master_is_found(
        self, redis_sentinels_with_passwords_per_module: SentinelSetup
    ) -> None:
        """The sentinels refuse a pool without REDIS_SENTINEL_PASSWORD: the password is what
        let the test above in."""
        from redis.asyncio.sentinel import MasterNotFoundError

        settings = self._settings(redis_sentinels_with_passwords_per_module)
        with pytest.raises(MasterNotFoundError):
            _set_get(settings, "cpa-ops-test:sentinel-auth")


class TestTlsSentinels:
    """REDIS_URL's rediss:// and ssl_ca_certs reach the pool's sentinels and the master they
    name (sentinels and data nodes that speak TLS, tls-replication yes)."""

    @staticmethod
    def _set_get_over_tls(setup: SentinelSetup, ca: Path) -> object:
        settings = load_settings(
            redis_mode="sentinel",
            redis_sentinels=setup.sentinel_addresses,
            redis_sentinel_master=MASTER_NAME,
            redis_url=f"rediss://127.0.0.1:1/0?ssl_ca_certs={ca}",
        )
        return _set_get(settings, "cpa-ops-test:sentinel-tls")

    def test_set_and_get_through_the_master(
        self, redis_sentinels_tls_per_module: SentinelSetup, tls_files: TlsFiles
    ) -> None:
        setup = redis_sentinels_tls_per_module
        assert self._set_get_over_tls(setup, tls_files.ca) == b"through the master"
        master = setup.node_at(setup.master_as_sentinels_see_it())
        assert master is setup.master
        assert master.ask("GET", "cpa-ops-test:sentinel-tls") == "through the master"

    def test_an_untrusted_ca_finds_no_master(
        self, redis_sentinels_tls_per_module: SentinelSetup, tls_files: TlsFiles
    ) -> None:
        """The sentinels' certificates are checked against ssl_ca_certs too: the CA is what
        let the test above in."""
        from redis.asyncio.sentinel import MasterNotFoundError

        with pytest.raises(MasterNotFoundError):
            self._set_get_over_tls(redis_sentinels_tls_per_module, tls_files.other_ca)


def _clients(port: int, user: str = "default") -> list[dict[str, str]]:
    """The CLIENT LIST entries (field -> value) of ``user``'s connections on the server at
    ``port``; the harness's own side connection, the one listing, left out."""
    entries = [
        dict(field.partition("=")[::2] for field in line.split())
        for line in command_text(port, "CLIENT", "LIST").splitlines()
    ]
    return [e for e in entries if e.get("user") == user and e.get("cmd") != "client|list"]


async def _health_within(settings: Settings, timeout: float) -> bool:
    """check_redis_health of a new client of ``settings`` within ``timeout``."""
    client = await create_redis_client(settings, client_name=NAME)
    try:
        return await check_redis_health(client, timeout=timeout)
    finally:
        await client.aclose()


def _acl_seeds(setup: ClusterSetup, user: str) -> str:
    return ",".join(f"redis://{user}:{ACL_PASSWORD}@{n.address}/0" for n in setup.masters)


def _use_cluster(settings: Settings, ports: list[int], user: str = "default") -> dict[str, object]:
    """What the cluster client of ``settings`` makes of keys on every master, the replies its
    callbacks parse, its liveness check, and its connections (CLIENT LIST) while open."""

    async def main() -> dict[str, object]:
        client = await create_redis_client(settings, client_name=NAME)
        try:
            keys = [f"cpa-ops-test:handshake:{i}" for i in range(30)]
            await asyncio.gather(*(client.set(key, key) for key in keys))
            values = await asyncio.gather(*(client.get(key) for key in keys))
            owners = {client.get_node_from_key(key).port for key in keys}  # type: ignore[union-attr]
            await client.zadd("cpa-ops-test:handshake:z", {"a": 1.5})
            seen = {
                "scores": await client.zrange("cpa-ops-test:handshake:z", 0, -1, withscores=True),
                "round_trip": values == [key.encode() for key in keys],
                "owners": owners,
                "healthy": await check_redis_health(client, timeout=5),
                "info": await client.info("server"),
                "cluster_info": await client.cluster_info(),  # type: ignore[union-attr]
                "slots": await client.cluster_slots(),  # type: ignore[union-attr]
                "shards": await client.cluster_shards(),  # type: ignore[union-attr]
                "connections": [entry for port in ports for entry in _clients(port, user)],
            }
            await client.delete(*keys[:1], "cpa-ops-test:handshake:z")
            return seen
        finally:
            await client.aclose()

    return asyncio.run(main())


def _assert_parsed(seen: dict[str, object], ports: list[int]) -> None:
    """Every key went to its master and back; INFO, CLUSTER INFO, SLOTS and SHARDS came back
    in the shapes redis-py gives by default (the callbacks parsed them), scores too."""
    assert seen["round_trip"] is True and seen["owners"] == set(ports), seen["owners"]
    assert seen["scores"] == [(b"a", 1.5)], seen["scores"]
    assert seen["healthy"] is True
    info, cluster_info = seen["info"], seen["cluster_info"]
    assert isinstance(info, dict) and str(info["redis_version"]).startswith("7")
    assert isinstance(cluster_info, dict) and cluster_info["cluster_state"] == "ok"
    slots = seen["slots"]
    assert isinstance(slots, dict) and sum(end - start + 1 for start, end in slots) == 16384
    shards = seen["shards"]
    # three shards own the slots; Redis 7.0 may list a replica as a shard of its own for a while
    assert isinstance(shards, list) and sum(1 for shard in shards if shard["slots"]) == 3, shards
    assert all(set(shard) == {"slots", "nodes"} for shard in shards), shards


class TestClusterHandshake:
    """The cluster client's every connection (startup and discovered nodes) speaks the
    project's handshake (cpa_ops.core.redis.handshake), as the standalone and sentinel pools do."""

    def test_a_cluster_without_hello_is_spoken_to_over_resp2(
        self, redis_cluster_without_hello_per_module: ClusterSetup
    ) -> None:
        setup = redis_cluster_without_hello_per_module
        settings = load_settings(redis_mode="cluster", redis_url=setup.seed_urls)
        ports = [node.port for node in setup.masters]
        seen = _use_cluster(settings, ports)
        _assert_parsed(seen, ports)
        connections = seen["connections"]
        assert isinstance(connections, list)
        ours = [entry for entry in connections if entry["name"] == NAME]
        # every master got connections of ours, named, and every one of them speaks RESP2
        assert {entry["laddr"] for entry in ours} == {node.address for node in setup.masters}, ours
        assert all(entry["resp"] == "2" for entry in ours), ours

    def test_protocol_3_in_the_url_gets_no_fallback(
        self, redis_cluster_without_hello_per_module: ClusterSetup
    ) -> None:
        """REDIS_URL asking for protocol=3 itself: the server's refusal of HELLO is the error."""
        from redis.exceptions import RedisClusterException, RedisError

        setup = redis_cluster_without_hello_per_module
        seeds = ",".join(f"{url}?protocol=3" for url in setup.seed_urls.split(","))
        settings = load_settings(redis_mode="cluster", redis_url=seeds)

        async def main() -> None:
            client = await create_redis_client(settings, client_name=NAME)
            try:
                await client.get("cpa-ops-test:handshake:0")
            finally:
                await client.aclose()

        with pytest.raises((RedisClusterException, RedisError)) as raised:
            asyncio.run(main())
        # redis-py words it "Cluster mode is not enabled on this node"; the cause is HELLO's
        causes = [raised.value]
        while causes[-1].__cause__ or causes[-1].__context__:
            causes.append(causes[-1].__cause__ or causes[-1].__context__)  # type: ignore[arg-type]
        assert any("unknown command 'HELLO'" in str(cause) for cause in causes), causes

    @pytest.mark.parametrize("user", ["no-cluster-slots", "no-command"])
    def test_redis_pys_cluster_client_needs_cluster_slots_and_command(
        self, redis_cluster_acl_per_module: ClusterSetup, user: str
    ) -> None:
        """Why `cpa-ops health` warns for these users: the client's first command fails, and
        its liveness check says so."""
        from redis.exceptions import NoPermissionError, RedisClusterException

        settings = load_settings(
            redis_mode="cluster", redis_url=_acl_seeds(redis_cluster_acl_per_module, user)
        )

        async def main() -> bool:
            client = await create_redis_client(settings, client_name=NAME)
            try:
                healthy = await check_redis_health(client, timeout=5)
                with pytest.raises((NoPermissionError, RedisClusterException)):
                    await client.set("cpa-ops-test:acl", "1")
                return healthy
            finally:
                await client.aclose()

        assert asyncio.run(main()) is False

    def test_liveness_of_a_user_without_cluster_info(
        self, redis_cluster_acl_per_module: ClusterSetup
    ) -> None:
        """check_redis_health for a user whose ACL refuses CLUSTER INFO: every master answering
        PING is healthy (it was False for ever: a readiness probe that never passes); a master
        that cannot answer is not."""
        setup = redis_cluster_acl_per_module
        settings = load_settings(
            redis_mode="cluster", redis_url=_acl_seeds(setup, "no-cluster-info")
        )

        async def main() -> bool:
            client = await create_redis_client(settings, client_name=NAME)
            try:
                return await check_redis_health(client, timeout=5)
            finally:
                await client.aclose()

        assert asyncio.run(main()) is True
        frozen = setup.master_without_replica()
        frozen.freeze()
        try:
            assert asyncio.run(_health_within(settings, 1.0)) is False
        finally:
            frozen.thaw()
            setup.wait_healthy()  # the module's next tests see a healthy cluster

    def test_a_refused_client_setname_costs_only_the_name(
        self, redis_cluster_acl_per_module: ClusterSetup
    ) -> None:
        setup = redis_cluster_acl_per_module
        settings = load_settings(redis_mode="cluster", redis_url=_acl_seeds(setup, "no-setname"))
        ports = [node.port for node in setup.masters]
        seen = _use_cluster(settings, ports, user="no-setname")
        _assert_parsed(seen, ports)
        connections = seen["connections"]
        assert isinstance(connections, list) and connections
        # the client asked for NAME on each; the ACL refused it, the connection stayed
        assert all(entry["name"] == "" for entry in connections), connections
