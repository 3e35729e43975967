"""Redis Cluster and Sentinel in the CLI: the options ``health`` and ``ping`` share, and
``cpa-ops ping`` across every node of a cluster (a latency summary per node)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from cpa_ops.cli.console import Terminal
    from cpa_ops.cli.options import OutputFormat
    from cpa_ops.core.redis import NodeTarget
    from cpa_ops.core.settings import Settings
    from cpa_ops.core.urls import RedisTarget


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


# exit codes of a run ended by a signal, as for a standalone ping


def ping_topology(
    settings: Settings,
    count: int,
    interval: float,
    timeout: float,
    output_format: OutputFormat,
    terminal: Terminal,
) -> RedisTarget:
    """Cluster: sample every node and exit. Sentinel: the URL of the master the sentinels name,
    for the standalone ping to sample. No node to ping: one line on stderr, exit 1."""
    import asyncio
    import time

    from cpa_ops.core.health import Status
    from cpa_ops.core.redis import ping_targets

    deadline = time.monotonic() + timeout
    loop = asyncio.new_event_loop()
    try:
        targets, diagnosis = loop.run_until_complete(
            ping_targets(settings.redis_target, deadline=deadline)
        )
    finally:
        loop.close()
    if not targets:
        failures = [c for c in diagnosis.checks if c.status is Status.FAIL]
        # what ping lacks is a node: the master or cluster check says why before the quorum's
        failing = next((c for c in failures if c.key in ("redis:master", "redis:cluster")), None)
        failing = failing or (failures[0] if failures else None)
        why = f"[{failing.reason}] {failing.output}" if failing else "no node found"
        terminal.err(f"cpa-ops ping: no {settings.redis_mode} node to ping: {why}")
        raise typer.Exit(1)
    if settings.redis_mode == "sentinel":
        return targets[0].target
    _ping_cluster(settings, targets, count, interval, timeout, output_format, terminal)


def _ping_cluster(
    settings: Settings,
    targets: list[NodeTarget],
    count: int,
    interval: float,
    timeout: float,
    output_format: OutputFormat,
    terminal: Terminal,
) -> NoReturn:
    import contextlib
    import json

    from cpa_ops.cli.options import OutputFormat
    from cpa_ops.cli.ping import SIGNAL_EXITS, _sample_line, _summary_lines, run_until_signal
    from cpa_ops.core.redis import REASONS, LatencyRecorder, sample_nodes

    recorders = {t.address: LatencyRecorder(t.target.masked) for t in targets}
    roles = {t.address: {"slave": "replica"}.get(t.role or "", t.role or "node") for t in targets}
    text = output_format is not OutputFormat.json
    if text:
        samples = f"{count} samples each" if count else "until Ctrl-C"
        terminal.out(
            f"PING cluster via {settings.redis_url_masked}: {len(targets)} nodes, {samples}, "
            f"interval {interval:g} s, timeout {timeout:g} s"
        )

    async def run() -> None:
        rounds = sample_nodes(targets, count=count, interval=interval, timeout=timeout)
        async with contextlib.aclosing(rounds):
            async for address, sample in rounds:
                recorders[address].add(sample)
                if text:
                    terminal.out(f"{address} {roles[address]} {_sample_line(sample)}")

    stopped = run_until_signal(run())

    summaries = {address: recorder.summary() for address, recorder in recorders.items()}
    interrupted = stopped is not None
    if text:
        for address, summary in summaries.items():
            terminal.out()
            lines = _summary_lines(summary)
            lines[0] = f"--- {address} ({roles[address]}) ping statistics ---"
            for line in lines:
                terminal.out(line)
    else:
        nodes = [
            {"componentId": address, "role": roles[address], **summary.as_dict()}
            for address, summary in summaries.items()
        ]
        document = {
            "mode": "cluster",
            "url": settings.redis_url_masked,
            "nodes": nodes,
            "interrupted": interrupted,
        }
        terminal.out(json.dumps(document, ensure_ascii=False))
    for address, summary in summaries.items():
        for code, n in summary.errors.items():
            hint = REASONS[code].hint if code in REASONS else ""
            terminal.err(
                f"cpa-ops ping: {address}: {n} of {summary.sent} samples failed [{code}]: {hint}"
            )
    if stopped is not None:
        raise typer.Exit(SIGNAL_EXITS[stopped])
    raise typer.Exit(1 if any(s.failed for s in summaries.values()) else 0)
