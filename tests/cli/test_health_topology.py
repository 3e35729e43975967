"""``cpa-ops health`` (and ``ping``) with ``--mode cluster|sentinel`` through the installed
console script: verdicts, reasons, per-node JSON and latency summaries, and the hard deadline
(--timeout + 0.5 s) after a master dies."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.cli.conftest import Background
from tests.conftest import Ran, clean_env, run_cpa_ops
from tests.servers.net import wait_until
from tests.servers.redis_faults import TlsFiles
from tests.servers.redis_topology import MASTER_NAME, ClusterSetup, SentinelSetup
from tests.servers.redis_verdict_faults import ACL_PASSWORD
from tests.servers.resp import command_text

#: --timeout where the hard deadline is under test
TIMEOUT = 1.0
SECRET = "s3cr3t-PW-xyz"
#: the hard deadline: the process exits within --timeout + this
DEADLINE_SLACK = 0.5
#: --timeout where the verdict is under test: room for a machine busy with other test runs
VERDICT_TIMEOUT = 5.0


def cluster_health(
    setup: ClusterSetup, *args: str, timeout: float = VERDICT_TIMEOUT, user: str | None = None
) -> Ran:
    """``health --mode cluster`` at the set-up's seeds, as ``user`` (password ACL_PASSWORD)
    when given; no password of the user's is shown."""
    seeds = setup.seed_urls
    if user is not None:
        seeds = ",".join(f"redis://{user}:{ACL_PASSWORD}@{n.address}/0" for n in setup.masters)
    ran = run_cpa_ops(
        "health", "--mode", "cluster", "--timeout", str(timeout), *args,
        env=clean_env(REDIS_URL=seeds),
    )  # fmt: skip
    assert ACL_PASSWORD not in ran.stdout + ran.stderr
    return ran


def every_node_passes(setup: ClusterSetup, ran: Ran) -> list[dict[str, Any]]:
    """``ran`` (``--format json --write``) passed: one passing redis:ping per node, under the
    address the cluster gives its clients, and a write per master; those pings."""
    assert ran.returncode == 0, ran.stdout + ran.stderr
    checks = checks_of(ran)
    assert len(checks["redis:write"]) == len(setup.masters), checks["redis:write"]
    pings = checks["redis:ping"]
    assert sorted(p["componentId"] for p in pings) == sorted(
        setup.client_address(n) for n in setup.nodes
    ), pings
    assert all(p["status"] == "pass" for p in pings), pings
    return pings


def sentinel_health(setup: SentinelSetup, *args: str, timeout: float = VERDICT_TIMEOUT) -> Ran:
    return run_cpa_ops(
        "health", "--mode", "sentinel", "--sentinels", setup.sentinel_addresses,
        "--sentinel-master", MASTER_NAME, "--timeout", str(timeout), *args,
    )  # fmt: skip


def checks_of(ran: Ran) -> dict[str, list[dict[str, Any]]]:
    document = json.loads(ran.stdout)
    checks: dict[str, list[dict[str, Any]]] = document["checks"]
    return checks


def hurried_and_roomy(check: Callable[..., Ran], setup: object, *args: str) -> tuple[Ran, Ran]:
    """The same check run twice at once: with --timeout 1 (the hard deadline under test) and
    with room for the full verdict; both see the same moment of a failover."""
    with ThreadPoolExecutor(2) as runner:
        hurried = runner.submit(check, setup, *args, timeout=TIMEOUT)
        roomy = runner.submit(check, setup, *args, timeout=VERDICT_TIMEOUT)
        return hurried.result(), roomy.result()


def assert_failed_inside_deadline(ran: Ran) -> None:
    """Exit 1 within --timeout + 0.5 s, whatever the verdict (on a busy machine the budget may
    run out before every node has answered: then the reason is ``deadline``)."""
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert ran.elapsed < TIMEOUT + DEADLINE_SLACK, f"took {ran.elapsed:.2f} s"
    assert json.loads(ran.stdout)["status"] == "fail"


