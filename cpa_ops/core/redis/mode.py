"""Whether a server probed as standalone is something else: a Sentinel, or a Cluster node.

A Sentinel answers PING like a Redis server, and a Cluster node answers PING and the keys of its
own slots: both would pass a standalone probe. The evidence, in order: INFO's ``redis_mode`` and
``cluster_enabled``, then the replies (MOVED, ASK, CLUSTERDOWN, SELECT refused in cluster mode,
a SET unknown to a Sentinel) when INFO was denied.
"""

from __future__ import annotations

from typing import Any

from cpa_ops.core.redis.facts import parse_info_fields, text
from cpa_ops.core.redis.model import NodeState, ProbeFailure

_CLUSTER_REPLIES = ("MOVED ", "ASK ", "CLUSTERDOWN")


def wrong_mode(state: NodeState) -> ProbeFailure | None:
    """``mode_sentinel`` or ``mode_cluster`` when ``state`` (a standalone probe's node) shows
    the server is a Sentinel or a Cluster node; None otherwise."""
    info = state.replies.get("INFO")
    fields = parse_info_fields(info) if isinstance(info, bytes | str) else {}
    if fields.get("redis_mode") == "sentinel":
        return ProbeFailure("mode_sentinel", "INFO says redis_mode:sentinel" + _monitors(fields))
    if fields.get("cluster_enabled") == "1" or fields.get("redis_mode") == "cluster":
        return ProbeFailure("mode_cluster", "INFO says cluster_enabled:1")
    said = [state.detail or ""]
    if state.write_failure is not None:
        said.append(state.write_failure.detail)
    for reply in said:
        upper = reply.upper()
        if upper.startswith(_CLUSTER_REPLIES) or "NOT ALLOWED IN CLUSTER MODE" in upper:
            return ProbeFailure("mode_cluster", f"the server answered {reply}")
        if "UNKNOWN COMMAND 'SET'" in upper:  # a Sentinel knows no data commands
            return ProbeFailure("mode_sentinel", f"the server answered {reply}")
    return None


def _monitors(fields: dict[str, Any]) -> str:
    """``; it monitors mymaster at 10.0.0.5:6379`` from a Sentinel's INFO (master0:name=...)."""
    found = []
    for key, value in fields.items():
        if key.startswith("master") and key[6:].isdigit():
            parts = dict(p.partition("=")[::2] for p in text(value).split(","))
            if parts.get("name"):
                found.append(f"{parts['name']} at {parts.get('address', '?')}")
    return f"; it monitors {', '.join(found[:5])}" if found else ""
