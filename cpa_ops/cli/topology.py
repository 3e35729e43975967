"""Redis Cluster and Sentinel in the CLI: the options ``health`` and ``ping`` share."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer


class RedisMode(StrEnum):
    standalone = "standalone"
    cluster = "cluster"
    sentinel = "sentinel"


ModeOption = Annotated[
    RedisMode | None,
    typer.Option(
        "--mode",
        help="Redis topology (overrides REDIS_MODE; default standalone).",
        show_default=False,
    ),
]
SentinelsOption = Annotated[
    str | None,
    typer.Option(
        "--sentinels",
        metavar="HOST:PORT,...",
        help="Sentinel mode: the sentinels (overrides REDIS_SENTINELS).",
        show_default=False,
    ),
]
SentinelMasterOption = Annotated[
    str | None,
    typer.Option(
        "--sentinel-master",
        metavar="NAME",
        help="Sentinel mode: the service name (overrides REDIS_SENTINEL_MASTER).",
        show_default=False,
    ),
]


def topology_overrides(
    mode: RedisMode | None, sentinels: str | None, sentinel_master: str | None
) -> dict[str, Any]:
    """The settings overrides these options stand for (None: not given)."""
    return {
        "redis_mode": mode.value if mode else None,
        "redis_sentinels": sentinels,
        "redis_sentinel_master": sentinel_master,
    }
