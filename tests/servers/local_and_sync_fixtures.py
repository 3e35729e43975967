"""Pytest fixtures for issue 14's faults (tests/servers/local_and_sync_faults.py); registered in
tests/conftest.py with ``pytest_plugins``. Names as in tests/servers/redis_fixtures.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import local_and_sync_faults as faults
from tests.servers.redis_faults import RedisServer, TlsFiles, stale_replica


@pytest.fixture
def redis_tls_client_auth(redis_server_dir: Path, tls_files: TlsFiles) -> Iterator[RedisServer]:
    """tls-auth-clients yes over TLS 1.3."""
    with faults.client_auth_redis(tls_files, workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_tls12_client_auth(redis_server_dir: Path, tls_files: TlsFiles) -> Iterator[RedisServer]:
    """tls-auth-clients yes over TLS 1.2."""
    with faults.client_auth_redis(tls_files, "TLSv1.2", workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_never_synced_replica(redis_server_dir: Path) -> Iterator[RedisServer]:
    """A replica whose master's port refuses, serving (its empty) data: never synced."""
    with stale_replica(serve_stale=True, workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_replica_waiting_for_sync(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.replica_waiting_for_sync(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_replica_of_frozen_master(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.replica_of_frozen_master(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_replica_in_full_sync(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.replica_in_full_sync(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_replica_loading_a_sync(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.replica_loading_a_sync(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_lost_master_replica(redis_server_dir: Path) -> Iterator[RedisServer]:
    """Synced, then its master stopped: stale data, link down since a known time."""
    with faults.replica_that_lost_its_master(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_writable_replica(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.writable_replica(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_failed_save(redis_server_dir: Path) -> Iterator[RedisServer]:
    with faults.failed_save_redis(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def redis_evicting(redis_server_dir: Path) -> Iterator[RedisServer]:
    """allkeys-lru at maxmemory, keys evicted."""
    with faults.evicting_redis(workdir=redis_server_dir) as server:
        yield server


@pytest.fixture
def open_directory() -> Iterator[Path]:
    """A directory every user may search (0755), removed afterwards."""
    with faults.open_directory() as directory:
        yield directory
