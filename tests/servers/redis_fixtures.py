"""Pytest fixtures: one real redis-server (or loopback listener) per fault, stopped by PID.

Registered in tests/conftest.py with ``pytest_plugins``. Each server's log stays in the
test's temporary directory (kept by pytest for the last runs) for a post-mortem.

Names: ``redis_<fault>`` is a function-scoped :class:`RedisServer` in that fault
(``redis_server`` a healthy one); a ``_per_module`` suffix marks a process shared by a module's
tests; a ``_pythonpath`` suffix a directory to put on a subprocess's PYTHONPATH.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import redis_faults as faults
from tests.servers import redis_verdict_faults as verdict_faults
from tests.servers.redis_faults import BlackHole, RedisServer, SilentListener, TlsFiles
from tests.servers.redis_topology import ClusterSetup, Node, SentinelSetup, running

#: the password of every password-protected test server; asserted absent from all output
REDIS_PASSWORD = "s3cr3t-PW-xyz"


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """CA-1, a server certificate for 127.0.0.1 it signed, and an unrelated CA-2."""
    return faults.make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def redis_server_dir(tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str) -> Path:
    """Where one server keeps its log and data; asking for it first stops the whole run,
    saying how to install redis-server, when it is missing."""
    return tmp_path_factory.mktemp("redis")


@pytest.fixture
def redis_server(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.redis_server(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_unix_socket_path(redis_server_dir: Path) -> Iterator[Path]:
    """A healthy redis-server also listening on a unix socket; its path."""
    path = redis_server_dir / "redis.sock"
    with faults.redis_server("--unixsocket", str(path), workdir=redis_server_dir):
        yield path


@pytest.fixture
def redis_with_password(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.redis_server(password=REDIS_PASSWORD, workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_acl_limited(redis_server_dir: Path) -> Iterator[RedisServer]:
    """User cpa-ops-limited, password REDIS_PASSWORD, may run no command."""
    with faults.acl_limited_redis(REDIS_PASSWORD, workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_tls(redis_server_dir: Path, tls_files: TlsFiles) -> Iterator[RedisServer]:
    with faults.redis_server(tls=tls_files, workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_frozen(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.frozen_redis(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_max_clients(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.max_clients_redis(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_crowded(redis_server_dir: Path) -> Iterator[RedisServer]:
    """maxclients 10 with 8 slots held: one more client makes 90%."""
    with faults.crowded_redis(maxclients=10, held=8, workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_loading(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.loading_redis(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_misconf(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.misconf_redis(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_oom(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.oom_redis(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_readonly_replica(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.readonly_replica(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_masterdown_replica(redis_server_dir: Path) -> Iterator[RedisServer]:
    """A replica of a dead master with ``replica-serve-stale-data no``."""
    with faults.stale_replica(serve_stale=False, workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_stale_replica(redis_server_dir: Path) -> Iterator[RedisServer]:
    """A replica of a dead master that still serves (stale) data."""
    with faults.stale_replica(serve_stale=True, workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_write_paused(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.write_paused_redis(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def refused_port() -> Iterator[int]:
    with faults.refused_port() as port:
        yield port


@pytest.fixture
def syn_black_hole() -> Iterator[BlackHole]:
    with faults.syn_black_hole() as hole:
        yield hole


@pytest.fixture
def silent_listener() -> Iterator[SilentListener]:
    with faults.silent_listener() as listener:
        yield listener


@pytest.fixture
def http_listener() -> Iterator[int]:
    """A port where an HTTP server, not Redis, answers."""
    with faults.http_listener() as port:
        yield port


@pytest.fixture
def failing_resolver_pythonpath(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PYTHONPATH entry making ``*.invalid-test`` lookups fail in a Python subprocess."""
    return faults.patched_resolver_dir(tmp_path_factory.mktemp("resolver-fail"), "fail")


