"""What ``cpa-ops ping`` writes: the header, a line per sample (a running summary under it on a
terminal), and the ping(8)-like statistics, for one server or per cluster node.

URLs (a unix socket path), node addresses and roles and error replies come from the user or a
server: each is made terminal-safe here, in every line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cpa_ops.cli.options import OutputFormat
from cpa_ops.cli.render.json_text import json_text
from cpa_ops.core.terminal import visible_controls

if TYPE_CHECKING:
    from cpa_ops.cli.console import Terminal
    from cpa_ops.core.redis import LatencyRecorder, LatencySummary, Sample


def header(url: str, count: int, interval: float, timeout: float) -> str:
    samples = f"{count} samples" if count else "until Ctrl-C"
    shown = visible_controls(url)
    return f"PING {shown}: {samples}, interval {interval:g} s, timeout {timeout:g} s"


def cluster_header(url: str, nodes: int, count: int, interval: float, timeout: float) -> str:
    samples = f"{count} samples each" if count else "until Ctrl-C"
    return (
        f"PING cluster via {visible_controls(url)}: {nodes} nodes, {samples}, "
        f"interval {interval:g} s, timeout {timeout:g} s"
    )


def sample_line(sample: Sample) -> str:
    connect = f" connect={sample.connect_ms:.3f} ms" if sample.connect_ms is not None else ""
    if sample.ok and sample.rtt_ms is not None:
        return f"seq={sample.seq}{connect} rtt={sample.rtt_ms:.3f} ms"
    detail = visible_controls(sample.detail or "")
    return f"seq={sample.seq}{connect} error [{sample.reason}] {detail}".rstrip()


def node_sample_line(address: str, role: str, sample: Sample) -> str:
    """A cluster node's sample: its address and role (as CLUSTER NODES named them), the sample."""
    return f"{visible_controls(address)} {visible_controls(role)} {sample_line(sample)}"


def running_line(recorder: LatencyRecorder) -> str:
    mean = recorder.running_avg
    avg = f", avg {mean:.3f} ms" if mean is not None else ""
    return f"{recorder.sent} sent, {recorder.ok} ok, {recorder.sent - recorder.ok} failed{avg}"


def summary_lines(summary: LatencySummary, title: str | None = None) -> list[str]:
    """The ping(8)-like closing statistics (under ``title``, default: the URL's)."""
    share = f" ({summary.failed / summary.sent:.1%})" if summary.sent else ""
    lines = [
        f"--- {visible_controls(title or summary.url)} ping statistics ---",
        f"{summary.sent} sent, {summary.ok} ok, {summary.failed} failed{share}, "
        f"{summary.elapsed_s:.2f} s",
    ]
    if summary.errors:
        errors = ", ".join(f"{code} {n}" for code, n in summary.errors.items())
        lines.append("errors: " + visible_controls(errors))
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


def failure_lines(summary: LatencySummary, hints: Mapping[str, str], where: str = "") -> list[str]:
    """One stderr line per reason that failed samples, with its hint."""
    return [
        visible_controls(
            f"cpa-ops ping: {where}{n} of {summary.sent} samples failed [{code}]: {hints[code]}"
        )
        for code, n in summary.errors.items()
    ]


def write_summary(
    summary: LatencySummary,
    output_format: OutputFormat,
    interrupted: bool,
    hints: Mapping[str, str],
    terminal: Terminal,
) -> None:
    """One server's statistics (text) or summary object (json), then its failures on stderr."""
    if output_format is OutputFormat.json:
        document = {**summary.as_dict(), "interrupted": interrupted}
        terminal.out(json_text(document))
    else:
        if terminal.stdout_isatty or interrupted:
            terminal.out()
        for line in summary_lines(summary):
            terminal.out(line)
    for line in failure_lines(summary, hints):
        terminal.err(line)


def write_cluster_summary(
    url: str,
    summaries: Mapping[str, LatencySummary],
    roles: Mapping[str, str],
    output_format: OutputFormat,
    interrupted: bool,
    hints: Mapping[str, str],
    terminal: Terminal,
) -> None:
    """Each node's statistics (text) or one object with a summary per node (json)."""
    if output_format is OutputFormat.json:
        nodes: list[dict[str, Any]] = [
            {"componentId": address, "role": roles[address], **summary.as_dict()}
            for address, summary in summaries.items()
        ]
        document = {"mode": "cluster", "url": url, "nodes": nodes, "interrupted": interrupted}
        terminal.out(json_text(document))
    else:
        for address, summary in summaries.items():
            terminal.out()
            for line in summary_lines(summary, f"{address} ({roles[address]})"):
                terminal.out(line)
    for address, summary in summaries.items():
        for line in failure_lines(summary, hints, f"{address}: "):
            terminal.err(line)


class SampleView:
    """What is shown while sampling: nothing (for --format json)."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal

    def start(self, url: str, count: int, interval: float, timeout: float) -> None:
        pass

    def sample(self, sample: Sample, recorder: LatencyRecorder) -> None:
        pass

    def stop(self) -> None:
        pass


class LineView(SampleView):
    """A line per sample (into a pipe, a file or a dumb terminal); coloured only when forced."""

    def start(self, url: str, count: int, interval: float, timeout: float) -> None:
        self.terminal.out(self.terminal.paint(header(url, count, interval, timeout), "bold"))

    def sample(self, sample: Sample, recorder: LatencyRecorder) -> None:
        style = "green" if sample.ok else "bold red"
        self.terminal.out(self.terminal.paint(sample_line(sample), style))


class LiveView(SampleView):
    """On a TTY: a coloured line per sample, under it a running summary that updates in place."""

    def start(self, url: str, count: int, interval: float, timeout: float) -> None:
        from rich.live import Live
        from rich.text import Text

        self._console = self.terminal.rich()
        self._console.print(Text(header(url, count, interval, timeout), style="bold"))
        self._live = Live(Text(""), console=self._console, transient=True, refresh_per_second=8)
        self._live.start()

    def sample(self, sample: Sample, recorder: LatencyRecorder) -> None:
        from rich.text import Text

        style = "green" if sample.ok else "bold red"
        self._live.console.print(Text(sample_line(sample), style=style))
        self._live.update(Text(running_line(recorder), style="dim"))

    def stop(self) -> None:
        self._live.stop()


def sample_view(output_format: OutputFormat, terminal: Terminal) -> SampleView:
    """The view for this output: none for json, live on a terminal, else a line per sample."""
    if output_format is OutputFormat.json:
        return SampleView(terminal)
    if terminal.stdout_live:
        return LiveView(terminal)
    return LineView(terminal)
