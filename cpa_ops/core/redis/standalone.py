"""The verdict on one Redis server: the node probe with INFO (and the write), as checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpa_ops.core.health import Status
from cpa_ops.core.redis.checks import fact_warnings, server_checks, slow_warning
from cpa_ops.core.redis.model import PROBE_CLIENT_NAME, NodeState, RedisDiagnosis
from cpa_ops.core.redis.node import INFO, health_key, probe_node
from cpa_ops.core.redis.sync_state import syncing_failure, writable_replica_warning

if TYPE_CHECKING:
    from cpa_ops.core.target import RedisTarget


async def probe_standalone(
    target: RedisTarget,
    *,
    deadline: float,
    write: bool = False,
    warn_ms: float = 100.0,
    client_name: str = PROBE_CLIENT_NAME,
) -> RedisDiagnosis:
    """Diagnose one server by ``deadline`` (a time.monotonic() instant); never raises for a
    Redis fault. Steps: resolve (in a daemon thread), connect (TCP, TLS, AUTH/HELLO, CLIENT
    SETNAME), PING, INFO, and with ``write`` a SET PX + DEL of this process's health key."""
    state = await probe_node(
        target,
        deadline=deadline,
        commands=(INFO,),
        write_key=(lambda _replies: health_key()) if write else None,
        client_name=client_name,
    )
    return diagnosis_of(state, target.masked, write=write, warn_ms=warn_ms)


def diagnosis_of(state: NodeState, url: str, *, write: bool, warn_ms: float) -> RedisDiagnosis:
    """One node's answers as a server's verdict (``url``: masked, for people)."""
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
    warnings = ([slow] if slow else []) + fact_warnings(state.facts)
    writable = writable_replica_warning(state.facts) if state.write_ms is not None else None
    if writable is not None and failure is None:
        warnings.append(writable)
    if warnings and status is Status.PASS:
        status = Status.WARN
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
        checks=tuple(server_checks(state, url, write=write, warn_ms=warn_ms)),
    )
