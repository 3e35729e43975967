"""The verdict on a Sentinel-managed master: every sentinel asked concurrently, then the master
they name and its replicas.

During a failover the sentinels keep naming the dead master for seconds, so the verdict asks
the master its own ROLE, checks SENTINEL CKQUORUM, and follows each replica's link.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from cpa_ops.core.health import Check, Status
from cpa_ops.core.redis.checks import (
    fault_check,
    node_limit_checks,
    node_ping_check,
    topology_verdict,
    write_check,
)
from cpa_ops.core.redis.cluster import node_deadline
from cpa_ops.core.redis.connection import remaining
from cpa_ops.core.redis.facts import pairs
from cpa_ops.core.redis.model import PROBE_CLIENT_NAME, NodeState, TopologyDiagnosis
from cpa_ops.core.redis.node import INFO, ROLE, NodeProbes, health_key
from cpa_ops.core.redis.reasons import REASONS
from cpa_ops.core.redis.sentinel_checks import (
    master_check,
    named_master,
    quorum_check,
    replica_check,
    sentinel_checks,
)
from cpa_ops.core.urls import HEALTH_KEY_PREFIX

if TYPE_CHECKING:
    from cpa_ops.core.target import RedisTarget


async def probe_sentinel(
    target: RedisTarget,
    *,
    deadline: float,
    write: bool = False,
    warn_ms: float = 100.0,
    client_name: str = PROBE_CLIENT_NAME,
    write_prefix: str = HEALTH_KEY_PREFIX,
) -> TopologyDiagnosis:
    """Diagnose the Sentinel-managed ``service`` within ``budget`` seconds; never raises for a
    Redis fault.

    Every sentinel is asked concurrently; once a majority of them name the same master (or all
    have answered), the master and the replicas the sentinels list are asked concurrently.
    The target's URL (REDIS_URL) gives the data nodes' password, db and TLS options.
    """
    sentinels = target.sentinels
    service = target.sentinel_master or ""
    majority = len(sentinels) // 2 + 1
    commands = (
        ROLE,
        ("SENTINEL", "GET-MASTER-ADDR-BY-NAME", service),
        ("SENTINEL", "CKQUORUM", service),
        ("SENTINEL", "MASTER", service),
        ("SENTINEL", "REPLICAS", service),
    )
    probes = NodeProbes(node_deadline(deadline), client_name)
    try:
        sentinel_tasks = {
            address: probes.start(target.for_sentinel(address), commands)
            for address in dict.fromkeys(sentinels)
        }
        pending: set[asyncio.Task[NodeState]] = set(sentinel_tasks.values())
        while pending:
            answered = [named_master(t.result()) for t in sentinel_tasks.values() if t.done()]
            named = Counter(a for a in answered if a)
            if named and named.most_common(1)[0][1] >= majority:
                break
            done, pending = await asyncio.wait(
                pending,
                timeout=max(remaining(probes.deadline), 0),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                break
        answered_states = [t.result() for t in sentinel_tasks.values() if t.done()]
        named = Counter(a for a in (named_master(s) for s in answered_states) if a)
        ranked = named.most_common(2)
        master_address: str | None = None
        if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
            master_address = ranked[0][0]
        node_tasks: dict[str, asyncio.Task[NodeState]] = {}
        replicas: list[dict[str, str]] = []
        if master_address is not None:
            write_key = (lambda _replies: health_key(prefix=write_prefix)) if write else None
            node_tasks[master_address] = probes.start(
                target.for_node(master_address), (ROLE, INFO), write_key
            )
            teller = next(s for s in answered_states if named_master(s) == master_address)
            for replica in _replicas_of(teller):
                address = replica.get("name") or f"{replica.get('ip')}:{replica.get('port')}"
                try:
                    replica_target = target.for_node(address)
                except ValueError:
                    continue  # a sentinel listing a replica without an address: nothing to ask
                replica["address"] = address
                replicas.append(replica)
                if address not in node_tasks:
                    node_tasks[address] = probes.start(replica_target, (ROLE, INFO))
        sentinel_states = [
            _sentinel_auth(state, target)
            for state in await probes.results(list(sentinel_tasks.values()))
        ]
        node_states = {s.address: s for s in await probes.results(list(node_tasks.values()))}
        # count every sentinel that answered by now, not only those before the majority
        named = Counter(a for a in (named_master(s) for s in sentinel_states) if a)
    finally:
        await probes.cancel_rest()
    return sentinel_verdict(
        sentinels,
        sentinel_states,
        master_address,
        named,
        node_states,
        replicas,
        write=write,
        warn_ms=warn_ms,
    )


def _sentinel_auth(state: NodeState, target: RedisTarget) -> NodeState:
    """A sentinel that refused our credentials is ``sentinel_auth``, not ``auth``: the fix is
    REDIS_SENTINEL_PASSWORD, not REDIS_URL's password (the master's and replicas')."""
    if state.reason != "auth":
        return state
    if target.sentinel_password is None:
        said = "asked without a password (REDIS_SENTINEL_PASSWORD is not set)"
    else:
        user = target.sentinel_username
        said = "REDIS_SENTINEL_PASSWORD" + (f" of user {user}" if user else "") + " refused"
    return replace(state, reason="sentinel_auth", detail=f"{said}: {state.detail}")


def _replicas_of(state: NodeState) -> list[dict[str, str]]:
    reply = state.replies.get("SENTINEL REPLICAS")
    return [pairs(item) for item in reply] if isinstance(reply, list) else []


def sentinel_verdict(
    configured: Sequence[str],
    sentinel_states: list[NodeState],
    master_address: str | None,
    named: Counter[str],
    node_states: Mapping[str, NodeState],
    replicas: list[dict[str, str]],
    *,
    write: bool,
    warn_ms: float,
) -> TopologyDiagnosis:
    answering = [s for s in sentinel_states if s.reachable]
    if answering and all(s.role in ("master", "slave") for s in answering):
        # not one sentinel among them: the set-up is not what REDIS_MODE says (one reason)
        roles = ", ".join(f"{s.address} is a {s.role}" for s in answering)
        check = fault_check("master", "not_sentinel", f"ROLE says {roles}")
        return topology_verdict("sentinel", [check], sentinel_states)
    master_state = node_states.get(master_address) if master_address else None
    unreached = [s for s in sentinel_states if not s.reachable]
    checks = [
        master_check(configured, answering, master_address, named, master_state, unreached),
        # after the master's: an unknown service name fails both, and no_master says it better
        quorum_check(configured, answering, unreached),
        *sentinel_checks(configured, sentinel_states, master_address, warn_ms),
    ]
    for address, state in node_states.items():
        down_status = Status.FAIL if address == master_address else Status.WARN
        checks.append(node_ping_check(state, None, down_status, warn_ms))
    if master_address is not None:
        if not replicas:
            checks.append(
                Check(
                    "redis",
                    "replication",
                    Status.WARN,
                    REASONS["no_replica"].explanation,
                    reason="no_replica",
                    hint=REASONS["no_replica"].hint,
                )
            )
        for replica in replicas:
            checks.append(
                replica_check(replica, node_states.get(replica["address"]), master_address)
            )
    checks.extend(node_limit_checks(node_states.values()))
    if write and master_state is not None and master_state.reachable:
        checks.append(write_check(master_state, component_id=master_state.address))
    members = [master_address] if master_address else []
    members += [replica["address"] for replica in replicas]
    return topology_verdict("sentinel", checks, [*sentinel_states, *node_states.values()], members)
