"""The verdict on one Redis server: the node probe with INFO (and the write), as checks."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from cpa_ops.core.health import Check, Status
from cpa_ops.core.redis.acl import acl_user, info_check, info_warning, with_acl_hints
from cpa_ops.core.redis.checks import (
    fact_warnings,
    handshake_details,
    server_checks,
    slow_warning,
)
from cpa_ops.core.redis.mode import wrong_mode
from cpa_ops.core.redis.model import PROBE_CLIENT_NAME, NodeState, RedisDiagnosis
from cpa_ops.core.redis.node import INFO, health_key, probe_node
from cpa_ops.core.redis.sync_state import syncing_failure, writable_replica_warning
from cpa_ops.core.urls import HEALTH_KEY_PREFIX

if TYPE_CHECKING:
    from cpa_ops.core.target import RedisTarget


async def probe_standalone(
    target: RedisTarget,
    *,
    deadline: float,
    write: bool = False,
    warn_ms: float = 100.0,
    client_name: str = PROBE_CLIENT_NAME,
    write_prefix: str = HEALTH_KEY_PREFIX,
) -> RedisDiagnosis:
    """Diagnose one server by ``deadline`` (a time.monotonic() instant); never raises for a
    Redis fault. Steps: resolve (in a daemon thread), connect (TCP, TLS, AUTH/HELLO, CLIENT
    SETNAME), PING, INFO, and with ``write`` a SET PX + DEL of this process's health key
    (``write_prefix`` first). A Sentinel or a Cluster node fails: REDIS_MODE is wrong."""
    state = await probe_node(
        target,
        deadline=deadline,
        commands=(INFO,),
        write_key=(lambda _replies: health_key(prefix=write_prefix)) if write else None,
        client_name=client_name,
    )
    mode = wrong_mode(state)
    if mode is not None:
        state = replace(state, reachable=False, reason=mode.reason, detail=mode.detail)
    user = acl_user(target.connection_options())
    return diagnosis_of(
        state,
        target.masked,
        write=write,
        warn_ms=warn_ms,
        user=target.without_secrets(user),
        write_prefix=write_prefix,
    )


def diagnosis_of(
    state: NodeState,
    url: str,
    *,
    write: bool,
    warn_ms: float,
    user: str = "default",
    write_prefix: str = HEALTH_KEY_PREFIX,
) -> RedisDiagnosis:
    """One node's answers as a server's verdict (``url``: masked, for people; ``user``: the
    ACL user, for the rules the hints name)."""
    failure = state.write_failure
    syncing = syncing_failure(state.facts) if state.reachable else None
    if not state.reachable:
        status, reason, detail = Status.FAIL, state.reason, state.detail
    elif syncing is not None:  # it answers, but with an empty, partial or old dataset
        status, reason, detail = Status.FAIL, syncing[0], syncing[1]
    elif failure is not None:
        status, reason, detail = Status.FAIL, failure.reason, failure.detail
    else:
        status, reason, detail = Status.PASS, None, None
    # measured facts warn even when a write then failed: both belong in the verdict
    slow = slow_warning(state.rtt_ms, warn_ms)
    info = info_warning(state)
    warnings = ([slow] if slow else []) + ([info] if info else []) + fact_warnings(state.facts)
    writable = writable_replica_warning(state.facts) if state.write_ms is not None else None
    if writable is not None and failure is None:
        warnings.append(writable)
    if warnings and status is Status.PASS:
        status = Status.WARN
    checks = server_checks(state, url, write=write, warn_ms=warn_ms)
    checks = with_acl_hints(_with_handshake(checks, state), user, write_prefix)
    if info is not None:
        checks.insert(1, info_check(info, user))
    return RedisDiagnosis(
        status=status,
        url=url,
        reason=reason,
        detail=detail,
        connect_ms=state.connect_ms,
        rtt_ms=state.rtt_ms,
        write_ms=state.write_ms,
        write_checked=write,
        facts=state.facts,
        warnings=tuple(warnings),
        checks=tuple(checks),
    )


def _with_handshake(checks: list[Check], state: NodeState) -> list[Check]:
    """``redis:ping``'s details say what the handshake was refused (:func:`handshake_details`)."""
    extra = handshake_details(state)
    if not extra or not checks or checks[0].measurement != "ping":
        return checks
    first = replace(checks[0], details={**checks[0].details, **extra})
    return [first, *checks[1:]]
