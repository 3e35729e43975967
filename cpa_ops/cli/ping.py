"""``cpa-ops ping``: ping(8) for Redis. Is Redis slow, or is it us?"""

from __future__ import annotations

import signal
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cpa_ops.cli.options import OutputFormat, seconds, seconds_or_zero
from cpa_ops.cli.topology import (
    ModeOption,
    SentinelMasterOption,
    SentinelsOption,
    topology_overrides,
)

if TYPE_CHECKING:
    import asyncio

    from cpa_ops.cli.console import Terminal
    from cpa_ops.core.redis import LatencyRecorder, LatencySummary, Sample
    from cpa_ops.core.urls import RedisTarget

EPILOG = """\
Examples:

  Ten samples, one a second, then the summary:
    cpa-ops ping -c 10

  Until Ctrl-C, back to back, 200 ms allowed per sample:
    cpa-ops ping -i 0 --timeout 0.2

  For a script or a dashboard (one JSON summary object):
    cpa-ops ping -c 100 -i 0.01 --format json
"""
# exit codes of a run ended by a signal: the summary so far is printed first
SIGNAL_EXITS = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _count(value: str | int) -> int:
    """A sample count: a whole number from 0 (until Ctrl-C) to a billion."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) > 1_000_000_000:
        shown = repr(text if len(text) <= 30 else text[:27] + "...")
        raise typer.BadParameter(
            f"{shown} is not a count of samples (expected a whole number from 0, until Ctrl-C, "
            "to 1000000000)"
        )
    return int(text)


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
            parser=_count,
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
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            "-W",
            metavar="SECONDS",
            parser=seconds,
            help="Time allowed for one sample (a reconnect included); no retries.",
        ),
    ] = 1.0,
    redis_url: Annotated[
        str | None,
        typer.Option(
            "--redis-url",
            metavar="URL",
            help="Redis to ping (overrides REDIS_URL): redis://, rediss:// or unix://.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", help="text: a line per sample and a summary; json: the summary."),
    ] = OutputFormat.text,
    mode: ModeOption = None,
    sentinels: SentinelsOption = None,
    sentinel_master: SentinelMasterOption = None,
) -> None:
    """Send PINGs to Redis and report round-trips; exit 0 all answered, 1 any failed.

    Connect time is reported apart from the round-trip; failures are counted by the reason
    codes of 'cpa-ops health'. Ctrl-C prints the summary so far (exit 130).
    """
    from cpa_ops.cli.console import Terminal
    from cpa_ops.cli.options import settings_or_exit
    from cpa_ops.core.redis import LatencyRecorder

    terminal = Terminal()
    overrides = topology_overrides(mode, sentinels, sentinel_master)
    settings = settings_or_exit(ctx, redis_url=redis_url, **overrides)
    target = settings.redis_target
    if settings.redis_mode != "standalone":
        from cpa_ops.cli.topology import ping_topology

        # a cluster is sampled node by node there; sentinel mode pings the master they name
        target = ping_topology(settings, count, interval, timeout, output_format, terminal)
    recorder = LatencyRecorder(target.masked)
    if output_format is OutputFormat.json:
        view: _View = _View(terminal)
    elif terminal.stdout_live:
        view = _LiveView(terminal)
    else:
        view = _LineView(terminal)
    view.start(recorder.url, count, interval, timeout)
    try:
        stopped_by = _sample(target, count, interval, timeout, recorder, view)
    finally:
        view.stop()
    summary = recorder.summary()
    _emit_summary(summary, output_format, stopped_by is not None, terminal)
    if stopped_by is not None:
        raise typer.Exit(SIGNAL_EXITS[stopped_by])
    raise typer.Exit(1 if summary.failed else 0)


def run_until_signal(coro: Coroutine[Any, Any, None]) -> signal.Signals | None:
    """Run ``coro`` on a fresh loop; SIGINT/SIGTERM cancel it (the step in flight is dropped
    cleanly). The signal that stopped it, if any; the previous handlers are restored."""
    import asyncio
    import contextlib

    loop = _new_event_loop()
    task = loop.create_task(coro)
    stopped_by: list[signal.Signals] = []

    def stop(signum: signal.Signals) -> None:
        stopped_by.append(signum)
        task.cancel()

    saved = {sig: signal.getsignal(sig) for sig in SIGNAL_EXITS}
    for sig in SIGNAL_EXITS:
        loop.add_signal_handler(sig, stop, sig)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)
    finally:
        for sig, handler in saved.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)
        loop.close()
    return stopped_by[0] if stopped_by else None


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (not on Windows): it wakes a task waiting for a reply
    in about two thirds of asyncio's time, and every round-trip ping reports includes one such
    wake-up (benchmarks/bench_ping.py)."""
    import asyncio

    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _sample(
    target: RedisTarget,
    count: int,
    interval: float,
    timeout: float,
    recorder: LatencyRecorder,
    view: _View,
) -> signal.Signals | None:
    """Run the samples; the signal (SIGINT, SIGTERM) that stopped them early, if any."""
    import contextlib

    from cpa_ops.core.redis import sample_latency

    async def run() -> None:
        samples = sample_latency(target, count=count, interval=interval, timeout=timeout)
        async with contextlib.aclosing(samples):
            async for sample in samples:
                recorder.add(sample)
                view.sample(sample, recorder)

    return run_until_signal(run())


