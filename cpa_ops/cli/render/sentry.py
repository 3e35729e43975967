"""What ``cpa-ops sentry-test`` writes: the verdict and what it means, as rows for people or one
JSON object, the scrubbed envelope of a dry run, and the verdict of a command out of time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpa_ops.cli.options import OutputFormat
from cpa_ops.cli.render.json_text import json_text
from cpa_ops.cli.startup import SENTRY_NO_VERDICT
from cpa_ops.core.terminal import visible_controls

if TYPE_CHECKING:
    from cpa_ops.cli.console import Terminal
    from cpa_ops.core.sentry import TestEventResult

#: the verdict when the command's own deadline passed before any (the watchdog's; the start-up
#: verdict's too, which cannot import this module)
NO_VERDICT = SENTRY_NO_VERDICT


def reason(result: TestEventResult, timeout: float) -> str:
    """The verdict, then what it means, in one line (the DSN's host made terminal-safe)."""
    from cpa_ops.core.sentry import Verdict

    host = visible_controls(result.host or "Sentry")
    delivery = result.delivery
    status = delivery.status
    retry = (
        f"retry after {delivery.retry_after:g} s"
        if delivery.retry_after is not None
        else "no Retry-After given"
    )
    texts = {
        Verdict.DELIVERED: f"HTTP {status}: {host} accepted the event",
        Verdict.DRY_RUN: "dry run: nothing sent",
        Verdict.CONNECTION_REFUSED: f"nothing listens at {host}",
        Verdict.UNREACHABLE: f"cannot reach {host} (no route, or the name does not resolve)",
        Verdict.TLS_ERROR: f"TLS with {host} failed (a private CA? point SSL_CERT_FILE at it)",
        Verdict.TIMEOUT: f"no answer from {host} within --timeout {timeout:g} s",
        Verdict.CONNECTION_CLOSED: f"{host} closed the connection without an answer",
        Verdict.AUTH_REJECTED: f"HTTP {status}: {host} rejected the DSN's key or project",
        Verdict.TOO_LARGE: f"HTTP 413: the envelope is too large for {host}",
        Verdict.RATE_LIMITED: f"HTTP 429: rate limited by {host}; {retry}",
        Verdict.SERVER_ERROR: f"HTTP {status}: server error at {host}",
        Verdict.UNEXPECTED_STATUS: f"HTTP {status}: unexpected answer from {host}",
        Verdict.DROPPED: "dropped before sending: the event could not be scrubbed",
    }
    return f"{delivery.verdict.value}: {texts[delivery.verdict]}"


def report_data(result: TestEventResult, timeout: float) -> dict[str, Any]:
    """The JSON report of a send: verdict, reason, event id, host, HTTP status, elapsed."""
    delivery = result.delivery
    return {
        "delivered": delivery.delivered,
        "verdict": delivery.verdict.value,
        "reason": reason(result, timeout),
        "event_id": result.event_id,
        "host": result.host,
        "status": delivery.status,
        "retry_after": delivery.retry_after,
        "elapsed": round(result.elapsed, 4),
    }


def timeout_data(host: str | None, elapsed: float) -> dict[str, Any]:
    """The JSON report (same keys as :func:`report_data`) when no verdict came in time."""
    return {
        "delivered": False,
        "verdict": "timeout",
        "reason": NO_VERDICT,
        "event_id": None,
        "host": host,
        "status": None,
        "retry_after": None,
        "elapsed": round(elapsed, 4),
    }


def text_rows(result: TestEventResult, timeout: float, terminal: Terminal) -> list[str]:
    """The report for people: a ``name value`` row each."""
    delivery = result.delivery
    style = "bold green" if delivery.delivered else "bold red"
    rows = [
        ("result", terminal.paint(reason(result, timeout), style)),
        ("event id", visible_controls(result.event_id or "-")),
        ("host", visible_controls(result.host or "-")),
        ("status", str(delivery.status) if delivery.status is not None else "-"),
    ]
    if delivery.retry_after is not None:
        rows.append(("retry after", f"{delivery.retry_after:g} s"))
    rows.append(("elapsed", f"{result.elapsed:.3f} s"))
    return [f"{name:<12}{value}" for name, value in rows]


def envelope(result: TestEventResult, output: OutputFormat) -> str:
    """A dry run's scrubbed envelope: indented for people, one line for json; either way every
    control character in it (a --message, a tag value) escaped."""
    indent = None if output is OutputFormat.json else 2
    return json_text(result.envelope, indent=indent, default=str)


def write_result(
    result: TestEventResult,
    output: OutputFormat,
    timeout: float,
    terminal: Terminal,
    *,
    dry_run: bool = False,
) -> None:
    """The send's report (or a dry run's envelope) on stdout."""
    if dry_run:
        if result.envelope is not None:
            terminal.out(envelope(result, output))
    elif output is OutputFormat.json:
        terminal.out(json_text(report_data(result, timeout)))
    else:
        for row in text_rows(result, timeout, terminal):
            terminal.out(row)
