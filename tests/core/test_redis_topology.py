"""The Cluster and Sentinel probe, pool factory and liveness check, against real loopback
set-ups (three masters + one replica; one master, one replica, three sentinels)."""

from __future__ import annotations

import asyncio
import time

import pytest

from cpa_ops.core.health import Check, Status
from cpa_ops.core.redis import (
    TopologyDiagnosis,
    check_redis_health,
    create_redis_pool,
    diagnose,
    parse_cluster_nodes,
)
from cpa_ops.core.redis.cluster import key_in_slots
from cpa_ops.core.redis.reasons import REASONS
from cpa_ops.core.settings import ConfigError, load_settings
from cpa_ops.core.target import RedisTarget
from tests.servers.redis_topology import MASTER_NAME, ClusterSetup, SentinelSetup
from tests.servers.resp import command_text

SECRET = "s3cr3t-PW-xyz"
TEST_CLIENT = "cpa-ops-topology-test"
#: a budget that answering nodes never exhaust, even on a machine busy with other test runs
VERDICT_BUDGET = 3.0
#: the budget when a node never answers: the verdict takes all of it
SILENT_BUDGET = 1.5


def by_key(diagnosis: TopologyDiagnosis, key: str) -> list[Check]:
    return [c for c in diagnosis.checks if c.key == key]


def probe_cluster(
    seeds: list[str], budget: float = VERDICT_BUDGET, write: bool = False
) -> TopologyDiagnosis:
    target = RedisTarget.from_url(",".join(seeds), "cluster")
    diagnosis = asyncio.run(diagnose(target, deadline=time.monotonic() + budget, write=write))
    assert isinstance(diagnosis, TopologyDiagnosis)
    return diagnosis


def probe_the_cluster(
    setup: ClusterSetup, budget: float = VERDICT_BUDGET, write: bool = False
) -> TopologyDiagnosis:
    return probe_cluster(setup.seed_urls.split(","), budget=budget, write=write)


def probe_the_sentinels(
    setup: SentinelSetup,
    budget: float = VERDICT_BUDGET,
    service: str = MASTER_NAME,
    write: bool = False,
) -> TopologyDiagnosis:
    sentinels = tuple(setup.sentinel_addresses.split(","))
    # REDIS_URL's host is never used in sentinel mode: only its password, db and TLS options
    target = RedisTarget.from_url("redis://unused/0", "sentinel", sentinels, service)
    diagnosis = asyncio.run(diagnose(target, deadline=time.monotonic() + budget, write=write))
    assert isinstance(diagnosis, TopologyDiagnosis)
    return diagnosis


