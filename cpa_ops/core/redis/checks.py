"""From measurements to health checks: one near-limit rule, one write check, one failed-check
shape, and the per-node and per-server checks built from them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cpa_ops.core.health import Check, Status, worst
from cpa_ops.core.redis.acl import info_check, info_warning
from cpa_ops.core.redis.facts import (
    ClusterNodeEntry,
    ServerFacts,
    parse_info_fields,
    ranges,
    text,
)
from cpa_ops.core.redis.model import NodeState, TopologyDiagnosis
from cpa_ops.core.redis.reasons import reason_of
from cpa_ops.core.redis.sync_state import (
    eviction_details,
    evicts_at_limit,
    persistence_warning,
    sync_details,
    syncing_failure,
    writable_replica_warning,
)

#: warn when used_memory or connected_clients reach this share of their limit
NEAR_LIMIT = 0.9


def mib(size: int | None) -> str:
    return "?" if size is None else f"{size / 1048576:.1f} MiB"


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def fault_check(
    measurement: str,
    code: str,
    detail: str | None,
    *,
    status: Status = Status.FAIL,
    url: str | None = None,
    component_id: str | None = None,
    extra: str = "",
    details: dict[str, Any] | None = None,
) -> Check:
    """A check that names a fault: its explanation (where, when ``url``), the step's own words,
    and the reason's hint."""
    reason = reason_of(code)
    where = f" ({url})" if url else ""
    output = f"{reason.explanation}{extra}{where}" + (f": {detail}" if detail else "")
    return Check(
        "redis",
        measurement,
        status,
        output,
        reason=reason.code,
        hint=reason.hint,
        component_id=component_id,
        details=details or {},
    )


def _watched(
    measurement: str, warning: tuple[str, str] | None, ok_output: str, **measured: Any
) -> Check:
    """A check that passes with ``ok_output`` unless ``warning`` (code, text) says otherwise."""
    if warning is not None:
        code, output = warning
        hint = reason_of(code).hint
        return Check("redis", measurement, Status.WARN, output, reason=code, hint=hint, **measured)
    return Check("redis", measurement, Status.PASS, ok_output, **measured)


# --------------------------------------------------------------------------------------------
# The near-limit rule and the warnings of one server's facts


def slow_warning(rtt_ms: float | None, warn_ms: float) -> tuple[str, str] | None:
    if rtt_ms is None or rtt_ms <= warn_ms:
        return None
    return "slow", f"round-trip {rtt_ms:.1f} ms is above {warn_ms:g} ms"


def memory_warning(facts: ServerFacts) -> tuple[str, str] | None:
    share = facts.memory_share
    if share is None or share < NEAR_LIMIT or evicts_at_limit(facts):
        return None  # an evicting policy at maxmemory is working as meant
    return "memory", (
        f"used memory {mib(facts.used_memory)} is {share:.0%} of maxmemory "
        f"{mib(facts.maxmemory)} (policy {facts.maxmemory_policy})"
    )


def clients_warning(facts: ServerFacts) -> tuple[str, str] | None:
    share = facts.clients_share
    if share is None or share < NEAR_LIMIT:
        return None
    return (
        "clients",
        f"{facts.connected_clients} clients connected of maxclients {facts.maxclients}",
    )


def stale_warning(facts: ServerFacts) -> tuple[str, str] | None:
    if syncing_failure(facts) is not None:
        return None  # not stale: it never had the master's data (a failure, not a warning)
    if facts.role == "slave" and facts.master_link_status not in (None, "up"):
        return "stale", reason_of("stale").explanation
    return None


def fact_warnings(facts: ServerFacts | None) -> list[tuple[str, str]]:
    if facts is None:
        return []
    found = (
        memory_warning(facts),
        clients_warning(facts),
        stale_warning(facts),
        persistence_warning(facts),
    )
    return [w for w in found if w is not None]


