"""Redis Cluster and Sentinel: the diagnosing probe, the client factory and the liveness check.

In both modes PING alone lies: with one of three masters dead the survivors answer PONG while
every query fails with CLUSTERDOWN, and during a Sentinel failover the sentinels keep naming the
dead master for seconds. So the probe asks every node concurrently, within one shared budget
(the deadline holds however many nodes there are), and judges the topology as a whole:

- cluster: ``cluster_state`` and slot coverage from CLUSTER INFO / CLUSTER NODES, plus a check per
  node (reachable, role, round-trip);
- sentinel: the master as a majority of the sentinels names it, SENTINEL CKQUORUM, the master's own
  ROLE, and each replica's link.

The verdict is a :class:`TopologyDiagnosis` whose checks have the same shape as the standalone
probe's (per-node checks carry ``component_id="host:port"``).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cpa_ops.core.health import Check, Status, worst
from cpa_ops.core.redis import (
    NEAR_LIMIT,
    PROBE_CLIENT_NAME,
    REASONS,
    WRITE_KEY_TTL_MS,
    ProbeFailure,
    Reason,
    ServerFacts,
    _check_dns,
    classify_failure,
    close_connection,
    open_probe_connection,
    timed_command,
)
from cpa_ops.core.settings import parse_host_port

if TYPE_CHECKING:
    from redis.asyncio import BlockingConnectionPool, RedisCluster
    from redis.asyncio.connection import AbstractConnection

    from cpa_ops.core.latency import Sample
    from cpa_ops.core.settings import Settings

CLUSTER_SLOTS = 16384
# each step's own timeout ends this long before the budget, so it (not the budget) names the fault
_STEP_MARGIN = 0.05
# what cancelling and closing the node probes may take after their deadline
_CLOSE_MARGIN = 0.1

#: reason codes of the cluster and sentinel verdicts (the per-node ones are in REASONS)
TOPOLOGY_REASONS: dict[str, Reason] = {
    r.code: r
    for r in (
        Reason(
            "cluster_down",
            "the cluster reports cluster_state:fail: it refuses queries (CLUSTERDOWN), even on "
            "nodes that answer PING",
            "bring the failed master back or let a replica take over; see CLUSTER INFO and "
            "CLUSTER NODES",
        ),
        Reason(
            "slots_unserved",
            "some hash slots have no reachable master: queries for their keys fail",
            "restart the unreachable master, or wait for cluster-node-timeout and a replica's "
            "failover; assign any unassigned slots (redis-cli --cluster fix)",
        ),
        Reason(
            "not_cluster",
            "the seed answered, but not as a Redis Cluster node (cluster support disabled?)",
            "set REDIS_MODE to what the server is (standalone, cluster or sentinel)",
        ),
        Reason(
            "degraded",
            "a node is unreachable (or suspected down), but every slot is still served",
            "restart the node: the cluster has less redundancy until it is back",
        ),
        Reason(
            "no_quorum",
            "the sentinels cannot reach their quorum: a failover could not be authorised",
            "bring sentinels back until a majority is reachable (SENTINEL CKQUORUM)",
        ),
        Reason(
            "no_master",
            "no usable master: the sentinels name none, disagree, or name one that is down",
            "check the master and SENTINEL MASTER <name>; during a failover this clears in "
            "a few seconds",
        ),
        Reason(
            "not_master",
            "the node the sentinels call master answers ROLE as a replica",
            "the sentinels' view is stale or split: check SENTINEL MASTER and the node's "
            "REPLICAOF; the sentinels reconfigure it after a while",
        ),
        Reason(
            "failover",
            "the sentinels consider the master down (o_down) or are failing over",
            "wait for the failover to finish; check SENTINEL MASTER <name> flags",
        ),
        Reason(
            "sentinel_disagrees",
            "this sentinel names a different master than the majority",
            "it may lag behind a failover; check its SENTINEL MASTER and its connectivity",
        ),
        Reason(
            "replica_down",
            "a replica is unreachable or its link to the master is not up",
            "restart the replica or restore its link (INFO replication on the replica)",
        ),
        Reason(
            "no_replica",
            "the master has no replica: a failover has nowhere to go",
            "add a replica (REPLICAOF) so the sentinels can fail over",
        ),
    )
}


def reason_of(code: str) -> Reason:
    """The explanation and hint of any reason code, standalone or topology."""
    return TOPOLOGY_REASONS.get(code) or REASONS.get(code) or REASONS["error"]


# --------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class NodeState:
    """What one node answered (or why it did not), within the shared budget."""

    address: str  #: host:port
    reachable: bool
    reason: str | None = None
    detail: str | None = None
    rtt_ms: float | None = None
    role: str | None = None  #: master, slave or sentinel (from ROLE)
    replies: Mapping[str, Any] = field(default_factory=dict)  #: command -> reply (or error)
    write_ms: float | None = None
    write_failure: ProbeFailure | None = None


@dataclass(frozen=True)
class TopologyDiagnosis:
    """The verdict on a cluster or a sentinel set-up: status, first failing reason, checks."""

    mode: str  #: cluster or sentinel
    status: Status
    reason: str | None
    checks: tuple[Check, ...]
    nodes: tuple[NodeState, ...] = ()
    #: the data nodes of the topology, host:port (cluster: CLUSTER NODES; sentinel: the master
    #: first, then the replicas the sentinels list)
    members: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        return self.status is not Status.FAIL


@dataclass(frozen=True)
class ClusterNodeEntry:
    """One line of CLUSTER NODES."""

    node_id: str
    address: str  #: host:port ('' for a node without address)
    flags: frozenset[str]
    master_id: str | None
    link_state: str
    slots: tuple[tuple[int, int], ...]

    @property
    def is_master(self) -> bool:
        return "master" in self.flags

    @property
    def slot_count(self) -> int:
        return sum(last - first + 1 for first, last in self.slots)


def parse_cluster_nodes(text: str) -> list[ClusterNodeEntry]:
    """The entries of a CLUSTER NODES reply (slots being migrated, in brackets, are skipped)."""
    entries = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        host_port = parts[1].split("@")[0].split(",")[0]
        host, _, port = host_port.rpartition(":")
        address = f"{host}:{port}" if host and port not in ("", "0") else ""
        slots = []
        for item in parts[8:]:
            if item.startswith("["):
                continue
            first, _, last = item.partition("-")
            slots.append((int(first), int(last or first)))
        entries.append(
            ClusterNodeEntry(
                node_id=parts[0],
                address=address,
                flags=frozenset(parts[2].split(",")),
                master_id=None if parts[3] == "-" else parts[3],
                link_state=parts[7],
                slots=tuple(slots),
            )
        )
    return entries


def parse_info_fields(text: str) -> dict[str, str]:
    """``key:value`` lines (CLUSTER INFO, INFO) as a dict of strings."""
    fields = {}
    for line in text.splitlines():
        key, colon, value = line.strip().partition(":")
        if colon and not key.startswith("#"):
            fields[key] = value
    return fields


# --------------------------------------------------------------------------------------------
# One node


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _pairs(reply: Any) -> dict[str, str]:
    """A map reply (SENTINEL MASTER, one of SENTINEL REPLICAS) as a dict of strings: a RESP3
    map, or RESP2's flat [k1, v1, k2, v2, ...]."""
    if isinstance(reply, dict):
        return {_text(k): _text(v) for k, v in reply.items()}
    if not isinstance(reply, list):
        return {}
    items = [_text(v) for v in reply]
    return dict(zip(items[::2], items[1::2], strict=False))


