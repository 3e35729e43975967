"""``cpa-ops ping``: ping(8) for Redis. Is Redis slow, or is it us?

Standalone: one server. Sentinel: the master the sentinels name. Cluster: every node, a
latency summary per node.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from cpa_ops.cli.options import (
    FormatOption,
    ModeOption,
    OutputFormat,
    RedisUrlOption,
    SampleTimeoutOption,
    SentinelMasterOption,
    SentinelsOption,
    sample_count,
    seconds_or_zero,
    topology_overrides,
)

if TYPE_CHECKING:
    import signal

    from cpa_ops.cli.console import Terminal
    from cpa_ops.core.redis import LatencySummary, NodeTarget
    from cpa_ops.core.settings import Settings
    from cpa_ops.core.target import RedisTarget

EPILOG = """\
Examples:

  Ten samples, one a second, then the summary:
    cpa-ops ping -c 10

  Until Ctrl-C, back to back, 200 ms allowed per sample:
    cpa-ops ping -i 0 --timeout 0.2

  For a script or a dashboard (one JSON summary object):
    cpa-ops ping -c 100 -i 0.01 --format json
"""


def register(app: typer.Typer) -> None:
    app.command("ping", epilog=EPILOG, rich_help_panel="Diagnostics")(ping)


def ping(
    ctx: typer.Context,
    count: Annotated[
        int,
        typer.Option(
            "--count",
            "-c",
            metavar="N",
            parser=sample_count,
            help="Stop after N samples (0: until Ctrl-C).",
        ),
    ] = 0,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            "-i",
            metavar="SECONDS",
            parser=seconds_or_zero,
            help="Time between the starts of two samples (0: back to back).",
        ),
    ] = 1.0,
    timeout: SampleTimeoutOption = 1.0,
    redis_url: RedisUrlOption = None,
    output_format: FormatOption = OutputFormat.text,
    mode: ModeOption = None,
    sentinels: SentinelsOption = None,
    sentinel_master: SentinelMasterOption = None,
) -> None:
    """Send PINGs to Redis and report round-trips; exit 0 all answered, 1 any failed.

    Connect time is reported apart from the round-trip; failures are counted by the reason
    codes of 'cpa-ops health'. Ctrl-C prints the summary so far (exit 130).
    """
    from cpa_ops.cli.context import cli_context
    from cpa_ops.cli.options import settings_or_exit

    terminal = cli_context(ctx).terminal
    overrides = topology_overrides(mode, sentinels, sentinel_master)
    settings = settings_or_exit(ctx, redis_url=redis_url, **overrides)
    target = settings.redis_target
    if settings.redis_mode != "standalone":
        targets = _nodes_to_ping(settings, timeout, terminal)
        if settings.redis_mode == "cluster":
            _ping_cluster(settings, targets, count, interval, timeout, output_format, terminal)
        target = targets[0].target  # sentinel mode: the master they name
    _ping_server(target, count, interval, timeout, output_format, terminal)


def _ping_server(
    target: RedisTarget,
    count: int,
    interval: float,
    timeout: float,
    output_format: OutputFormat,
    terminal: Terminal,
) -> NoReturn:
    """Sample one server, then its statistics; exit 0 all answered, 1 any failed."""
    import contextlib

    from cpa_ops.cli.render.ping import sample_view, write_summary
    from cpa_ops.cli.runner import run_until_signal
    from cpa_ops.core.redis import LatencyRecorder, sample_latency

    recorder = LatencyRecorder(target.masked)
    view = sample_view(output_format, terminal)
    view.start(recorder.url, count, interval, timeout)

    async def run() -> None:
        samples = sample_latency(target, count=count, interval=interval, timeout=timeout)
        async with contextlib.aclosing(samples):
            async for sample in samples:
                recorder.add(sample)
                view.sample(sample, recorder)

    try:
        stopped_by = run_until_signal(run(), fast_loop=True)
    finally:
        view.stop()
    summary = recorder.summary()
    interrupted = stopped_by is not None
    write_summary(summary, output_format, interrupted, _hints([summary]), terminal)
    _exit([summary], stopped_by)


def _nodes_to_ping(settings: Settings, timeout: float, terminal: Terminal) -> list[NodeTarget]:
    """Every node of the cluster, or the master the sentinels name; none: one line on stderr,
    exit 1."""
    import time

    from cpa_ops.cli.exits import ExitCode
    from cpa_ops.cli.runner import run
    from cpa_ops.core.health import Status
    from cpa_ops.core.redis import ping_targets
    from cpa_ops.core.terminal import visible_controls

    deadline = time.monotonic() + timeout
    targets, diagnosis = run(ping_targets(settings.redis_target, deadline=deadline))
    if targets:
        return targets
    failures = [c for c in diagnosis.checks if c.status is Status.FAIL]
    # what ping lacks is a node: the master or cluster check says why before the quorum's
    failing = next((c for c in failures if c.key in ("redis:master", "redis:cluster")), None)
    failing = failing or (failures[0] if failures else None)
    why = f"[{failing.reason}] {failing.output}" if failing else "no node found"
    terminal.err(f"cpa-ops ping: no {settings.redis_mode} node to ping: {visible_controls(why)}")
    raise typer.Exit(ExitCode.UNHEALTHY)


def _ping_cluster(
    settings: Settings,
    targets: list[NodeTarget],
    count: int,
    interval: float,
    timeout: float,
    output_format: OutputFormat,
    terminal: Terminal,
) -> NoReturn:
    """Sample every node each round, then a summary per node."""
    import contextlib

    from cpa_ops.cli.render.ping import cluster_header, node_sample_line, write_cluster_summary
    from cpa_ops.cli.runner import run_until_signal
    from cpa_ops.core.redis import LatencyRecorder, sample_nodes

    recorders = {t.address: LatencyRecorder(t.target.masked) for t in targets}
    roles = {t.address: {"slave": "replica"}.get(t.role or "", t.role or "node") for t in targets}
    text = output_format is not OutputFormat.json
    url = settings.redis_url_masked
    if text:
        terminal.out(cluster_header(url, len(targets), count, interval, timeout))

    async def run() -> None:
        rounds = sample_nodes(targets, count=count, interval=interval, timeout=timeout)
        async with contextlib.aclosing(rounds):
            async for address, sample in rounds:
                recorders[address].add(sample)
                if text:
                    terminal.out(node_sample_line(address, roles[address], sample))

    stopped_by = run_until_signal(run(), fast_loop=True)
    summaries = {address: recorder.summary() for address, recorder in recorders.items()}
    interrupted = stopped_by is not None
    hints = _hints(summaries.values())
    write_cluster_summary(url, summaries, roles, output_format, interrupted, hints, terminal)
    _exit(summaries.values(), stopped_by)


def _hints(summaries: Iterable[LatencySummary]) -> dict[str, str]:
    """The hint of each reason code that failed a sample."""
    from cpa_ops.core.redis import REASONS

    codes = {code for summary in summaries for code in summary.errors}
    return {code: REASONS[code].hint if code in REASONS else "" for code in codes}


def _exit(summaries: Iterable[LatencySummary], stopped_by: signal.Signals | None) -> NoReturn:
    from cpa_ops.cli.exits import EXIT_ON_SIGNAL, ExitCode

    if stopped_by is not None:
        raise typer.Exit(EXIT_ON_SIGNAL[stopped_by])
    failed = any(summary.failed for summary in summaries)
    raise typer.Exit(ExitCode.UNHEALTHY if failed else ExitCode.OK)
