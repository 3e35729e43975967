"""Issue 14's verdicts at the core level, against real redis-server processes: least-privilege
ACL users, the wrong REDIS_MODE, a server without HELLO (RESP2 fallback), and replies with a
meaning (BUSY, NOREPLICAS, a db out of range, a peer that accepts and closes).

Each verdict is the probe's (``diagnose``); where a service's ``check_redis_health`` could
disagree with it (an ACL user, a server without HELLO), both are asked.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from cpa_ops.core.health import Check, Status
from cpa_ops.core.redis import check_redis_health, create_redis_client, diagnose
from cpa_ops.core.redis.facts import parse_cluster_nodes
from cpa_ops.core.redis.node import health_key
from cpa_ops.core.settings import ConfigError, load_settings
from cpa_ops.core.target import RedisTarget
from tests.servers import redis_verdict_faults as vf
from tests.servers.evil_redis import evil_redis
from tests.servers.net import LOOPBACK
from tests.servers.redis_faults import RedisServer
from tests.servers.redis_fixtures import REDIS_PASSWORD
from tests.servers.redis_topology import MASTER_NAME, ClusterSetup, SentinelSetup
from tests.servers.resp import RawRedis

pytestmark = pytest.mark.timeout(60)

#: roomy: these tests are about the verdict, not the deadline (a loaded 2-core machine)
BUDGET = 5.0


def _diagnose(url: str, *, write: bool = False, mode: str = "standalone", **kwargs: Any) -> Any:
    target = RedisTarget.from_url(url, mode)
    return asyncio.run(diagnose(target, deadline=time.monotonic() + BUDGET, write=write, **kwargs))


def _check(diagnosis: Any, key: str) -> Check:
    found = [c for c in diagnosis.checks if c.key == key]
    assert len(found) == 1, f"{key}: {[(c.key, c.status, c.reason) for c in diagnosis.checks]}"
    return found[0]


def _keys(diagnosis: Any) -> list[str]:
    return [c.key for c in diagnosis.checks]


def _no_password(diagnosis: Any, *secrets: str) -> None:
    shown = repr([(c.output, c.hint, c.details) for c in diagnosis.checks])
    for secret in (vf.ACL_PASSWORD, REDIS_PASSWORD, *secrets):
        assert secret not in shown


async def _service_health(url: str, client_name: str | None = "svc") -> bool:
    client = await create_redis_client(load_settings(redis_url=url), client_name=client_name)
    try:
        return await check_redis_health(client, timeout=BUDGET)
    finally:
        await client.aclose()


# --------------------------------------------------------------------------------------------
# 1. Least-privilege users


class TestLeastPrivilege:
    @pytest.mark.parametrize("user", ["ping-only", "no-info"])
    def test_a_denied_info_warns_naming_the_checks_not_run(
        self, redis_acl_users_per_module: RedisServer, user: str
    ) -> None:
        """PING allowed, INFO denied: a warn on redis:info naming memory, clients and
        replication; PING passes; never ``auth``."""
        diagnosis = _diagnose(vf.acl_url(redis_acl_users_per_module, user))
        assert diagnosis.status is Status.WARN, _keys(diagnosis)
        assert _check(diagnosis, "redis:ping").status is Status.PASS
        info = _check(diagnosis, "redis:info")
        assert (info.status, info.reason) == (Status.WARN, "info_denied")
        for key in ("redis:memory", "redis:clients", "redis:replication"):
            assert key in info.output and key not in _keys(diagnosis)
        assert info.details["notChecked"] == ["redis:memory", "redis:clients", "redis:replication"]
        assert f"ACL SETUSER {user} +info" in (info.hint or "")
        _no_password(diagnosis)

    @pytest.mark.parametrize("user", ["ping-only", "no-client", "no-setname"])
    def test_a_denied_client_setname_costs_only_the_name(
        self, redis_acl_users_per_module: RedisServer, user: str
    ) -> None:
        diagnosis = _diagnose(vf.acl_url(redis_acl_users_per_module, user))
        assert diagnosis.healthy, [(c.key, c.reason, c.output) for c in diagnosis.checks]
        ping = _check(diagnosis, "redis:ping")
        assert ping.status is Status.PASS
        assert "CLIENT SETNAME refused" in ping.details["clientName"]

    def test_a_user_limited_to_its_keys_fails_the_write_on_redis_write(
        self, redis_acl_users_per_module: RedisServer
    ) -> None:
        """~app:* only, --write: write_denied on redis:write with the rule to add (the key
        pattern from the default prefix), PING passing."""
        diagnosis = _diagnose(vf.acl_url(redis_acl_users_per_module, "app-keys"), write=True)
        write = _check(diagnosis, "redis:write")
        assert (diagnosis.status, write.status, write.reason) == (
            Status.FAIL,
            Status.FAIL,
            "write_denied",
        )
        assert "ACL SETUSER app-keys ~cpa-ops:health:* +set +del" in (write.hint or "")
        assert _check(diagnosis, "redis:ping").status is Status.PASS
        assert diagnosis.reason == "write_denied"
        _no_password(diagnosis)

    def test_the_write_prefix_names_keys_the_user_may_write(
        self, redis_acl_users_per_module: RedisServer
    ) -> None:
        server = redis_acl_users_per_module
        url = vf.acl_url(server, "app-keys")
        diagnosis = _diagnose(url, write=True, write_prefix="app:health:")
        assert _check(diagnosis, "redis:write").status is Status.PASS
        assert vf.keys(server, "app:health:*") == []  # deleted again
        denied = _diagnose(url, write=True, write_prefix="other:")
        write = _check(denied, "redis:write")
        assert write.reason == "write_denied" and "~other:* +set +del" in (write.hint or "")

    def test_the_rule_the_hint_names_is_enough(
        self, redis_acl_users_per_module: RedisServer
    ) -> None:
        """A user given exactly +ping +info +client|setname +set +del ~cpa-ops:health:*
        passes --write with every check."""
        diagnosis = _diagnose(vf.acl_url(redis_acl_users_per_module, "health-writer"), write=True)
        assert diagnosis.status is Status.PASS, [(c.key, c.output) for c in diagnosis.checks]
        assert "redis:memory" in _keys(diagnosis) and "redis:write" in _keys(diagnosis)

    def test_ping_only_user_with_write_is_write_denied(
        self, redis_acl_users_per_module: RedisServer
    ) -> None:
        diagnosis = _diagnose(vf.acl_url(redis_acl_users_per_module, "ping-only"), write=True)
        write = _check(diagnosis, "redis:write")
        assert (write.reason, diagnosis.reason) == ("write_denied", "write_denied")
        assert "ACL SETUSER ping-only ~cpa-ops:health:*" in (write.hint or "")
        assert _check(diagnosis, "redis:info").status is Status.WARN

    @pytest.mark.parametrize(
        ("user", "db", "command"), [("no-ping", 0, "ping"), ("no-select", 1, "select")]
    )
    def test_a_denied_command_is_denied_not_auth(
        self, redis_acl_users_per_module: RedisServer, user: str, db: int, command: str
    ) -> None:
        diagnosis = _diagnose(vf.acl_url(redis_acl_users_per_module, user, db=db))
        ping = _check(diagnosis, "redis:ping")
        assert (ping.status, ping.reason) == (Status.FAIL, "denied"), ping.output
        assert f"ACL SETUSER {user} +{command}" in (ping.hint or "")
        assert "password" not in (ping.hint or "")

    def test_a_user_allowed_nothing_is_denied(self, redis_acl_limited: RedisServer) -> None:
        from tests.servers.redis_faults import LIMITED_USER

        url = redis_acl_limited.url(user=LIMITED_USER, password=REDIS_PASSWORD)
        assert _diagnose(url).reason == "denied"

    def test_a_wrong_password_is_still_auth(self, redis_acl_users_per_module: RedisServer) -> None:
        url = vf.acl_url(redis_acl_users_per_module, "ping-only", password="not-it-9z")
        diagnosis = _diagnose(url)
        assert diagnosis.reason == "auth"
        _no_password(diagnosis, "not-it-9z")

    @pytest.mark.parametrize(
        "user", ["ping-only", "no-info", "no-client", "no-setname", "app-keys", "no-ping"]
    )
    def test_check_redis_health_agrees_with_the_probe(
        self, redis_acl_users_per_module: RedisServer, user: str
    ) -> None:
        """A service's liveness boolean (client named ``svc``) and the probe say the same."""
        url = vf.acl_url(redis_acl_users_per_module, user)
        assert asyncio.run(_service_health(url)) is _diagnose(url).healthy
        assert asyncio.run(_service_health(url)) is (user != "no-ping")


