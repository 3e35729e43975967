"""What INFO says about a server's dataset beyond PING (issue 14): a replica that has not synced
(it serves an empty, partial or old dataset: a failure, ``syncing``), a writable replica, a
failing save that Redis shrugs off, and whether reaching maxmemory evicts or refuses writes.

Each rule reads :class:`~cpa_ops.core.redis.facts.ServerFacts` only and returns ``(code,
text)`` or None; :mod:`cpa_ops.core.redis.checks` turns them into checks.
"""

from __future__ import annotations

from cpa_ops.core.redis.facts import ServerFacts


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    return f"{size / 1024:.1f} KiB" if size < 1048576 else f"{size / 1048576:.1f} MiB"


def syncing_failure(facts: ServerFacts | None) -> tuple[str, str] | None:
    """``syncing`` for a replica in a full sync (``master_sync_in_progress:1``, or
    ``async_loading:1``), or whose link has not been up since it started
    (``master_link_down_since_seconds:-1``); None otherwise (a link that was up and went down
    is ``stale``, a warning; a replica loading a sync answers -LOADING: ``loading``)."""
    if facts is None or facts.role != "slave":
        return None
    master = f" from {facts.master_address}" if facts.master_address else ""
    if facts.master_sync_in_progress:
        total = facts.master_sync_total_bytes
        received = _size(facts.master_sync_read_bytes)
        known = total is not None and total >= 0
        of = f" of {_size(total)}" if known else " (diskless: size unknown)"
        return "syncing", f"full sync{master} in progress: {received}{of} received"
    if facts.async_loading:
        return "syncing", (
            f"loading the dataset of a full sync{master} in the background "
            "(repl-diskless-load swapdb): the old dataset is served until it is done"
        )
    if facts.master_link_status not in (None, "up") and _never_linked(facts):
        held = "" if facts.keys is None else f"; it holds {facts.keys} keys"
        at = f" at {facts.master_address}" if facts.master_address else ""
        return "syncing", (
            f"link to the master{at} is {facts.master_link_status} "
            f"and has not been up since this replica started (no sync completed){held}"
        )
    return None


def sync_details(facts: ServerFacts) -> dict[str, object]:
    """What INFO said about a replica's sync, for the ``syncing`` check's details."""
    details = {
        "masterAddress": facts.master_address,
        "masterLinkStatus": facts.master_link_status,
        "masterLinkDownSinceSeconds": facts.master_link_down_since_seconds,
        "masterSyncInProgress": facts.master_sync_in_progress,
        "masterSyncReadBytes": facts.master_sync_read_bytes,
        "masterSyncTotalBytes": facts.master_sync_total_bytes,
        "keys": facts.keys,
    }
    return {k: v for k, v in details.items() if v is not None}


def _never_linked(facts: ServerFacts) -> bool:
    """The link has not been up since this replica started: Redis 7 says -1; older ones count
    from the epoch (a "down since" longer than the process has run)."""
    down = facts.master_link_down_since_seconds
    if down is None:
        return False
    return down == -1 or (facts.uptime_in_seconds is not None and down > facts.uptime_in_seconds)


def writable_replica_warning(facts: ServerFacts | None) -> tuple[str, str] | None:
    """``writable_replica`` for a replica with ``replica-read-only no`` (under ``--write``)."""
    if facts is None or facts.role != "slave" or facts.slave_read_only is not False:
        return None
    return "writable_replica", (
        "SET PX and DEL succeeded on a replica with replica-read-only no: writes there are not "
        "replicated and the next full sync discards them"
    )


def persistence_warning(facts: ServerFacts | None) -> tuple[str, str] | None:
    """``persistence`` when INFO persistence reports a failed save or AOF rewrite and the server
    still answered PING (with stop-writes-on-bgsave-error yes it answers MISCONF instead)."""
    if facts is None:
        return None
    statuses = {"rdb_last_bgsave_status": facts.rdb_last_bgsave_status}
    if facts.aof_enabled:
        statuses["aof_last_bgrewrite_status"] = facts.aof_last_bgrewrite_status
        statuses["aof_last_write_status"] = facts.aof_last_write_status
    failed = [f"{name}:err" for name, status in statuses.items() if status == "err"]
    if not failed:
        return None
    return "persistence", (
        f"the last save failed ({', '.join(failed)}) and Redis still serves: "
        "stop-writes-on-bgsave-error is no (or this is a replica)"
    )


def evicts_at_limit(facts: ServerFacts) -> bool:
    """True when reaching maxmemory evicts keys rather than refusing writes: an ``allkeys-*``
    policy, or a ``volatile-*`` one with keys that have a TTL to evict."""
    policy = facts.maxmemory_policy or ""
    if policy.startswith("allkeys-"):
        return True
    return policy.startswith("volatile-") and bool(facts.expires)


def eviction_details(facts: ServerFacts) -> dict[str, object]:
    """The policy and the keys evicted so far, for ``redis:memory`` (when maxmemory is set or
    keys were evicted)."""
    if not facts.maxmemory and not facts.evicted_keys:
        return {}
    details: dict[str, object] = {"maxMemoryPolicy": facts.maxmemory_policy}
    if facts.evicted_keys is not None:
        details["evictedKeys"] = facts.evicted_keys
    return {k: v for k, v in details.items() if v is not None}
