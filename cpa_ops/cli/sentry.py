"""``cpa-ops sentry-test``: send one scrubbed test event and say whether Sentry took it.

Exit 0 only when the ingest endpoint answered 2xx (or on ``--dry-run``); 1 with a reason for
every other outcome; 2 for bad options or a missing/malformed SENTRY_DSN. ``--timeout`` bounds
the whole command: a watchdog ends the process even if something hangs past it.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cpa_ops.cli.options import OutputFormat, seconds

if TYPE_CHECKING:
    from cpa_ops.cli.console import Terminal
    from cpa_ops.core.sentry import TestEventResult

# The watchdog fires this long after --timeout: the main thread's own deadline comes first.
_WATCHDOG_GRACE = 0.3
# Sentry's limits on tags (keys: 32 chars of [A-Za-z0-9_.:-]; values: 200 chars, one line).
_TAG_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,32}")
_TAG_VALUE_MAX = 200


class Level(StrEnum):
    fatal = "fatal"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


EPILOG = """\
Examples:

  Does an event reach Sentry from here? (SENTRY_DSN: environment or .env)
    cpa-ops sentry-test

  After a deploy: a tagged exception with its stack trace, JSON for the CI log:
    cpa-ops sentry-test --exception --tag deploy=2026.11.28 --format json

  What would be sent, after scrubbing, without sending it:
    cpa-ops sentry-test --dry-run --message "client 123-45-6789 failed"
