"""Redis for the platform: the services' client and liveness boolean, and the diagnosing probe.

The services::

    client = await create_redis_client(settings)   # any REDIS_MODE; owns its pool
    healthy = await check_redis_health(client)     # a liveness boolean, never raises
    await client.aclose()                          # closes every connection

The probe (:func:`diagnose`) is what ``cpa-ops health`` runs: one named connection per node, no
retries, step timeouts cut from one deadline (a ``time.monotonic()`` instant), and a verdict
naming the fault by a reason code (:data:`REASONS`).

This face only re-exports; the modules below it never import it. Layers, lowest first:
``reasons``, ``facts``, ``model``, ``handshake``, ``classify``,
``tls_files``/``unix_socket``/``preflight``, ``connection``, ``node``, ``sync_state``, ``acl``,
``mode``, ``checks``, then the verdicts ``standalone``, ``cluster``, ``sentinel`` (dispatched by
``probe``), ``clients``, ``latency`` and ``sampling`` (``cpa-ops ping``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cpa_ops.core.redis.checks import NEAR_LIMIT
    from cpa_ops.core.redis.classify import classify_failure
    from cpa_ops.core.redis.clients import (
        check_redis_health,
        create_redis_client,
        create_redis_pool,
    )
    from cpa_ops.core.redis.facts import ClusterNodeEntry, ServerFacts, parse_cluster_nodes
    from cpa_ops.core.redis.latency import LatencyRecorder, LatencySummary, Sample, Spread
    from cpa_ops.core.redis.model import (
        PROBE_CLIENT_NAME,
        WRITE_KEY_TTL_MS,
        Diagnosis,
        NodeState,
        ProbeFailure,
        RedisDiagnosis,
        TopologyDiagnosis,
    )
    from cpa_ops.core.redis.probe import diagnose
    from cpa_ops.core.redis.reasons import REASONS, Reason, reason_of
    from cpa_ops.core.redis.sampling import (
        PING_CLIENT_NAME,
        LatencySampler,
        NodeTarget,
        ping_targets,
        sample_latency,
        sample_nodes,
    )

# Each name is imported from its module on first use: ``cpa-ops health`` loads the probe, not
# the clients, the cluster and sentinel verdicts or ping's sampling.
_WHERE = {
    "ClusterNodeEntry": "cpa_ops.core.redis.facts",
    "Diagnosis": "cpa_ops.core.redis.model",
    "LatencyRecorder": "cpa_ops.core.redis.latency",
    "LatencySampler": "cpa_ops.core.redis.sampling",
    "LatencySummary": "cpa_ops.core.redis.latency",
    "NEAR_LIMIT": "cpa_ops.core.redis.checks",
    "NodeState": "cpa_ops.core.redis.model",
    "NodeTarget": "cpa_ops.core.redis.sampling",
    "PING_CLIENT_NAME": "cpa_ops.core.redis.sampling",
    "PROBE_CLIENT_NAME": "cpa_ops.core.redis.model",
    "ProbeFailure": "cpa_ops.core.redis.model",
    "REASONS": "cpa_ops.core.redis.reasons",
    "Reason": "cpa_ops.core.redis.reasons",
    "RedisDiagnosis": "cpa_ops.core.redis.model",
    "Sample": "cpa_ops.core.redis.latency",
    "ServerFacts": "cpa_ops.core.redis.facts",
    "Spread": "cpa_ops.core.redis.latency",
    "TopologyDiagnosis": "cpa_ops.core.redis.model",
    "WRITE_KEY_TTL_MS": "cpa_ops.core.redis.model",
    "check_redis_health": "cpa_ops.core.redis.clients",
    "classify_failure": "cpa_ops.core.redis.classify",
    "create_redis_client": "cpa_ops.core.redis.clients",
    "create_redis_pool": "cpa_ops.core.redis.clients",
    "diagnose": "cpa_ops.core.redis.probe",
    "parse_cluster_nodes": "cpa_ops.core.redis.facts",
    "ping_targets": "cpa_ops.core.redis.sampling",
    "reason_of": "cpa_ops.core.redis.reasons",
    "sample_latency": "cpa_ops.core.redis.sampling",
    "sample_nodes": "cpa_ops.core.redis.sampling",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "NEAR_LIMIT",
    "PING_CLIENT_NAME",
    "PROBE_CLIENT_NAME",
    "REASONS",
    "WRITE_KEY_TTL_MS",
    "ClusterNodeEntry",
    "Diagnosis",
    "LatencyRecorder",
    "LatencySampler",
    "LatencySummary",
    "NodeState",
    "NodeTarget",
    "ProbeFailure",
    "Reason",
    "RedisDiagnosis",
    "Sample",
    "ServerFacts",
    "Spread",
    "TopologyDiagnosis",
    "check_redis_health",
    "classify_failure",
    "create_redis_client",
    "create_redis_pool",
    "diagnose",
    "parse_cluster_nodes",
    "ping_targets",
    "reason_of",
    "sample_latency",
    "sample_nodes",
]
