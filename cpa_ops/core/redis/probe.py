"""The probe REDIS_MODE asks for: one server, a cluster, or a Sentinel-managed master."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from cpa_ops.core.redis.model import PROBE_CLIENT_NAME, Diagnosis, TopologyDiagnosis
from cpa_ops.core.urls import HEALTH_KEY_PREFIX

if TYPE_CHECKING:
    from cpa_ops.core.target import RedisTarget


async def diagnose(
    target: RedisTarget,
    *,
    deadline: float,
    write: bool = False,
    warn_ms: float = 100.0,
    client_name: str = PROBE_CLIENT_NAME,
    write_prefix: str = HEALTH_KEY_PREFIX,
) -> Diagnosis:
    """Diagnose ``target`` (``settings.redis_target``) by ``deadline``, a time.monotonic()
    instant; never raises for a Redis fault. ``write`` also SETs PX and DELs a health key;
    a round-trip over ``warn_ms`` warns. The health key's name starts with ``write_prefix``."""
    probe: Callable[..., Awaitable[Diagnosis]]
    if target.mode == "cluster":
        from cpa_ops.core.redis.cluster import probe_cluster as probe
    elif target.mode == "sentinel":
        from cpa_ops.core.redis.sentinel import probe_sentinel as probe
    else:
        from cpa_ops.core.redis.standalone import probe_standalone as probe
    diagnosis = await probe(
        target,
        deadline=deadline,
        write=write,
        warn_ms=warn_ms,
        client_name=client_name,
        write_prefix=write_prefix,
    )
    if isinstance(diagnosis, TopologyDiagnosis):
        return _naming_user(diagnosis, target, write_prefix)
    return diagnosis


def _naming_user(
    topology: TopologyDiagnosis, target: RedisTarget, write_prefix: str
) -> TopologyDiagnosis:
    """The topology's ACL hints with the user REDIS_URL logs in as (the standalone verdict
    names it itself)."""
    from cpa_ops.core.redis.acl import acl_user, naming_user

    user = target.without_secrets(acl_user(target.connection_options()))
    return replace(topology, checks=naming_user(topology.checks, user, write_prefix))