@pytest.mark.timeout(90)
class TestCluster:
    def test_healthy_text_verdict(self, redis_cluster: ClusterSetup) -> None:
        """A healthy cluster: exit 0, the cluster line and one line per node."""
        ran = cluster_health(redis_cluster)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "PASS  redis:cluster" in ran.stdout
        assert "cluster_state:ok" in ran.stdout
        for node in redis_cluster.nodes:
            assert f"redis:ping {node.address}" in ran.stdout
        assert ran.stdout.rstrip().endswith("status: pass")

    def test_json_has_an_array_per_node_under_each_key(self, redis_cluster: ClusterSetup) -> None:
        """--format json: "redis:ping" holds one object per node with "componentId": host:port,
        its role and round-trip; "redis:write" one per master."""
        ran = cluster_health(redis_cluster, "--format", "json", "--write")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        checks = checks_of(ran)
        pings = checks["redis:ping"]
        assert sorted(p["componentId"] for p in pings) == sorted(
            n.address for n in redis_cluster.nodes
        )
        assert all(p["status"] == "pass" and p["observedUnit"] == "ms" for p in pings)
        assert sorted(p["details"]["role"] for p in pings) == [
            "master",
            "master",
            "master",
            "slave",
        ]
        (state,) = checks["redis:cluster"]
        assert state["details"]["slotsOk"] == 16384
        assert len(checks["redis:write"]) == 3

    def test_nagios_has_a_series_per_node(self, redis_cluster: ClusterSetup) -> None:
        """--format nagios: OK, with one round-trip perfdata series per node."""
        ran = cluster_health(redis_cluster, "--format", "nagios")
        assert ran.returncode == 0
        assert ran.stdout.startswith("CPA-OPS OK - cluster_state:ok")
        for node in redis_cluster.nodes:
            assert f"'redis_ping_{node.address.replace(':', '_')}_rtt'=" in ran.stdout

    def test_wrong_credentials_are_auth_and_never_shown(self, redis_cluster: ClusterSetup) -> None:
        """Seeds with credentials the nodes refuse (no such ACL user): fail, reason auth, the
        password masked everywhere (JSON, text, stderr)."""
        seeds = ",".join(
            f"redis://intruder:{SECRET}@{node.address}/0" for node in redis_cluster.masters
        )
        runs = {}
        for output in ("json", "text"):
            runs[output] = run_cpa_ops(
                "health", "--mode", "cluster", "--redis-url", seeds, "--format", output,
                "--timeout", str(VERDICT_TIMEOUT),
            )  # fmt: skip
        for ran in runs.values():
            assert ran.returncode == 1
            assert SECRET not in ran.stdout + ran.stderr
        (state,) = checks_of(runs["json"])["redis:cluster"]
        assert state["reason"] == "auth"
        assert "redis://intruder:***@" in json.loads(runs["json"].stdout)["description"]

    def test_a_killed_master_fails_then_cluster_down_while_survivors_answer_pong(
        self, redis_cluster: ClusterSetup
    ) -> None:
        """Kill a master without replica: at once a fail (its slots unserved), and once the
        cluster notices, cluster_down although every surviving node answers PONG; both inside
        the deadline. The text verdict's stderr line names the cluster check; with --quiet each
        failing check has its line, a node's naming the node."""
        victim = redis_cluster.master_without_replica()
        victim.kill()
        hurried, ran = hurried_and_roomy(cluster_health, redis_cluster, "--format", "json")
        assert_failed_inside_deadline(hurried)
        assert ran.returncode == 1
        (state,) = checks_of(ran)["redis:cluster"]
        assert state["reason"] in ("slots_unserved", "cluster_down")

        survivor = next(n for n in redis_cluster.nodes if n is not victim)
        wait_until(
            lambda: "cluster_state:fail" in command_text(survivor.port, "CLUSTER", "INFO"),
            15,
            "the cluster to notice",
        )
        hurried, ran = hurried_and_roomy(cluster_health, redis_cluster, "--format", "json")
        assert_failed_inside_deadline(hurried)
        assert ran.returncode == 1
        checks = checks_of(ran)
        (state,) = checks["redis:cluster"]
        assert state["status"] == "fail"
        assert state["reason"] == "cluster_down"
        for ping in checks["redis:ping"]:
            if ping["componentId"] == victim.address:
                assert ping["reason"] == "refused"
            else:
                assert ping["status"] == "pass", ping  # PONG, while the cluster refuses queries

        ran = cluster_health(redis_cluster)
        assert ran.returncode == 1
        assert "cpa-ops health: redis:cluster failed [cluster_down]" in ran.stderr
        quiet = cluster_health(redis_cluster, "--quiet")
        assert quiet.returncode == 1
        assert quiet.stdout == ""
        assert f"cpa-ops health: redis:ping {victim.address} [refused]" in quiet.stderr

    def test_a_frozen_master_keeps_the_deadline(self, redis_cluster: ClusterSetup) -> None:
        """A SIGSTOPped master (connects, never answers): exit 1 inside --timeout + 0.5 s; with
        a longer budget, that node's read_timeout among the others' PONGs."""
        victim = redis_cluster.master_without_replica()
        victim.freeze()
        assert_failed_inside_deadline(
            cluster_health(redis_cluster, "--format", "json", timeout=TIMEOUT)
        )
        # with a budget of its own the verdict names the silent node; the others answered
        ran = cluster_health(redis_cluster, "--format", "json", timeout=2.0)
        assert ran.returncode == 1
        assert checks_of(ran)["redis:cluster"][0]["reason"] in ("slots_unserved", "cluster_down")
        pings = {p["componentId"]: p for p in checks_of(ran)["redis:ping"]}
        assert pings.pop(victim.address)["reason"] == "read_timeout"
        assert all(p["status"] == "pass" for p in pings.values())

    def test_watch_rounds_keep_one_entry_per_node(
        self, redis_cluster: ClusterSetup, background: Callable[..., Background]
    ) -> None:
        """health --watch --format json: every round is one object with an entry per node;
        Ctrl-C ends it with exit 0."""
        run = background(
            "health", "--mode", "cluster", "--watch", "0.2", "--format", "json",
            "--timeout", str(VERDICT_TIMEOUT), env=clean_env(REDIS_URL=redis_cluster.seed_urls),
        )  # fmt: skip
        for _ in range(2):
            document = json.loads(run.next_line(timeout=20))
            pings = document["checks"]["redis:ping"]
            assert sorted(p["componentId"] for p in pings) == sorted(
                n.address for n in redis_cluster.nodes
            )
        code, _, stderr = run.stop(signal.SIGINT)
        assert code == 0, stderr

    def test_a_failed_over_master_is_a_warn(self, redis_cluster: ClusterSetup) -> None:
        """Kill the master that has a replica: once the replica took over, every slot is served
        and the dead node is a warn (exit 0)."""
        assert redis_cluster.replica is not None
        replica = redis_cluster.replica
        master_address = command_text(replica.port, "INFO", "replication")
        victim = next(n for n in redis_cluster.nodes if f"master_port:{n.port}" in master_address)
        victim.kill()
        wait_until(
            lambda: (
                "role:master" in command_text(replica.port, "INFO", "replication")
                and "cluster_state:ok" in command_text(replica.port, "CLUSTER", "INFO")
            ),
            20,
            "the replica to take over",
        )
        ran = cluster_health(redis_cluster, "--format", "json")
        assert ran.returncode == 0, ran.stdout
        assert json.loads(ran.stdout)["status"] == "warn"
        (state,) = checks_of(ran)["redis:cluster"]
        assert state["reason"] == "degraded"


