"""The checks of a Sentinel verdict (cpa_ops.core.redis.sentinel): the master the sentinels
name, by its own ROLE (or INFO); the quorum; each sentinel; each replica's link and sync.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from cpa_ops.core.health import Check, Status
from cpa_ops.core.redis.checks import fault_check, node_ping_check, replica_sync_check, rounded
from cpa_ops.core.redis.facts import pairs, text
from cpa_ops.core.redis.model import NodeState
from cpa_ops.core.redis.reasons import REASONS

# what the sentinels flag a master with once they see it down or replace it
_DOWN_FLAGS = frozenset({"s_down", "o_down", "failover_in_progress"})
#: the sentinels' faults that are a setting of ours (REDIS_SENTINEL_PASSWORD, REDIS_URL's CA or
#: scheme), not the set-up's state: shared by a majority, it is the master check's reason too
_SETTING_FAULTS = {
    "sentinel_auth": "refused our credentials",
    "tls": "failed the TLS handshake",
    "tls_config": "could not be asked: a TLS file of REDIS_URL cannot be used",
    "protocol": "did not speak Redis over our protocol (TLS or plain)",
}


def named_master(state: NodeState) -> str | None:
    reply = state.replies.get("SENTINEL GET-MASTER-ADDR-BY-NAME")
    if not state.reachable or not isinstance(reply, list) or len(reply) != 2:
        return None
    host, port = text(reply[0]), text(reply[1])
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def quorum_check(
    configured: Sequence[str], answering: list[NodeState], unreached: Sequence[NodeState] = ()
) -> Check:
    """``redis:quorum``: what the sentinels themselves say (CKQUORUM), by a majority of those
    answering, when a majority of the configured ones answer at all (``unreached``: those that
    did not; a fault of our settings among them is named in the output)."""
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
        f"{majority}){_setting_fault_note(unreached)}"
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


def _setting_fault_note(unreached: Sequence[NodeState]) -> str:
    """``, 3 failed the TLS handshake (tls)``: the sentinels not reached for a fault of our
    settings, by fault; empty when there are none."""
    counts = Counter(s.reason for s in unreached if s.reason in _SETTING_FAULTS)
    notes = [f"{n} {_SETTING_FAULTS[code]} ({code})" for code, n in counts.items()]
    return "".join(f", {note}" for note in notes)


def master_check(
    configured: Sequence[str],
    answering: list[NodeState],
    master_address: str | None,
    named: Counter[str],
    master_state: NodeState | None,
    unreached: Sequence[NodeState] = (),
) -> Check:
    """``redis:master``: named by the sentinels, reachable, and a master by its own ROLE. No
    sentinel answering (``unreached``: those that did not), a majority failing with one fault
    of our settings (``sentinel_auth``, ``tls``, ``protocol``) is that reason, not
    ``no_master``: the fix is the setting, and no failover is under way."""
    sentinel_view = pairs(
        next(
            (
                s.replies.get("SENTINEL MASTER")
                for s in answering
                if named_master(s) == master_address
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
        elif setting_fault := _shared_setting_fault(configured, unreached):
            code, failed = setting_fault
            why = (
                f"{len(failed)} of {len(configured)} sentinels {_SETTING_FAULTS[code]}: "
                f"{failed[0].detail}"
            )
            return _master_fail(code, why, None, details)
        else:
            why = f"no sentinel answered{_setting_fault_note(unreached)}"
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


def sentinel_checks(
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
        names = named_master(state)
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


def _shared_setting_fault(
    configured: Sequence[str], unreached: Sequence[NodeState]
) -> tuple[str, list[NodeState]] | None:
    """The fault of our settings a majority of the configured sentinels failed with, and
    those sentinels; None when there is none."""
    for code in _SETTING_FAULTS:
        failed = [s for s in unreached if s.reason == code]
        if len(failed) * 2 > len(configured):
            return code, failed
    return None


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


def replica_check(
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
