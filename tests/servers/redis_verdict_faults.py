"""Faults of issue 14's verdicts: least-privilege ACL users, a script past
busy-reply-threshold (BUSY), min-replicas-to-write without replicas (NOREPLICAS), and a
listener that accepts and closes (a proxy with no backend).

Real redis-server processes (tests/servers/redis_faults.py starts and stops them by PID);
the listener is a thread on a free loopback port.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.servers.net import LOOPBACK, wait_until
from tests.servers.redis_faults import RedisServer, redis_server
from tests.servers.resp import RawRedis

#: every ACL user's password (asserted absent from all output)
ACL_PASSWORD = "acl-PW-4f9e1"
#: user -> its ACL rules (after ``on >password``)
ACL_USERS: dict[str, tuple[str, ...]] = {
    # may PING and nothing else: no INFO, no CLIENT SETNAME, no write
    "ping-only": ("+ping", "~*"),
    "no-info": ("+@all", "-info", "~*"),
    "no-client": ("+@all", "-client", "~*"),
    "no-setname": ("+@all", "-client|setname", "~*"),
    # its application's keys only: the default health key is out of reach
    "app-keys": ("+@all", "~app:*"),
    # what the hint of write_denied names, for the default prefix
    "health-writer": ("+ping", "+info", "+client|setname", "+set", "+del", "~cpa-ops:health:*"),
    "no-select": ("+@all", "-select", "~*"),
    "no-ping": ("+@all", "-ping", "~*"),
}


def acl_url(server: RedisServer, user: str, db: int = 0, password: str = ACL_PASSWORD) -> str:
    return f"redis://{user}:{password}@{LOOPBACK}:{server.port}/{db}"


@contextlib.contextmanager
def acl_users_redis(**kwargs: Any) -> Iterator[RedisServer]:
    """A server with the users of :data:`ACL_USERS` (password :data:`ACL_PASSWORD`)."""
    with redis_server(**kwargs) as server:
        with server.client() as conn:
            for user, rules in ACL_USERS.items():
                conn.check("ACL", "SETUSER", user, "reset", "on", f">{ACL_PASSWORD}", *rules)
        yield server


@contextlib.contextmanager
def busy_redis(threshold_ms: int = 50, **kwargs: Any) -> Iterator[RedisServer]:
    """A Lua script spinning past ``busy-reply-threshold``: every other command answers -BUSY.

    The script is killed (SCRIPT KILL: it has written nothing) before the server stops, so the
    stop is a clean SIGTERM."""
    with redis_server("--busy-reply-threshold", str(threshold_ms), **kwargs) as server:
        spinner = server.client(timeout=60)
        try:
            spinner.send("EVAL", "while true do end", 0)
            wait_until(lambda: _answers_busy(server), 10, "PING answers -BUSY")
            yield server
        finally:
            _kill_script(server)
            spinner.close()


def _answers_busy(server: RedisServer) -> bool:
    with server.client(timeout=2) as conn:
        return str(conn.call("PING")).startswith("BUSY")


def _kill_script(server: RedisServer) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with server.client(timeout=2) as conn:
                reply = str(conn.call("SCRIPT", "KILL"))
            if reply == "OK" or reply.startswith("NOTBUSY"):
                return
        except OSError:
            pass
        time.sleep(0.05)


@contextlib.contextmanager
def noreplicas_redis(**kwargs: Any) -> Iterator[RedisServer]:
    """``min-replicas-to-write 1`` and no replica: writes answer -NOREPLICAS, reads work."""
    with redis_server("--min-replicas-to-write", "1", **kwargs) as server:
        yield server


@dataclass
class ClosingListener:
    """Accepts every connection and closes it, after ``delay`` seconds, unasked."""

    port: int
    delay: float
    accepted: int = 0


#: what a Redis in protected mode sends a client from another host, then it hangs up
PROTECTED_MODE = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
    b"password is set for the default user. In this mode connections are only accepted from "
    b"the loopback interface.\r\n"
)


@contextlib.contextmanager
def closing_listener(delay: float = 0.0, greeting: bytes = b"") -> Iterator[ClosingListener]:
    """A proxy with no backend: accept, (wait ``delay``,) close; nothing sent but
    ``greeting`` (:data:`PROTECTED_MODE`: Redis refusing a remote client, which a loopback
    test cannot be)."""
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(64)
    listener.settimeout(0.05)
    closing = ClosingListener(int(listener.getsockname()[1]), delay)
    stop = threading.Event()

    def close_forever() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            closing.accepted += 1
            if greeting:
                with contextlib.suppress(OSError):
                    conn.sendall(greeting)
            if delay:
                threading.Timer(delay, conn.close).start()
            else:
                conn.close()

    thread = threading.Thread(target=close_forever, name="closing-listener", daemon=True)
    thread.start()
    try:
        yield closing
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def keys(server: RedisServer, pattern: str) -> list[Any]:
    """The keys matching ``pattern`` (as the default user sees them)."""
    with RawRedis.connect(server.port, password=server.password) as conn:
        return list(conn.call("KEYS", pattern))