class TestValues:
    def test_cluster_nodes_lines_are_parsed(self) -> None:
        """CLUSTER NODES: address, flags, master id, slot ranges; migrating slots and the
        announced host name are ignored."""
        text = (
            "a1 127.0.0.1:7001@17001,host-a myself,master - 0 0 1 connected 0-5460 [5461->-b2]\n"
            "b2 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922 16383\n"
            "c3 127.0.0.1:7003@17003 slave a1 0 0 1 connected\n"
            "d4 :0@0 master,noaddr - 0 0 0 disconnected\n"
        )
        entries = parse_cluster_nodes(text)
        assert [e.address for e in entries] == [
            "127.0.0.1:7001",
            "127.0.0.1:7002",
            "127.0.0.1:7003",
            "",
        ]
        assert entries[0].slots == ((0, 5460),)
        assert entries[0].flags == {"myself", "master"}
        assert entries[1].slot_count == 5462 + 1
        assert entries[2].master_id == "a1" and not entries[2].is_master

    def test_a_refusal_or_a_garbled_reply_has_no_entries(self) -> None:
        """A CLUSTER NODES refused (NOPERM: an exception as the reply) names no node, and a
        line whose slots are not numbers keeps the node without them (it raised ValueError:
        'internal error' for a user without +cluster|nodes)."""
        from redis.exceptions import NoPermissionError

        refused = NoPermissionError(
            "this user has no permissions to run the 'cluster|nodes' command"
        )
        assert parse_cluster_nodes(refused) == []
        (entry,) = parse_cluster_nodes("a1 127.0.0.1:7001@17001 master - 0 0 1 connected 0-9 x y-z")
        assert entry.slots == ((0, 9),)

    def test_node_urls_keep_credentials_and_tls_but_sentinels_get_no_password(self) -> None:
        """A data node's URL keeps REDIS_URL's password, db and TLS options; a sentinel's keeps
        only the scheme and TLS options."""
        base = RedisTarget.from_url(f"rediss://app:{SECRET}@seed:6380/2?ssl_ca_certs=/ca.pem")
        node = base.for_node("10.0.0.5:7000")
        assert node.url == f"rediss://app:{SECRET}@10.0.0.5:7000/2?ssl_ca_certs=/ca.pem"
        assert (node.address, node.masked) == (
            "10.0.0.5:7000",
            "rediss://app:***@10.0.0.5:7000/2?ssl_ca_certs=/ca.pem",
        )
        sentinel = base.for_sentinel("10.0.0.9:26379")
        assert sentinel.url == "rediss://10.0.0.9:26379?ssl_ca_certs=%2Fca.pem"
        assert SECRET not in sentinel.url and sentinel.secrets == ()
        v6 = RedisTarget.from_url("redis://h:1/0").for_node("[::1]:7000")
        assert (v6.url, v6.address) == ("redis://[::1]:7000/0", "[::1]:7000")

    def test_a_health_key_is_found_in_a_masters_slots(self) -> None:
        """The write check's key hashes into the master's own slots (hash tag)."""
        from redis.crc import key_slot

        key = key_in_slots([(10923, 16383)])
        assert key is not None
        assert 10923 <= key_slot(key.encode()) <= 16383


class TestSettings:
    def test_cluster_mode_takes_a_list_of_seeds_masked_one_by_one(self) -> None:
        """REDIS_MODE=cluster: REDIS_URL may list seeds; each seed's password is masked."""
        settings = load_settings(
            redis_mode="Cluster", redis_url=f"redis://:{SECRET}@a:7000,redis://:{SECRET}@b:7001"
        )
        assert settings.redis_mode == "cluster"
        assert settings.redis_target.urls == (
            f"redis://:{SECRET}@a:7000",
            f"redis://:{SECRET}@b:7001",
        )
        assert settings.redis_target.addresses == ("a:7000", "b:7001")
        assert SECRET not in repr(settings.redis_target)
        assert SECRET not in settings.redis_url_masked
        assert settings.redis_url_masked == "redis://:***@a:7000,redis://:***@b:7001"

    def test_a_list_of_urls_outside_cluster_mode_names_the_mode(self) -> None:
        """In standalone mode a list of URLs is refused, saying which mode accepts it."""
        with pytest.raises(ConfigError) as caught:
            load_settings(redis_url=f"redis://:{SECRET}@a:7000,redis://b:7001")
        (line,) = caught.value.problems
        assert "only REDIS_MODE=cluster accepts" in line
        assert SECRET not in line

    def test_a_bad_seed_is_named_by_its_position(self) -> None:
        """A bad seed in the list: one line naming which seed and what is wrong."""
        with pytest.raises(ConfigError) as caught:
            load_settings(redis_mode="cluster", redis_url=f"redis://a:1,http://:{SECRET}@b:2")
        (line,) = caught.value.problems
        assert line.startswith("REDIS_URL seed 2 has 'http://'")
        assert SECRET not in line

    def test_sentinel_mode_needs_both_variables_one_line_each(self) -> None:
        """REDIS_MODE=sentinel without REDIS_SENTINELS and REDIS_SENTINEL_MASTER: two lines."""
        with pytest.raises(ConfigError) as caught:
            load_settings(redis_mode="sentinel")
        assert len(caught.value.problems) == 2
        assert caught.value.problems[0].startswith(
            "REDIS_SENTINELS is required when REDIS_MODE=sentinel"
        )
        assert caught.value.problems[1].startswith(
            "REDIS_SENTINEL_MASTER is required when REDIS_MODE=sentinel"
        )

    def test_sentinels_are_parsed_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """REDIS_SENTINELS is a comma-separated host:port list; a bad entry is named."""
        monkeypatch.setenv("REDIS_MODE", "sentinel")
        monkeypatch.setenv("REDIS_SENTINELS", "s1:26379, s2:26379,[::1]:26380")
        monkeypatch.setenv("REDIS_SENTINEL_MASTER", "mymaster")
        settings = load_settings()
        assert settings.redis_sentinels == ("s1:26379", "s2:26379", "[::1]:26380")
        monkeypatch.setenv("REDIS_SENTINELS", "s1:26379,s2")
        with pytest.raises(ConfigError) as caught:
            load_settings()
        assert caught.value.problems == [
            "REDIS_SENTINELS entry 2 ('s2') is not host:port; expected a comma-separated list of "
            "host:port (e.g. sentinel-1:26379,sentinel-2:26379,sentinel-3:26379)"
        ]

    def test_an_unknown_mode_is_refused(self) -> None:
        """REDIS_MODE accepts standalone, cluster, sentinel only."""
        with pytest.raises(ConfigError) as caught:
            load_settings(redis_mode="ring")
        assert caught.value.problems[0].startswith("REDIS_MODE 'ring' is not accepted")