def limit_checks(facts: ServerFacts, component_id: str | None = None) -> list[Check]:
    """``redis:memory`` and ``redis:clients`` of one server: a warn at the near-limit share."""
    checks = []
    if facts.used_memory is not None:
        limit = f" of {mib(facts.maxmemory)}" if facts.maxmemory else " (no maxmemory)"
        checks.append(
            _watched(
                "memory",
                memory_warning(facts),
                f"used {mib(facts.used_memory)}{limit}",
                observed_value=facts.used_memory,
                observed_unit="B",
                component_id=component_id,
                details={"maxMemory": facts.maxmemory, **eviction_details(facts)},
            )
        )
    if facts.connected_clients is not None:
        checks.append(
            _watched(
                "clients",
                clients_warning(facts),
                f"{facts.connected_clients} of {facts.maxclients} clients",
                observed_value=facts.connected_clients,
                component_id=component_id,
                details={"maxClients": facts.maxclients},
            )
        )
    return checks


def write_check(
    state: NodeState, *, url: str | None = None, component_id: str | None = None
) -> Check:
    """``redis:write``: the SET PX and DEL of the health key."""
    if state.write_failure is not None:
        failure = state.write_failure
        return fault_check(
            "write", failure.reason, failure.detail, url=url, component_id=component_id
        )
    if state.write_ms is None:
        return Check(
            "redis",
            "write",
            Status.WARN,
            "no health key found in this master's slots: write not checked",
            reason="error",
            component_id=component_id,
        )
    writable = writable_replica_warning(state.facts)
    return Check(
        "redis",
        "write",
        Status.WARN if writable else Status.PASS,
        writable[1] if writable else "SET PX and DEL of a health key succeeded",
        reason=writable[0] if writable else None,
        hint=reason_of(writable[0]).hint if writable else None,
        observed_value=rounded(state.write_ms),
        observed_unit="ms",
        component_id=component_id,
    )


# --------------------------------------------------------------------------------------------
# One server (standalone)


def facts_details(facts: ServerFacts | None) -> dict[str, Any]:
    if facts is None:
        return {}
    details: dict[str, Any] = {
        "version": facts.version,
        "role": facts.role,
        "usedMemory": facts.used_memory,
        "maxMemory": facts.maxmemory,
        "connectedClients": facts.connected_clients,
        "maxClients": facts.maxclients,
    }
    if facts.loading:
        details["loadingPercent"] = facts.loading_loaded_perc
        details["loadingEtaSeconds"] = facts.loading_eta_seconds
    if facts.master_link_status is not None:
        details["masterLinkStatus"] = facts.master_link_status
    return {k: v for k, v in details.items() if v is not None}


def server_checks(state: NodeState, url: str, *, write: bool, warn_ms: float) -> list[Check]:
    """The checks of one server: ``redis:ping`` always, and when it answered, ``redis:memory``,
    ``redis:clients``, ``redis:replication`` (and ``redis:write``)."""
    facts = state.facts
    if not state.reachable:
        code = state.reason or "error"
        loading = facts.loading_text if facts is not None and code == "loading" else ""
        extra = f": {loading}" if loading else ""
        details = facts_details(facts)
        return [fault_check("ping", code, state.detail, url=url, extra=extra, details=details)]
    version = f"Redis {facts.version} {facts.role}" if facts and facts.version else "Redis"
    checks = [
        _watched(
            "ping",
            slow_warning(state.rtt_ms, warn_ms),
            f"{version} answered PONG at {url}",
            observed_value=rounded(state.rtt_ms),
            observed_unit="ms",
            details={
                "connectMs": rounded(state.connect_ms),
                "warnMs": warn_ms,
                **facts_details(facts),
            },
        )
    ]
    if facts is not None:
        checks.extend(limit_checks(facts))
        if facts.role is not None:
            checks.append(replication_check(facts, url))
        persistence = persistence_warning(facts)
        if persistence is not None:  # shown only when a save failed and Redis shrugged it off
            checks.append(_watched("persistence", persistence, ""))
    if write:
        checks.append(write_check(state, url=url))
    return checks


def replication_check(facts: ServerFacts, url: str | None = None) -> Check:
    """``redis:replication``: fails ``syncing`` for a replica that has not synced (an empty,
    partial or old dataset), warns ``stale`` for one whose link went down."""
    syncing = syncing_failure(facts)
    if syncing is not None:
        details = sync_details(facts)
        return fault_check("replication", syncing[0], syncing[1], url=url, details=details)
    link = f", master link {facts.master_link_status}" if facts.master_link_status else ""
    return _watched("replication", stale_warning(facts), f"role {facts.role}{link}")


