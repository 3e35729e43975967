"""What Redis says about itself, parsed once: INFO (and CLUSTER INFO) ``key:value`` fields, the
server facts the checks read from them, and the lines of CLUSTER NODES."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def text(value: Any) -> str:
    """A reply as text (bytes decoded, invalid UTF-8 replaced)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def parse_info_fields(reply: Any) -> dict[str, str]:
    """``key:value`` lines (INFO, CLUSTER INFO) as a dict of strings; section headers skipped."""
    fields = {}
    for line in text(reply).splitlines():
        key, colon, value = line.strip().partition(":")
        if colon and not key.startswith("#"):
            fields[key] = value
    return fields


def pairs(reply: Any) -> dict[str, str]:
    """A map reply (SENTINEL MASTER, one of SENTINEL REPLICAS) as a dict of strings: a RESP3
    map, or RESP2's flat [k1, v1, k2, v2, ...]."""
    if isinstance(reply, dict):
        return {text(k): text(v) for k, v in reply.items()}
    if not isinstance(reply, list):
        return {}
    items = [text(v) for v in reply]
    return dict(zip(items[::2], items[1::2], strict=False))


def whole(value: Any) -> int | None:
    """``value`` as an int; None when missing or not a whole number."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _real(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ServerFacts:
    """What INFO said about the server (None where a field was missing)."""

    version: str | None = None
    role: str | None = None
    used_memory: int | None = None
    maxmemory: int | None = None
    maxmemory_policy: str | None = None
    connected_clients: int | None = None
    maxclients: int | None = None
    loading: bool = False
    loading_loaded_perc: float | None = None
    loading_eta_seconds: int | None = None
    master_link_status: str | None = None
    master_last_io_seconds_ago: int | None = None
    # --- issue 14: replication and persistence (INFO replication, persistence, stats) ---
    master_sync_in_progress: bool = False
    #: -1 when the link has not been up since this replica started
    master_link_down_since_seconds: int | None = None
    master_sync_read_bytes: int | None = None
    master_sync_total_bytes: int | None = None  #: -1 for a diskless sync (size unknown)
    async_loading: bool = False
    slave_read_only: bool | None = None
    rdb_last_bgsave_status: str | None = None
    aof_enabled: bool = False
    aof_last_bgrewrite_status: str | None = None
    aof_last_write_status: str | None = None
    evicted_keys: int | None = None
    keys: int | None = None  #: over every db of INFO keyspace (None: no keyspace section)
    expires: int | None = None  #: keys with a TTL, over every db
    master_address: str | None = None  #: a replica's master_host:master_port
    connected_slaves: int | None = None  #: a master's replicas (INFO replication)
    uptime_in_seconds: int | None = None

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> ServerFacts:
        def optional_text(key: str) -> str | None:
            return str(info[key]) if key in info else None

        return cls(
            version=optional_text("redis_version"),
            role=optional_text("role"),
            used_memory=whole(info.get("used_memory")),
            maxmemory=whole(info.get("maxmemory")),
            maxmemory_policy=optional_text("maxmemory_policy"),
            connected_clients=whole(info.get("connected_clients")),
            maxclients=whole(info.get("maxclients")),
            loading=bool(whole(info.get("loading"))),
            loading_loaded_perc=_real(info.get("loading_loaded_perc")),
            loading_eta_seconds=whole(info.get("loading_eta_seconds")),
            master_link_status=optional_text("master_link_status"),
            master_last_io_seconds_ago=whole(info.get("master_last_io_seconds_ago")),
            connected_slaves=whole(info.get("connected_slaves")),
            **_replication_and_persistence(info),
        )

    @classmethod
    def from_reply(cls, reply: Any) -> ServerFacts | None:
        """The facts of an INFO reply; None when the reply is not INFO's text (an error)."""
        if not isinstance(reply, bytes | str):
            return None
        return cls.from_info(parse_info_fields(reply))

    @property
    def memory_share(self) -> float | None:
        if self.used_memory is None or not self.maxmemory:
            return None
        return self.used_memory / self.maxmemory

    @property
    def clients_share(self) -> float | None:
        if self.connected_clients is None or not self.maxclients:
            return None
        return self.connected_clients / self.maxclients

    @property
    def loading_text(self) -> str:
        """``42.0% loaded, ETA 12 s`` from INFO persistence, or empty when unknown."""
        if self.loading_loaded_perc is None:
            return ""
        eta = f", ETA {self.loading_eta_seconds} s" if self.loading_eta_seconds is not None else ""
        return f"{self.loading_loaded_perc:.1f}% loaded{eta}"


def _replication_and_persistence(info: Mapping[str, Any]) -> dict[str, Any]:
    """The issue-14 fields of :class:`ServerFacts` from INFO (replication, persistence, stats,
    keyspace)."""
    read_only = whole(info.get("slave_read_only"))
    host, port = info.get("master_host"), info.get("master_port")
    keyspace = [_db_counts(v) for k, v in info.items() if k.startswith("db") and k[2:].isdigit()]
    return {
        "master_sync_in_progress": bool(whole(info.get("master_sync_in_progress"))),
        "master_link_down_since_seconds": whole(info.get("master_link_down_since_seconds")),
        "master_sync_read_bytes": whole(info.get("master_sync_read_bytes")),
        "master_sync_total_bytes": whole(info.get("master_sync_total_bytes")),
        "async_loading": bool(whole(info.get("async_loading"))),
        "slave_read_only": None if read_only is None else bool(read_only),
        "rdb_last_bgsave_status": info.get("rdb_last_bgsave_status"),
        "aof_enabled": bool(whole(info.get("aof_enabled"))),
        "aof_last_bgrewrite_status": info.get("aof_last_bgrewrite_status"),
        "aof_last_write_status": info.get("aof_last_write_status"),
        "evicted_keys": whole(info.get("evicted_keys")),
        "keys": sum(k for k, _ in keyspace) if "used_memory" in info else None,
        "expires": sum(e for _, e in keyspace) if "used_memory" in info else None,
        "master_address": f"{host}:{port}" if host and port else None,
        "uptime_in_seconds": whole(info.get("uptime_in_seconds")),
    }


def _db_counts(value: Any) -> tuple[int, int]:
    """``keys=3,expires=1,avg_ttl=0`` (one db of INFO keyspace) as (keys, expires)."""
    fields = dict(part.partition("=")[::2] for part in str(value).split(","))
    return whole(fields.get("keys")) or 0, whole(fields.get("expires")) or 0


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


def parse_cluster_nodes(reply: Any) -> list[ClusterNodeEntry]:
    """The entries of a CLUSTER NODES reply (slots being migrated, in brackets, are skipped);
    none for a refusal (an error reply: NOPERM, an unknown command) or a reply of another shape."""
    if not isinstance(reply, bytes | str):
        return []
    entries = []
    for line in text(reply).splitlines():
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
            if not (first.isdigit() and (last or first).isdigit()):
                continue  # not a slot: no CLUSTER NODES line of a real server has one here
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


def ranges(slots: Any) -> str:
    """Slot ranges as CLUSTER NODES writes them: ``0-5460,5462``."""
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in slots)
