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
from typing import TYPE_CHECKING, Any

from cpa_ops.core.health import Check, Status
from cpa_ops.core.redis.checks import (
    fault_check,
    node_limit_checks,
    node_ping_check,
    replica_sync_check,
    rounded,
    topology_verdict,
    write_check,
)
from cpa_ops.core.redis.cluster import node_deadline
from cpa_ops.core.redis.connection import remaining
from cpa_ops.core.redis.facts import pairs, text
from cpa_ops.core.redis.model import PROBE_CLIENT_NAME, NodeState, TopologyDiagnosis
from cpa_ops.core.redis.node import INFO, ROLE, NodeProbes, health_key
from cpa_ops.core.redis.reasons import REASONS
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
            answered = [_named_master(t.result()) for t in sentinel_tasks.values() if t.done()]
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
        named = Counter(a for a in (_named_master(s) for s in answered_states) if a)
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
            teller = next(s for s in answered_states if _named_master(s) == master_address)
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
        named = Counter(a for a in (_named_master(s) for s in sentinel_states) if a)
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


# what the sentinels flag a master with once they see it down or replace it
_DOWN_FLAGS = frozenset({"s_down", "o_down", "failover_in_progress"})


def _named_master(state: NodeState) -> str | None:
    reply = state.replies.get("SENTINEL GET-MASTER-ADDR-BY-NAME")
    if not state.reachable or not isinstance(reply, list) or len(reply) != 2:
        return None
    host, port = text(reply[0]), text(reply[1])
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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
    auth_refused = [s for s in sentinel_states if s.reason == "sentinel_auth"]
    checks = [
        _master_check(configured, answering, master_address, named, master_state, auth_refused),
        # after the master's: an unknown service name fails both, and no_master says it better
        _quorum_check(configured, answering, auth_refused),
        *_sentinel_checks(configured, sentinel_states, master_address, warn_ms),
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
                _replica_check(replica, node_states.get(replica["address"]), master_address)
            )
    checks.extend(node_limit_checks(node_states.values()))
    if write and master_state is not None and master_state.reachable:
        checks.append(write_check(master_state, component_id=master_state.address))
    members = [master_address] if master_address else []
    members += [replica["address"] for replica in replicas]
    return topology_verdict("sentinel", checks, [*sentinel_states, *node_states.values()], members)


def _quorum_check(
    configured: Sequence[str], answering: list[NodeState], auth_refused: Sequence[NodeState] = ()
) -> Check:
    """``redis:quorum``: what the sentinels themselves say (CKQUORUM), by a majority of those
    answering, when a majority of the configured ones answer at all (``auth_refused``: those that
    refused our credentials, named in the output)."""
    majority = len(configured) // 2 + 1
    quorum_replies = [s.replies.get("SENTINEL CKQUORUM") for s in answering]
    ok_replies = [r for r in quorum_replies if isinstance(r, bytes | str)]
    refusals = [r for r in quorum_replies if isinstance(r, Exception)]
    if len(answering) >= majority and len(ok_replies) * 2 > len(answering):
        return Check(
            "redis",
            "quorum",
            Status.PASS,
            f"SENTINEL CKQUORUM: {text(ok_replies[0])} ({len(answering)} of "
            f"{len(configured)} sentinels answering)",
            observed_value=len(answering),
        )
    # fewer than a majority answering us cannot vouch for a failover, whatever they say
    why = (
        f"only {len(answering)} of {len(configured)} sentinels answered (a majority is "
        f"{majority}){_refused_note(auth_refused)}"
        if len(answering) < majority
        else f"SENTINEL CKQUORUM: {refusals[0] if refusals else 'no OK reply'}"
    )
    return Check(
        "redis",
        "quorum",
        Status.FAIL,
        f"{REASONS['no_quorum'].explanation}: {why}",
        reason="no_quorum",
        hint=REASONS["no_quorum"].hint,
        observed_value=len(answering),
    )


def _refused_note(auth_refused: Sequence[NodeState]) -> str:
    count = len(auth_refused)
    return f", {count} refused our credentials (sentinel_auth)" if count else ""