def replica_sync_check(
    facts: ServerFacts | None, component_id: str, details: Mapping[str, Any] | None = None
) -> Check | None:
    """``redis:replication`` of a cluster's or sentinel set-up's replica that has not synced
    (:func:`syncing_failure`): a warning, not a failure, since the services talk to the master
    and what is lost is redundancy; None when it has synced."""
    syncing = syncing_failure(facts)
    if facts is None or syncing is None:
        return None
    code, said = syncing
    reason = reason_of(code)
    return Check(
        "redis",
        "replication",
        Status.WARN,
        f"replica: {said}",
        reason=code,
        hint=reason.replica_hint or reason.hint,
        component_id=component_id,
        details={**(details or {}), **sync_details(facts)},
    )


def handshake_details(state: NodeState) -> dict[str, Any]:
    """What the connection's handshake was refused, for ``redis:ping``'s details: HELLO (RESP2
    was used) and CLIENT SETNAME (the connection went unnamed)."""
    extra: dict[str, Any] = {}
    if "HELLO" in state.replies:
        extra["protocol"] = 2
        extra["protocolNote"] = "HELLO not supported (Redis < 6); used RESP2"
    refused = state.replies.get("CLIENT SETNAME")
    # denied (NOPERM) or renamed away; a BUSY or LOADING refusal is the verdict's own fault
    if refused is not None and _denied(refused):
        extra["clientName"] = f"not set: CLIENT SETNAME refused ({text(refused)})"
    return extra


def _denied(error: Exception) -> bool:
    from redis.exceptions import NoPermissionError

    return isinstance(error, NoPermissionError) or "unknown" in str(error).lower()


# --------------------------------------------------------------------------------------------
# One node of a cluster or sentinel set-up


def node_ping_check(
    state: NodeState,
    entry: ClusterNodeEntry | None,
    down_status: Status,
    warn_ms: float,
    entries: Mapping[str, ClusterNodeEntry] | None = None,
    measurement: str = "ping",
) -> Check:
    """``redis:ping`` (or ``measurement``) of one node: reachable, role, round-trip."""
    details: dict[str, Any] = {"role": state.role} if state.role else {}
    if entry is not None:
        if entry.slots:
            details["slots"] = ranges(entry.slots)
        if entry.master_id and entries is not None:
            master = next((e for e in entries.values() if e.node_id == entry.master_id), None)
            if master is not None:
                details["replicaOf"] = master.address
        details["flags"] = ",".join(sorted(entry.flags - {"myself"}))
    if state.facts is not None and state.facts.version:
        details["version"] = state.facts.version
    if "CLUSTER INFO" in state.replies:
        own = parse_info_fields(state.replies["CLUSTER INFO"]).get("cluster_state")
        if own:
            details["clusterState"] = own
    if not state.reachable:
        return fault_check(
            measurement,
            state.reason or "error",
            state.detail,
            status=down_status,
            component_id=state.address,
            details=details,
        )
    role = {"slave": "replica"}.get(state.role or "", state.role or "node")
    details["warnMs"] = warn_ms
    details.update(handshake_details(state))
    return _watched(
        measurement,
        slow_warning(state.rtt_ms, warn_ms),
        f"{role} answered PONG",
        observed_value=rounded(state.rtt_ms),
        observed_unit="ms",
        component_id=state.address,
        details=details,
    )


def topology_verdict(
    mode: str, checks: list[Check], states: Sequence[NodeState], members: Iterable[str] = ()
) -> TopologyDiagnosis:
    """A cluster's or sentinel set-up's verdict: the worst check, the first failing reason."""
    failing = next((c for c in checks if c.status is Status.FAIL), None)
    return TopologyDiagnosis(
        mode=mode,
        status=worst([c.status for c in checks]),
        reason=failing.reason if failing else None,
        checks=tuple(checks),
        nodes=tuple(states),
        members=tuple(dict.fromkeys(members)),
    )


def node_limit_checks(states: Iterable[NodeState]) -> list[Check]:
    """``redis:memory`` and ``redis:clients`` of every node that answered INFO, and a warning
    ``redis:info`` for each node that refused it (its limits were not checked)."""
    checks = []
    for state in states:
        if state.facts is not None:
            checks.extend(limit_checks(state.facts, component_id=state.address))
        elif (warning := info_warning(state)) is not None:
            checks.append(replace(info_check(warning, "<user>"), component_id=state.address))
    return checks
