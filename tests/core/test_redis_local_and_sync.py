"""Issue 14, classes 4 and 5, at the core: the local-file checks on real files and sockets, the
connect-time fallback on a real EACCES, and :func:`diagnose` against real replicas, a failing
save and an evicting server."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cpa_ops.core.health import Status
from cpa_ops.core.redis import RedisDiagnosis, ServerFacts, diagnose
from cpa_ops.core.redis.tls_files import tls_file_failure
from cpa_ops.core.redis.unix_socket import socket_failure
from cpa_ops.core.target import RedisTarget
from tests.conftest import clean_env
from tests.servers import local_and_sync_faults as faults
from tests.servers.redis_faults import CLIENT_KEY_PASSWORD, RedisServer, TlsFiles

pytestmark = pytest.mark.timeout(60)


def _diagnose(url: str, *, write: bool = False, budget: float = 5.0) -> RedisDiagnosis:
    async def main() -> Any:
        return await diagnose(
            RedisTarget.from_url(url), deadline=time.monotonic() + budget, write=write
        )

    result = asyncio.run(main())
    assert isinstance(result, RedisDiagnosis)
    return result


def _check(diagnosis: RedisDiagnosis, measurement: str) -> Any:
    found = [c for c in diagnosis.checks if c.measurement == measurement]
    assert len(found) == 1, [c.measurement for c in diagnosis.checks]
    return found[0]


# --------------------------------------------------------------------------------------------
# TLS files, on real files (no server needed: nothing connects)


def _options(tls: TlsFiles, **given: str) -> dict[str, Any]:
    """ssl_* options naming TlsFiles attributes (``ca``), or literal paths."""
    return {
        "ssl": True,
        **{k: str(getattr(tls, v)) if hasattr(tls, v) else v for k, v in given.items()},
    }


TLS_CASES = {
    # case: (options, the words the detail must hold)
    "right-ca": ({"ssl_ca_certs": "ca"}, None),
    "right-chain": (
        {"ssl_ca_certs": "ca", "ssl_certfile": "client_cert", "ssl_keyfile": "client_key"},
        None,
    ),
    "right-encrypted": (
        {
            "ssl_certfile": "client_cert",
            "ssl_keyfile": "client_key_encrypted",
            "ssl_password": CLIENT_KEY_PASSWORD,
        },
        None,
    ),
    "ca-missing": (
        {"ssl_ca_certs": "/nonexistent-dir/ca.pem"},
        "does not exist (nor does its directory",
    ),
    "ca-directory": ({"ssl_ca_certs": "/"}, "is a directory, not a file; expected"),
    "ca-device": ({"ssl_ca_certs": "/dev/null"}, "is not a regular file"),
    "ca-is-a-key": ({"ssl_ca_certs": "key"}, "holds no PEM certificate"),
    "ca-path-file": ({"ssl_ca_path": "ca"}, "is not a directory"),
    "ca-path-missing": ({"ssl_ca_path": "/nonexistent-dir"}, "does not exist"),
    "cert-is-a-key": ({"ssl_certfile": "client_key", "ssl_keyfile": "client_key"}, "ssl_certfile="),
    "key-is-a-cert": (
        {"ssl_certfile": "client_cert", "ssl_keyfile": "ca"},
        "holds no PEM private key",
    ),
    "key-mismatch": ({"ssl_certfile": "client_cert", "ssl_keyfile": "key"}, "is not the key of"),
    "key-alone": ({"ssl_keyfile": "client_key"}, "is set without ssl_certfile"),
    "encrypted-no-password": (
        {"ssl_certfile": "client_cert", "ssl_keyfile": "client_key_encrypted"},
        "is an encrypted key, and ssl_password is not set",
    ),
    "encrypted-wrong-password": (
        {
            "ssl_certfile": "client_cert",
            "ssl_keyfile": "client_key_encrypted",
            "ssl_password": "Wr0ng-Passphrase",
        },
        "cannot be decrypted with the ssl_password given",
    ),
}


@pytest.mark.parametrize("case", list(TLS_CASES))
def test_tls_file_checks(tls_files: TlsFiles, case: str) -> None:
    """Each fault is named with its option and path and what is accepted; usable files pass;
    no passphrase is ever part of the text."""
    given, words = TLS_CASES[case]
    failure = tls_file_failure(_options(tls_files, **given))
    if words is None:
        assert failure is None, failure
        return
    assert failure is not None and failure.reason == "tls_config"
    assert words in failure.detail, failure.detail
    assert "expected a readable" in failure.detail
    for secret in (CLIENT_KEY_PASSWORD, "Wr0ng-Passphrase"):
        assert secret not in failure.detail


# --------------------------------------------------------------------------------------------
# The unix socket path


def test_socket_path_checks(tmp_path: Path) -> None:
    """Missing (and its directory missing), a regular file, a directory: each named; a real
    listening socket: nothing to say (Redis's turn)."""
    missing = socket_failure(str(tmp_path / "absent.sock"))
    assert missing is not None and missing.reason == "no_socket"
    assert missing.detail.endswith("does not exist")
    deeper = socket_failure(str(tmp_path / "gone" / "redis.sock"))
    assert deeper is not None and "(nor does its directory" in deeper.detail
    regular = tmp_path / "redis.log"
    regular.write_text("x")
    found = socket_failure(str(regular))
    assert found is not None and (found.reason, "regular file" in found.detail) == (
        "not_socket",
        True,
    )
    found = socket_failure(str(tmp_path))
    assert found is not None and found.reason == "not_socket" and "directory" in found.detail
    listening = tmp_path / "ok.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(listening))
        server.listen(1)
        assert socket_failure(str(listening)) is None


_CONNECT_ONLY = """
import asyncio, json, sys
from redis.asyncio import ConnectionPool
from cpa_ops.core.redis.preflight import connect_failure
from cpa_ops.core.target import RedisTarget

async def main():
    target = RedisTarget.from_url(sys.argv[1])
    conn = ConnectionPool.from_url(target.url, socket_connect_timeout=5).make_connection()
    try:
        await conn.connect()
        return {"reason": None}
    except Exception as exc:
        failure = connect_failure(target, exc)
        return {"error": str(exc), **({"reason": failure.reason, "detail": failure.detail}
                                      if failure else {})}
    finally:
        await conn.disconnect()

print(json.dumps(asyncio.run(main())))
"""


def test_connect_time_permission_error_is_its_own_reason(open_directory: Path) -> None:
    """The fallback behind the path check: redis-py's connect (no pre-check) to a socket closed
    to this user (unixsocketperm 700, run unprivileged) fails with a real EACCES, which
    connect_failure names socket_permission (classify_failure alone said protocol)."""
    with faults.socket_redis(open_directory, "700") as redis:
        done = faults.run_unprivileged(
            [sys.executable, "-c", _CONNECT_ONLY, redis.url], env=clean_env()
        )
    if done is None:
        pytest.skip(faults.CANNOT_SWITCH_USER)
    result = json.loads(done.stdout or "{}")
    assert result.get("reason") == "socket_permission", done.stdout + done.stderr
    assert "srwx------" in result["detail"]


# --------------------------------------------------------------------------------------------
# Replication


@pytest.mark.parametrize(
    "fixture",
    [
        "redis_never_synced_replica",
        "redis_replica_waiting_for_sync",
        "redis_replica_of_frozen_master",
        "redis_replica_in_full_sync",
    ],
)
def test_replica_without_a_completed_sync_fails(
    request: pytest.FixtureRequest, fixture: str
) -> None:
    """Each way of not having synced: the verdict fails ``syncing`` on redis:replication while
    PING passes (it answers, with the wrong dataset)."""
    server: RedisServer = request.getfixturevalue(fixture)
    diagnosis = _diagnose(server.url())
    assert (diagnosis.status, diagnosis.reason) == (Status.FAIL, "syncing"), diagnosis
    assert not diagnosis.healthy
    replication = _check(diagnosis, "replication")
    assert (replication.status, replication.reason) == (Status.FAIL, "syncing")
    in_progress = fixture == "redis_replica_in_full_sync"
    assert replication.details["masterSyncInProgress"] is in_progress, replication.details
    assert replication.details["keys"] == 0 and replication.details["masterLinkStatus"] == "down"
    assert _check(diagnosis, "ping").status is Status.PASS
    assert diagnosis.facts is not None and diagnosis.facts.keys == 0


def test_replica_that_lost_its_master_warns_stale(redis_lost_master_replica: RedisServer) -> None:
    """Synced, then the master went: stale (a warning), the data it had still served."""
    diagnosis = _diagnose(redis_lost_master_replica.url())
    assert (diagnosis.status, diagnosis.reason) == (Status.WARN, None), diagnosis
    assert [code for code, _ in diagnosis.warnings] == ["stale"]
    assert diagnosis.facts is not None and diagnosis.facts.keys == 1


def test_writable_replica_warns_under_write(redis_writable_replica: RedisServer) -> None:
    diagnosis = _diagnose(redis_writable_replica.url(), write=True)
    assert diagnosis.status is Status.WARN and diagnosis.write_ms is not None, diagnosis
    assert [code for code, _ in diagnosis.warnings] == ["writable_replica"]
    assert _diagnose(redis_writable_replica.url()).status is Status.PASS


# --------------------------------------------------------------------------------------------
# Persistence and memory


def test_failed_save_warns(redis_failed_save: RedisServer) -> None:
    diagnosis = _diagnose(redis_failed_save.url(), write=True)
    assert diagnosis.status is Status.WARN and diagnosis.write_ms is not None, diagnosis
    assert [code for code, _ in diagnosis.warnings] == ["persistence"]
    assert _check(diagnosis, "persistence").status is Status.WARN


def test_evicting_server_passes_and_reports_evictions(redis_evicting: RedisServer) -> None:
    diagnosis = _diagnose(redis_evicting.url())
    facts = diagnosis.facts
    assert diagnosis.status is Status.PASS, diagnosis
    assert facts is not None and facts.memory_share is not None and facts.memory_share >= 0.9
    memory = _check(diagnosis, "memory")
    assert memory.details["evictedKeys"] == facts.evicted_keys and facts.evicted_keys > 0


def test_keyspace_counts_sum_over_databases(redis_server: RedisServer) -> None:
    """INFO keyspace of two databases: keys and keys with a TTL summed."""
    with redis_server.client() as conn:
        conn.check("SET", "a", "1")
        conn.check("SELECT", 3)
        conn.check("SET", "b", "1", "EX", 100)
        conn.check("SET", "c", "1")
        info = conn.check("INFO")
    facts = ServerFacts.from_reply(info)
    assert facts is not None and (facts.keys, facts.expires) == (3, 1)


# --------------------------------------------------------------------------------------------
# The rules on INFO texts the harness cannot produce here (other Redis versions, swapdb)

_REPLICA = "role:slave\r\nmaster_host:10.0.0.5\r\nmaster_port:6379\r\nuptime_in_seconds:300\r\n"
SYNC_RULES = {
    # case: (INFO fields after the replica's, the syncing detail expected or None)
    "redis-7-never-linked": (
        "master_link_status:down\r\nmaster_link_down_since_seconds:-1\r\n",
        "link to the master at 10.0.0.5:6379 is down and has not been up",
    ),
    "redis-5-never-linked": (  # counted from the epoch: longer than the process has run
        "master_link_status:down\r\nmaster_link_down_since_seconds:1764600000\r\n",
        "has not been up since this replica started",
    ),
    "full-sync-known-size": (
        "master_link_status:down\r\nmaster_sync_in_progress:1\r\n"
        "master_sync_total_bytes:2097152\r\nmaster_sync_read_bytes:1048576\r\n",
        "full sync from 10.0.0.5:6379 in progress: 1.0 MiB of 2.0 MiB received",
    ),
    "async-loading": (
        "master_link_status:down\r\nasync_loading:1\r\nmaster_link_down_since_seconds:3\r\n",
        "(repl-diskless-load swapdb): the old dataset is served",
    ),
    "lost-link-after-sync": (
        "master_link_status:down\r\nmaster_link_down_since_seconds:12\r\n",
        None,
    ),
    "linked": ("master_link_status:up\r\nmaster_last_io_seconds_ago:1\r\n", None),
}


@pytest.mark.parametrize("case", list(SYNC_RULES))
def test_syncing_rule(case: str) -> None:
    from cpa_ops.core.redis.sync_state import syncing_failure

    fields, expected = SYNC_RULES[case]
    found = syncing_failure(ServerFacts.from_reply(_REPLICA + fields))
    if expected is None:
        assert found is None, found
    else:
        assert found is not None and found[0] == "syncing" and expected in found[1], found


def test_a_master_is_never_syncing() -> None:
    from cpa_ops.core.redis.sync_state import syncing_failure

    info = "role:master\r\nmaster_sync_in_progress:0\r\nmaster_link_down_since_seconds:-1\r\n"
    assert syncing_failure(ServerFacts.from_reply(info)) is None


# --------------------------------------------------------------------------------------------
# A server that asks for a client certificate: watched, and the words alone


async def _plain_redis_py_failure(url: str) -> BaseException:
    """redis-py's own connect (no CertificateRequest watch), and the exception it raised."""
    from redis.asyncio import ConnectionPool

    conn = ConnectionPool.from_url(url, socket_connect_timeout=5).make_connection()
    try:
        await conn.connect()
    except Exception as exc:
        return exc
    finally:
        await conn.disconnect()
    raise AssertionError(f"{url} connected")


@pytest.mark.parametrize("fixture", ["redis_tls_client_auth", "redis_tls12_client_auth"])
@pytest.mark.parametrize("cert", ["none", "untrusted"])
def test_client_certificate_words_alone(
    request: pytest.FixtureRequest, tls_files: TlsFiles, fixture: str, cert: str
) -> None:
    """Without the handshake watch (requested unknown) the failure's own words still name
    client_cert, on TLS 1.3 (alert or reset) and 1.2 (handshake failure / unknown CA alert)."""
    from cpa_ops.core.redis.classify import causes
    from cpa_ops.core.redis.tls_files import client_cert_failure

    server: RedisServer = request.getfixturevalue(fixture)
    query = f"?ssl_ca_certs={tls_files.ca}"
    if cert == "untrusted":
        query += f"&ssl_certfile={tls_files.other_client_cert}"
        query += f"&ssl_keyfile={tls_files.other_client_key}"
    target = RedisTarget.from_url(server.url() + query)
    exc = asyncio.run(_plain_redis_py_failure(target.url))
    failure = client_cert_failure(exc, causes(exc), target.connection_options(), None)
    assert failure is not None and failure.reason == "client_cert", (exc, failure)


def test_optional_client_certificate_is_not_blamed(
    redis_server_dir: Path, tls_files: TlsFiles
) -> None:
    """tls-auth-clients optional asks for a certificate without demanding one: a wrong
    password there is auth, and no certificate with the right one passes."""
    from tests.servers.redis_faults import redis_server

    with redis_server(
        "--tls-auth-clients",
        "optional",
        tls=tls_files,
        password="right-PW-1",
        workdir=redis_server_dir,
    ) as server:
        base = f"rediss://:{{}}@127.0.0.1:{server.port}/0?ssl_ca_certs={tls_files.ca}"
        wrong = _diagnose(base.format("wrong-PW-2"))
        assert (wrong.status, wrong.reason) == (Status.FAIL, "auth"), wrong
        right = _diagnose(base.format("right-PW-1"))
        assert right.status is Status.PASS, right