# --------------------------------------------------------------------------------------------
# 2. The wrong REDIS_MODE


class TestWrongMode:
    def test_a_sentinel_port_fails_naming_sentinel_mode(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        sentinel = redis_sentinels_per_module.sentinels[0]
        for write in (False, True):
            diagnosis = _diagnose(sentinel.url, write=write)
            assert (diagnosis.status, diagnosis.reason) == (Status.FAIL, "mode_sentinel")
            assert _keys(diagnosis) == ["redis:ping"]  # one reason
            ping = diagnosis.checks[0]
            assert "redis_mode:sentinel" in ping.output and MASTER_NAME in ping.output
            assert "REDIS_MODE=sentinel" in (ping.hint or "")
            assert "REDIS_SENTINELS" in (ping.hint or "")

    def test_without_info_a_sentinel_is_told_by_its_unknown_set(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """A sentinel user without INFO, --write: a Sentinel knows no SET, and says so."""
        sentinel = redis_sentinels_per_module.sentinels[0]
        with RawRedis.connect(sentinel.port) as conn:
            conn.check("ACL", "SETUSER", "no-info", "on", ">pw-3z", "+@all", "-info")
        try:
            url = f"redis://no-info:pw-3z@{sentinel.address}/0"
            diagnosis = _diagnose(url, write=True)
            assert diagnosis.reason == "mode_sentinel", [
                (c.key, c.output) for c in diagnosis.checks
            ]
            assert "unknown command" in diagnosis.checks[0].output.lower()
        finally:
            with RawRedis.connect(sentinel.port) as conn:
                conn.call("ACL", "DELUSER", "no-info")

    def test_a_cluster_node_fails_naming_cluster_mode(
        self, redis_cluster_per_module: ClusterSetup
    ) -> None:
        node = redis_cluster_per_module.masters[0]
        for write in (False, True):
            diagnosis = _diagnose(node.url, write=write)
            assert (diagnosis.status, diagnosis.reason) == (Status.FAIL, "mode_cluster")
            assert _keys(diagnosis) == ["redis:ping"]
            assert "cluster_enabled:1" in diagnosis.checks[0].output
            assert "REDIS_MODE=cluster" in (diagnosis.checks[0].hint or "")

    def test_a_cluster_node_with_a_db_fails_naming_cluster_mode(
        self, redis_cluster_per_module: ClusterSetup
    ) -> None:
        """SELECT 2 on a cluster node is refused at connect: evidence enough."""
        node = redis_cluster_per_module.masters[0]
        diagnosis = _diagnose(f"redis://{node.address}/2")
        assert diagnosis.reason == "mode_cluster", diagnosis.checks[0].output

    def test_without_info_a_moved_write_names_cluster_mode(
        self, redis_cluster_per_module: ClusterSetup
    ) -> None:
        """An ACL user without INFO on a cluster node: --write of a key in another node's
        slots answers MOVED, and that says cluster (not a bare MOVED text)."""
        from redis.crc import key_slot

        node = redis_cluster_per_module.masters[0]
        with RawRedis.connect(node.port) as conn:
            mine = next(
                e for e in parse_cluster_nodes(conn.call("CLUSTER", "NODES")) if "myself" in e.flags
            )
            conn.check("ACL", "SETUSER", "no-info", "on", ">pw-1x", "+@all", "-info", "~*")
        try:
            prefix = next(
                p
                for p in (f"t{n}:" for n in range(1000))
                if not any(a <= key_slot(health_key(prefix=p).encode()) <= b for a, b in mine.slots)
            )
            diagnosis = _diagnose(
                f"redis://no-info:pw-1x@{node.address}/0", write=True, write_prefix=prefix
            )
            assert diagnosis.reason == "mode_cluster", [(c.key, c.output) for c in diagnosis.checks]
            assert "MOVED" in diagnosis.checks[0].output
        finally:
            with RawRedis.connect(node.port) as conn:
                conn.call("ACL", "DELUSER", "no-info")

    def test_cluster_nodes_that_refuse_info_warn_each(
        self, redis_cluster_per_module: ClusterSetup
    ) -> None:
        """REDIS_MODE=cluster, a user without INFO on every node: one redis:info warning per
        node, the verdict a warn (never the limit checks silently missing)."""
        cluster = redis_cluster_per_module
        for node in cluster.nodes:
            with RawRedis.connect(node.port) as conn:
                conn.check("ACL", "SETUSER", "no-info", "on", ">pw-2y", "+@all", "-info", "~*")
        try:
            seeds = ",".join(f"redis://no-info:pw-2y@{m.address}/0" for m in cluster.masters)
            diagnosis = _diagnose(seeds, mode="cluster")
            warned = {c.component_id for c in diagnosis.checks if c.key == "redis:info"}
            assert warned == {n.address for n in cluster.nodes}, _keys(diagnosis)
            assert diagnosis.status is Status.WARN
            assert not [c for c in diagnosis.checks if c.key == "redis:memory"]
            hints = [c.hint or "" for c in diagnosis.checks if c.key == "redis:info"]
            assert all("ACL SETUSER no-info +info" in hint for hint in hints), hints
        finally:
            for node in cluster.nodes:
                with RawRedis.connect(node.port) as conn:
                    conn.call("ACL", "DELUSER", "no-info")

    def test_a_cluster_user_limited_to_its_keys_is_named_in_the_write_hint(
        self, redis_cluster_per_module: ClusterSetup
    ) -> None:
        """REDIS_MODE=cluster --write, a user with ~app:* on every node: write_denied, and the
        hint names that user's rule (the topology's verdict left '<user>' in it)."""
        cluster = redis_cluster_per_module
        for node in cluster.nodes:
            with RawRedis.connect(node.port) as conn:
                conn.check("ACL", "SETUSER", "app-only", "on", ">pw-3z", "+@all", "~app:*")
        try:
            seeds = ",".join(f"redis://app-only:pw-3z@{m.address}/0" for m in cluster.masters)
            diagnosis = _diagnose(seeds, mode="cluster", write=True)
            denied = [c for c in diagnosis.checks if c.reason == "write_denied"]
            assert denied, _keys(diagnosis)
            for check in denied:
                assert "ACL SETUSER app-only ~cpa-ops:health:* +set +del" in (check.hint or "")
            assert not [c for c in diagnosis.checks if "<user>" in (c.hint or "")]
            _no_password(diagnosis, "pw-3z")
        finally:
            for node in cluster.nodes:
                with RawRedis.connect(node.port) as conn:
                    conn.call("ACL", "DELUSER", "app-only")

    def test_sentinels_that_are_data_nodes_fail_naming_the_mode(
        self, redis_server: RedisServer
    ) -> None:
        """REDIS_MODE=sentinel with REDIS_SENTINELS at a Redis server: one reason, not_sentinel
        (was: no_master and no_quorum, and a passing redis:sentinel)."""
        target = RedisTarget.from_url(
            redis_server.url(), "sentinel", (f"{LOOPBACK}:{redis_server.port}",), MASTER_NAME
        )
        diagnosis = asyncio.run(diagnose(target, deadline=time.monotonic() + BUDGET))
        assert [(c.key, c.reason) for c in diagnosis.checks] == [("redis:master", "not_sentinel")]
        assert "is a master" in diagnosis.checks[0].output
        assert "REDIS_SENTINELS" in (diagnosis.checks[0].hint or "")

    def test_one_data_node_among_the_sentinels_warns(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        setup = redis_sentinels_per_module
        assert setup.master is not None
        addresses = (*[s.address for s in setup.sentinels], setup.master.address)
        target = RedisTarget.from_url(setup.master.url, "sentinel", addresses, MASTER_NAME)
        diagnosis = asyncio.run(diagnose(target, deadline=time.monotonic() + BUDGET))
        flagged = [c for c in diagnosis.checks if c.reason == "not_sentinel"]
        assert [(c.component_id, c.status) for c in flagged] == [
            (setup.master.address, Status.WARN)
        ]
        assert diagnosis.status is Status.WARN, [(c.key, c.reason) for c in diagnosis.checks]

    def test_a_standalone_server_is_not_flagged(self, redis_server: RedisServer) -> None:
        assert _diagnose(redis_server.url(), write=True).status is Status.PASS

    @pytest.mark.parametrize(
        "url", ["redis://127.0.0.1:7000/3", "redis://127.0.0.1:7000,redis://127.0.0.1:7001/1"]
    )
    def test_cluster_mode_with_a_db_is_a_configuration_error(self, url: str) -> None:
        with pytest.raises(ConfigError) as caught:
            load_settings(redis_url=url, redis_mode="cluster")
        (line,) = caught.value.problems
        assert "REDIS_URL" in line and "only db 0" in line

    @pytest.mark.parametrize(
        "url", ["redis://127.0.0.1:7000/0", "redis://127.0.0.1:7000", "redis://127.0.0.1:7000/00"]
    )
    def test_cluster_mode_with_db_0_is_accepted(self, url: str) -> None:
        assert load_settings(redis_url=url, redis_mode="cluster").redis_mode == "cluster"


# --------------------------------------------------------------------------------------------
# 3. A server without HELLO


class TestResp2Fallback:
    def test_no_hello_works_over_resp2_and_says_so(
        self, redis_hello_renamed_per_module: RedisServer
    ) -> None:
        diagnosis = _diagnose(redis_hello_renamed_per_module.url(), write=True)
        assert diagnosis.status is Status.PASS, [(c.key, c.output) for c in diagnosis.checks]
        ping = _check(diagnosis, "redis:ping")
        assert ping.details["protocol"] == 2
        assert "HELLO not supported" in ping.details["protocolNote"]
        assert "redis:memory" in _keys(diagnosis)  # INFO parsed from a RESP2 reply

    def test_no_hello_with_a_password(self, redis_hello_renamed: RedisServer) -> None:
        """AUTH instead of HELLO ... AUTH: the right password passes, a wrong one is auth."""
        good = _diagnose(redis_hello_renamed.url(password=REDIS_PASSWORD))
        assert good.status is Status.PASS
        assert _check(good, "redis:ping").details["protocol"] == 2
        bad = _diagnose(redis_hello_renamed.url(password="wr0ng-9"))
        assert bad.reason == "auth"
        _no_password(bad, "wr0ng-9")

    def test_no_hello_with_an_acl_user(self, redis_hello_renamed_per_module: RedisServer) -> None:
        server = redis_hello_renamed_per_module
        with server.client() as conn:
            conn.check("ACL", "SETUSER", "app", "reset", "on", ">app-pw-7", "+@all", "~*")
        try:
            diagnosis = _diagnose(f"redis://app:app-pw-7@{LOOPBACK}:{server.port}/0")
            assert diagnosis.status is Status.PASS
        finally:
            with server.client() as conn:
                conn.call("ACL", "DELUSER", "app")

    @pytest.mark.parametrize("transport", ["tls", "unix"])
    def test_no_hello_over_tls_and_a_unix_socket(
        self, tmp_path: Any, tls_files: Any, redis_server_bin: str, transport: str
    ) -> None:
        """The fallback is the connection's, whatever its class: TLS, unix socket."""
        from tests.servers.redis_faults import redis_server

        socket_path = tmp_path / "r.sock"
        extra = ("--unixsocket", str(socket_path)) if transport == "unix" else ()
        tls = tls_files if transport == "tls" else None
        with redis_server("--rename-command", "HELLO", "", *extra, tls=tls, workdir=tmp_path) as s:
            url = s.url(ca=tls_files.ca) if tls else f"unix://{socket_path}"
            diagnosis = _diagnose(url, write=True)
        assert diagnosis.status is Status.PASS, [(c.key, c.output) for c in diagnosis.checks]
        assert _check(diagnosis, "redis:ping").details["protocol"] == 2

    def test_protocol_3_asked_for_cannot_fall_back(
        self, redis_hello_renamed_per_module: RedisServer
    ) -> None:
        url = redis_hello_renamed_per_module.url(password="echoed-pw-5") + "?protocol=3"
        diagnosis = _diagnose(url)
        ping = _check(diagnosis, "redis:ping")
        assert (ping.status, ping.reason) == (Status.FAIL, "resp3_unsupported")
        assert "protocol=3" in (ping.hint or "")
        _no_password(diagnosis, "echoed-pw-5")  # the server echoes it: redacted

    def test_protocol_2_asked_for_never_sends_hello(
        self, redis_hello_renamed_per_module: RedisServer
    ) -> None:
        diagnosis = _diagnose(redis_hello_renamed_per_module.url() + "?protocol=2")
        assert diagnosis.status is Status.PASS
        assert "protocol" not in _check(diagnosis, "redis:ping").details

    def test_a_redis_5_works(self) -> None:
        """A fake Redis 5 (HELLO unknown, worded with backticks as Redis 5 does)."""
        with evil_redis("redis5") as fake:
            diagnosis = _diagnose(fake.url, write=True)
            sent = [c[0].upper() for c in fake.commands]
        assert diagnosis.status is Status.PASS, [(c.key, c.output) for c in diagnosis.checks]
        ping = _check(diagnosis, "redis:ping")
        assert ping.details["version"] == "5.0.14" and ping.details["protocol"] == 2
        assert sent.count(b"HELLO") == 1 and b"SET" in sent

    def test_a_service_client_falls_back_too(
        self, redis_hello_renamed_per_module: RedisServer
    ) -> None:
        assert asyncio.run(_service_health(redis_hello_renamed_per_module.url())) is True


# --------------------------------------------------------------------------------------------
# 6. Replies with a meaning


class TestRepliesWithAMeaning:
    def test_busy_script(self, redis_busy: RedisServer) -> None:
        for write in (False, True):
            diagnosis = _diagnose(redis_busy.url(), write=write)
            ping = _check(diagnosis, "redis:ping")
            assert (ping.status, ping.reason) == (Status.FAIL, "busy"), ping.output
            assert "SCRIPT KILL" in (ping.hint or "") and "BUSY" in ping.output

    def test_noreplicas_on_write(self, redis_noreplicas: RedisServer) -> None:
        assert _diagnose(redis_noreplicas.url()).status is Status.PASS  # reads are fine
        diagnosis = _diagnose(redis_noreplicas.url(), write=True)
        write = _check(diagnosis, "redis:write")
        assert (write.status, write.reason) == (Status.FAIL, "noreplicas")
        assert "min-replicas-to-write" in (write.hint or "")
        assert _check(diagnosis, "redis:ping").status is Status.PASS

    @pytest.mark.parametrize("db", [16, 99])
    def test_a_db_out_of_range(self, redis_server: RedisServer, db: int) -> None:
        diagnosis = _diagnose(redis_server.url(db=db))
        assert diagnosis.reason == "db_range", diagnosis.checks[0].output
        assert "databases" in (diagnosis.checks[0].hint or "")
        assert _diagnose(redis_server.url(db=15)).status is Status.PASS

    @pytest.mark.parametrize("host", [LOOPBACK, "localhost"])
    @pytest.mark.parametrize("delay", [0.0, 0.02])
    @pytest.mark.parametrize("scheme", ["redis", "rediss"])
    def test_a_peer_that_accepts_and_closes(self, delay: float, scheme: str, host: str) -> None:
        """A proxy with no backend: ``closed``, not protocol, tls or error, plain or TLS, by
        address or by a name (looked up again, in a daemon thread)."""
        with vf.closing_listener(delay) as listener:
            diagnosis = _diagnose(f"{scheme}://{host}:{listener.port}/0")
        ping = diagnosis.checks[0]
        assert (ping.key, ping.reason) == ("redis:ping", "closed"), ping.output
        assert "rediss" not in (ping.hint or "") and "CA" not in (ping.hint or "")

    def test_a_proxy_dropping_a_command(self) -> None:
        """PING answered, then the peer hangs up on INFO (redis:ping) or on SET (redis:write):
        ``closed``, never the TLS/plain-mismatch reason (the handshake worked)."""
        with evil_redis("drops-info") as fake:
            on_info = _diagnose(fake.url)
        assert (on_info.checks[0].key, on_info.reason) == ("redis:ping", "closed")
        with evil_redis("drops-set") as fake:
            on_set = _diagnose(fake.url, write=True)
        write = _check(on_set, "redis:write")
        assert (write.status, write.reason) == (Status.FAIL, "closed"), write.output
        assert _check(on_set, "redis:ping").status is Status.PASS

    def test_protected_mode(self) -> None:
        """Redis's DENIED to a client from another host (replayed: loopback is never denied)."""
        with vf.closing_listener(greeting=vf.PROTECTED_MODE) as listener:
            diagnosis = _diagnose(f"redis://{LOOPBACK}:{listener.port}/0")
        ping = diagnosis.checks[0]
        assert (ping.reason, ping.status) == ("protected_mode", Status.FAIL), ping.output
        assert "protected-mode" in (ping.hint or "")

    @pytest.mark.parametrize(
        ("renamed", "status", "reason"),
        [("INFO", Status.WARN, "info_denied"), ("CLIENT", Status.PASS, None)],
    )
    def test_a_renamed_command(
        self,
        redis_server_factory: Any,
        renamed: str,
        status: Status,
        reason: str | None,
    ) -> None:
        """rename-command INFO: a warning naming the checks not run; CLIENT: no name, no harm."""
        server = redis_server_factory("--rename-command", renamed, "")
        diagnosis = _diagnose(server.url(), write=True)
        assert diagnosis.status is status, [(c.key, c.reason, c.output) for c in diagnosis.checks]
        assert [c.reason for c in diagnosis.checks if c.reason] == ([reason] if reason else [])

    def test_a_tls_port_fed_plain_text_is_still_protocol(self, redis_tls: RedisServer) -> None:
        assert _diagnose(redis_tls.url(scheme="redis")).reason == "protocol"


# --------------------------------------------------------------------------------------------
# cpa-ops ping's sampler: the same handshake and reasons


def _samples(url: str, count: int = 3) -> list[Any]:
    from cpa_ops.core.redis import sample_latency

    async def main() -> list[Any]:
        target = RedisTarget.from_url(url)
        return [s async for s in sample_latency(target, count=count, interval=0, timeout=BUDGET)]

    return asyncio.run(main())


class TestPingSamples:
    def test_a_server_without_hello_is_sampled_over_resp2(
        self, redis_hello_renamed_per_module: RedisServer
    ) -> None:
        samples = _samples(redis_hello_renamed_per_module.url())
        assert [s.ok for s in samples] == [True] * 3, [s.detail for s in samples]

    def test_busy_keeps_the_connection(self, redis_busy: RedisServer) -> None:
        """BUSY is a reply, not a broken connection: one connect, three failed samples."""
        samples = _samples(redis_busy.url())
        assert [s.reason for s in samples] == ["busy"] * 3, [s.detail for s in samples]
        assert [s.connect_ms is not None for s in samples] == [True, False, False]

    def test_a_denied_ping_is_denied(self, redis_acl_users_per_module: RedisServer) -> None:
        samples = _samples(vf.acl_url(redis_acl_users_per_module, "no-ping"))
        assert [s.reason for s in samples] == ["denied"] * 3
        assert [s.connect_ms is not None for s in samples] == [True, False, False]
        assert all(vf.ACL_PASSWORD not in (s.detail or "") for s in samples)
