"""Issue 14's faults (classes 4 and 5): a server that demands a client certificate, unix sockets
closed to a user, replicas that have not synced (or have, and lost their master), a writable
replica, a failed save Redis shrugs off, an evicting Redis at maxmemory; and a way to run a
command as an unprivileged user when the suite runs as root (root ignores file permissions).

Every server is a real redis-server from :func:`tests.servers.redis_faults.redis_server`,
stopped by PID when its context exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers.net import LOOPBACK, wait_until
from tests.servers.redis_faults import RedisServer, TlsFiles, failed_bgsave_redis, redis_server

#: the user an unprivileged command runs as when the suite runs as root
NOBODY = 65534


# --------------------------------------------------------------------------------------------
# Running as somebody file permissions apply to


#: why an unprivileged run is impossible here, for the skip message
CANNOT_SWITCH_USER = (
    "needs root with setpriv to run the probe as another user (nobody) than the owner of the "
    "files the suite makes: the owner's own permission bits would apply instead"
)


def unprivileged(argv: Sequence[str]) -> list[str] | None:
    """``argv`` run as another user than the one who owns the suite's files and servers, so
    file permissions apply to it: through ``setpriv`` as uid/gid 65534 (nobody) with no
    supplementary groups. None unless the suite runs as root with setpriv (root itself ignores
    file permissions; a plain user cannot become another)."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        return None
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]


def run_unprivileged(
    argv: Sequence[str], env: dict[str, str], timeout: float = 20
) -> subprocess.CompletedProcess[str] | None:
    """Run ``argv`` unprivileged (see :func:`unprivileged`) in ``/`` (a directory every user may
    enter); None when that is impossible here."""
    command = unprivileged(argv)
    if command is None:
        return None
    return subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
        stdin=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def open_directory() -> Iterator[Path]:
    """A fresh directory every user may search (0755), removed afterwards: pytest's own temporary
    directories are closed to other users, so an unprivileged probe could not reach a socket in
    them for that reason alone."""
    directory = Path(tempfile.mkdtemp(prefix="cpa-ops-sock-"))
    try:
        directory.chmod(0o755)
        yield directory
    finally:
        for path in directory.rglob("*"):
            with contextlib.suppress(OSError):
                path.chmod(0o700 if path.is_dir() else 0o600)
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class SocketRedis:
    """A redis-server listening on a unix socket (``unixsocketperm``) besides its port."""

    server: RedisServer
    path: Path

    @property
    def url(self) -> str:
        return f"unix://{self.path}"


@contextlib.contextmanager
def socket_redis(
    directory: Path, perm: str = "777", *, subdir_mode: int | None = None, **kwargs: Any
) -> Iterator[SocketRedis]:
    """A server whose socket is ``directory``/redis.sock with mode ``perm`` (owned by the user
    running the suite); with ``subdir_mode`` the socket sits in a subdirectory of that mode."""
    where = directory
    if subdir_mode is not None:
        where = directory / "closed"
        where.mkdir()
    path = where / "redis.sock"
    with redis_server("--unixsocket", str(path), "--unixsocketperm", perm, **kwargs) as server:
        if subdir_mode is not None:
            where.chmod(subdir_mode)
        try:
            yield SocketRedis(server, path)
        finally:
            if subdir_mode is not None:
                where.chmod(0o700)


# --------------------------------------------------------------------------------------------
# TLS: a server that demands a client certificate


@contextlib.contextmanager
def client_auth_redis(
    tls: TlsFiles, protocol: str = "TLSv1.3", **kwargs: Any
) -> Iterator[RedisServer]:
    """``tls-auth-clients yes`` over ``protocol`` (TLSv1.3: the refusal comes after the
    handshake; TLSv1.2: it ends the handshake). The harness's own connections present
    ``tls.client_cert``."""
    with redis_server(
        "--tls-auth-clients", "yes", "--tls-protocols", protocol, tls=tls, **kwargs
    ) as server:
        yield server


# --------------------------------------------------------------------------------------------
# Replicas


def _replication(server: RedisServer) -> dict[str, str]:
    return server.info("replication")


