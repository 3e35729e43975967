"""Issue 14's faults are really there, seen with a raw RESP socket (tests/servers/resp.py) and
the standard library: if one of these fails, the cpa-ops tests on the same fixture prove
nothing."""

from __future__ import annotations

import json
import ssl
import sys
from pathlib import Path

import pytest

from tests.conftest import clean_env
from tests.servers import local_and_sync_faults as faults
from tests.servers.redis_faults import RedisServer, TlsFiles
from tests.servers.resp import ErrorReply, RawRedis

pytestmark = pytest.mark.timeout(60)


def _replication(server: RedisServer) -> dict[str, str]:
    return server.info("replication")


def _ping(port: int, ca: Path, cert: tuple[Path, Path] | None) -> object:
    """PING over TLS presenting ``cert`` (TLS 1.3: a refusal comes at the first read)."""
    with RawRedis.connect(port, tls_ca=ca, tls_cert=cert) as conn:
        return conn.call("PING")


class TestClientCertificateDemand:
    @pytest.mark.parametrize("fixture", ["redis_tls_client_auth", "redis_tls12_client_auth"])
    def test_refused_without_a_certificate_served_with_one(
        self, request: pytest.FixtureRequest, tls_files: TlsFiles, fixture: str
    ) -> None:
        server: RedisServer = request.getfixturevalue(fixture)
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            _ping(server.port, tls_files.ca, None)
        assert tls_files.client_cert and tls_files.client_key
        pair = (tls_files.client_cert, tls_files.client_key)
        assert _ping(server.port, tls_files.ca, pair) == "PONG"

    def test_untrusted_certificate_is_refused(
        self, redis_tls_client_auth: RedisServer, tls_files: TlsFiles
    ) -> None:
        assert tls_files.other_client_cert and tls_files.other_client_key
        pair = (tls_files.other_client_cert, tls_files.other_client_key)
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            _ping(redis_tls_client_auth.port, tls_files.ca, pair)

    def test_encrypted_key_opens_with_its_passphrase(self, tls_files: TlsFiles) -> None:
        from tests.servers.redis_faults import CLIENT_KEY_PASSWORD

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        assert tls_files.client_cert and tls_files.client_key_encrypted
        context.load_cert_chain(
            tls_files.client_cert, tls_files.client_key_encrypted, password=CLIENT_KEY_PASSWORD
        )
        with pytest.raises(ssl.SSLError):
            context.load_cert_chain(
                tls_files.client_cert, tls_files.client_key_encrypted, password="wrong"
            )


class TestReplicas:
    @pytest.mark.parametrize(
        "fixture",
        [
            "redis_never_synced_replica",
            "redis_replica_waiting_for_sync",
            "redis_replica_of_frozen_master",
        ],
    )
    def test_link_never_up_and_no_data(self, request: pytest.FixtureRequest, fixture: str) -> None:
        replica: RedisServer = request.getfixturevalue(fixture)
        fields = _replication(replica)
        assert (fields["role"], fields["master_link_status"]) == ("slave", "down")
        assert fields["master_link_down_since_seconds"] == "-1"
        with replica.client() as conn:
            assert conn.call("DBSIZE") == 0
            assert conn.call("PING") == "PONG"  # it answers: only INFO tells

    def test_full_sync_in_progress(self, redis_replica_in_full_sync: RedisServer) -> None:
        fields = _replication(redis_replica_in_full_sync)
        assert fields["master_sync_in_progress"] == "1"
        assert fields["master_sync_total_bytes"] == "-1"  # diskless

    def test_lost_master_is_stale_not_unsynced(
        self, redis_lost_master_replica: RedisServer
    ) -> None:
        fields = _replication(redis_lost_master_replica)
        assert fields["master_link_status"] == "down"
        assert int(fields["master_link_down_since_seconds"]) >= 0
        with redis_lost_master_replica.client() as conn:
            assert conn.call("GET", "cpa-ops-test:synced") == "1"

    def test_writable_replica_takes_writes(self, redis_writable_replica: RedisServer) -> None:
        assert _replication(redis_writable_replica)["slave_read_only"] == "0"
        with redis_writable_replica.client() as conn:
            assert conn.call("SET", "cpa-ops-test:local", "1") == "OK"


class TestPersistenceAndMemory:
    def test_failed_save_still_takes_writes(self, redis_failed_save: RedisServer) -> None:
        assert redis_failed_save.info("persistence")["rdb_last_bgsave_status"] == "err"
        with redis_failed_save.client() as conn:
            assert conn.call("SET", "cpa-ops-test:k", "1") == "OK"
            assert conn.call("PING") == "PONG"

    def test_evicting_server_at_maxmemory_takes_writes(self, redis_evicting: RedisServer) -> None:
        memory = redis_evicting.info("memory")
        assert int(memory["used_memory"]) >= 0.9 * int(memory["maxmemory"])
        assert int(redis_evicting.info("stats")["evicted_keys"]) > 0
        with redis_evicting.client() as conn:
            reply = conn.call("SET", "cpa-ops-test:more", "x" * 1024)
            assert reply == "OK" and not isinstance(reply, ErrorReply)


_CONNECT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print(json.dumps({"errno": 0}))
except OSError as exc:
    print(json.dumps({"errno": exc.errno}))
"""


class TestSocketPermissions:
    @pytest.mark.parametrize(
        ("perm", "subdir_mode", "errno"),
        [("700", None, 13), ("770", None, 13), ("777", 0o700, 13), ("777", None, 0)],
        ids=["socket-700", "socket-770", "closed-directory", "open"],
    )
    def test_unprivileged_connect(
        self, open_directory: Path, perm: str, subdir_mode: int | None, errno: int
    ) -> None:
        """The user the probe runs as gets EACCES (13) from connect(), or connects."""
        with faults.socket_redis(open_directory, perm, subdir_mode=subdir_mode) as redis:
            done = faults.run_unprivileged(
                [sys.executable, "-c", _CONNECT, str(redis.path)], env=clean_env()
            )
        if done is None:
            pytest.skip(faults.CANNOT_SWITCH_USER)
        assert json.loads(done.stdout) == {"errno": errno}, done.stderr
