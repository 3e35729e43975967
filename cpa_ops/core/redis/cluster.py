"""The verdict on a Redis Cluster: every node asked concurrently, the topology judged whole.

PING alone lies here: with one of three masters dead the survivors answer PONG while every
query fails with CLUSTERDOWN. So ``cluster_state`` and slot coverage come from CLUSTER INFO /
CLUSTER NODES, beside a check per node (reachable, role, round-trip).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from cpa_ops.core.health import Check, Status
from cpa_ops.core.redis.checks import (
    fault_check,
    node_limit_checks,
    node_ping_check,
    replica_sync_check,
    topology_verdict,
    write_check,
)
from cpa_ops.core.redis.connection import remaining
from cpa_ops.core.redis.facts import (
    ClusterNodeEntry,
    parse_cluster_nodes,
    parse_info_fields,
    ranges,
    text,
    whole,
)
from cpa_ops.core.redis.model import (
    PROBE_CLIENT_NAME,
    NodeState,
    TopologyDiagnosis,
)
from cpa_ops.core.redis.node import INFO, ROLE, NodeProbes, health_key
from cpa_ops.core.redis.reasons import reason_of
from cpa_ops.core.redis.sync_state import sync_details
from cpa_ops.core.urls import HEALTH_KEY_PREFIX

if TYPE_CHECKING:
    from cpa_ops.core.target import RedisTarget

CLUSTER_SLOTS = 16384
# what cancelling and closing the node probes may take after their deadline
CLOSE_MARGIN = 0.1
_COMMANDS = (ROLE, ("CLUSTER", "INFO"), ("CLUSTER", "NODES"), INFO)
#: what redis-py's cluster client (the services') sends to discover a cluster, asked of the
#: seeds too: a user refused either passes every probe while every service command fails
_CLIENT_NEEDS = (("CLUSTER", "SLOTS"), ("COMMAND", "COUNT"))


def node_deadline(deadline: float) -> float:
    """When the node probes of a verdict due at ``deadline`` stop: early enough that closing
    them still ends inside it."""
    left = remaining(deadline)
    return deadline - left + max(left - CLOSE_MARGIN, left / 2)


def key_in_slots(
    slots: Iterable[tuple[int, int]], tries: int = 20_000, prefix: str = HEALTH_KEY_PREFIX
) -> str | None:
    """A health key whose hash slot is in ``slots`` (so this master owns it), or None."""
    from redis.crc import key_slot

    ranges_ = list(slots)
    for n in range(tries):
        key = health_key(f":{n}", prefix)
        slot = key_slot(key.encode())
        if any(first <= slot <= last for first, last in ranges_):
            return key
    return None


async def probe_cluster(
    target: RedisTarget,
    *,
    deadline: float,
    write: bool = False,
    warn_ms: float = 100.0,
    client_name: str = PROBE_CLIENT_NAME,
    write_prefix: str = HEALTH_KEY_PREFIX,
) -> TopologyDiagnosis:
    """Diagnose the cluster reachable through the target's seeds by ``deadline``.

    The seeds are asked concurrently; the first to answer CLUSTER NODES names the other nodes,
    which are then asked concurrently too. Never raises for a Redis fault.
    """

    def own_slots_key(replies: Mapping[str, Any]) -> str | None:
        if not write:
            return None
        me = next(
            (
                e
                for e in parse_cluster_nodes(replies.get("CLUSTER NODES", ""))
                if "myself" in e.flags
            ),
            None,
        )
        if not (me and me.is_master and me.slots):
            return None
        return key_in_slots(me.slots, prefix=write_prefix)

    probes = NodeProbes(node_deadline(deadline), client_name)
    tasks: dict[str, asyncio.Task[NodeState]] = {}
    try:
        for address in target.addresses:
            if address not in tasks:
                seed = target.for_node(address)
                tasks[address] = probes.start(seed, (*_COMMANDS, *_CLIENT_NEEDS), own_slots_key)
        topology: list[ClusterNodeEntry] = []
        view: NodeState | None = None
        pending: set[asyncio.Task[NodeState]] = set(tasks.values())
        while pending and view is None:
            done, pending = await asyncio.wait(
                pending,
                timeout=max(remaining(probes.deadline), 0),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                break
            for task in done:
                state = task.result()
                nodes_reply = state.replies.get("CLUSTER NODES")
                if state.reachable and isinstance(nodes_reply, bytes | str):
                    view, topology = state, parse_cluster_nodes(nodes_reply)
                    break
        # a seed named by host name is the same node as its address in CLUSTER NODES
        known = set(tasks)
        view_self = _myself(view) if view is not None else None
        if view_self is not None:
            known.add(view_self.address)
        for entry in topology:
            if entry.address and entry.address not in known and "noaddr" not in entry.flags:
                node = target.for_node(entry.address)
                tasks[entry.address] = probes.start(node, _COMMANDS, own_slots_key)
        states = await probes.results(list(tasks.values()))
    finally:
        await probes.cancel_rest()
    return cluster_verdict(
        _as_cluster_names_them(states), view, topology, write=write, warn_ms=warn_ms
    )


def _myself(state: NodeState) -> ClusterNodeEntry | None:
    """The node's own line of its CLUSTER NODES reply."""
    entries = parse_cluster_nodes(state.replies.get("CLUSTER NODES", ""))
    return next((e for e in entries if "myself" in e.flags and e.address), None)


