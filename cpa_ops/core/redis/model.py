"""The values the Redis probe passes around: a failed step, one node's answers, and the
verdicts (one server, or a cluster / sentinel set-up as a whole)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cpa_ops.core.health import Check, Status
from cpa_ops.core.redis.facts import ServerFacts

PROBE_CLIENT_NAME = "cpa-ops-health"
WRITE_KEY_TTL_MS = 10_000


class ProbeFailure(Exception):
    """A probe step failed with a known reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class NodeState:
    """What one node answered (or why it did not), by the probe's deadline."""

    address: str  #: host:port (the socket path for unix://)
    reachable: bool
    reason: str | None = None
    detail: str | None = None  #: the failing step's own words (secrets removed)
    rtt_ms: float | None = None
    role: str | None = None  #: master, slave or sentinel (from ROLE)
    replies: Mapping[str, Any] = field(default_factory=dict)  #: command -> reply (or error)
    write_ms: float | None = None
    write_failure: ProbeFailure | None = None
    connect_ms: float | None = None
    facts: ServerFacts | None = None  #: what INFO said, when it was asked and answered


@dataclass(frozen=True)
class RedisDiagnosis:
    """The verdict on one server: a status, a reason code when not healthy, what was measured."""

    status: Status
    url: str  #: REDIS_URL, masked
    reason: str | None = None
    detail: str | None = None  #: the failing step's own words (secrets removed)
    connect_ms: float | None = None
    rtt_ms: float | None = None
    write_ms: float | None = None
    write_checked: bool = False
    facts: ServerFacts | None = None
    warnings: tuple[tuple[str, str], ...] = ()  #: (reason code, text) of each warn
    checks: tuple[Check, ...] = field(default=(), compare=False)

    @property
    def healthy(self) -> bool:
        return self.status is not Status.FAIL


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


Diagnosis = RedisDiagnosis | TopologyDiagnosis