async def _reply(conn: AbstractConnection, remaining: Callable[[], float], *args: Any) -> Any:
    """One command's reply; an error reply is returned (not raised), a transport fault raises
    a ProbeFailure."""
    from redis.exceptions import ResponseError

    conn.socket_timeout = max(remaining() - _STEP_MARGIN, 0.001)
    try:
        await conn.send_command(*args, check_health=False)
        return await conn.read_response()  # bounded by socket_timeout (see timed_command)
    except ResponseError as exc:
        return exc
    except Exception as exc:
        raise classify_failure(exc, phase="read") from None


async def probe_node(
    url: str,
    *,
    deadline: float,
    commands: Sequence[tuple[str, ...]] = (),
    write_key: Callable[[Mapping[str, Any]], str | None] | None = None,
    client_name: str = PROBE_CLIENT_NAME,
) -> NodeState:
    """Connect to one node, PING it (round-trip), ask ROLE and ``commands``; never raises.

    ``write_key`` (given the replies) names a key to SET PX and DEL, or None to skip writing.
    Everything ends by ``deadline`` (the event loop's clock).
    """
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host = parts.hostname or ""
    address = f"[{host}]:{parts.port or 6379}" if ":" in host else f"{host}:{parts.port or 6379}"
    password = parts.password

    def remaining() -> float:
        return deadline - loop.time()

    opened: list[AbstractConnection] = []
    replies: dict[str, Any] = {}
    rtt_ms = write_ms = None
    role = None
    write_failure = None
    try:
        try:
            async with asyncio.timeout_at(deadline):
                await _check_dns(url, remaining)
                conn = await open_probe_connection(url, remaining(), client_name, opened)
                rtt_ms = await timed_command(conn, remaining, "PING")
                role_reply = await _reply(conn, remaining, "ROLE")
                if isinstance(role_reply, list) and role_reply:
                    role = _text(role_reply[0])
                    replies["ROLE"] = role_reply
                for args in commands:
                    replies[" ".join(args[:2]).upper()] = await _reply(conn, remaining, *args)
                key = write_key(replies) if write_key else None
                if key is not None:
                    try:
                        write_ms = await timed_command(
                            conn, remaining, "SET", key, "1", "PX", WRITE_KEY_TTL_MS, phase="write"
                        )
                        await timed_command(conn, remaining, "DEL", key, phase="write")
                    except ProbeFailure as failure:
                        write_failure = failure
        except TimeoutError:
            raise ProbeFailure("deadline", "no answer within the budget") from None
    except ProbeFailure as failure:
        detail = failure.detail.replace(password, "***") if password else failure.detail
        return NodeState(address, False, failure.reason, detail, rtt_ms, role, replies)
    finally:
        await asyncio.gather(*(close_connection(conn) for conn in opened))
    return NodeState(address, True, None, None, rtt_ms, role, replies, write_ms, write_failure)