class _View:
    """What is shown while sampling: nothing (for --format json)."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal

    def start(self, url: str, count: int, interval: float, timeout: float) -> None:
        pass

    def sample(self, sample: Sample, recorder: LatencyRecorder) -> None:
        pass

    def stop(self) -> None:
        pass


class _LineView(_View):
    """A line per sample (into a pipe, a file or a dumb terminal); coloured only when forced."""

    def start(self, url: str, count: int, interval: float, timeout: float) -> None:
        self.terminal.out(self.terminal.paint(_header(url, count, interval, timeout), "bold"))

    def sample(self, sample: Sample, recorder: LatencyRecorder) -> None:
        style = "green" if sample.ok else "bold red"
        self.terminal.out(self.terminal.paint(_sample_line(sample), style))


class _LiveView(_View):
    """On a TTY: a coloured line per sample, under it a running summary that updates in place."""

    def start(self, url: str, count: int, interval: float, timeout: float) -> None:
        from rich.live import Live
        from rich.text import Text

        self._console = self.terminal.rich()
        self._console.print(Text(_header(url, count, interval, timeout), style="bold"))
        self._live = Live(Text(""), console=self._console, transient=True, refresh_per_second=8)
        self._live.start()

    def sample(self, sample: Sample, recorder: LatencyRecorder) -> None:
        from rich.text import Text

        style = "green" if sample.ok else "bold red"
        self._live.console.print(Text(_sample_line(sample), style=style))
        self._live.update(Text(_running_line(recorder), style="dim"))

    def stop(self) -> None:
        self._live.stop()


def _header(url: str, count: int, interval: float, timeout: float) -> str:
    samples = f"{count} samples" if count else "until Ctrl-C"
    return f"PING {url}: {samples}, interval {interval:g} s, timeout {timeout:g} s"


def _sample_line(sample: Sample) -> str:
    connect = f" connect={sample.connect_ms:.3f} ms" if sample.connect_ms is not None else ""
    if sample.ok and sample.rtt_ms is not None:
        return f"seq={sample.seq}{connect} rtt={sample.rtt_ms:.3f} ms"
    return f"seq={sample.seq}{connect} error [{sample.reason}] {sample.detail or ''}".rstrip()


def _running_line(recorder: LatencyRecorder) -> str:
    mean = recorder.running_avg
    avg = f", avg {mean:.3f} ms" if mean is not None else ""
    return f"{recorder.sent} sent, {recorder.ok} ok, {recorder.sent - recorder.ok} failed{avg}"


def _summary_lines(summary: LatencySummary) -> list[str]:
    """The ping(8)-like closing statistics."""
    share = f" ({summary.failed / summary.sent:.1%})" if summary.sent else ""
    lines = [
        f"--- {summary.url} ping statistics ---",
        f"{summary.sent} sent, {summary.ok} ok, {summary.failed} failed{share}, "
        f"{summary.elapsed_s:.2f} s",
    ]
    if summary.errors:
        lines.append("errors: " + ", ".join(f"{code} {n}" for code, n in summary.errors.items()))
    if summary.connect:
        c = summary.connect
        lines.append(
            f"connect: {c.count} connect{'s' if c.count != 1 else ''}, "
            f"min/avg/max {c.min:.3f}/{c.avg:.3f}/{c.max:.3f} ms"
        )
    r = summary.round_trip
    if r:
        lines.append(
            f"round-trip ms: min {r.min:.3f} avg {r.avg:.3f} p50 {r.p50:.3f} p90 {r.p90:.3f} "
            f"p99 {r.p99:.3f} max {r.max:.3f} stddev {r.stddev:.3f}"
        )
    return lines


def _emit_summary(
    summary: LatencySummary, output_format: OutputFormat, interrupted: bool, terminal: Terminal
) -> None:
    from cpa_ops.core.redis import REASONS

    if output_format is OutputFormat.json:
        import json

        document = {**summary.as_dict(), "interrupted": interrupted}
        terminal.out(json.dumps(document, ensure_ascii=False))
    else:
        if terminal.stdout_isatty or interrupted:
            terminal.out()
        for line in _summary_lines(summary):
            terminal.out(line)
    for code, n in summary.errors.items():
        hint = REASONS[code].hint if code in REASONS else ""
        terminal.err(f"cpa-ops ping: {n} of {summary.sent} samples failed [{code}]: {hint}")
