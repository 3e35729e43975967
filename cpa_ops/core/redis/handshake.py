"""redis-py's connection handshake, made to work with every Redis a service meets.

Two changes to :meth:`AbstractConnection.on_connect_check_health`, the rest is redis-py's own:

* a server without HELLO (Redis 5 and older, or HELLO renamed away) is spoken to over RESP2
  on the same socket: redis-py's handshake is run again with ``protocol=2`` (AUTH instead of
  HELLO ... AUTH). Not when REDIS_URL asks for ``protocol=3`` itself: that cannot work.
* ``CLIENT SETNAME`` is sent after the handshake and a refusal (an ACL without
  ``+client|setname``) costs only the connection's name, never the connection.
"""

from __future__ import annotations

import functools
import re
from typing import Any, TypeVar

_Pool = TypeVar("_Pool")
_Cluster = TypeVar("_Cluster")

_HELLO_UNKNOWN = re.compile(r"unknown command\W+hello\b", re.IGNORECASE)


def hello_unsupported(exc: BaseException) -> bool:
    """Whether ``exc`` is the error a server without HELLO answers it with."""
    return bool(_HELLO_UNKNOWN.search(str(exc)))


class HandshakeMixin:
    """Put before a redis-py async connection class (see :func:`handshake_class`)."""

    #: False when the URL chose the protocol itself (no fallback then)
    allow_resp2_fallback: bool = True
    #: the error HELLO was answered with, when the connection fell back to RESP2
    hello_refused: Exception | None = None
    #: the error CLIENT SETNAME was answered with (the connection then has no name)
    name_refused: Exception | None = None

    async def on_connect_check_health(self, check_health: bool = True) -> None:
        from redis._parsers import _AsyncRESP2Parser
        from redis.exceptions import ResponseError

        conn: Any = self
        name, conn.client_name = conn.client_name, None
        try:
            try:
                await super().on_connect_check_health(check_health)  # type: ignore[misc]
            except ResponseError as exc:
                if conn.protocol in (2, "2") or not self.allow_resp2_fallback:
                    raise
                if not hello_unsupported(exc):
                    raise
                self.hello_refused = exc
                conn.protocol = 2
                conn.set_parser(_AsyncRESP2Parser)
                await super().on_connect_check_health(check_health)  # type: ignore[misc]
        finally:
            conn.client_name = name
        if name:
            await conn.send_command("CLIENT", "SETNAME", name, check_health=False)
            try:
                await conn.read_response()
            except ResponseError as exc:
                self.name_refused = exc


@functools.cache
def handshake_class(base: type, fallback: bool = True) -> type:
    """``base`` (Connection, SSLConnection, UnixDomainSocketConnection, or a subclass) with the
    handshake above (``base`` itself when it has it); ``fallback`` False: no RESP2 fallback."""
    if issubclass(base, HandshakeMixin):
        return base
    attributes = {"__module__": __name__, "allow_resp2_fallback": fallback}
    return type(base.__name__, (HandshakeMixin, base), attributes)


def use_handshake(pool: _Pool) -> _Pool:
    """``pool`` (a redis-py async ConnectionPool), its connections made with this handshake;
    RESP2 fallback only when its URL did not name a protocol."""
    fallback = "protocol" not in pool.connection_kwargs  # type: ignore[attr-defined]
    pool.connection_class = handshake_class(pool.connection_class, fallback)  # type: ignore[attr-defined]
    return pool


def use_cluster_handshake(cluster: _Cluster) -> _Cluster:
    """``cluster`` (a redis-py async RedisCluster that has opened no connection yet), every
    connection of it made with this handshake, TLS too; RESP2 fallback only when its URL did
    not name a protocol.

    RedisCluster puts Connection (SSLConnection) into its ``connection_kwargs``, the dict its
    NodesManager builds each discovered node from, and into the startup nodes it made: both
    are replaced (connections are opened lazily, so none was made with the old class)."""
    kwargs = cluster.connection_kwargs  # type: ignore[attr-defined]
    connection_class = handshake_class(kwargs["connection_class"], kwargs.get("protocol") is None)
    kwargs["connection_class"] = connection_class
    for node in cluster.nodes_manager.startup_nodes.values():  # type: ignore[attr-defined]
        node.connection_class = connection_class
    return cluster