def url_for_node(base_url: str, address: str) -> str:
    """``base_url`` (its credentials, db, TLS options) pointed at ``address`` (host:port)."""
    host, port = parse_host_port(address)
    parts = urlsplit(base_url)
    userinfo = parts.netloc.rpartition("@")[0]
    shown_host = f"[{host}]" if ":" in host else host
    netloc = f"{userinfo}@{shown_host}:{port}" if userinfo else f"{shown_host}:{port}"
    scheme = "redis" if parts.scheme == "unix" else parts.scheme
    path = "" if parts.scheme == "unix" else parts.path
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def url_for_sentinel(base_url: str, address: str) -> str:
    """A sentinel's URL: ``base_url``'s scheme and TLS options, no credentials, no db."""
    parts = urlsplit(url_for_node(base_url, address))
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.startswith("ssl")])
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], "", query, ""))


def _health_key(tag: str = "") -> str:
    return f"cpa-ops:health:{{{socket.gethostname()}:{os.getpid()}{tag}}}"


def key_in_slots(slots: Iterable[tuple[int, int]], tries: int = 20_000) -> str | None:
    """A health key whose hash slot is in ``slots`` (so this master owns it), or None."""
    from redis.crc import key_slot

    ranges = list(slots)
    for n in range(tries):
        key = _health_key(f":{n}")
        slot = key_slot(key.encode())
        if any(first <= slot <= last for first, last in ranges):
            return key
    return None