def cluster_ping(setup: ClusterSetup, *args: str) -> Ran:
    return run_cpa_ops(
        "ping", "--mode", "cluster", "--count", "3", "--interval", "0.05",
        "--timeout", str(VERDICT_TIMEOUT), *args,
        env=clean_env(REDIS_URL=setup.seed_urls),
    )  # fmt: skip


@pytest.mark.timeout(90)
class TestClusterHandshake:
    """The probe's handshake on every node of a cluster: RESP2 where HELLO is missing, no name
    where CLIENT SETNAME is denied; either way the cluster passes."""

    def test_a_cluster_without_hello_passes_over_resp2(
        self, redis_cluster_without_hello_per_module: ClusterSetup
    ) -> None:
        setup = redis_cluster_without_hello_per_module
        pings = every_node_passes(setup, cluster_health(setup, "--format", "json", "--write"))
        assert all(p["details"]["protocol"] == 2 for p in pings), pings
        assert all("RESP2" in p["details"]["protocolNote"] for p in pings)

    def test_a_denied_client_setname_costs_only_the_name(
        self, redis_cluster_acl_per_module: ClusterSetup
    ) -> None:
        setup = redis_cluster_acl_per_module
        ran = cluster_health(setup, "--format", "json", "--write", user="no-setname")
        pings = every_node_passes(setup, ran)
        assert all("CLIENT SETNAME refused" in p["details"]["clientName"] for p in pings), pings

    def test_a_user_without_cluster_info_warns_naming_the_rule(
        self, redis_cluster_acl_per_module: ClusterSetup
    ) -> None:
        """CLUSTER INFO refused: slots are still judged from CLUSTER NODES, cluster_state is not:
        a warning (exit 0) whose hint is the ACL rule, for this user."""
        ran = self._health_as(redis_cluster_acl_per_module, "no-cluster-info")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        (cluster,) = checks_of(ran)["redis:cluster"]
        assert (cluster["status"], cluster["reason"]) == ("warn", "denied"), cluster
        assert "cluster_state not checked" in cluster["output"], cluster
        assert "ACL SETUSER no-cluster-info +cluster|info" in cluster["hint"], cluster

    def test_a_user_without_cluster_nodes_fails_naming_the_rule(
        self, redis_cluster_acl_per_module: ClusterSetup
    ) -> None:
        """CLUSTER NODES refused: no node or slot can be checked, a failure naming the rule
        (it was 'internal error (ValueError)')."""
        ran = self._health_as(redis_cluster_acl_per_module, "no-cluster-nodes")
        assert ran.returncode == 1, ran.stdout + ran.stderr
        assert "internal error" not in ran.stderr and "Traceback" not in ran.stderr
        (cluster,) = checks_of(ran)["redis:cluster"]
        assert (cluster["status"], cluster["reason"]) == ("fail", "denied"), cluster
        assert "ACL SETUSER no-cluster-nodes +cluster|nodes" in cluster["hint"], cluster

    @pytest.mark.parametrize(
        ("user", "refused"),
        [("no-cluster-slots", "CLUSTER SLOTS"), ("no-command", "COMMAND COUNT")],
    )
    def test_a_user_the_services_client_cannot_work_as_warns(
        self, redis_cluster_acl_per_module: ClusterSetup, user: str, refused: str
    ) -> None:
        """What redis-py's cluster client sends to discover a cluster, refused: the probe's own
        commands pass, but every service command would fail (NoPermissionError), so a warning
        naming the rule (it passed)."""
        ran = self._health_as(redis_cluster_acl_per_module, user)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        (cluster,) = checks_of(ran)["redis:cluster"]
        assert (cluster["status"], cluster["reason"]) == ("warn", "denied"), cluster
        assert cluster["output"].startswith(f"{refused} refused"), cluster
        assert f"ACL SETUSER {user} +cluster|slots +command" in cluster["hint"], cluster

    @staticmethod
    def _health_as(setup: ClusterSetup, user: str) -> Ran:
        return cluster_health(setup, "--format", "json", user=user)