def _as_cluster_names_them(states: list[NodeState]) -> list[NodeState]:
    """Each node under the address the cluster knows it by, once (a seed given by host name
    is reported as the node's own address)."""
    by_address: dict[str, NodeState] = {}
    for state in states:
        me = _myself(state)
        if me is not None and me.address != state.address:
            state = replace(state, address=me.address)
        seen = by_address.get(state.address)
        if seen is None or (state.reachable and not seen.reachable):
            by_address[state.address] = state
    return list(by_address.values())


def cluster_verdict(
    states: list[NodeState],
    view: NodeState | None,
    topology: list[ClusterNodeEntry],
    *,
    write: bool,
    warn_ms: float,
) -> TopologyDiagnosis:
    if view is None:
        return _no_view_verdict(states, warn_ms)
    entries = {e.address: e for e in topology if e.address}
    serving = {e.address for e in topology if e.is_master and e.slots}
    by_address = sorted(states, key=lambda s: s.address)
    checks = [_cluster_check(states, view, topology)]
    for state in by_address:
        # an unreachable master that owns slots fails; any other node down is redundancy lost
        down_status = Status.FAIL if state.address in serving else Status.WARN
        checks.append(
            node_ping_check(state, entries.get(state.address), down_status, warn_ms, entries)
        )
    checks.extend(_replica_link_checks(by_address))
    checks.extend(node_limit_checks(by_address))
    if write:
        checks.extend(
            write_check(s, component_id=s.address)
            for s in by_address
            if s.reachable and s.address in serving
        )
    members = [e.address for e in topology if e.address and e.is_master]
    members += [e.address for e in topology if e.address and not e.is_master]
    return topology_verdict("cluster", checks, states, members)


def _replica_link_checks(states: Sequence[NodeState]) -> list[Check]:
    """``redis:replication`` of each replica with something to say: not synced (``syncing``) or
    its master link down (``replica_down``), both warnings; a replica in sync gets none (its
    ``redis:ping`` says it answers), so a healthy cluster's verdict is one check per node."""
    checks = []
    for state in states:
        facts = state.facts
        if not state.reachable or facts is None or facts.role != "slave":
            continue
        syncing = replica_sync_check(facts, state.address)
        if syncing is not None:
            checks.append(syncing)
        elif facts.master_link_status not in (None, "up"):
            details = sync_details(facts)
            said = f"master link is {facts.master_link_status}"
            checks.append(
                fault_check(
                    "replication",
                    "replica_down",
                    said,
                    status=Status.WARN,
                    component_id=state.address,
                    details=details,
                )
            )
    return checks


def _no_view_verdict(states: Sequence[NodeState], warn_ms: float) -> TopologyDiagnosis:
    """No seed told us the topology: the first seed's own fault is the verdict."""
    first = states[0] if states else NodeState("?", False, "deadline", "no seed answered")
    if first.reachable and _refused(first.replies.get("CLUSTER NODES")):
        said = (
            f"CLUSTER NODES refused ({text(first.replies['CLUSTER NODES'])}): the cluster's "
            "nodes and slots cannot be checked"
        )
        check = fault_check("cluster", "denied", said, url=first.address)
    elif first.reachable:
        reason = "not_cluster"
        said = text(first.replies.get("CLUSTER NODES", "no reply"))
        check = fault_check("cluster", reason, said, url=first.address)
    else:
        reason = first.reason or "error"
        output = (
            f"no seed node answered: {reason_of(reason).explanation} "
            f"({first.address}): {first.detail}"
        )
        check = Check(
            "redis", "cluster", Status.FAIL, output, reason=reason, hint=reason_of(reason).hint
        )
    node_checks = [node_ping_check(s, None, Status.FAIL, warn_ms) for s in states]
    return topology_verdict("cluster", [check, *node_checks], states)


def _cluster_state(state: NodeState) -> str | None:
    return parse_info_fields(state.replies.get("CLUSTER INFO", "")).get("cluster_state")