"""


def register(app: typer.Typer) -> None:
    app.command("sentry-test", epilog=EPILOG, rich_help_panel="Observability")(sentry_test)


def sentry_test(
    ctx: typer.Context,
    message: Annotated[
        str | None,
        typer.Option(
            "--message", metavar="TEXT", help="Message of the test event (PII is scrubbed)."
        ),
    ] = None,
    level: Annotated[
        Level | None,
        typer.Option("--level", help="Event level (default: info; error with --exception)."),
    ] = None,
    exception: Annotated[
        bool, typer.Option("--exception", help="Send a raised exception with a stack trace.")
    ] = False,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", metavar="KEY=VALUE", help="Add a tag to the event (repeatable)."),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            parser=seconds,
            help="Deadline for the whole command, in seconds.",
        ),
    ] = 5.0,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Send nothing; print the scrubbed envelope as JSON."),
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.text,
) -> None:
    """Send one test event to Sentry and report the event id, host, HTTP status and time.

    SENTRY_DSN (environment or .env) says where; ENVIRONMENT is sent with the event.
    """
    from cpa_ops import STARTED_AT
    from cpa_ops.cli.console import Terminal
    from cpa_ops.cli.exits import ExitCode

    terminal = Terminal()
    tags = _parse_tags(tag or [], terminal)
    deadline = STARTED_AT + timeout
    finished = _start_watchdog(deadline + _WATCHDOG_GRACE, terminal)
    try:
        result = _send(
            ctx,
            terminal,
            deadline=deadline,
            message=message,
            level=level,
            exception=exception,
            tags=tags,
            dry_run=dry_run,
        )
    finally:
        finished.set()

    from cpa_ops.core.sentry import Verdict

    if dry_run:
        if result.envelope is not None:
            _render_envelope(result, output, terminal)
    elif output is OutputFormat.json:
        terminal.out(json.dumps(_report_data(result, timeout), ensure_ascii=False))
    else:
        _render_text(result, timeout, terminal)
    if not (result.delivery.delivered or result.delivery.verdict is Verdict.DRY_RUN):
        terminal.err(f"cpa-ops: sentry-test: {_reason(result, timeout)}")
        raise typer.Exit(ExitCode.UNHEALTHY)
    raise typer.Exit(ExitCode.OK)


def _send(
    ctx: typer.Context,
    terminal: Terminal,
    *,
    deadline: float,
    message: str | None,
    level: Level | None,
    exception: bool,
    tags: dict[str, str],
    dry_run: bool,
) -> TestEventResult:
    """Load the settings and send (or, dry, build) the test event; exit 2 on a bad DSN."""
    from cpa_ops.cli.console import fail_config
    from cpa_ops.cli.options import settings_or_exit
    from cpa_ops.core.sentry import send_test_event
    from cpa_ops.core.settings import ConfigError

    settings = settings_or_exit(ctx)
    extra: dict[str, Any] = {"message": message} if message is not None else {}
    try:
        return send_test_event(
            settings,
            deadline=deadline,
            level=level.value if level is not None else None,
            exception=exception,
            tags=tags,
            dry_run=dry_run,
            **extra,
        )
    except ConfigError as exc:
        fail_config(exc.problems, terminal)


def _start_watchdog(at: float, terminal: Terminal) -> threading.Event:
    """End the process with exit 1 at ``at`` (monotonic) unless the returned event is set."""
    from cpa_ops.cli import deadline

    finished = threading.Event()
    if not deadline.PROCESS_MODE:  # in-process (cli.run): never end the caller's process
        return finished

    def expire() -> None:
        if finished.wait(max(0.0, at - time.monotonic())):
            return
        import os

        from cpa_ops.cli.exits import ExitCode

        try:
            terminal.err("cpa-ops: sentry-test: timeout: no verdict within --timeout")
            sys.stdout.flush()
        finally:
            os._exit(ExitCode.UNHEALTHY)

    threading.Thread(target=expire, name="cpa-ops-deadline", daemon=True).start()
    return finished


def _parse_tags(given: list[str], terminal: Terminal) -> dict[str, str]:
    """``--tag KEY=VALUE`` options as a dict; exit 2 naming the first bad one."""
    from cpa_ops.cli.console import fail_usage

    tags: dict[str, str] = {}
    for text in given:
        key, equals, value = text.partition("=")
        key = key.strip()
        shown = repr(text if len(text) <= 40 else text[:37] + "...")
        if not equals or not _TAG_KEY.fullmatch(key):
            fail_usage(
                f"--tag {shown} is not KEY=VALUE (KEY: 1-32 of A-Z a-z 0-9 _ . : -)", terminal
            )
        if not value or len(value) > _TAG_VALUE_MAX or "\n" in value or "\r" in value:
            fail_usage(
                f"--tag {shown} needs a one-line VALUE of 1-{_TAG_VALUE_MAX} characters", terminal
            )
        tags[key] = value
    return tags


def _reason(result: TestEventResult, timeout: float) -> str:
    """The verdict, then what it means, in one line."""
    from cpa_ops.core.sentry import Verdict

    host = result.host or "Sentry"
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


def _report_data(result: TestEventResult, timeout: float) -> dict[str, Any]:
    delivery = result.delivery
    return {
        "delivered": delivery.delivered,
        "verdict": delivery.verdict.value,
        "reason": _reason(result, timeout),
        "event_id": result.event_id,
        "host": result.host,
        "status": delivery.status,
        "retry_after": delivery.retry_after,
        "elapsed": round(result.elapsed, 4),
    }


def _render_text(result: TestEventResult, timeout: float, terminal: Terminal) -> None:
    delivery = result.delivery
    style = "bold green" if delivery.delivered else "bold red"
    rows = [
        ("result", terminal.paint(_reason(result, timeout), style)),
        ("event id", result.event_id or "-"),
        ("host", result.host or "-"),
        ("status", str(delivery.status) if delivery.status is not None else "-"),
    ]
    if delivery.retry_after is not None:
        rows.append(("retry after", f"{delivery.retry_after:g} s"))
    rows.append(("elapsed", f"{result.elapsed:.3f} s"))
    for name, value in rows:
        terminal.out(f"{name:<12}{value}")


def _render_envelope(result: TestEventResult, output: OutputFormat, terminal: Terminal) -> None:
    indent = None if output is OutputFormat.json else 2
    terminal.out(json.dumps(result.envelope, indent=indent, ensure_ascii=False, default=str))
