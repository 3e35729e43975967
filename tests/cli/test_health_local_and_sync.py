"""Issue 14, classes 4 and 5, through the installed ``cpa-ops health``: what the FAULTS table
(tests/cli/test_health_faults.py) cannot say: a unix socket closed to an unprivileged user,
TLS files checked without any connection, the client certificates that pass, and the exit
codes and streams of the replication and persistence verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_health_faults import ROOMY_TIMEOUT, _check, _health, _health_json, _shown
from tests.conftest import BIN, Ran, clean_env
from tests.servers import local_and_sync_faults as faults
from tests.servers.redis_faults import CLIENT_KEY_PASSWORD, RedisServer, TlsFiles

pytestmark = pytest.mark.timeout(60)


def _unprivileged_health(url: str, *args: str) -> Any:
    """``cpa-ops health --format json`` as an unprivileged user (nobody, when run as root)."""
    argv = [str(BIN), "health", "--redis-url", url, "--timeout", str(ROOMY_TIMEOUT)]
    done = faults.run_unprivileged([*argv, "--format", "json", *args], env=clean_env())
    if done is None:
        pytest.skip(faults.CANNOT_SWITCH_USER)
    ran = Ran(done.returncode, done.stdout, done.stderr, 0.0)
    try:
        return ran, json.loads(ran.stdout)
    except ValueError:
        pytest.fail(f"stdout is not one JSON object\n{_shown(ran)}")


# --------------------------------------------------------------------------------------------
# Class 4: a unix socket this user may not use


class TestSocketPermission:
    def test_socket_mode_closed_to_the_user(self, open_directory: Path) -> None:
        """unixsocketperm 700 (owner: the suite's user), probed by another user: its own
        reason, naming the socket's mode and owner and the probe's uid, the hint naming
        unixsocketperm; exit 1 (was: protocol or refused)."""
        with faults.socket_redis(open_directory, "700") as redis:
            ran, document = _unprivileged_health(redis.url)
        ping = _check(document, "redis:ping")
        assert (ping["reason"], ran.returncode) == ("socket_permission", 1), _shown(ran)
        assert "srwx------ owned by" in ping["output"], ping["output"]
        assert "write permission" in ping["output"] and "uid" in ping["output"]
        assert "unixsocketperm" in ping["hint"]

    @pytest.mark.parametrize(("mode", "shown"), [(0o700, "drwx------"), (0o000, "d---------")])
    def test_directory_closed_to_the_user(
        self, open_directory: Path, mode: int, shown: str
    ) -> None:
        """A socket open to all (777) in a directory the user may not enter (0700, 0000): the
        verdict names that directory and its mode."""
        with faults.socket_redis(open_directory, "777", subdir_mode=mode) as redis:
            ran, document = _unprivileged_health(redis.url)
        ping = _check(document, "redis:ping")
        assert (ping["reason"], ran.returncode) == ("socket_permission", 1), _shown(ran)
        assert f"its directory {redis.path.parent} ({shown}" in ping["output"], ping["output"]

    def test_open_socket_passes_for_the_same_user(self, open_directory: Path) -> None:
        """The control: unixsocketperm 777 in the same kind of directory passes for that user,
        so the two failures above are the permissions', not the unprivileged run's."""
        with faults.socket_redis(open_directory, "777") as redis:
            ran, document = _unprivileged_health(redis.url)
        assert (document["status"], ran.returncode) == ("pass", 0), _shown(ran)

    def test_group_permission_is_not_enough_for_others(self, open_directory: Path) -> None:
        """unixsocketperm 770: the owner's group may connect, others (nobody) may not."""
        with faults.socket_redis(open_directory, "770") as redis:
            ran, document = _unprivileged_health(redis.url)
        ping = _check(document, "redis:ping")
        assert ping["reason"] == "socket_permission", _shown(ran)
        assert "srwxrwx--- owned by" in ping["output"], ping["output"]


# --------------------------------------------------------------------------------------------
# Class 4: TLS files are checked here, before any connection


class TestTlsFiles:
    @pytest.mark.parametrize(
        "query",
        [
            "ssl_ca_certs={missing}",
            "ssl_ca_certs={directory}",
            "ssl_ca_certs={ca}&ssl_certfile={client_cert}&ssl_keyfile={other_client_key}",
            "ssl_ca_certs={ca}&ssl_certfile={client_cert}&ssl_keyfile={client_key_encrypted}",
        ],
        ids=["missing-ca", "ca-directory", "key-mismatch", "encrypted-key-no-password"],
    )
    def test_bad_tls_file_makes_no_connection(
        self, redis_tls_client_auth: RedisServer, tls_files: TlsFiles, query: str
    ) -> None:
        """A tls_config verdict is reached without the server seeing a connection: its
        total_connections_received does not move (the harness's own INFO is counted)."""
        url = (
            redis_tls_client_auth.url()
            + "?"
            + query.format(
                missing=tls_files.ca.with_name("absent.pem"),
                directory=tls_files.ca.parent,
                **{k: getattr(tls_files, k) for k in vars(tls_files)},
            )
        )

        def received() -> int:
            return int(redis_tls_client_auth.info("stats")["total_connections_received"])

        before = received()
        ran, document = _health_json(url, timeout=ROOMY_TIMEOUT)
        assert _check(document, "redis:ping")["reason"] == "tls_config", _shown(ran)
        assert received() == before + 1, "only the harness's own INFO connection came"

    def test_key_unreadable_by_the_probe_user(
        self, redis_tls_client_auth: RedisServer, tls_files: TlsFiles, open_directory: Path
    ) -> None:
        """A key file of mode 0600 owned by another user (a secret mounted for root only):
        tls_config naming the key and the probe's uid; the CA beside it (0644) was fine."""
        import shutil

        assert tls_files.client_cert and tls_files.client_key
        copies = {}
        for name, source, mode in (
            ("ca.pem", tls_files.ca, 0o644),
            ("client.pem", tls_files.client_cert, 0o644),
            ("client.key", tls_files.client_key, 0o600),
        ):
            copies[name] = open_directory / name
            shutil.copy(source, copies[name])
            copies[name].chmod(mode)
        query = f"?ssl_ca_certs={copies['ca.pem']}&ssl_certfile={copies['client.pem']}"
        query += f"&ssl_keyfile={copies['client.key']}"
        ran, document = _unprivileged_health(redis_tls_client_auth.url() + query)
        ping = _check(document, "redis:ping")
        assert ping["reason"] == "tls_config", _shown(ran)
        assert f"ssl_keyfile={copies['client.key']} is not readable by uid" in ping["output"]

    def test_client_certificate_passes(
        self, redis_tls_client_auth: RedisServer, tls_files: TlsFiles
    ) -> None:
        """tls-auth-clients yes, and the client certificate the server's CA signed: pass."""
        query = f"?ssl_ca_certs={tls_files.ca}&ssl_certfile={tls_files.client_cert}"
        query += f"&ssl_keyfile={tls_files.client_key}"
        ran, document = _health_json(redis_tls_client_auth.url() + query, timeout=ROOMY_TIMEOUT)
        assert (document["status"], ran.returncode) == ("pass", 0), _shown(ran)

    @pytest.mark.parametrize("output", ["text", "json", "nagios"])
    def test_encrypted_key_with_its_passphrase_passes_and_is_never_shown(
        self, redis_tls12_client_auth: RedisServer, tls_files: TlsFiles, output: str
    ) -> None:
        """An encrypted key with the right ssl_password (TLS 1.2 server): pass; the passphrase
        appears in no output format, though the URL is shown."""
        query = f"?ssl_ca_certs={tls_files.ca}&ssl_certfile={tls_files.client_cert}"
        query += f"&ssl_keyfile={tls_files.client_key_encrypted}&ssl_password={CLIENT_KEY_PASSWORD}"
        url = redis_tls12_client_auth.url() + query
        ran = _health(url, "--format", output, timeout=ROOMY_TIMEOUT)
        assert ran.returncode == 0, _shown(ran)
        assert CLIENT_KEY_PASSWORD not in ran.stdout + ran.stderr
        if output != "nagios":
            assert str(redis_tls12_client_auth.port) in ran.stdout, "the URL is shown, masked"

    def test_wrong_passphrase_is_not_echoed_in_text(
        self, redis_tls_client_auth: RedisServer, tls_files: TlsFiles
    ) -> None:
        """A wrong ssl_password: tls_config in brackets, the hint on stderr, exit 1, and the
        wrong passphrase nowhere."""
        wrong = "n0t-the-PASS-789"
        query = f"?ssl_ca_certs={tls_files.ca}&ssl_certfile={tls_files.client_cert}"
        query += f"&ssl_keyfile={tls_files.client_key_encrypted}&ssl_password={wrong}"
        ran = _health(redis_tls_client_auth.url() + query, timeout=ROOMY_TIMEOUT)
        assert ran.returncode == 1 and "[tls_config]" in ran.stdout, _shown(ran)
        assert "ssl_password given" in ran.stdout and "ssl_keyfile" in ran.stderr
        assert wrong not in ran.stdout + ran.stderr and CLIENT_KEY_PASSWORD not in ran.stdout

    def test_demanded_certificate_hint_names_the_options(
        self, redis_tls_client_auth: RedisServer, tls_files: TlsFiles
    ) -> None:
        """No client certificate to a server that demands one: the hint names ssl_certfile and
        ssl_keyfile, not "use rediss://" or "pass the right CA"; nagios CRITICAL (exit 2)."""
        url = redis_tls_client_auth.url() + f"?ssl_ca_certs={tls_files.ca}"
        ran = _health(url, timeout=ROOMY_TIMEOUT)
        assert ran.returncode == 1 and "[client_cert]" in ran.stdout, _shown(ran)
        assert "ssl_certfile" in ran.stderr and "ssl_keyfile" in ran.stderr, _shown(ran)
        assert "right CA" not in ran.stdout + ran.stderr
        ran = _health(url, "--format", "nagios", timeout=ROOMY_TIMEOUT)
        assert ran.returncode == 2 and "client_cert" in ran.stdout, _shown(ran)


# --------------------------------------------------------------------------------------------
# Class 5: replication and persistence


class TestReplicationVerdicts:
    def test_syncing_replica_is_critical_in_every_format(
        self, redis_replica_waiting_for_sync: RedisServer
    ) -> None:
        """A replica waiting for its first sync: exit 1 with [syncing] and a hint about the
        sync in text, CRITICAL (exit 2) in nagios."""
        url = redis_replica_waiting_for_sync.url()
        ran = _health(url, timeout=ROOMY_TIMEOUT)
        assert ran.returncode == 1 and "[syncing]" in ran.stdout, _shown(ran)
        assert "sync" in ran.stderr and "master" in ran.stderr, _shown(ran)
        ran = _health(url, "--format", "nagios", timeout=ROOMY_TIMEOUT)
        assert ran.returncode == 2 and ran.stdout.startswith("CPA-OPS CRITICAL"), _shown(ran)
        assert "syncing" in ran.stdout

    def test_full_sync_fails_even_with_write(self, redis_replica_in_full_sync: RedisServer) -> None:
        """Mid full sync, --write: the verdict is syncing (the dataset), the write readonly."""
        ran, document = _health_json(redis_replica_in_full_sync.url(), "--write", timeout=5)
        replication = _check(document, "redis:replication")
        assert (replication["reason"], ran.returncode) == ("syncing", 1), _shown(ran)
        assert "diskless: size unknown" in replication["output"]
        assert _check(document, "redis:write")["reason"] == "readonly"
        assert _check(document, "redis:ping")["status"] == "pass"

    def test_synced_replica_passes(self, redis_readonly_replica: RedisServer) -> None:
        """A replica whose link is up passes (no sync rule fires on a healthy replica)."""
        ran, document = _health_json(redis_readonly_replica.url(), timeout=ROOMY_TIMEOUT)
        assert (document["status"], ran.returncode) == ("pass", 0), _shown(ran)
        assert _check(document, "redis:replication")["output"] == "role slave, master link up"

    def test_writable_replica_warns_only_under_write(
        self, redis_writable_replica: RedisServer
    ) -> None:
        """replica-read-only no: --write warns on redis:write (exit 0; nagios WARNING, exit 1);
        without --write the replica passes."""
        url = redis_writable_replica.url()
        ran, document = _health_json(url, "--write", timeout=ROOMY_TIMEOUT)
        write = _check(document, "redis:write")
        verdict = (document["status"], write["status"], write.get("reason"), ran.returncode)
        assert verdict == ("warn", "warn", "writable_replica", 0), _shown(ran)
        assert "replica-read-only yes" in write["hint"]
        ran, document = _health_json(url, timeout=ROOMY_TIMEOUT)
        assert (document["status"], ran.returncode) == ("pass", 0), _shown(ran)
        ran = _health(url, "--write", "--format", "nagios", timeout=ROOMY_TIMEOUT)
        assert ran.returncode == 1 and ran.stdout.startswith("CPA-OPS WARNING"), _shown(ran)


class TestPersistenceAndMemory:
    @pytest.mark.parametrize("write", [False, True])
    def test_failed_save_with_stop_writes_off_warns(
        self, redis_failed_save: RedisServer, write: bool
    ) -> None:
        """rdb_last_bgsave_status:err with stop-writes-on-bgsave-error no: redis:persistence
        warns (exit 0), and a --write still passes (Redis accepts it)."""
        args = ("--write",) if write else ()
        ran, document = _health_json(redis_failed_save.url(), *args, timeout=ROOMY_TIMEOUT)
        persistence = _check(document, "redis:persistence")
        verdict = (document["status"], persistence["status"], persistence["reason"])
        assert verdict == ("warn", "warn", "persistence") and ran.returncode == 0, _shown(ran)
        assert "rdb_last_bgsave_status:err" in persistence["output"]
        if write:
            assert _check(document, "redis:write")["status"] == "pass"

    def test_failed_save_with_stop_writes_on_stays_misconf(
        self, redis_misconf: RedisServer
    ) -> None:
        """With stop-writes-on-bgsave-error yes Redis answers MISCONF (even PING): that stays
        the misconf failure, and no persistence warning is added to it."""
        ran, document = _health_json(redis_misconf.url(), timeout=ROOMY_TIMEOUT)
        assert _check(document, "redis:ping")["reason"] == "misconf", _shown(ran)
        assert "redis:persistence" not in document["checks"]

    def test_evicting_policy_at_maxmemory_passes_with_evictions(
        self, redis_evicting: RedisServer
    ) -> None:
        """allkeys-lru at maxmemory: redis:memory passes and reports the evictions (the
        server's own count)."""
        ran, document = _health_json(redis_evicting.url(), timeout=ROOMY_TIMEOUT)
        memory = _check(document, "redis:memory")
        assert (document["status"], memory["status"], ran.returncode) == ("pass", "pass", 0), (
            _shown(ran)
        )
        assert memory["details"]["maxMemoryPolicy"] == "allkeys-lru"
        evicted = int(redis_evicting.info("stats")["evicted_keys"])
        assert 0 < memory["details"]["evictedKeys"] <= evicted
        assert memory["observedValue"] >= 0.9 * memory["details"]["maxMemory"]

    def test_volatile_policy_with_ttl_keys_passes(self, redis_server_dir: Path) -> None:
        """volatile-lru at maxmemory with keys that have a TTL (so it can evict): pass."""
        with faults.evicting_redis("volatile-lru", ttl=True, workdir=redis_server_dir) as server:
            ran, document = _health_json(server.url(), timeout=ROOMY_TIMEOUT)
        assert _check(document, "redis:memory")["status"] == "pass", _shown(ran)

    def test_volatile_policy_without_ttl_keys_warns(self, redis_server_factory: Any) -> None:
        """volatile-lru over maxmemory with no key that has a TTL evicts nothing (writes fail
        OOM): redis:memory warns, as for noeviction."""
        server = redis_server_factory("--maxmemory-policy", "volatile-lru")
        with server.client() as conn:
            conn.check("SET", "cpa-ops-test:ballast", b"x" * (4 << 20))
            conn.check("CONFIG", "SET", "maxmemory", 2 << 20)
        ran, document = _health_json(server.url(), timeout=ROOMY_TIMEOUT)
        memory = _check(document, "redis:memory")
        assert (memory["status"], memory["reason"]) == ("warn", "memory"), _shown(ran)
        assert "volatile-lru" in memory["output"]


# --------------------------------------------------------------------------------------------
# cpa-ops ping opens the same probe connection: the same reasons per sample


class TestPing:
    def test_ping_names_local_and_client_certificate_faults(
        self, redis_tls_client_auth: RedisServer, tls_files: TlsFiles, tmp_path: Path
    ) -> None:
        """Each sample of `cpa-ops ping` fails with the fault's own reason: a missing CA
        (tls_config), no client certificate (client_cert), no socket file (no_socket); with
        the client certificate every sample passes."""
        from tests.cli.test_ping import ping_json

        base = redis_tls_client_auth.url() + f"?ssl_ca_certs={tls_files.ca}"
        cases = {
            "tls_config": f"{redis_tls_client_auth.url()}?ssl_ca_certs={tmp_path / 'absent.pem'}",
            "client_cert": base,
            "no_socket": f"unix://{tmp_path / 'absent.sock'}",
        }
        for reason, url in cases.items():
            code, summary, _ = ping_json("-c", "2", "-i", "0", "-W", "2", "--redis-url", url)
            assert (code, summary["errors"]) == (1, {reason: 2}), (reason, summary)
        chain = f"&ssl_certfile={tls_files.client_cert}&ssl_keyfile={tls_files.client_key}"
        code, summary, _ = ping_json("-c", "2", "-i", "0", "-W", "2", "--redis-url", base + chain)
        assert (code, summary["ok"]) == (0, 2), summary