@contextlib.contextmanager
def replica_waiting_for_sync(**kwargs: Any) -> Iterator[RedisServer]:
    """A replica whose master puts its sync off for 60 s (diskless, repl-diskless-sync-delay
    60): linked to nothing yet, no sync completed, an empty dataset."""
    with (
        redis_server("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "60") as primary,
        redis_server("--replicaof", LOOPBACK, str(primary.port), **kwargs) as replica,
    ):
        wait_until(
            lambda: "wait_bgsave" in str(_replication(primary).get("slave0", "")),
            10,
            "the master holds the replica's sync back",
        )
        yield replica


@contextlib.contextmanager
def replica_of_frozen_master(**kwargs: Any) -> Iterator[RedisServer]:
    """A replica started against a SIGSTOPped master: the TCP connect succeeds, the handshake is
    never answered (for repl-timeout, 60 s): no sync."""
    with redis_server() as primary:
        primary.freeze()
        try:
            with redis_server("--replicaof", LOOPBACK, str(primary.port), **kwargs) as replica:
                yield replica
        finally:
            primary.thaw()


@contextlib.contextmanager
def replica_in_full_sync(
    keys: int = 300, delay_us: int = 100_000, **kwargs: Any
) -> Iterator[RedisServer]:
    """A replica in the middle of a full sync: its master streams an RDB of ``keys`` keys at
    ``delay_us`` per key (rdb-key-save-delay; ~30 s with the defaults)."""
    with redis_server(
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
        "--rdb-key-save-delay",
        str(delay_us),
        "--enable-debug-command",
        "local",
    ) as primary:
        with primary.client() as conn:
            conn.check("DEBUG", "POPULATE", keys, "cpa-ops-sync", 64)
        with redis_server("--replicaof", LOOPBACK, str(primary.port), **kwargs) as replica:
            wait_until(
                lambda: _replication(replica).get("master_sync_in_progress") == "1",
                10,
                "the replica is receiving a full sync",
            )
            yield replica


@contextlib.contextmanager
def replica_loading_a_sync(
    keys: int = 10_000, delay_us: int = 1000, **kwargs: Any
) -> Iterator[RedisServer]:
    """A replica loading the RDB of a full sync straight from the socket (repl-diskless-load
    swapdb, key-load-delay: ~10 s): it answers -LOADING. REPLICAOF is sent once it is ready
    (a replica that loads during start-up is never ready)."""
    with redis_server(
        "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
        "--enable-debug-command", "local",
    ) as primary:  # fmt: skip
        with primary.client() as conn:
            conn.check("DEBUG", "POPULATE", keys, "cpa-ops-sync", 16)
        with redis_server(
            "--repl-diskless-load", "swapdb", "--key-load-delay", str(delay_us),
            "--loading-process-events-interval-bytes", "1024", **kwargs,
        ) as replica:  # fmt: skip
            with replica.client() as conn:
                conn.check("REPLICAOF", LOOPBACK, primary.port)
            wait_until(
                lambda: replica.info("persistence").get("loading") == "1",
                10,
                "the replica is loading its master's dataset",
            )
            yield replica


@contextlib.contextmanager
def replica_that_lost_its_master(**kwargs: Any) -> Iterator[RedisServer]:
    """A replica that synced, then saw its master stop: truly stale (link down since a known
    time), serving the data it had."""
    with (
        redis_server("--repl-diskless-sync-delay", "0") as primary,
        redis_server("--replicaof", LOOPBACK, str(primary.port), **kwargs) as replica,
    ):
        with primary.client() as conn:
            conn.check("SET", "cpa-ops-test:synced", "1")
        wait_until(
            lambda: _replication(replica).get("master_link_status") == "up",
            10,
            "the replica's link to its master is up",
        )
        primary.stop()
        wait_until(
            lambda: int(_replication(replica).get("master_link_down_since_seconds", "-1")) >= 0,
            10,
            "the replica saw its master go",
        )
        yield replica


@contextlib.contextmanager
def writable_replica(**kwargs: Any) -> Iterator[RedisServer]:
    """A synced replica with ``replica-read-only no``: writes to it succeed (and are lost)."""
    with (
        redis_server("--repl-diskless-sync-delay", "0") as primary,
        redis_server(
            "--replicaof", LOOPBACK, str(primary.port), "--replica-read-only", "no", **kwargs
        ) as replica,
    ):
        wait_until(
            lambda: _replication(replica).get("master_link_status") == "up",
            10,
            "the replica's link to its master is up",
        )
        yield replica


# --------------------------------------------------------------------------------------------
# Persistence and memory


@contextlib.contextmanager
def failed_save_redis(**kwargs: Any) -> Iterator[RedisServer]:
    """The last BGSAVE failed (its --dir was removed) with stop-writes-on-bgsave-error no:
    Redis keeps accepting writes it cannot save."""
    with failed_bgsave_redis(stop_writes=False, **kwargs) as server:
        yield server


@contextlib.contextmanager
def evicting_redis(
    policy: str = "allkeys-lru", ttl: bool = False, **kwargs: Any
) -> Iterator[RedisServer]:
    """At maxmemory under an evicting ``policy``: 1 MiB over the baseline, then 4 MiB of 1 KiB
    keys written (with ``ttl``, each with an hour's TTL), so keys were evicted."""
    with redis_server("--maxmemory-policy", policy, **kwargs) as server:
        with server.client() as conn:
            used = int(conn.info("memory")["used_memory"])
            conn.check("CONFIG", "SET", "maxmemory", used + (1 << 20))
            value = b"x" * 1024
            for batch in range(8):
                for i in range(512):
                    key = f"cpa-ops-test:fill:{batch}:{i}"
                    conn.send(*(("SET", key, value, "EX", 3600) if ttl else ("SET", key, value)))
                for _ in range(512):
                    conn.read()
            wait_until(
                lambda: int(conn.info("stats").get("evicted_keys", "0")) > 0,
                5,
                "keys were evicted",
            )
        yield server