@pytest.mark.timeout(90)
class TestSentinelAcl:
    """Least-privilege users of the data nodes: the services' sentinel pool needs no ROLE, so
    the verdict reads the role from INFO when ROLE is refused (it failed not_master, 'answers
    ROLE as None'), and says it cannot tell when both are refused."""

    def test_a_user_without_role_passes(
        self, redis_sentinels_acl_per_module: SentinelSetup
    ) -> None:
        ran = self._health_as(redis_sentinels_acl_per_module, "no-role")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        checks = checks_of(ran)
        (master,) = checks["redis:master"]
        assert master["status"] == "pass", master
        assert "1 replica connected" in master["output"], master
        (replica,) = checks["redis:replication"]
        assert replica["status"] == "pass", replica
        master_address = redis_sentinels_acl_per_module.master_as_sentinels_see_it()
        assert replica["details"]["replicaOf"] == master_address, replica

    def test_a_user_without_role_and_info_warns_naming_the_rule(
        self, redis_sentinels_acl_per_module: SentinelSetup
    ) -> None:
        ran = self._health_as(redis_sentinels_acl_per_module, "no-role-no-info")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        (master,) = checks_of(ran)["redis:master"]
        assert (master["status"], master["reason"]) == ("warn", "denied"), master
        assert "ACL SETUSER no-role-no-info +role" in master["hint"], master

    @staticmethod
    def _health_as(setup: SentinelSetup, user: str) -> Ran:
        ran = run_cpa_ops(
            "health", "--mode", "sentinel", "--sentinels", setup.sentinel_addresses,
            "--sentinel-master", MASTER_NAME, "--timeout", str(VERDICT_TIMEOUT),
            "--format", "json",
            env=clean_env(REDIS_URL=f"redis://{user}:{ACL_PASSWORD}@127.0.0.1:1/0"),
        )  # fmt: skip
        assert ACL_PASSWORD not in ran.stdout + ran.stderr
        return ran


