"""The loopback address, free ports and polling: the one home of each for the test harness."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: every test server listens here, and every test client connects here; never a real host name
LOOPBACK = "127.0.0.1"
#: a Redis Cluster node also listens on its port + 10000 (the cluster bus)
CLUSTER_BUS_OFFSET = 10000


def free_port(*, with_bus: bool = False) -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago; with ``with_bus``, port +
    10000 (a cluster node's bus) was free too."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind((LOOPBACK, 0))
            port = int(probe.getsockname()[1])
        if not with_bus:
            return port
        if port + CLUSTER_BUS_OFFSET > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind((LOOPBACK, port + CLUSTER_BUS_OFFSET))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port pair (port and port + 10000)")


def wait_until(
    condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.02
) -> T:
    """Poll ``condition()`` until it returns something truthy (returned), or raise TimeoutError
    naming ``what``; an exception from ``condition`` ends the wait at once."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout} s: {what}")
        time.sleep(interval)
