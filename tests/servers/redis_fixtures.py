"""Pytest fixtures: one real redis-server (or loopback listener) per fault, stopped by PID.

Registered in tests/conftest.py with ``pytest_plugins``. Each server's log stays in the
test's temporary directory (kept by pytest for the last runs) for a post-mortem.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.servers import redis_faults as faults
from tests.servers.redis_faults import BlackHole, RedisServer, SilentListener, TlsFiles
from tests.servers.redis_topology import ClusterSetup, SentinelSetup, running

#: the password of every password-protected test server; asserted absent from all output
REDIS_PASSWORD = "s3cr3t-PW-xyz"


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """CA-1, a server certificate for 127.0.0.1 it signed, and an unrelated CA-2."""
    return faults.make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server_dir(tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str) -> Path:
    """Where one server keeps its log and data; asking for it first stops the whole run,
    saying how to install redis-server, when it is missing."""
    return tmp_path_factory.mktemp("redis")


@pytest.fixture
def redis_healthy(server_dir: Path) -> Iterator[RedisServer]:
    with faults.redis_server(workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_unix_socket(server_dir: Path) -> Iterator[Path]:
    """A healthy redis-server also listening on a unix socket; its path."""
    path = server_dir / "redis.sock"
    with faults.redis_server("--unixsocket", str(path), workdir=server_dir):
        yield path


@pytest.fixture
def redis_with_password(server_dir: Path) -> Iterator[RedisServer]:
    with faults.redis_server(password=REDIS_PASSWORD, workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_acl_limited(server_dir: Path) -> Iterator[RedisServer]:
    """User cpa-ops-limited, password REDIS_PASSWORD, may run no command."""
    with faults.acl_limited_redis(REDIS_PASSWORD, workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_tls(server_dir: Path, tls_files: TlsFiles) -> Iterator[RedisServer]:
    with faults.redis_server(tls=tls_files, workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_frozen(server_dir: Path) -> Iterator[RedisServer]:
    with faults.frozen_redis(workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_max_clients(server_dir: Path) -> Iterator[RedisServer]:
    with faults.max_clients_redis(workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_crowded(server_dir: Path) -> Iterator[RedisServer]:
    """maxclients 10 with 8 slots held: one more client makes 90%."""
    with faults.crowded_redis(maxclients=10, held=8, workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_loading(server_dir: Path) -> Iterator[RedisServer]:
    with faults.loading_redis(workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_misconf(server_dir: Path) -> Iterator[RedisServer]:
    with faults.misconf_redis(workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_oom(server_dir: Path) -> Iterator[RedisServer]:
    with faults.oom_redis(workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_readonly_replica(server_dir: Path) -> Iterator[RedisServer]:
    with faults.readonly_replica(workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_masterdown_replica(server_dir: Path) -> Iterator[RedisServer]:
    """A replica of a dead master with ``replica-serve-stale-data no``."""
    with faults.stale_replica(serve_stale=False, workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_stale_replica(server_dir: Path) -> Iterator[RedisServer]:
    """A replica of a dead master that still serves (stale) data."""
    with faults.stale_replica(serve_stale=True, workdir=server_dir) as server:
        yield server


@pytest.fixture
def redis_write_paused(server_dir: Path) -> Iterator[RedisServer]:
    with faults.write_paused_redis(workdir=server_dir) as server:
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
def resolver_failing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PYTHONPATH entry making ``*.invalid-test`` lookups fail in a Python subprocess."""
    return faults.patched_resolver_dir(tmp_path_factory.mktemp("resolver-fail"), "fail")


@pytest.fixture
def resolver_hanging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PYTHONPATH entry making ``*.invalid-test`` lookups hang in a Python subprocess."""
    return faults.patched_resolver_dir(tmp_path_factory.mktemp("resolver-hang"), "hang")


# --- Redis Cluster and Sentinel set-ups (module-scoped: each takes ~2.5 s to build) ---------


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str
) -> Iterator[ClusterSetup]:
    """Three masters (and a replica of the first) on loopback, stopped by PID afterwards."""
    setup = ClusterSetup(tmp_path_factory.mktemp("cluster"))
    with running(setup):
        yield setup


@pytest.fixture
def healthy_cluster(cluster: ClusterSetup) -> Iterator[ClusterSetup]:
    """The cluster, healthy before the test and brought back to health after it."""
    cluster.restore()
    yield cluster
    cluster.restore()


@pytest.fixture(scope="module")
def sentinels(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str
) -> Iterator[SentinelSetup]:
    """One master, one replica and three sentinels on loopback."""
    setup = SentinelSetup(tmp_path_factory.mktemp("sentinel"))
    with running(setup):
        yield setup


# --- redis-py side client and LOADING control for the ping and watch tests -------------------


class RedisProcess:
    """A redis-server from the fault harness (tests/servers/redis_faults.py), with the redis-py
    side client and the LOADING control the ping and watch tests use."""

    def __init__(self, server: RedisServer) -> None:
        self.server = server

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def password(self) -> str | None:
        return self.server.password

    @property
    def url(self) -> str:
        return self.server.url()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, socket_timeout=5)

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections, nothing answers."""
        self.server.freeze()

    def thaw(self) -> None:
        self.server.thaw()

    def start_loading(self, keys: int = 3000, delay_us: int = 1000) -> None:
        """Put the server into LOADING for about ``keys * delay_us`` microseconds (DEBUG RELOAD
        with a per-key load delay); needs ``--enable-debug-command local``."""
        admin = self.client()
        admin.config_set("key-load-delay", delay_us)
        admin.config_set("loading-process-events-interval-bytes", 1024)
        admin.execute_command("DEBUG", "POPULATE", keys, "key", 100)
        # DEBUG RELOAD answers only when loading is over: send it and do not wait
        raw = socket.create_connection(("127.0.0.1", self.port))
        if self.password:
            raw.sendall(f"AUTH {self.password}\r\n".encode())
            raw.recv(100)
        raw.sendall(b"DEBUG RELOAD\r\n")
        self._reload_socket = raw
        # redis-py's client retries LOADING replies: look at the raw reply instead
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(100).startswith(b"-LOADING"):
                    return
            time.sleep(0.01)
        raise AssertionError("the server never reported LOADING")


@pytest.fixture
def redis_factory(
    redis_server_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., RedisProcess]]:
    """Start redis-servers with extra arguments; all are stopped (by PID) after the test."""
    with contextlib.ExitStack() as stack:

        def start(*args: str, password: str | None = None) -> RedisProcess:
            server = stack.enter_context(
                faults.redis_server(
                    *args, password=password, workdir=tmp_path_factory.mktemp("redis")
                )
            )
            return RedisProcess(server)

        yield start


@pytest.fixture(scope="module")
def healthy_redis(
    redis_server_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisProcess]:
    """One healthy redis-server shared by a module's tests."""
    with faults.redis_server(workdir=tmp_path_factory.mktemp("redis")) as server:
        yield RedisProcess(server)