def _cluster_check(
    states: list[NodeState], view: NodeState, topology: list[ClusterNodeEntry]
) -> Check:
    """``redis:cluster``: cluster_state and slots from the view node's CLUSTER INFO, every
    reachable node's own cluster_state, and which slots our probe found a master for."""
    by_address = {s.address: s for s in states}
    info = parse_info_fields(view.replies.get("CLUSTER INFO", ""))
    entries = {e.address for e in topology if e.address}
    masters = [e for e in topology if e.is_master and e.slots]
    assigned = sum(e.slot_count for e in masters)
    unserved = [e for e in masters if not _reachable(by_address.get(e.address))]
    unserved_slots = sum(e.slot_count for e in unserved) + (CLUSTER_SLOTS - assigned)
    failing_views = sorted(
        s.address for s in states if s.reachable and _cluster_state(s) not in (None, "ok")
    )
    # a dead seed outside the topology warns on its own check, it is no node of the cluster
    down = [s for s in states if not s.reachable and s.address in entries]
    answering = sum(1 for s in states if s.reachable)
    pfail = whole(info.get("cluster_slots_pfail", "0") or 0) or 0
    details = {
        "clusterState": info.get("cluster_state"),
        "slotsAssigned": whole(info.get("cluster_slots_assigned")),
        "slotsOk": whole(info.get("cluster_slots_ok")),
        "slotsPfail": whole(info.get("cluster_slots_pfail")),
        "slotsFail": whole(info.get("cluster_slots_fail")),
        "knownNodes": whole(info.get("cluster_known_nodes")),
        "size": whole(info.get("cluster_size")),
        "viewedFrom": (_myself(view) or view).address,
        "nodesReachable": answering,
        "nodesProbed": len(states),
    }
    summary = (
        f"cluster_state:{info.get('cluster_state', '?')}, slots assigned "
        f"{info.get('cluster_slots_assigned', '?')}, ok {info.get('cluster_slots_ok', '?')}, "
        f"pfail {info.get('cluster_slots_pfail', '?')}, fail {info.get('cluster_slots_fail', '?')}"
        f"; {len(masters)} masters, {answering} of {len(states)} nodes reachable"
    )
    client_refused = [" ".join(c) for c in _CLIENT_NEEDS if _refused(view.replies.get(" ".join(c)))]
    reason: str | None
    hint: str | None = None
    if failing_views:
        status, reason = Status.FAIL, "cluster_down"
        output = (
            f"cluster_state:fail on {', '.join(failing_views)} although {answering} of "
            f"{len(states)} nodes answer PING; {summary}"
        )
    elif unserved_slots:
        status, reason = Status.FAIL, "slots_unserved"
        owners = ", ".join(f"{e.address} ({ranges(e.slots)})" for e in unserved)
        output = f"{unserved_slots} slots have no reachable master"
        output += f": {owners}" if owners else " (unassigned)"
        output += f"; {summary}"
    elif down or pfail:
        status, reason = Status.WARN, "degraded"
        trouble = (
            f"nodes are down ({', '.join(s.address for s in down)})"
            if down
            else f"{pfail} slots are in pfail (a node is suspected down)"
        )
        output = f"every slot is served, but {trouble}; {summary}"
    elif client_refused:
        status, reason = Status.WARN, "denied"
        output = (
            f"{' and '.join(client_refused)} refused: the services' cluster client (redis-py) "
            f"sends them to discover the cluster, so their commands would fail; {summary}"
        )
        hint = (
            "allow them: ACL SETUSER <user> +cluster|slots +command (redis-py's cluster client "
            "reads the slots with CLUSTER SLOTS and each command's keys with COMMAND)"
        )
    elif _refused(view.replies.get("CLUSTER INFO")):
        # the slots are judged from CLUSTER NODES; only cluster_state went unread
        status, reason = Status.WARN, "denied"
        said = text(view.replies["CLUSTER INFO"])
        output = f"CLUSTER INFO refused ({said}): cluster_state not checked; {summary}"
    else:
        status, reason, output = Status.PASS, None, summary
    return Check(
        "redis",
        "cluster",
        status,
        output,
        reason=reason,
        hint=hint or (reason_of(reason).hint if reason else None),
        observed_value=whole(info.get("cluster_slots_ok")),
        details={k: v for k, v in details.items() if v is not None},
    )


def _refused(reply: Any) -> bool:
    """Whether a reply is the ACL's NOPERM (the user may not run that command)."""
    from redis.exceptions import NoPermissionError

    return isinstance(reply, NoPermissionError)


def _reachable(state: NodeState | None) -> bool:
    return state is not None and state.reachable
