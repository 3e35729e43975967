"""``cpa-ops health --mode sentinel`` against sentinels and data nodes that speak TLS
(tls-replication yes), through the installed console script: REDIS_URL's rediss:// scheme and
ssl_ca_certs go to the sentinels and to the data nodes they name; the wrong CA is ``tls``, plain
text to the TLS ports ``protocol``, on the master check as on each sentinel's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_health_topology import VERDICT_TIMEOUT, checks_of
from tests.conftest import Ran, clean_env, run_cpa_ops
from tests.servers.redis_faults import TlsFiles
from tests.servers.redis_topology import MASTER_NAME, SentinelSetup

pytestmark = pytest.mark.timeout(90)


def health(setup: SentinelSetup, redis_url: str, *args: str) -> Ran:
    """``health --mode sentinel`` at the set-up's TLS sentinel ports; REDIS_URL's host is
    unused in sentinel mode (the sentinels name the master)."""
    return run_cpa_ops(
        "health", "--mode", "sentinel", "--sentinels", setup.sentinel_addresses,
        "--sentinel-master", MASTER_NAME, "--timeout", str(VERDICT_TIMEOUT),
        "--format", "json", *args,
        env=clean_env(REDIS_URL=redis_url),
    )  # fmt: skip


def assert_every_sentinel_unreached(ran: Ran, reason: str) -> list[dict[str, object]]:
    """Exit 1; redis:master and every redis:sentinel carry ``reason`` and the same hint."""
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert not ran.stderr.strip(), ran.stderr
    checks = checks_of(ran)
    (master,) = checks["redis:master"]
    assert (master["status"], master["reason"]) == ("fail", reason), master
    assert "3 of 3 sentinels" in master["output"], master
    sentinels = checks["redis:sentinel"]
    assert len(sentinels) == 3, sentinels
    for check in sentinels:
        assert (check["status"], check["reason"]) == ("warn", reason), check
        assert check["hint"] == master["hint"], check
    assert "redis:ping" not in checks, checks
    # the quorum cannot be judged, and says why the sentinels did not answer
    (quorum,) = checks["redis:quorum"]
    assert quorum["reason"] == "no_quorum", quorum
    assert f"({reason})" in quorum["output"], quorum
    return [master, *sentinels]


class TestTlsSentinels:
    def test_rediss_with_the_ca_passes_through_the_tls_ports(
        self, redis_sentinels_tls_per_module: SentinelSetup, tls_files: TlsFiles
    ) -> None:
        setup = redis_sentinels_tls_per_module
        ran = health(setup, f"rediss://127.0.0.1:1/0?ssl_ca_certs={tls_files.ca}", "--write")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        checks = checks_of(ran)
        assert setup.master is not None and setup.replica is not None
        master_address = setup.client_address(setup.master)
        replica_address = setup.client_address(setup.replica)
        (master,) = checks["redis:master"]
        assert (master["status"], master["componentId"]) == ("pass", master_address), master
        assert [s["status"] for s in checks["redis:sentinel"]] == ["pass"] * 3
        # the sentinels name the TLS ports, and the probe spoke TLS to each
        pings = {p["componentId"]: p for p in checks["redis:ping"]}
        assert sorted(pings) == sorted([master_address, replica_address]), pings
        assert all(p["status"] == "pass" for p in pings.values()), pings
        (replication,) = checks["redis:replication"]
        assert replication["componentId"] == replica_address, replication
        assert replication["status"] == "pass", replication
        assert replication["details"]["replicaOf"] == master_address, replication
        (write,) = checks["redis:write"]
        assert (write["status"], write["componentId"]) == ("pass", master_address), write

    def test_an_untrusted_ca_fails_naming_tls(
        self, redis_sentinels_tls_per_module: SentinelSetup, tls_files: TlsFiles
    ) -> None:
        url = f"rediss://127.0.0.1:1/0?ssl_ca_certs={tls_files.other_ca}"
        ran = health(redis_sentinels_tls_per_module, url)
        for check in assert_every_sentinel_unreached(ran, "tls"):
            assert "certificate" in str(check["output"]), check
            assert "ssl_ca_certs" in str(check["hint"]), check

    def test_plain_text_to_the_tls_ports_fails_naming_the_mismatch(
        self, redis_sentinels_tls_per_module: SentinelSetup
    ) -> None:
        ran = health(redis_sentinels_tls_per_module, "redis://127.0.0.1:1/0")
        for check in assert_every_sentinel_unreached(ran, "protocol"):
            assert "TLS/plain mismatch" in str(check["output"]), check
            assert "rediss://" in str(check["hint"]), check

    def test_a_missing_ca_file_is_tls_config(
        self, redis_sentinels_tls_per_module: SentinelSetup, tmp_path: Path
    ) -> None:
        """A CA file that is not there: checked here before any sentinel is asked, and named on
        the master check too (it was no_master, with the failover hint)."""
        missing = tmp_path / "missing-ca.pem"
        ran = health(
            redis_sentinels_tls_per_module, f"rediss://127.0.0.1:1/0?ssl_ca_certs={missing}"
        )
        checks = assert_every_sentinel_unreached(ran, "tls_config")
        assert "ssl_ca_certs" in str(checks[0]["output"]), checks[0]