class _NodeProbes:
    """The concurrent node probes of one verdict, sharing its deadline; none outlives it."""

    def __init__(self, deadline: float, client_name: str) -> None:
        self.deadline = deadline
        self.client_name = client_name
        self._tasks: list[asyncio.Task[NodeState]] = []

    def start(
        self,
        url: str,
        commands: Sequence[tuple[str, ...]],
        write_key: Callable[[Mapping[str, Any]], str | None] | None = None,
    ) -> asyncio.Task[NodeState]:
        task = asyncio.create_task(
            probe_node(
                url,
                deadline=self.deadline,
                commands=commands,
                write_key=write_key,
                client_name=self.client_name,
            )
        )
        self._tasks.append(task)
        return task

    async def cancel_rest(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _gather_by(tasks: Iterable[asyncio.Task[NodeState]], deadline: float) -> list[NodeState]:
    """Every task's NodeState; one still running at ``deadline`` is cancelled (never hangs)."""
    tasks = list(tasks)
    loop = asyncio.get_running_loop()
    if tasks:
        await asyncio.wait(tasks, timeout=max(deadline - loop.time(), 0) + 0.05)
    states = []
    for task in tasks:
        if not task.done():
            task.cancel()
        states.append(task.result() if task.done() and not task.cancelled() else None)
    return [s for s in states if s is not None]


# --------------------------------------------------------------------------------------------
# Cluster


async def probe_cluster(
    seed_urls: Sequence[str],
    *,
    budget: float,
    write: bool = False,
    warn_ms: float = 100.0,
    client_name: str = PROBE_CLIENT_NAME,
) -> TopologyDiagnosis:
    """Diagnose the Redis Cluster reachable through ``seed_urls`` within ``budget`` seconds.

    The seeds are asked concurrently; the first to answer CLUSTER NODES names the other nodes,
    which are then asked concurrently too. Never raises for a Redis fault.
    """
    loop = asyncio.get_running_loop()
    # the nodes stop early enough that closing them still ends inside the caller's budget
    deadline = loop.time() + max(budget - _CLOSE_MARGIN, budget / 2)
    import redis.asyncio  # noqa: F401 - imported before timing: round-trips measure the network

    commands = (("CLUSTER", "INFO"), ("CLUSTER", "NODES"), ("INFO",))

    def own_slots_key(replies: Mapping[str, Any]) -> str | None:
        if not write:
            return None
        entries = parse_cluster_nodes(_text(replies.get("CLUSTER NODES", "")))
        me = next((e for e in entries if "myself" in e.flags), None)
        return key_in_slots(me.slots) if me and me.is_master and me.slots else None

    probes = _NodeProbes(deadline, client_name)
    tasks: dict[str, asyncio.Task[NodeState]] = {}
    try:
        for url in seed_urls:
            if _address_of(url) not in tasks:
                tasks[_address_of(url)] = probes.start(url, commands, own_slots_key)
        topology: list[ClusterNodeEntry] = []
        view: NodeState | None = None
        pending: set[asyncio.Task[NodeState]] = set(tasks.values())
        while pending and view is None:
            done, pending = await asyncio.wait(
                pending,
                timeout=max(deadline - loop.time(), 0),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                break
            for task in done:
                state = task.result()
                nodes_reply = state.replies.get("CLUSTER NODES")
                if state.reachable and isinstance(nodes_reply, bytes | str):
                    view, topology = state, parse_cluster_nodes(_text(nodes_reply))
                    break
        # a seed named by host name is the same node as its address in CLUSTER NODES
        known = set(tasks)
        view_self = _myself(view) if view is not None else None
        if view_self is not None:
            known.add(view_self.address)
        for entry in topology:
            if entry.address and entry.address not in known and "noaddr" not in entry.flags:
                node_url = url_for_node(seed_urls[0], entry.address)
                tasks[entry.address] = probes.start(node_url, commands, own_slots_key)
        states = await _gather_by(tasks.values(), deadline)
    finally:
        await probes.cancel_rest()
    return _cluster_verdict(
        _as_cluster_names_them(states), view, topology, write=write, warn_ms=warn_ms
    )


def _myself(state: NodeState) -> ClusterNodeEntry | None:
    """The node's own line of its CLUSTER NODES reply."""
    entries = parse_cluster_nodes(_text(state.replies.get("CLUSTER NODES", "")))
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


def _address_of(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"[{host}]:{parts.port or 6379}" if ":" in host else f"{host}:{parts.port or 6379}"


def _cluster_verdict(
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
            _node_ping_check(state, entries.get(state.address), down_status, warn_ms, entries)
        )
    checks.extend(_limit_checks(by_address))
    if write:
        checks.extend(_write_check(s) for s in by_address if s.reachable and s.address in serving)
    members = [e.address for e in topology if e.address and e.is_master]
    members += [e.address for e in topology if e.address and not e.is_master]
    return _diagnosis("cluster", checks, states, members)


def _no_view_verdict(states: list[NodeState], warn_ms: float) -> TopologyDiagnosis:
    """No seed told us the topology: the first seed's own fault is the verdict."""
    first = states[0] if states else NodeState("?", False, "deadline", "no seed answered")
    if first.reachable:
        reason = "not_cluster"
        said = _text(first.replies.get("CLUSTER NODES", "no reply"))
        output = f"{reason_of(reason).explanation} ({first.address}): {said}"
    else:
        reason = first.reason or "error"
        output = (
            f"no seed node answered: {reason_of(reason).explanation} "
            f"({first.address}): {first.detail}"
        )
    check = Check(
        "redis", "cluster", Status.FAIL, output, reason=reason, hint=reason_of(reason).hint
    )
    node_checks = [_node_ping_check(s, None, Status.FAIL, warn_ms) for s in states]
    return _diagnosis("cluster", [check, *node_checks], states)


def _cluster_check(
    states: list[NodeState], view: NodeState, topology: list[ClusterNodeEntry]
) -> Check:
    """``redis:cluster``: cluster_state and slots from the view node's CLUSTER INFO, every
    reachable node's own cluster_state, and which slots our probe found a master for."""
    by_address = {s.address: s for s in states}
    info = parse_info_fields(_text(view.replies.get("CLUSTER INFO", "")))
    entries = {e.address for e in topology if e.address}
    masters = [e for e in topology if e.is_master and e.slots]
    assigned = sum(e.slot_count for e in masters)
    unserved = [e for e in masters if not _reachable(by_address.get(e.address))]
    unserved_slots = sum(e.slot_count for e in unserved) + (CLUSTER_SLOTS - assigned)
    failing_views = sorted(
        s.address
        for s in states
        if s.reachable
        and parse_info_fields(_text(s.replies.get("CLUSTER INFO", ""))).get("cluster_state")
        not in (None, "ok")
    )
    # a dead seed outside the topology warns on its own check, it is no node of the cluster
    down = [s for s in states if not s.reachable and s.address in entries]
    answering = sum(1 for s in states if s.reachable)
    pfail = int(info.get("cluster_slots_pfail", "0") or 0)
    details = {
        "clusterState": info.get("cluster_state"),
        "slotsAssigned": _int(info.get("cluster_slots_assigned")),
        "slotsOk": _int(info.get("cluster_slots_ok")),
        "slotsPfail": _int(info.get("cluster_slots_pfail")),
        "slotsFail": _int(info.get("cluster_slots_fail")),
        "knownNodes": _int(info.get("cluster_known_nodes")),
        "size": _int(info.get("cluster_size")),
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
    reason: str | None
    if failing_views:
        status, reason = Status.FAIL, "cluster_down"
        output = (
            f"cluster_state:fail on {', '.join(failing_views)} although {answering} of "
            f"{len(states)} nodes answer PING; {summary}"
        )
    elif unserved_slots:
        status, reason = Status.FAIL, "slots_unserved"
        owners = ", ".join(f"{e.address} ({_ranges(e.slots)})" for e in unserved)
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
    else:
        status, reason, output = Status.PASS, None, summary
    return Check(
        "redis",
        "cluster",
        status,
        output,
        reason=reason,
        hint=reason_of(reason).hint if reason else None,
        observed_value=_int(info.get("cluster_slots_ok")),
        details={k: v for k, v in details.items() if v is not None},
    )


def _reachable(state: NodeState | None) -> bool:
    return state is not None and state.reachable


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _ranges(slots: Iterable[tuple[int, int]]) -> str:
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in slots)


def _node_ping_check(
    state: NodeState,
    entry: ClusterNodeEntry | None,
    down_status: Status,
    warn_ms: float,
    entries: Mapping[str, ClusterNodeEntry] | None = None,
    measurement: str = "ping",
) -> Check:
    """``redis:ping`` (or ``measurement``) for one node: reachable, role, round-trip."""
    details: dict[str, Any] = {"role": state.role} if state.role else {}
    if entry is not None:
        if entry.slots:
            details["slots"] = _ranges(entry.slots)
        if entry.master_id and entries is not None:
            master = next((e for e in entries.values() if e.node_id == entry.master_id), None)
            if master is not None:
                details["replicaOf"] = master.address
        details["flags"] = ",".join(sorted(entry.flags - {"myself"}))
    facts = facts_of(state)
    if facts is not None and facts.version:
        details["version"] = facts.version
    if "CLUSTER INFO" in state.replies:
        own = parse_info_fields(_text(state.replies["CLUSTER INFO"])).get("cluster_state")
        if own:
            details["clusterState"] = own
    if not state.reachable:
        reason = state.reason or "error"
        return Check(
            "redis",
            measurement,
            down_status,
            f"{reason_of(reason).explanation}: {state.detail}",
            reason=reason,
            hint=reason_of(reason).hint,
            component_id=state.address,
            details=details,
        )
    role = {"slave": "replica"}.get(state.role or "", state.role or "node")
    slow = state.rtt_ms is not None and state.rtt_ms > warn_ms
    output = (
        f"round-trip {state.rtt_ms:.1f} ms is above {warn_ms:g} ms"
        if slow and state.rtt_ms is not None
        else f"{role} answered PONG"
    )
    details["warnMs"] = warn_ms
    return Check(
        "redis",
        measurement,
        Status.WARN if slow else Status.PASS,
        output,
        reason="slow" if slow else None,
        hint="check network latency and the server's load (LATENCY DOCTOR)" if slow else None,
        observed_value=_round(state.rtt_ms),
        observed_unit="ms",
        component_id=state.address,
        details=details,
    )


def facts_of(state: NodeState) -> ServerFacts | None:
    """What the node's INFO said, when it was asked and answered."""
    reply = state.replies.get("INFO")
    if not isinstance(reply, bytes | str):
        return None
    return ServerFacts.from_info(parse_info_fields(_text(reply)))


def _limit_checks(states: Iterable[NodeState]) -> list[Check]:
    """``redis:memory`` and ``redis:clients`` per node that answered INFO: a warn at 90% of
    maxmemory or maxclients, as in standalone mode."""
    checks = []
    for state in states:
        facts = facts_of(state)
        if facts is None:
            continue
        share = facts.memory_share
        if facts.used_memory is not None:
            near = share is not None and share >= NEAR_LIMIT
            limit = f" of maxmemory {_mib(facts.maxmemory)}" if facts.maxmemory else ""
            checks.append(
                Check(
                    "redis",
                    "memory",
                    Status.WARN if near else Status.PASS,
                    f"used {_mib(facts.used_memory)}{limit}"
                    + (f" ({share:.0%}, policy {facts.maxmemory_policy})" if near else ""),
                    reason="memory" if near else None,
                    hint="free memory, raise maxmemory or pick an eviction policy"
                    if near
                    else None,
                    observed_value=facts.used_memory,
                    observed_unit="B",
                    component_id=state.address,
                    details={"maxMemory": facts.maxmemory} if facts.maxmemory else {},
                )
            )
        share = facts.clients_share
        if facts.connected_clients is not None:
            near = share is not None and share >= NEAR_LIMIT
            checks.append(
                Check(
                    "redis",
                    "clients",
                    Status.WARN if near else Status.PASS,
                    f"{facts.connected_clients} of {facts.maxclients} clients",
                    reason="clients" if near else None,
                    hint="find the client leaking connections (CLIENT LIST) or raise maxclients"
                    if near
                    else None,
                    observed_value=facts.connected_clients,
                    component_id=state.address,
                )
            )
    return checks


def _mib(size: int | None) -> str:
    return "?" if size is None else f"{size / 1048576:.1f} MiB"


def _write_check(state: NodeState) -> Check:
    if state.write_failure is not None:
        code = state.write_failure.reason
        return Check(
            "redis",
            "write",
            Status.FAIL,
            f"{reason_of(code).explanation}: {state.write_failure.detail}",
            reason=code,
            hint=reason_of(code).hint,
            component_id=state.address,
        )
    if state.write_ms is None:
        return Check(
            "redis",
            "write",
            Status.WARN,
            "no health key found in this master's slots: write not checked",
            reason="error",
            component_id=state.address,
        )
    return Check(
        "redis",
        "write",
        Status.PASS,
        "SET PX and DEL of a health key succeeded",
        observed_value=_round(state.write_ms),
        observed_unit="ms",
        component_id=state.address,
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _diagnosis(
    mode: str, checks: list[Check], states: list[NodeState], members: Iterable[str] = ()
) -> TopologyDiagnosis:
    status = worst([c.status for c in checks])
    failing = next((c for c in checks if c.status is Status.FAIL), None)
    return TopologyDiagnosis(
        mode=mode,
        status=status,
        reason=failing.reason if failing else None,
        checks=tuple(checks),
        nodes=tuple(states),
        members=tuple(dict.fromkeys(members)),
    )


# --------------------------------------------------------------------------------------------
# Sentinel


async def probe_sentinel(
    sentinels: Sequence[str],
    service: str,
    url: str,
    *,
    budget: float,
    write: bool = False,
    warn_ms: float = 100.0,
    client_name: str = PROBE_CLIENT_NAME,
) -> TopologyDiagnosis:
    """Diagnose the Sentinel-managed ``service`` within ``budget`` seconds; never raises for a
    Redis fault.

    Every sentinel is asked concurrently; once a majority of them name the same master (or all
    have answered), the master and the replicas the sentinels list are asked concurrently.
    ``url`` (REDIS_URL) gives the data nodes' password, db and TLS options.
    """
    loop = asyncio.get_running_loop()
    # the nodes stop early enough that closing them still ends inside the caller's budget
    deadline = loop.time() + max(budget - _CLOSE_MARGIN, budget / 2)
    import redis.asyncio  # noqa: F401 - imported before timing: round-trips measure the network

    majority = len(sentinels) // 2 + 1
    commands = (
        ("SENTINEL", "GET-MASTER-ADDR-BY-NAME", service),
        ("SENTINEL", "CKQUORUM", service),
        ("SENTINEL", "MASTER", service),
        ("SENTINEL", "REPLICAS", service),
    )
    probes = _NodeProbes(deadline, client_name)
    try:
        sentinel_tasks = {
            address: probes.start(url_for_sentinel(url, address), commands)
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
                timeout=max(deadline - loop.time(), 0),
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
            write_key = (lambda _replies: _health_key()) if write else None
            node_tasks[master_address] = probes.start(
                url_for_node(url, master_address), (("INFO",),), write_key
            )
            teller = next(s for s in answered_states if _named_master(s) == master_address)
            for replica in _replicas_of(teller):
                address = replica.get("name") or f"{replica.get('ip')}:{replica.get('port')}"
                try:
                    replica_url = url_for_node(url, address)
                except ValueError:
                    continue  # a sentinel listing a replica without an address: nothing to ask
                replica["address"] = address
                replicas.append(replica)
                if address not in node_tasks:
                    node_tasks[address] = probes.start(replica_url, (("INFO",),))
        sentinel_states = await _gather_by(sentinel_tasks.values(), deadline)
        node_states = {s.address: s for s in await _gather_by(node_tasks.values(), deadline)}
        # count every sentinel that answered by now, not only those before the majority
        named = Counter(a for a in (_named_master(s) for s in sentinel_states) if a)
    finally:
        await probes.cancel_rest()
    return _sentinel_verdict(
        sentinels,
        sentinel_states,
        master_address,
        named,
        node_states,
        replicas,
        write=write,
        warn_ms=warn_ms,
    )


# what the sentinels flag a master with once they see it down or replace it
_DOWN_FLAGS = frozenset({"s_down", "o_down", "failover_in_progress"})


def _named_master(state: NodeState) -> str | None:
    reply = state.replies.get("SENTINEL GET-MASTER-ADDR-BY-NAME")
    if not state.reachable or not isinstance(reply, list) or len(reply) != 2:
        return None
    host, port = _text(reply[0]), _text(reply[1])
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _replicas_of(state: NodeState) -> list[dict[str, str]]:
    reply = state.replies.get("SENTINEL REPLICAS")
    return [_pairs(item) for item in reply] if isinstance(reply, list) else []


def _sentinel_verdict(
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
    master_state = node_states.get(master_address) if master_address else None
    checks = [
        _master_check(configured, answering, master_address, named, master_state),
        # after the master's: an unknown service name fails both, and no_master says it better
        _quorum_check(configured, answering),
        *_sentinel_checks(configured, sentinel_states, master_address, warn_ms),
    ]
    for address, state in node_states.items():
        down_status = Status.FAIL if address == master_address else Status.WARN
        checks.append(_node_ping_check(state, None, down_status, warn_ms))
    if master_address is not None:
        if not replicas:
            checks.append(
                Check(
                    "redis",
                    "replication",
                    Status.WARN,
                    TOPOLOGY_REASONS["no_replica"].explanation,
                    reason="no_replica",
                    hint=TOPOLOGY_REASONS["no_replica"].hint,
                )
            )
        for replica in replicas:
            checks.append(
                _replica_check(replica, node_states.get(replica["address"]), master_address)
            )
    checks.extend(_limit_checks(node_states.values()))
    if write and master_state is not None and master_state.reachable:
        checks.append(_write_check(master_state))
    members = [master_address] if master_address else []
    members += [replica["address"] for replica in replicas]
    return _diagnosis("sentinel", checks, [*sentinel_states, *node_states.values()], members)


def _quorum_check(configured: Sequence[str], answering: list[NodeState]) -> Check:
    """``redis:quorum``: what the sentinels themselves say (CKQUORUM), by a majority of those
    answering, when a majority of the configured ones answer at all."""
    majority = len(configured) // 2 + 1
    quorum_replies = [s.replies.get("SENTINEL CKQUORUM") for s in answering]
    ok_replies = [r for r in quorum_replies if isinstance(r, bytes | str)]
    refusals = [r for r in quorum_replies if isinstance(r, Exception)]
    if len(answering) >= majority and len(ok_replies) * 2 > len(answering):
        return Check(
            "redis",
            "quorum",
            Status.PASS,
            f"SENTINEL CKQUORUM: {_text(ok_replies[0])} ({len(answering)} of "
            f"{len(configured)} sentinels answering)",
            observed_value=len(answering),
        )
    # fewer than a majority answering us cannot vouch for a failover, whatever they say
    why = (
        f"only {len(answering)} of {len(configured)} sentinels answered (a majority is {majority})"
        if len(answering) < majority
        else f"SENTINEL CKQUORUM: {refusals[0] if refusals else 'no OK reply'}"
    )
    return Check(
        "redis",
        "quorum",
        Status.FAIL,
        f"{TOPOLOGY_REASONS['no_quorum'].explanation}: {why}",
        reason="no_quorum",
        hint=TOPOLOGY_REASONS["no_quorum"].hint,
        observed_value=len(answering),
    )


def _master_check(
    configured: Sequence[str],
    answering: list[NodeState],
    master_address: str | None,
    named: Counter[str],
    master_state: NodeState | None,
) -> Check:
    """``redis:master``: named by the sentinels, reachable, and a master by its own ROLE."""
    sentinel_view = _pairs(
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
        else:
            why = "no sentinel answered"
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
    if master_state.role != "master":
        of = f" of {_text(role_reply[1])}:{_text(role_reply[2])}" if len(role_reply) >= 3 else ""
        why = (
            f"the sentinels name {master_address} as master, but it answers ROLE as "
            f"{master_state.role}{of}"
        )
        return _master_fail("not_master", why, master_address, details)
    linked = role_reply[2] if len(role_reply) >= 3 else []
    connected = len(linked) if isinstance(linked, list) else 0
    details["connectedReplicas"] = connected
    troubled = flags & _DOWN_FLAGS
    text = (
        f"{master_address} is master by its own ROLE (named by {details['namedBy']} of "
        f"{len(configured)} sentinels; {connected} replica{'' if connected == 1 else 's'} "
        "connected)"
    )
    return Check(
        "redis",
        "master",
        Status.WARN if troubled else Status.PASS,
        f"{text}, but the sentinels flag it {','.join(sorted(troubled))}" if troubled else text,
        reason="failover" if troubled else None,
        hint=TOPOLOGY_REASONS["failover"].hint if troubled else None,
        observed_value=_round(master_state.rtt_ms),
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
                _node_ping_check(state, None, Status.WARN, warn_ms, measurement="sentinel")
            )
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
                hint=None if agrees else TOPOLOGY_REASONS["sentinel_disagrees"].hint,
                observed_value=_round(state.rtt_ms),
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
        f"{TOPOLOGY_REASONS[code].explanation}: {why}",
        reason=code,
        hint=TOPOLOGY_REASONS[code].hint,
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
        info = parse_info_fields(_text(state.replies.get("INFO", "")))
        link = info.get("master_link_status")
        details["masterLinkStatus"] = link
        if state.role != "slave" or len(role_reply) < 4:
            problem = f"answers ROLE as {state.role}, not as a replica"
        else:
            of = f"{_text(role_reply[1])}:{_text(role_reply[2])}"
            details["replicaOf"] = of
            if of != master_address:
                problem = f"replicates {of}, not the master {master_address}"
            elif link != "up":
                problem = f"master link is {link or _text(role_reply[3])}"
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
        hint=TOPOLOGY_REASONS["replica_down"].hint,
        component_id=address,
        details=details,
    )


# --------------------------------------------------------------------------------------------
# Dispatch by REDIS_MODE


# --------------------------------------------------------------------------------------------
# The services' client and liveness boolean beyond one server


def _connection_options(url: str) -> dict[str, Any]:
    """Credentials, db and TLS options of ``url`` as connection keyword arguments."""
    from redis.asyncio import SSLConnection
    from redis.asyncio.connection import parse_url

    options: dict[str, Any] = dict(parse_url(url))
    options.pop("host", None)
    options.pop("port", None)
    options.pop("path", None)
    if options.pop("connection_class", None) is SSLConnection:
        options["ssl"] = True
    return options


async def create_cluster_client(
    settings: Settings,
    *,
    acquire_timeout: float,
    socket_timeout: float,
    connect_timeout: float,
    client_name: str | None,
) -> RedisCluster:
    """A cluster client for REDIS_URL's seeds: at most REDIS_MAX_CONNECTIONS command connections
    per node (redis-py keeps one more per seed, the one it discovered the topology with), the
    same timeouts and retries as the standalone pool, and a caller finding every connection in
    use waits up to ``acquire_timeout`` (redis-py's cluster client would fail at once)."""
    from redis.asyncio import RedisCluster
    from redis.asyncio.cluster import ClusterNode
    from redis.exceptions import ConnectionError as RedisConnectionError

    from cpa_ops.core.redis import service_connection_options

    seeds = settings.redis_seed_urls
    options = _connection_options(seeds[0])
    options.pop("db", None)  # a cluster has only db 0
    nodes = [ClusterNode(*parse_host_port(_address_of(url))) for url in seeds]
    limit = settings.redis_max_connections

    class WaitingRedisCluster(RedisCluster):
        """At most ``limit`` commands in flight (so at most that many connections per node);
        one more waits for a free slot, up to ``acquire_timeout``."""

        _in_flight = asyncio.Semaphore(limit)

        async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
            try:
                async with asyncio.timeout(acquire_timeout):
                    await self._in_flight.acquire()
            except TimeoutError:
                raise RedisConnectionError("No connection available.") from None
            try:
                return await super().execute_command(*args, **kwargs)
            finally:
                self._in_flight.release()

    return WaitingRedisCluster(
        startup_nodes=nodes,
        max_connections=limit,
        # REDIS_URL's own options (client_name may be one) win, as from_url lets them
        **{**service_connection_options(socket_timeout, connect_timeout, client_name), **options},
    )


async def create_sentinel_pool(
    settings: Settings,
    *,
    acquire_timeout: float,
    socket_timeout: float,
    connect_timeout: float,
    client_name: str | None,
) -> BlockingConnectionPool:
    """A blocking pool of at most REDIS_MAX_CONNECTIONS connections to the master the sentinels
    name (re-asked on every new connection, so it follows a failover); REDIS_URL gives the
    password, db and TLS options; the sentinels are asked with the same timeouts, no password."""
    from redis.asyncio import BlockingConnectionPool
    from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

    from cpa_ops.core.redis import service_connection_options

    class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
        """SentinelConnectionPool's master discovery with BlockingConnectionPool's bounded wait."""

    assert settings.redis_sentinel_master is not None  # validated with the mode
    options = _connection_options(settings.redis_url.get_secret_value())
    sentinel_options = {"ssl": True} if options.get("ssl") else {}
    sentinel_options.update({k: v for k, v in options.items() if k.startswith("ssl_")})
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        [parse_host_port(address) for address in settings.redis_sentinels],
        sentinel_kwargs={
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": connect_timeout,
            **sentinel_options,
        },
    )
    pool: BlockingConnectionPool = BlockingSentinelPool(  # type: ignore[no-untyped-call]
        settings.redis_sentinel_master,
        sentinel,
        max_connections=settings.redis_max_connections,
        timeout=acquire_timeout,
        # REDIS_URL's own options (client_name may be one) win, as from_url lets them
        **{**service_connection_options(socket_timeout, connect_timeout, client_name), **options},
    )
    return pool


async def check_cluster_health(client: RedisCluster, timeout: float = 1.0) -> bool:
    """True when every master answers CLUSTER INFO with cluster_state:ok within ``timeout``.

    PING alone would be true on the survivors of a cluster that refuses every query. Never
    raises (cancellation aside).
    """
    try:
        async with asyncio.timeout(timeout):
            replies = await client.execute_command("CLUSTER INFO", target_nodes=client.PRIMARIES)
    except asyncio.CancelledError:
        raise
    except Exception:
        return False
    views = replies.values() if isinstance(replies, dict) else [replies]
    return bool(views) and all(_cluster_state_ok(view) for view in views)


def _cluster_state_ok(view: Any) -> bool:
    if isinstance(view, dict):
        return _text(view.get("cluster_state", "")) == "ok"
    return parse_info_fields(_text(view)).get("cluster_state") == "ok"


# --------------------------------------------------------------------------------------------
# What `cpa-ops ping` samples beyond one server


@dataclass(frozen=True)
class NodeTarget:
    """A data node to sample: where it is, its URL (with credentials: never shown), its role."""

    address: str
    url: str
    role: str | None


async def ping_targets(
    settings: Settings, *, budget: float, client_name: str = PROBE_CLIENT_NAME
) -> tuple[list[NodeTarget], TopologyDiagnosis]:
    """The nodes ``cpa-ops ping`` samples: every node of the cluster, or the master the
    sentinels name; with the diagnosis they came from (it names the fault when there are none)."""
    from cpa_ops.core.redis import probe_settings

    diagnosis = await probe_settings(settings, budget=budget, client_name=client_name)
    assert isinstance(diagnosis, TopologyDiagnosis)  # only called outside standalone mode
    base_url = settings.redis_seed_urls[0]
    roles: dict[str, str | None] = {}
    for check in diagnosis.checks:
        if check.key == "redis:ping" and check.component_id:
            # a node that did not answer ROLE still has its role in the cluster's flags
            flags = str(check.details.get("flags", "")).split(",")
            role = check.details.get("role") or next(
                (f for f in flags if f in ("master", "slave")), None
            )
            roles[check.component_id] = role
    members = diagnosis.members[:1] if diagnosis.mode == "sentinel" else diagnosis.members
    targets = [
        NodeTarget(address, url_for_node(base_url, address), roles.get(address))
        for address in members
    ]
    return targets, diagnosis


async def sample_nodes(
    targets: Sequence[NodeTarget],
    *,
    count: int = 0,
    interval: float = 1.0,
    timeout: float = 1.0,
) -> AsyncGenerator[tuple[str, Sample], None]:
    """``cpa-ops ping`` across nodes: each round PINGs every node concurrently (one connection
    per node, as :func:`~cpa_ops.core.latency.sample_latency` keeps for one server) and yields
    ``(address, sample)`` per node; ``count`` rounds (0: until the caller stops), one every
    ``interval`` seconds."""
    from cpa_ops.core.latency import LatencySampler

    loop = asyncio.get_running_loop()
    samplers = [(t.address, LatencySampler(t.url, timeout=timeout)) for t in targets]
    try:
        seq = 0
        next_start = loop.time()
        while count == 0 or seq < count:
            seq += 1
            samples = await asyncio.gather(*(sampler.sample(seq) for _, sampler in samplers))
            for (address, _), sample in zip(samplers, samples, strict=True):
                yield address, sample
            if interval and (count == 0 or seq < count):
                next_start = max(next_start + interval, loop.time())
                await asyncio.sleep(next_start - loop.time())
    finally:
        await asyncio.gather(*(sampler.close() for _, sampler in samplers))