@pytest.mark.timeout(90)
class TestClusterTls:
    """A cluster that speaks only TLS to its clients (tls-cluster yes, as managed clusters with
    in-transit encryption): rediss:// seeds with the CA pass; the wrong CA, or plain text to
    the TLS ports, fail naming TLS."""

    def test_rediss_seeds_with_the_ca_pass(
        self, redis_cluster_tls_per_module: ClusterSetup
    ) -> None:
        setup = redis_cluster_tls_per_module
        # every node under the TLS address the cluster gives its clients
        every_node_passes(setup, cluster_health(setup, "--format", "json", "--write"))

    def test_an_untrusted_ca_fails_naming_tls(
        self, redis_cluster_tls_per_module: ClusterSetup, tls_files: TlsFiles
    ) -> None:
        setup = redis_cluster_tls_per_module
        seeds = setup.seed_urls.replace(str(tls_files.ca), str(tls_files.other_ca))
        ran = run_cpa_ops(
            "health", "--mode", "cluster", "--timeout", str(VERDICT_TIMEOUT), "--format", "json",
            env=clean_env(REDIS_URL=seeds),
        )  # fmt: skip
        assert ran.returncode == 1, ran.stdout + ran.stderr
        (cluster,) = checks_of(ran)["redis:cluster"]
        assert (cluster["status"], cluster["reason"]) == ("fail", "tls"), cluster
        assert "certificate" in cluster["output"], cluster

    def test_plain_text_to_the_tls_ports_fails_naming_the_mismatch(
        self, redis_cluster_tls_per_module: ClusterSetup
    ) -> None:
        setup = redis_cluster_tls_per_module
        seeds = ",".join(f"redis://{setup.client_address(n)}/0" for n in setup.masters)
        ran = run_cpa_ops(
            "health", "--mode", "cluster", "--timeout", str(VERDICT_TIMEOUT), "--format", "json",
            env=clean_env(REDIS_URL=seeds),
        )  # fmt: skip
        assert ran.returncode == 1, ran.stdout + ran.stderr
        (cluster,) = checks_of(ran)["redis:cluster"]
        assert cluster["status"] == "fail", cluster
        assert cluster["reason"] in ("protocol", "closed"), cluster
        assert "rediss://" in cluster["hint"], cluster


