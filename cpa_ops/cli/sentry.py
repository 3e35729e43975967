"""``cpa-ops sentry-test``: send one scrubbed test event and say whether Sentry took it.

Exit 0 only when the ingest endpoint answered 2xx (or on ``--dry-run``); 1 with a reason for
every other outcome; 2 for bad options or a missing/malformed SENTRY_DSN. ``--timeout`` bounds
the whole command from the process's start: the watchdog armed at the console script's first
instruction (cli/startup.py) ends the process even if something hangs past it.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from cpa_ops.cli.options import CommandTimeoutOption, EventLevelChoice, FormatOption, OutputFormat

if TYPE_CHECKING:
    from cpa_ops.cli.console import Terminal
    from cpa_ops.cli.context import CliContext
    from cpa_ops.cli.deadline import Watchdog
    from cpa_ops.core.choices import EventLevel
    from cpa_ops.core.sentry import TestEventResult
    from cpa_ops.core.settings import Settings

# The watchdog fires this long after --timeout: the main thread's own deadline comes first.
_WATCHDOG_GRACE = 0.3
# Sentry's limits on tags (keys: 32 chars of [A-Za-z0-9_.:-]; values: 200 chars, one line).
_TAG_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,32}")
_TAG_VALUE_MAX = 200


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
        EventLevelChoice | None,
        typer.Option(
            "--level",
            case_sensitive=False,
            help="Event level (default: info; error with --exception).",
        ),
    ] = None,
    exception: Annotated[
        bool, typer.Option("--exception", help="Send a raised exception with a stack trace.")
    ] = False,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", metavar="KEY=VALUE", help="Add a tag to the event (repeatable)."),
    ] = None,
    timeout: CommandTimeoutOption = 5.0,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Send nothing; print the scrubbed envelope as JSON."),
    ] = False,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Send one test event to Sentry and report the event id, host, HTTP status and time.

    SENTRY_DSN (environment or .env) says where; ENVIRONMENT is sent with the event.
    """
    from cpa_ops.cli.context import cli_context
    from cpa_ops.cli.deadline import command_watchdog
    from cpa_ops.cli.exits import ExitCode

    context = cli_context(ctx)
    terminal = context.terminal
    tags = _parse_tags(tag or [], terminal)
    deadline = context.started_at + timeout
    host: str | None = None  # known once the settings are

    def on_expiry() -> int:
        _write_timeout(output, host, time.monotonic() - context.started_at, terminal)
        return ExitCode.UNHEALTHY

    # the process's watchdog, armed at its first instruction with the start-up verdict (the
    # same timeout verdict, no host yet), now writes this command's
    watchdog = command_watchdog(deadline + _WATCHDOG_GRACE, on_expiry, enabled=context.process_mode)
    settings = _settings_or_exit(context, watchdog)
    host = settings.sentry_host
    result = _send(
        settings,
        watchdog,
        terminal,
        deadline=deadline,
        message=message,
        level=cast("EventLevel", level.value) if level is not None else None,
        exception=exception,
        tags=tags,
        dry_run=dry_run,
    )
    from cpa_ops.cli.render.sentry import reason, write_result
    from cpa_ops.core.sentry import Verdict  # sentry_sdk: only once the watchdog is armed

    delivered = result.delivery.delivered or result.delivery.verdict is Verdict.DRY_RUN
    code = ExitCode.OK if delivered else ExitCode.UNHEALTHY
    with watchdog.verdict(code):
        write_result(result, output, timeout, terminal, dry_run=dry_run)
        if not delivered:
            terminal.err(f"cpa-ops: sentry-test: {reason(result, timeout)}")
    raise typer.Exit(code)


def _settings_or_exit(context: CliContext, watchdog: Watchdog) -> Settings:
    """The settings, or exit 2 naming each fault (unless the watchdog already fired)."""
    from cpa_ops.cli.console import fail_config
    from cpa_ops.cli.exits import ExitCode
    from cpa_ops.core.settings import ConfigError, load_settings

    try:
        return load_settings(context.env_file)
    except ConfigError as exc:
        with watchdog.verdict(ExitCode.USAGE):
            fail_config(exc.problems, context.terminal)


def _send(
    settings: Settings,
    watchdog: Watchdog,
    terminal: Terminal,
    *,
    deadline: float,
    message: str | None,
    level: EventLevel | None,
    exception: bool,
    tags: dict[str, str],
    dry_run: bool,
) -> TestEventResult:
    """Send (or, dry, build) the test event by ``deadline``; exit 2 on a missing or bad DSN."""
    from cpa_ops.cli.console import fail_config
    from cpa_ops.cli.exits import ExitCode
    from cpa_ops.core.sentry import send_test_event
    from cpa_ops.core.settings import ConfigError

    extra: dict[str, Any] = {"message": message} if message is not None else {}
    try:
        return send_test_event(
            settings,
            deadline=deadline,
            level=level,
            exception=exception,
            tags=tags,
            dry_run=dry_run,
            **extra,
        )
    except ConfigError as exc:
        with watchdog.verdict(ExitCode.USAGE):
            fail_config(exc.problems, terminal)


def _write_timeout(
    output: OutputFormat, host: str | None, elapsed: float, terminal: Terminal
) -> None:
    """The watchdog's verdict, ``elapsed`` s after the start: no verdict came within --timeout
    (json: the report's keys). Before the settings name a host, the start-up verdict
    (cli/startup.py) writes the same."""
    from cpa_ops.cli.render.json_text import json_text
    from cpa_ops.cli.render.sentry import NO_VERDICT, timeout_data

    if output is OutputFormat.json:
        terminal.out(json_text(timeout_data(host, elapsed)))
    terminal.err(f"cpa-ops: sentry-test: {NO_VERDICT}")


def _parse_tags(given: list[str], terminal: Terminal) -> dict[str, str]:
    """``--tag KEY=VALUE`` options as a dict; exit 2 naming the first bad one."""
    from cpa_ops.cli.console import fail_usage
    from cpa_ops.core.urls import shown_value

    tags: dict[str, str] = {}
    for number, text in enumerate(given, 1):
        key, equals, value = text.partition("=")
        key = key.strip()
        # a tag may hold a secret or PII: named by position, its key only when harmless
        where = f"--tag {number}" if len(given) > 1 else "--tag"
        if not equals or not _TAG_KEY.fullmatch(key):
            fail_usage(
                f"{where} ({shown_value(text)}) is not KEY=VALUE "
                "(KEY: 1-32 of A-Z a-z 0-9 _ . : -)",
                terminal,
            )
        if not value or len(value) > _TAG_VALUE_MAX or "\n" in value or "\r" in value:
            fail_usage(
                f"{where} (key {shown_value(key)}) needs a one-line VALUE of 1-{_TAG_VALUE_MAX} "
                f"characters (got {len(value)} characters)",
                terminal,
            )
        tags[key] = value
    return tags
