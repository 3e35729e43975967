"""This side's own faults, named as such (issue 14): before connecting, the TLS files and the
unix socket path REDIS_URL names; after a failed connect, a client certificate the server
demanded, or a socket that refused this user."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpa_ops.core.redis.model import ProbeFailure

if TYPE_CHECKING:
    from cpa_ops.core.target import RedisTarget


def local_failure(target: RedisTarget) -> ProbeFailure | None:
    """The fault of the target's local files (``tls_config``, ``no_socket``, ``not_socket``,
    ``socket_permission``), found without connecting; None when there is none to find."""
    if target.is_unix:
        from cpa_ops.core.redis.unix_socket import socket_failure

        return socket_failure(target.address)
    if target.scheme == "rediss":
        from cpa_ops.core.redis.tls_files import tls_file_failure

        return tls_file_failure(target.connection_options())
    return None


def connect_failure(
    target: RedisTarget, exc: BaseException, conn: object = None
) -> ProbeFailure | None:
    """What a failed connect stands for when it is this side's doing: a client certificate the
    server demanded (``client_cert``), a socket closed to this user (``socket_permission``);
    None to leave it to :func:`cpa_ops.core.redis.classify.classify_failure`. ``conn``: the
    connection that failed (it may know whether the server asked for a certificate)."""
    from cpa_ops.core.redis.classify import causes

    chain = causes(exc)
    if target.is_unix:
        from cpa_ops.core.redis.unix_socket import is_permission_error, permission_failure

        return permission_failure(target.address) if is_permission_error(chain) else None
    if target.scheme == "rediss":
        from cpa_ops.core.redis.tls_files import certificate_requested, client_cert_failure

        options = target.connection_options()
        return client_cert_failure(exc, chain, options, certificate_requested(conn))
    return None