@pytest.mark.timeout(90)
class TestClusterPing:
    def test_json_has_a_latency_summary_per_node(self, redis_cluster: ClusterSetup) -> None:
        """ping --mode cluster --format json: one summary per node, each with its componentId,
        role and round-trip statistics; exit 0."""
        ran = cluster_ping(redis_cluster, "--format", "json")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        document = json.loads(ran.stdout)
        nodes = {n["componentId"]: n for n in document["nodes"]}
        assert sorted(nodes) == sorted(n.address for n in redis_cluster.nodes)
        assert sorted(n["role"] for n in nodes.values()) == [
            "master",
            "master",
            "master",
            "replica",
        ]
        for node in nodes.values():
            assert (node["sent"], node["ok"], node["failed"]) == (3, 3, 0)
            assert node["roundTripMs"]["count"] == 3
        assert document["interrupted"] is False

    def test_text_has_a_statistics_block_per_node(self, redis_cluster: ClusterSetup) -> None:
        """Text: a line per sample naming the node, then ping(8)-like statistics per node."""
        ran = cluster_ping(redis_cluster)
        assert ran.returncode == 0, ran.stderr
        for node in redis_cluster.nodes:
            assert f"--- {node.address} (" in ran.stdout
            assert ran.stdout.count(f"{node.address} ") >= 3
        assert ran.stdout.count("3 sent, 3 ok, 0 failed") == 4

    def test_sigterm_prints_every_nodes_summary_and_exits_143(
        self, redis_cluster: ClusterSetup, background: Callable[..., Background]
    ) -> None:
        """An endless cluster ping ended by SIGTERM: the statistics so far for every node,
        exit 143, no traceback."""
        run = background(
            "ping", "--mode", "cluster", "-i", "0.05", "--timeout", str(VERDICT_TIMEOUT),
            env=clean_env(REDIS_URL=redis_cluster.seed_urls),
        )  # fmt: skip
        run.wait_for(lambda line: "seq=2 " in line, timeout=20)
        code, rest, stderr = run.stop(signal.SIGTERM)
        assert code == 143
        assert "Traceback" not in stderr
        for node in redis_cluster.nodes:
            assert f"--- {node.address} (" in rest
        assert rest.count(" ok, 0 failed") == len(redis_cluster.nodes)

    def test_a_dead_master_fails_its_own_summary_only(self, redis_cluster: ClusterSetup) -> None:
        """A killed master: its samples fail (refused), the others pass; exit 1 and one stderr
        line naming that node."""
        victim = redis_cluster.master_without_replica()
        victim.kill()
        ran = cluster_ping(redis_cluster, "--format", "json")
        assert ran.returncode == 1
        nodes = {n["componentId"]: n for n in json.loads(ran.stdout)["nodes"]}
        assert nodes[victim.address]["errors"] == {"refused": 3}
        assert nodes[victim.address]["role"] == "master"
        assert all(n["failed"] == 0 for a, n in nodes.items() if a != victim.address)
        assert f"cpa-ops ping: {victim.address}: 3 of 3 samples failed [refused]" in ran.stderr


