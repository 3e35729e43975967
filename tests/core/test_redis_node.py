"""The concurrent node probes of one verdict: a node that has not answered by the deadline is
reported as ``deadline``, never dropped (a slow replica cannot vanish from a passing verdict)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from cpa_ops.core.health import Status
from cpa_ops.core.redis import NodeState
from cpa_ops.core.redis import node as node_module
from cpa_ops.core.redis.cluster import cluster_verdict
from cpa_ops.core.redis.facts import parse_cluster_nodes
from cpa_ops.core.target import RedisTarget

pytestmark = pytest.mark.timeout(20)


def test_a_node_late_for_the_deadline_is_reported_as_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def never_answers(target: RedisTarget, **_: Any) -> NodeState:
        await asyncio.sleep(30)  # a probe stuck past its own bounds
        raise AssertionError("unreachable")

    async def answers(target: RedisTarget, **_: Any) -> NodeState:
        return NodeState(target.address, True, rtt_ms=0.1)

    async def main() -> tuple[list[NodeState], float]:
        probes = node_module.NodeProbes(time.monotonic() + 0.3, "test")
        monkeypatch.setattr(node_module, "probe_node", answers)
        fast = probes.start(RedisTarget.from_url("redis://10.0.0.1:7000"), ())
        monkeypatch.setattr(node_module, "probe_node", never_answers)
        slow = probes.start(RedisTarget.from_url("redis://10.0.0.2:7001"), ())
        started = time.monotonic()
        try:
            return await probes.results([fast, slow]), time.monotonic() - started
        finally:
            await probes.cancel_rest()

    states, elapsed = asyncio.run(main())
    assert elapsed < 2.0
    assert [(s.address, s.reachable, s.reason) for s in states] == [
        ("10.0.0.1:7000", True, None),
        ("10.0.0.2:7001", False, "deadline"),
    ]


def test_the_late_node_has_its_own_check_in_the_verdict() -> None:
    """A cluster whose replica did not answer by the deadline: every slot is served, the
    verdict warns (degraded) and names the replica, instead of passing without it."""
    nodes = (
        "a1 10.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-16383\n"
        "b2 10.0.0.2:7001@17001 slave a1 0 0 1 connected\n"
    )
    view = NodeState(
        "10.0.0.1:7000",
        True,
        rtt_ms=0.2,
        role="master",
        replies={"CLUSTER NODES": nodes, "CLUSTER INFO": "cluster_state:ok\r\n"},
    )
    late = NodeState("10.0.0.2:7001", False, "deadline", "no answer by the deadline")
    diagnosis = cluster_verdict(
        [view, late], view, parse_cluster_nodes(nodes), write=False, warn_ms=100
    )
    replica = [c for c in diagnosis.checks if c.component_id == "10.0.0.2:7001"]
    assert [(c.key, c.status, c.reason) for c in replica] == [
        ("redis:ping", Status.WARN, "deadline")
    ]
    assert diagnosis.status is Status.WARN