@pytest.mark.timeout(90)
class TestClusterProbe:
    def test_a_healthy_cluster_passes_with_one_check_per_node(
        self, redis_cluster: ClusterSetup
    ) -> None:
        """cluster_state ok and every slot served: pass, with a redis:ping per node naming its
        host:port and role."""
        diagnosis = probe_the_cluster(redis_cluster)
        assert diagnosis.status is Status.PASS, diagnosis.checks
        (state,) = by_key(diagnosis, "redis:cluster")
        assert state.details["clusterState"] == "ok"
        assert state.details["slotsOk"] == 16384
        pings = by_key(diagnosis, "redis:ping")
        assert sorted(c.component_id for c in pings) == sorted(
            n.address for n in redis_cluster.nodes
        )
        roles = sorted(c.details["role"] for c in pings)
        assert roles == ["master", "master", "master", "slave"]
        assert all(c.observed_unit == "ms" and c.observed_value is not None for c in pings)

    def test_write_checks_each_master_in_its_own_slots(self, redis_cluster: ClusterSetup) -> None:
        """--write: a SET PX + DEL on every master, each with a key of its own slots."""
        diagnosis = probe_the_cluster(redis_cluster, write=True)
        writes = by_key(diagnosis, "redis:write")
        assert len(writes) == 3
        assert all(c.status is Status.PASS for c in writes), writes

    def test_a_dead_seed_is_skipped_for_a_live_one(self, redis_cluster: ClusterSetup) -> None:
        """The first seed refuses; the cluster is still diagnosed through the next one, and the
        dead seed is a warn of its own."""
        seeds = ["redis://127.0.0.1:1/0", *redis_cluster.seed_urls.split(",")]
        diagnosis = probe_cluster(seeds)
        (state,) = by_key(diagnosis, "redis:cluster")
        assert state.status is Status.PASS
        pings = by_key(diagnosis, "redis:ping")
        assert len(pings) == 5
        (dead,) = [c for c in pings if c.status is not Status.PASS]
        assert (dead.component_id, dead.status, dead.reason) == (
            "127.0.0.1:1",
            Status.WARN,
            "refused",
        )

    def test_a_seed_named_by_host_name_is_one_node(self, redis_cluster: ClusterSetup) -> None:
        """A seed given as localhost: reported once, under the address the cluster knows."""
        seed = f"redis://localhost:{redis_cluster.masters[0].port}/0"
        diagnosis = probe_cluster([seed])
        assert diagnosis.status is Status.PASS, diagnosis.checks
        addresses = sorted(c.component_id or "" for c in by_key(diagnosis, "redis:ping"))
        assert addresses == sorted(n.address for n in redis_cluster.nodes)

    def test_no_seed_answering_is_a_fail_with_the_seeds_reason(self) -> None:
        """Every seed refused: fail, reason refused."""
        diagnosis = probe_cluster(["redis://127.0.0.1:1/0"])
        assert diagnosis.status is Status.FAIL
        assert diagnosis.reason == "refused"

    def test_a_standalone_server_is_not_a_cluster(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """REDIS_MODE=cluster pointed at a plain server: fail, reason not_cluster."""
        assert redis_sentinels_per_module.master is not None
        diagnosis = probe_cluster([redis_sentinels_per_module.master.url])
        assert diagnosis.reason == "not_cluster"

    def test_a_replica_down_is_a_warn(self, redis_cluster: ClusterSetup) -> None:
        """A node down while every slot is served: warn (degraded), the node's check names why."""
        assert redis_cluster.replica is not None
        redis_cluster.replica.kill()
        diagnosis = probe_the_cluster(redis_cluster)
        assert diagnosis.status is Status.WARN
        (state,) = by_key(diagnosis, "redis:cluster")
        assert state.reason == "degraded"
        (down,) = [c for c in by_key(diagnosis, "redis:ping") if c.status is not Status.PASS]
        assert down.component_id == redis_cluster.replica.address
        assert down.reason == "refused"

    def test_a_node_near_maxmemory_warns_on_its_own_check(
        self, redis_cluster: ClusterSetup
    ) -> None:
        """redis:memory per node: the node whose used memory is >= 90% of maxmemory warns."""
        node = redis_cluster.masters[0]
        info = dict(
            line.split(":", 1)
            for line in command_text(node.port, "INFO", "memory").splitlines()
            if ":" in line
        )
        used = int(info["used_memory"])
        command_text(node.port, "CONFIG", "SET", "maxmemory", str(int(used * 1.02)))
        try:
            diagnosis = probe_the_cluster(redis_cluster)
        finally:
            command_text(node.port, "CONFIG", "SET", "maxmemory", "0")
        memory = {c.component_id: c for c in by_key(diagnosis, "redis:memory")}
        assert len(memory) == 4
        assert memory[node.address].status is Status.WARN
        assert memory[node.address].reason == "memory"
        assert all(c.status is Status.PASS for a, c in memory.items() if a != node.address)
        assert diagnosis.status is Status.WARN

    def test_a_frozen_master_fails_inside_the_budget(self, redis_cluster: ClusterSetup) -> None:
        """A SIGSTOPped master: the other nodes' answers and a fail within the budget, however
        long that node stays silent."""
        frozen = redis_cluster.master_without_replica()
        frozen.freeze()
        started = time.monotonic()
        diagnosis = probe_the_cluster(redis_cluster, budget=SILENT_BUDGET)
        elapsed = time.monotonic() - started
        assert elapsed < SILENT_BUDGET + 0.5, elapsed
        assert diagnosis.status is Status.FAIL
        assert diagnosis.reason in ("slots_unserved", "cluster_down")
        node = next(c for c in by_key(diagnosis, "redis:ping") if c.component_id == frozen.address)
        assert node.status is Status.FAIL
        assert node.reason in ("read_timeout", "deadline")
        assert sum(c.status is Status.PASS for c in by_key(diagnosis, "redis:ping")) == 3

    def test_a_replica_that_never_synced_is_a_syncing_warn(
        self, redis_cluster_with_unsynced_replica: ClusterSetup
    ) -> None:
        """A replica whose sync its master holds back: one ``redis:replication`` WARN
        ``syncing`` naming it, with the sync's facts and the hint for a set-up's replica (the
        services talk to the masters: redundancy is lost, no wrong data served); the synced
        replica gets no replication check, and every slot is still served."""
        setup = redis_cluster_with_unsynced_replica
        diagnosis = probe_the_cluster(setup)
        assert diagnosis.status is Status.WARN, diagnosis.checks
        (check,) = by_key(diagnosis, "redis:replication")
        assert check.component_id == setup.unsynced[0].address, check
        assert (check.status, check.reason) == (Status.WARN, "syncing"), check
        assert check.output.startswith("replica: "), check.output
        assert check.hint == REASONS["syncing"].replica_hint
        assert check.details["masterAddress"] == setup.masters[1].address, check.details
        assert check.details["keys"] == 0, check.details
        assert {c.key for c in diagnosis.checks if c.status is not Status.PASS} == {
            "redis:replication"
        }, diagnosis.checks
        (cluster,) = by_key(diagnosis, "redis:cluster")
        assert cluster.status is Status.PASS, cluster


@pytest.mark.timeout(90)
class TestClusterClient:
    def test_the_pool_factory_bounds_connections_per_node(
        self, redis_cluster: ClusterSetup
    ) -> None:
        """create_redis_pool in cluster mode: 300 concurrent health checks on a limit of 5 all
        succeed (callers wait), and no node sees more than 5 command connections of ours."""
        settings = load_settings(
            redis_mode="cluster", redis_url=redis_cluster.seed_urls, redis_max_connections=5
        )

        async def many() -> tuple[list[bool], list[int]]:
            client = await create_redis_pool(settings, client_name=TEST_CLIENT)
            try:
                results = await asyncio.gather(
                    *(check_redis_health(client, timeout=10) for _ in range(300))
                )
                seen = [
                    command_text(node.port, "CLIENT", "LIST").count(f"name={TEST_CLIENT}")
                    for node in redis_cluster.masters
                ]
                return results, seen
            finally:
                await client.aclose()  # type: ignore[union-attr]

        results, seen = asyncio.run(many())
        assert all(results)
        # + 1: redis-py keeps the connection it discovered the topology with, per seed
        assert all(1 <= count <= 5 + 1 for count in seen), seen

    def test_the_urls_own_client_name_wins(self, redis_cluster: ClusterSetup) -> None:
        """REDIS_URL's ?client_name= (an accepted option) is the connections' name, not a
        'multiple values for keyword argument' TypeError."""
        seeds = ",".join(
            f"{url}?client_name=from-url" for url in redis_cluster.seed_urls.split(",")
        )
        settings = load_settings(redis_mode="cluster", redis_url=seeds)

        async def check() -> tuple[bool, str]:
            client = await create_redis_pool(settings, client_name=TEST_CLIENT)
            try:
                healthy = await check_redis_health(client, timeout=5)
                return healthy, command_text(redis_cluster.masters[0].port, "CLIENT", "LIST")
            finally:
                await client.aclose()  # type: ignore[union-attr]

        healthy, listing = asyncio.run(check())
        assert healthy
        assert "name=from-url" in listing and f"name={TEST_CLIENT}" not in listing

    def test_liveness_is_false_once_a_master_is_gone(self, redis_cluster: ClusterSetup) -> None:
        """check_redis_health: true on a healthy cluster, false (within its timeout) when a
        master that owns slots is dead, although the survivors answer PING."""
        settings = load_settings(redis_mode="cluster", redis_url=redis_cluster.seed_urls)

        async def before_and_after() -> tuple[bool, bool, float]:
            client = await create_redis_pool(settings)
            try:
                before = await check_redis_health(client, timeout=2)
                redis_cluster.master_without_replica().kill()
                started = time.monotonic()
                after = await check_redis_health(client, timeout=1)
                return before, after, time.monotonic() - started
            finally:
                await client.aclose()  # type: ignore[union-attr]

        before, after, elapsed = asyncio.run(before_and_after())
        assert before is True
        assert after is False
        assert elapsed < 1.0 + 1.0  # its own timeout, and slack for a busy machine


@pytest.mark.timeout(90)
class TestSentinelProbe:
    def test_a_healthy_set_up_passes(self, redis_sentinels_per_module: SentinelSetup) -> None:
        """Quorum OK, the master named by all three sentinels and a master by its own ROLE,
        the replica's link up."""
        diagnosis = probe_the_sentinels(redis_sentinels_per_module, write=True)
        assert diagnosis.status is Status.PASS, diagnosis.checks
        (master,) = by_key(diagnosis, "redis:master")
        assert redis_sentinels_per_module.master is not None
        assert master.component_id == redis_sentinels_per_module.master.address
        assert master.details["namedBy"] == 3
        assert len(by_key(diagnosis, "redis:sentinel")) == 3
        (replication,) = by_key(diagnosis, "redis:replication")
        assert replication.status is Status.PASS
        assert replication.details["masterLinkStatus"] == "up"
        (write,) = by_key(diagnosis, "redis:write")
        assert write.status is Status.PASS

    def test_a_replica_that_never_synced_is_a_syncing_warn(
        self, redis_sentinels_with_unsynced_replica: SentinelSetup
    ) -> None:
        """A replica the sentinels list whose sync the master holds back: a WARN ``syncing``
        naming it, with the sync's facts and the hint for a set-up's replica (the services
        talk to the master: redundancy is lost, no wrong data served)."""
        setup = redis_sentinels_with_unsynced_replica
        diagnosis = probe_the_sentinels(setup)
        assert diagnosis.status is Status.WARN, diagnosis.checks
        unsynced = setup.unsynced[0].address
        checks = {c.component_id: c for c in by_key(diagnosis, "redis:replication")}
        assert setup.replica is not None and checks[setup.replica.address].status is Status.PASS
        check = checks[unsynced]
        assert (check.status, check.reason) == (Status.WARN, "syncing"), check
        assert "has not been up since this replica started" in check.output, check.output
        assert check.hint == REASONS["syncing"].replica_hint
        assert check.details["masterLinkDownSinceSeconds"] == -1
        assert check.details["keys"] == 0 and "sentinelFlags" in check.details
        assert {c.key for c in diagnosis.checks if c.status is not Status.PASS} == {
            "redis:replication"
        }, diagnosis.checks

    def test_an_unknown_service_has_no_master(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """A service name the sentinels do not monitor: fail, reason no_master."""
        diagnosis = probe_the_sentinels(redis_sentinels_per_module, service="nosuchmaster")
        assert diagnosis.status is Status.FAIL
        assert diagnosis.reason == "no_master"
        (master,) = by_key(diagnosis, "redis:master")
        assert master.reason == "no_master"

    def test_a_master_answering_as_replica_fails(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """The sentinels call it master, ROLE says replica: fail, reason not_master."""
        assert redis_sentinels_per_module.master is not None
        command_text(redis_sentinels_per_module.master.port, "REPLICAOF", "127.0.0.1", "1")
        try:
            diagnosis = probe_the_sentinels(redis_sentinels_per_module)
        finally:
            command_text(redis_sentinels_per_module.master.port, "REPLICAOF", "NO", "ONE")
            redis_sentinels_per_module.wait_settled()
        assert diagnosis.status is Status.FAIL
        assert diagnosis.reason == "not_master"
        (master,) = by_key(diagnosis, "redis:master")
        assert "slave of 127.0.0.1:1" in master.output

    def test_a_frozen_sentinel_is_a_warn_inside_the_budget(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """One of three sentinels SIGSTOPped: the other two still make a majority; that
        sentinel's check warns; the verdict arrives within the budget."""
        frozen = redis_sentinels_per_module.sentinels[0]
        frozen.freeze()
        try:
            started = time.monotonic()
            diagnosis = probe_the_sentinels(redis_sentinels_per_module, budget=SILENT_BUDGET)
            elapsed = time.monotonic() - started
        finally:
            frozen.thaw()
        assert elapsed < SILENT_BUDGET + 0.5, elapsed
        assert diagnosis.status is Status.WARN, diagnosis.checks
        bad = [c for c in by_key(diagnosis, "redis:sentinel") if c.status is not Status.PASS]
        assert [c.component_id for c in bad] == [frozen.address]
        assert bad[0].reason in ("read_timeout", "deadline")

    def test_the_pool_follows_the_master_with_the_same_limit(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """create_redis_pool in sentinel mode: a blocking pool of at most REDIS_MAX_CONNECTIONS
        to the master the sentinels name; 200 concurrent checks all succeed."""
        settings = load_settings(
            redis_mode="sentinel",
            redis_sentinels=redis_sentinels_per_module.sentinel_addresses,
            redis_sentinel_master=MASTER_NAME,
            redis_max_connections=4,
        )

        async def many() -> tuple[list[bool], int]:
            pool = await create_redis_pool(settings, client_name=TEST_CLIENT)
            try:
                results = await asyncio.gather(
                    *(check_redis_health(pool, timeout=10) for _ in range(200))
                )
                assert redis_sentinels_per_module.master is not None
                seen = command_text(redis_sentinels_per_module.master.port, "CLIENT", "LIST").count(
                    f"name={TEST_CLIENT}"
                )
                return results, seen
            finally:
                await pool.disconnect()  # type: ignore[union-attr]

        results, seen = asyncio.run(many())
        assert all(results)
        assert 1 <= seen <= 4

    def test_the_urls_own_client_name_wins(self, redis_sentinels_per_module: SentinelSetup) -> None:
        """REDIS_URL's ?client_name= names the sentinel pool's connections (no TypeError)."""
        settings = load_settings(
            redis_mode="sentinel",
            redis_url="redis://unused/0?client_name=from-url",
            redis_sentinels=redis_sentinels_per_module.sentinel_addresses,
            redis_sentinel_master=MASTER_NAME,
        )

        async def check() -> tuple[bool, str]:
            pool = await create_redis_pool(settings, client_name=TEST_CLIENT)
            try:
                healthy = await check_redis_health(pool, timeout=5)
                assert redis_sentinels_per_module.master is not None
                return healthy, command_text(
                    redis_sentinels_per_module.master.port, "CLIENT", "LIST"
                )
            finally:
                await pool.disconnect()  # type: ignore[union-attr]

        healthy, listing = asyncio.run(check())
        assert healthy
        assert "name=from-url" in listing and f"name={TEST_CLIENT}" not in listing

    def test_two_sentinels_down_is_no_quorum(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """Two of three sentinels dead: fail, reason no_quorum (the master still passes)."""
        for sentinel in redis_sentinels_per_module.sentinels[:2]:
            sentinel.kill()
        try:
            diagnosis = probe_the_sentinels(redis_sentinels_per_module)
        finally:
            for sentinel in redis_sentinels_per_module.sentinels[:2]:
                sentinel.start()
            redis_sentinels_per_module.wait_settled()
        assert diagnosis.status is Status.FAIL
        assert diagnosis.reason == "no_quorum"
        (master,) = by_key(diagnosis, "redis:master")
        assert master.status is Status.PASS

    def test_the_pool_follows_a_failover(self, redis_sentinels_per_module: SentinelSetup) -> None:
        """The sentinel pool's liveness: false while the dead master is still named, true again
        once the sentinels promoted the replica. Runs last: the set-up stays failed over."""
        settings = load_settings(
            redis_mode="sentinel",
            redis_sentinels=redis_sentinels_per_module.sentinel_addresses,
            redis_sentinel_master=MASTER_NAME,
        )

        async def around_a_failover() -> tuple[bool, bool, bool]:
            pool = await create_redis_pool(settings)
            try:
                before = await check_redis_health(pool, timeout=2)
                old = redis_sentinels_per_module.master_as_sentinels_see_it()
                redis_sentinels_per_module.node_at(old).kill()
                during = await check_redis_health(pool, timeout=0.5)
                end = time.monotonic() + 30
                after = False
                while not after and time.monotonic() < end:
                    await asyncio.sleep(0.2)
                    after = await check_redis_health(pool, timeout=0.5)
                return before, during, after
            finally:
                await pool.disconnect()  # type: ignore[union-attr]

        before, during, after = asyncio.run(around_a_failover())
        assert (before, during, after) == (True, False, True)
