"""Renderers of a health Report: text for people, health+json for machines, nagios for Nagios."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpa_ops.cli.exits import NagiosCode
from cpa_ops.cli.options import HealthFormat
from cpa_ops.cli.render.json_text import json_text
from cpa_ops.core.terminal import visible_controls

if TYPE_CHECKING:
    from cpa_ops.cli.console import Terminal
    from cpa_ops.core.health import Check, Report

_STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}
_NAGIOS_WORD = {"pass": "OK", "warn": "WARNING", "fail": "CRITICAL"}


def report_text(report: Report, terminal: Terminal) -> list[str]:
    """One line per check (status, key, measurement, output), a hint under each problem, and a
    closing status line. What a server said (outputs, node addresses) is made terminal-safe."""
    lines = []
    width = max((len(check_label(c)) for c in report.checks), default=0)
    for check in report.checks:
        status = terminal.paint(f"{check.status.value.upper():4}", _STATUS_STYLE[check.status])
        measured = _measured(check)
        reason = f"[{check.reason}] " if check.reason and check.status != "pass" else ""
        label = check_label(check)
        output = visible_controls(check.output)
        lines.append(f"{status}  {label:<{width}}  {measured:>9}  {reason}{output}")
        if check.hint and check.status != "pass":
            hint = terminal.paint(f"hint: {visible_controls(check.hint)}", "dim")
            lines.append(f"{'':4}  {'':<{width}}  {'':>9}  {hint}")
    problems = [c for c in report.checks if c.status != "pass"]
    summary = report.status.value
    if problems:
        summary += f" ({len(problems)} of {len(report.checks)} checks not passing)"
    lines.append("status: " + terminal.paint(summary, _STATUS_STYLE[report.status]))
    return lines


def check_label(check: Check) -> str:
    """``redis:ping``, or ``redis:ping 10.0.0.1:7000`` when several nodes share the key (a node
    address as a server named it: terminal-safe)."""
    label = f"{check.key} {check.component_id}" if check.component_id else check.key
    return visible_controls(label)


def _measured(check: Check) -> str:
    if check.observed_value is None or check.observed_unit != "ms":
        return ""
    return f"{check.observed_value:.1f} ms"


def report_json(report: Report, description: str) -> str:
    """The report as one health+json line (draft-inadarei-api-health-check)."""
    from cpa_ops.core.report import health_document

    return json_text(health_document(report, description=description))


def report_nagios(report: Report) -> tuple[str, NagiosCode]:
    """One Nagios status line with perfdata, and its Nagios exit code."""
    word = _NAGIOS_WORD[report.status]
    problems = [c for c in report.checks if c.status != "pass"]
    if problems:
        summary = "; ".join(
            f"{check_label(c)} {c.reason + ': ' if c.reason else ''}{c.output}" for c in problems
        )
    else:
        # a cluster's or a sentinel set-up's own verdict before any one node's PONG
        keys = ("redis:cluster", "redis:master", "redis:ping")
        ping = next((c for k in keys for c in report.checks if c.key == k), None)
        summary = ping.output if ping else "all checks pass"
    perf = []
    for check in report.checks:
        if check.observed_value is None:
            continue
        label = check.key.replace(":", "_")
        if check.component_id:
            # a perfdata label must be unique: one series per node
            node = check.component_id.replace(":", "_").replace("'", "")
            label += "_" + visible_controls(node)
        if check.key == "redis:ping":
            warn = check.details.get("warnMs", "")
            perf.append(f"'{label}_rtt'={check.observed_value:g}ms;{warn};;0;")
        elif check.key == "redis:memory":
            maximum = check.details.get("maxMemory") or ""
            perf.append(f"'{label}_used'={check.observed_value:.0f}B;;;0;{maximum}")
        elif check.key == "redis:clients":
            maximum = check.details.get("maxClients") or ""
            perf.append(f"'{label}_connected'={check.observed_value:.0f};;;0;{maximum}")
        elif check.observed_unit == "ms":
            perf.append(f"'{label}'={check.observed_value:g}ms;;;0;")
    line = f"CPA-OPS {word} - {_nagios_safe(summary)}"
    if perf:
        line += " | " + " ".join(perf)
    return line, NagiosCode[word]


def _nagios_safe(text: str) -> str:
    # '|' starts perfdata in the Nagios plugin format; a monitoring UI shows the rest to people
    return visible_controls(text.replace("|", "/").replace("\n", " "))


def write_report(
    report: Report,
    output_format: HealthFormat,
    terminal: Terminal,
    *,
    description: str,
    quiet: bool = False,
) -> None:
    """Write the verdict in ``output_format``; with ``quiet``, only each failure, on stderr."""
    from cpa_ops.core.health import Status

    if quiet:
        for check in report.failures:
            output = visible_controls(check.output)
            terminal.err(f"cpa-ops health: {check_label(check)} [{check.reason}] {output}")
        return
    if output_format is HealthFormat.json:
        terminal.out(report_json(report, description))
    elif output_format is HealthFormat.nagios:
        terminal.out(report_nagios(report)[0])
    else:
        for line in report_text(report, terminal):
            terminal.out(line)
        if report.status is Status.FAIL:
            first = report.failures[0]
            hint = visible_controls(first.hint or "")
            terminal.err(f"cpa-ops health: {check_label(first)} failed [{first.reason}]: {hint}")