@pytest.mark.timeout(90)
class TestSentinel:
    def test_healthy_verdict(self, redis_sentinels_per_module: SentinelSetup) -> None:
        """Healthy: exit 0; quorum, master, each sentinel and the replica's link in JSON."""
        ran = sentinel_health(redis_sentinels_per_module, "--format", "json")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        checks = checks_of(ran)
        assert checks["redis:quorum"][0]["status"] == "pass"
        (master,) = checks["redis:master"]
        assert master["componentId"] == redis_sentinels_per_module.master_as_sentinels_see_it()
        assert sorted(s["componentId"] for s in checks["redis:sentinel"]) == sorted(
            s.address for s in redis_sentinels_per_module.sentinels
        )
        assert checks["redis:replication"][0]["status"] == "pass"
        assert json.loads(ran.stdout)["status"] == "pass"

    def test_the_environment_selects_the_mode(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """REDIS_MODE, REDIS_SENTINELS and REDIS_SENTINEL_MASTER from the environment."""
        ran = run_cpa_ops(
            "health",
            "--format",
            "nagios",
            "--timeout",
            str(VERDICT_TIMEOUT),
            env=clean_env(
                REDIS_MODE="sentinel",
                REDIS_SENTINELS=redis_sentinels_per_module.sentinel_addresses,
                REDIS_SENTINEL_MASTER=MASTER_NAME,
            ),
        )
        assert ran.returncode == 0, ran.stdout
        assert ran.stdout.startswith("CPA-OPS OK - ")
        assert "is master by its own ROLE" in ran.stdout

    def test_ping_samples_the_master_the_sentinels_name(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """ping --mode sentinel: the samples go to the master the sentinels name."""
        ran = run_cpa_ops(
            "ping", "--mode", "sentinel", "--sentinels",
            redis_sentinels_per_module.sentinel_addresses,
            "--sentinel-master", MASTER_NAME, "-c", "2", "-i", "0", "--format", "json",
            "--timeout", str(VERDICT_TIMEOUT),
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        document = json.loads(ran.stdout)
        master = redis_sentinels_per_module.master_as_sentinels_see_it()
        assert document["url"] == f"redis://{master}/0"
        assert document["ok"] == 2

    def test_ping_without_a_master_is_one_line(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """ping --mode sentinel for a service no sentinel knows: exit 1, one stderr line."""
        ran = run_cpa_ops(
            "ping", "--mode", "sentinel", "--sentinels",
            redis_sentinels_per_module.sentinel_addresses,
            "--sentinel-master", "nosuchmaster", "-c", "1", "--timeout", str(VERDICT_TIMEOUT),
        )  # fmt: skip
        assert ran.returncode == 1
        lines = ran.stderr.strip().splitlines()
        assert len(lines) == 1, ran.stderr
        assert lines[0].startswith("cpa-ops ping: no sentinel node to ping: [no_master]")

    def test_the_data_nodes_get_redis_urls_password_and_it_is_never_shown(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """REDIS_URL's credentials go to the master (which refuses them: auth), not to the
        sentinels (they answer); the password appears nowhere."""
        ran = run_cpa_ops(
            "health", "--mode", "sentinel", "--sentinels",
            redis_sentinels_per_module.sentinel_addresses,
            "--sentinel-master", MASTER_NAME, "--format", "json",
            "--timeout", str(VERDICT_TIMEOUT),
            env=clean_env(REDIS_URL=f"redis://intruder:{SECRET}@unused/0"),
        )  # fmt: skip
        assert ran.returncode == 1
        assert SECRET not in ran.stdout + ran.stderr
        checks = checks_of(ran)
        assert all(s["status"] == "pass" for s in checks["redis:sentinel"])
        (master,) = checks["redis:master"]
        assert master["reason"] == "no_master"
        assert "auth" in master["output"]

    def test_killing_the_master_fails_during_the_failover_then_recovers(
        self, redis_sentinels_per_module: SentinelSetup
    ) -> None:
        """Kill the master: while the sentinels still name it, exit 1 (no_master) inside the
        deadline; once they have failed over, exit 0 with the new master and the old one as a
        replica that is down (warn). Runs last: the set-up stays failed over."""
        old = redis_sentinels_per_module.node_at(
            redis_sentinels_per_module.master_as_sentinels_see_it()
        )
        old.kill()
        hurried, ran = hurried_and_roomy(
            sentinel_health, redis_sentinels_per_module, "--format", "json"
        )
        assert_failed_inside_deadline(hurried)
        assert ran.returncode == 1, ran.stdout
        (master,) = checks_of(ran)["redis:master"]
        assert master["reason"] == "no_master"
        assert master["componentId"] == old.address

        wait_until(
            lambda: (
                redis_sentinels_per_module.master_as_sentinels_see_it() not in ("", old.address)
            ),
            30,
            "the sentinels to fail over",
        )
        new_address = redis_sentinels_per_module.master_as_sentinels_see_it()
        wait_until(
            lambda: (
                "role:master"
                in command_text(
                    redis_sentinels_per_module.node_at(new_address).port, "INFO", "replication"
                )
            ),
            10,
            "the new master to be promoted",
        )
        ran = sentinel_health(redis_sentinels_per_module, "--format", "json")
        assert ran.returncode == 0, ran.stdout
        checks = checks_of(ran)
        (master,) = checks["redis:master"]
        assert master["status"] == "pass"
        assert master["componentId"] == new_address
        down = [c for c in checks["redis:ping"] if c["componentId"] == old.address]
        assert down and down[0]["status"] == "warn"


class TestUsage:
    def test_sentinel_mode_without_its_variables_is_two_lines(self) -> None:
        """--mode sentinel alone: exit 2, one line per missing variable, no traceback."""
        ran = run_cpa_ops("health", "--mode", "sentinel")
        assert ran.returncode == 2
        lines = ran.stderr.strip().splitlines()
        assert len(lines) == 2, ran.stderr
        assert "REDIS_SENTINELS is required when REDIS_MODE=sentinel" in lines[0]
        assert "REDIS_SENTINEL_MASTER is required when REDIS_MODE=sentinel" in lines[1]
        assert "Traceback" not in ran.stderr

    def test_an_unknown_mode_is_a_usage_error(self) -> None:
        """--mode ring: exit 2, one line naming the accepted modes."""
        ran = run_cpa_ops("health", "--mode", "ring")
        assert ran.returncode == 2
        assert "'ring' is not one of" in ran.stderr
        assert len(ran.stderr.strip().splitlines()) == 1