def _master_check(
    configured: Sequence[str],
    answering: list[NodeState],
    master_address: str | None,
    named: Counter[str],
    master_state: NodeState | None,
    auth_refused: Sequence[NodeState] = (),
) -> Check:
    """``redis:master``: named by the sentinels, reachable, and a master by its own ROLE; no
    sentinel answering and a majority refusing our credentials is ``sentinel_auth``."""
    sentinel_view = pairs(
        next(
            (
                s.replies.get("SENTINEL MASTER")
                for s in answering
                if _named_master(s) == master_address
            ),
            None,
        )
    )
    flags = set(sentinel_view.get("flags", "").split(","))
    details: dict[str, Any] = {
        "namedBy": named.get(master_address, 0) if master_address else 0,
        "sentinels": len(configured),
    }
    if sentinel_view.get("flags"):
        details["sentinelFlags"] = sentinel_view["flags"]
    if master_address is None:
        if named:
            views = ", ".join(f"{a} ({n})" for a, n in named.most_common())
            why = f"the sentinels disagree on the master: {views}"
        elif answering:
            why = f"none of the {len(answering)} sentinels answering knows that service name"
        elif len(auth_refused) * 2 > len(configured):  # the password is the fault, not the master
            why = (
                f"{len(auth_refused)} of {len(configured)} sentinels refused our credentials: "
                f"{auth_refused[0].detail}"
            )
            return _master_fail("sentinel_auth", why, None, details)
        else:
            why = f"no sentinel answered{_refused_note(auth_refused)}"
        return _master_fail("no_master", why, None, details)
    if master_state is None or not master_state.reachable:
        fault = (
            f"{master_state.reason}: {master_state.detail}"
            if master_state is not None
            else "no answer within the budget"
        )
        seen_down = flags & _DOWN_FLAGS
        failover = " (the sentinels see it down: failover under way?)" if seen_down else ""
        why = f"the sentinels name {master_address}, which is unreachable{failover}: {fault}"
        return _master_fail("no_master", why, master_address, details)
    role_reply = master_state.replies.get("ROLE") or []
    facts = master_state.facts
    if master_state.role is None:
        # ROLE and INFO both refused by the ACL: whether it is the master is not known
        said = f"the role of {master_address}, which the sentinels name as master, is not known"
        return Check(
            "redis",
            "master",
            Status.WARN,
            f"{said}: the ACL refuses ROLE and INFO",
            reason="denied",
            hint="allow one: ACL SETUSER <user> +role (or +info)",
            component_id=master_address,
            details=details,
        )
    if master_state.role != "master":
        if len(role_reply) >= 3:
            of = f" of {text(role_reply[1])}:{text(role_reply[2])}"
        else:
            of = f" of {facts.master_address}" if facts and facts.master_address else ""
        why = (
            f"the sentinels name {master_address} as master, but it answers ROLE as "
            f"{master_state.role}{of}"
        )
        return _master_fail("not_master", why, master_address, details)
    if len(role_reply) >= 3 and isinstance(role_reply[2], list):
        connected = len(role_reply[2])
    else:  # ROLE refused: INFO replication's count
        connected = (facts.connected_slaves if facts else None) or 0
    details["connectedReplicas"] = connected
    troubled = flags & _DOWN_FLAGS
    summary = (
        f"{master_address} is master by its own ROLE (named by {details['namedBy']} of "
        f"{len(configured)} sentinels; {connected} replica{'' if connected == 1 else 's'} "
        "connected)"
    )
    return Check(
        "redis",
        "master",
        Status.WARN if troubled else Status.PASS,
        f"{summary}, but the sentinels flag it {','.join(sorted(troubled))}"
        if troubled
        else summary,
        reason="failover" if troubled else None,
        hint=REASONS["failover"].hint if troubled else None,
        observed_value=rounded(master_state.rtt_ms),
        observed_unit="ms",
        component_id=master_address,
        details=details,
    )


def _sentinel_checks(
    configured: Sequence[str],
    sentinel_states: list[NodeState],
    master_address: str | None,
    warn_ms: float,
) -> list[Check]:
    """``redis:sentinel`` per configured sentinel: reachable, and which master it names."""
    checks = []
    answered = {s.address: s for s in sentinel_states}
    for address in dict.fromkeys(configured):
        state = answered.get(address) or NodeState(address, False, "deadline", "no answer")
        if not state.reachable:
            checks.append(
                node_ping_check(state, None, Status.WARN, warn_ms, measurement="sentinel")
            )
            continue
        if state.role in ("master", "slave"):  # REDIS_SENTINELS names a data node
            said, warn = f"ROLE answers {state.role}, not sentinel", Status.WARN
            check = fault_check("sentinel", "not_sentinel", said, status=warn, component_id=address)
            checks.append(check)
            continue
        names = _named_master(state)
        agrees = master_address is None or names == master_address
        checks.append(
            Check(
                "redis",
                "sentinel",
                Status.PASS if agrees else Status.WARN,
                f"names {names or 'no master'} for the service"
                + ("" if agrees else f" (the majority names {master_address})"),
                reason=None if agrees else "sentinel_disagrees",
                hint=None if agrees else REASONS["sentinel_disagrees"].hint,
                observed_value=rounded(state.rtt_ms),
                observed_unit="ms",
                component_id=address,
                details={"names": names} if names else {},
            )
        )
    return checks


def _master_fail(code: str, why: str, address: str | None, details: dict[str, Any]) -> Check:
    return Check(
        "redis",
        "master",
        Status.FAIL,
        f"{REASONS[code].explanation}: {why}",
        reason=code,
        hint=REASONS[code].hint,
        component_id=address,
        details=details,
    )


def _replica_check(
    replica: Mapping[str, str], state: NodeState | None, master_address: str
) -> Check:
    address = replica["address"]
    flags = replica.get("flags", "")
    details: dict[str, Any] = {"sentinelFlags": flags}
    problem = None
    if state is None or not state.reachable:
        problem = f"is unreachable ({state.reason}: {state.detail})" if state else "not probed"
    else:
        role_reply = state.replies.get("ROLE") or []
        link = state.facts.master_link_status if state.facts is not None else None
        details["masterLinkStatus"] = link
        if len(role_reply) >= 4:
            of: str | None = f"{text(role_reply[1])}:{text(role_reply[2])}"
        else:  # ROLE refused: INFO replication's master_host:master_port
            of = state.facts.master_address if state.facts is not None else None
        if state.role != "slave" or of is None:
            problem = f"answers ROLE as {state.role}, not as a replica"
        else:
            details["replicaOf"] = of
            if of != master_address:
                problem = f"replicates {of}, not the master {master_address}"
            elif (syncing := replica_sync_check(state.facts, address, details)) is not None:
                return syncing
            elif link != "up":
                state_word = text(role_reply[3]) if len(role_reply) >= 4 else "unknown"
                problem = f"master link is {link or state_word}"
    if problem is None:
        return Check(
            "redis",
            "replication",
            Status.PASS,
            f"replica of {master_address}, master link up",
            component_id=address,
            details=details,
        )
    return Check(
        "redis",
        "replication",
        Status.WARN,
        f"replica: {problem}",
        reason="replica_down",
        hint=REASONS["replica_down"].hint,
        component_id=address,
        details=details,
    )