@pytest.fixture
def hanging_resolver_pythonpath(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PYTHONPATH entry making ``*.invalid-test`` lookups hang in a Python subprocess."""
    return faults.patched_resolver_dir(tmp_path_factory.mktemp("resolver-hang"), "hang")


# --- Redis Cluster and Sentinel set-ups (module-scoped: each takes ~2.5 s to build) ---------


@pytest.fixture(scope="module")
def redis_cluster_per_module(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str
) -> Iterator[ClusterSetup]:
    """Three masters (and a replica of the first) on loopback, stopped by PID afterwards."""
    setup = ClusterSetup(tmp_path_factory.mktemp("cluster"))
    with running(setup):
        yield setup


@pytest.fixture
def redis_cluster(redis_cluster_per_module: ClusterSetup) -> Iterator[ClusterSetup]:
    """The module's cluster, healthy before the test and brought back to health after it."""
    redis_cluster_per_module.restore()
    yield redis_cluster_per_module
    redis_cluster_per_module.restore()


@pytest.fixture(scope="module")
def redis_cluster_without_hello_per_module(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str
) -> Iterator[ClusterSetup]:
    """The cluster of redis_cluster_per_module with HELLO renamed away on every node, as Redis 5
    is to redis-py 8 (RESP2 only)."""
    setup = ClusterSetup(
        tmp_path_factory.mktemp("cluster-no-hello"), ("--rename-command", "HELLO", "")
    )
    with running(setup):
        yield setup


@pytest.fixture(scope="module")
def redis_cluster_tls_per_module(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str, tls_files: TlsFiles
) -> Iterator[ClusterSetup]:
    """The cluster of redis_cluster_per_module over TLS (server certificates of ``tls_files``'
    CA-1, no client certificate asked), the cluster bus and replication too."""
    setup = ClusterSetup(tmp_path_factory.mktemp("cluster-tls"), tls=tls_files)
    with running(setup):
        yield setup


@pytest.fixture(scope="module")
def redis_cluster_acl_per_module(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str
) -> Iterator[ClusterSetup]:
    """The cluster of redis_cluster_per_module whose every node has the ACL users of
    :data:`CLUSTER_ACL_USERS` (password verdict_faults.ACL_PASSWORD). The harness and the
    cluster bus use the default user."""
    setup = ClusterSetup(tmp_path_factory.mktemp("cluster-acl"), _user_args(CLUSTER_ACL_USERS))
    with running(setup):
        yield setup


def _user_args(users: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """redis-server arguments creating ``users`` (name: ACL rules), password ACL_PASSWORD."""
    args: list[str] = []
    for user, rules in users.items():
        args += ["--user", user, "on", f">{verdict_faults.ACL_PASSWORD}", *rules]
    return tuple(args)


#: least-privilege users of a cluster: all but CLIENT SETNAME (redis_verdict_faults.ACL_USERS),
#: all but CLUSTER INFO, CLUSTER NODES, CLUSTER SLOTS or COMMAND
CLUSTER_ACL_USERS = {
    "no-setname": verdict_faults.ACL_USERS["no-setname"],
    "no-cluster-info": ("+@all", "-cluster|info", "~*"),
    "no-cluster-nodes": ("+@all", "-cluster|nodes", "~*"),
    "no-cluster-slots": ("+@all", "-cluster|slots", "~*"),
    "no-command": ("+@all", "-command", "~*"),
}


@pytest.fixture(scope="module")
def redis_sentinels_per_module(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str
) -> Iterator[SentinelSetup]:
    """One master, one replica and three sentinels on loopback."""
    setup = SentinelSetup(tmp_path_factory.mktemp("sentinel"))
    with running(setup):
        yield setup


@pytest.fixture(scope="module")
def redis_sentinels_tls_per_module(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str, tls_files: TlsFiles
) -> Iterator[SentinelSetup]:
    """The set-up of redis_sentinels_per_module over TLS (server certificates of ``tls_files``'
    CA-1, no client certificate asked): replication and the sentinels' links too, and the
    sentinels name the TLS ports to their clients."""
    setup = SentinelSetup(tmp_path_factory.mktemp("sentinel-tls"), tls=tls_files)
    with running(setup):
        yield setup


#: the passwords of redis_sentinels_with_passwords_per_module: the sentinels' requirepass and
#: the data nodes' (told apart, so a test knows which went where)
SENTINEL_PASSWORD = "sentinel-PW-4b7e"
DATA_PASSWORD = "data-PW-9c21"


@pytest.fixture(scope="module", params=["own-passwords", "one-password"])
def redis_sentinels_with_passwords_per_module(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    redis_server_bin: str,
) -> Iterator[SentinelSetup]:
    """One master, one replica and three sentinels, all password-protected: the sentinels with
    SENTINEL_PASSWORD (requirepass, sentinel-pass) and the data nodes with DATA_PASSWORD
    (``own-passwords``), or every one with SENTINEL_PASSWORD as Bitnami's chart does
    (``one-password``); ``setup.data_password`` says which."""
    same = request.param == "one-password"
    setup = SentinelSetup(
        tmp_path_factory.mktemp("sentinel-auth"),
        sentinel_password=SENTINEL_PASSWORD,
        data_password=SENTINEL_PASSWORD if same else DATA_PASSWORD,
    )
    with running(setup):
        yield setup


@pytest.fixture
def redis_cluster_with_unsynced_replica(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str
) -> Iterator[ClusterSetup]:
    """A cluster of its own: three masters, a synced replica of the first, and a replica of
    the second whose sync that master holds back (``unsynced[0]``)."""
    setup = ClusterSetup(tmp_path_factory.mktemp("cluster-unsynced"))
    with running(setup):
        setup.add_replica_waiting_for_sync()
        yield setup


#: least-privilege users of a sentinel set-up's data nodes (the sentinels log in as default)
SENTINEL_ACL_USERS = {
    "no-role": ("+@all", "-role", "~*"),
    "no-role-no-info": ("+@all", "-role", "-info", "~*"),
}


class _AclSentinelSetup(SentinelSetup):
    """SentinelSetup whose data nodes also have the users of SENTINEL_ACL_USERS."""

    def _data_node(self, port: int, *extra: str) -> Node:
        return super()._data_node(port, *extra, *_user_args(SENTINEL_ACL_USERS))


@pytest.fixture(scope="module")
def redis_sentinels_acl_per_module(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str
) -> Iterator[SentinelSetup]:
    """One master, one replica (each with the users of SENTINEL_ACL_USERS), three sentinels."""
    setup = _AclSentinelSetup(tmp_path_factory.mktemp("sentinel-acl"))
    with running(setup):
        yield setup


@pytest.fixture
def redis_sentinels_with_unsynced_replica(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str
) -> Iterator[SentinelSetup]:
    """A set-up of its own (the sentinels never forget a replica): one master, a synced
    replica, a replica whose sync the master holds back (``unsynced[0]``), three sentinels."""
    setup = SentinelSetup(tmp_path_factory.mktemp("sentinel-unsynced"))
    with running(setup):
        setup.add_replica_waiting_for_sync()
        yield setup


# --- a redis-server per module, and one on demand ---------------------------------------------


@pytest.fixture(scope="module")
def redis_server_per_module(
    redis_server_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisServer]:
    """One healthy redis-server shared by a module's tests: leave it as you found it."""
    with faults.redis_server(workdir=tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_server_factory(
    redis_server_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., RedisServer]]:
    """Start redis-servers with extra arguments (``"--maxclients", "1"``, ``password=``); all
    are stopped (by PID) after the test."""
    with contextlib.ExitStack() as stack:

        def start(*args: str, password: str | None = None) -> RedisServer:
            return stack.enter_context(
                faults.redis_server(
                    *args, password=password, workdir=tmp_path_factory.mktemp("redis")
                )
            )

        yield start


@pytest.fixture
def redis_hello_renamed(redis_server_dir: Path) -> Iterator[RedisServer]:
    """HELLO renamed away (``--rename-command HELLO ""``), password REDIS_PASSWORD: redis-py's
    handshake error echoes the password sent."""
    with faults.hello_renamed_redis(password=REDIS_PASSWORD, workdir=redis_server_dir) as server:
        yield server


@pytest.fixture(scope="module")
def redis_hello_renamed_per_module(
    redis_server_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisServer]:
    """One HELLO-renamed server shared by a module's tests (any password gets the echo)."""
    with faults.hello_renamed_redis(workdir=tmp_path_factory.mktemp("redis")) as server:
        yield server


# --- issue 14: ACL users, BUSY, NOREPLICAS, a listener that closes -------------------------


@pytest.fixture(scope="module")
def redis_acl_users_per_module(
    redis_server_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisServer]:
    """One server with the least-privilege users of redis_verdict_faults.ACL_USERS."""
    with verdict_faults.acl_users_redis(workdir=tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_busy(redis_server_dir: Path) -> Iterator[RedisServer]:
    """A Lua script past busy-reply-threshold (50 ms): -BUSY; killed before the stop."""
    with verdict_faults.busy_redis(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_noreplicas(redis_server_dir: Path) -> Iterator[RedisServer]:
    with verdict_faults.noreplicas_redis(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def closing_listener() -> Iterator[verdict_faults.ClosingListener]:
    with verdict_faults.closing_listener() as listener:
        yield listener
