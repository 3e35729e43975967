"""``cpa-ops health``: is Redis usable, and if not, exactly why, within a hard deadline."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from cpa_ops.cli.options import milliseconds, seconds
from cpa_ops.cli.topology import (
    ModeOption,
    SentinelMasterOption,
    SentinelsOption,
    topology_overrides,
)

if TYPE_CHECKING:
    from cpa_ops.cli.console import Terminal
    from cpa_ops.core.health import Report
    from cpa_ops.core.settings import Settings

EPILOG = """\
Examples:

  Kubernetes exec probe (exit 0 healthy, 1 unhealthy, within 1.5 s):
    cpa-ops health --timeout 1 --quiet

  CI smoke check, waiting up to 60 s for Redis to come up, writes included:
    cpa-ops health --wait 60 --write --format json

  Nagios / Icinga:
    cpa-ops health --format nagios --warn-ms 50
"""


class HealthFormat(StrEnum):
    text = "text"
    json = "json"
    nagios = "nagios"


def register(app: typer.Typer) -> None:
    app.command("health", epilog=EPILOG, rich_help_panel="Diagnostics")(health)


def health(
    ctx: typer.Context,
    redis_url: Annotated[
        str | None,
        typer.Option(
            "--redis-url",
            metavar="URL",
            help="Redis to check (overrides REDIS_URL): redis://, rediss:// or unix://.",
            show_default=False,
        ),
    ] = None,
    mode: ModeOption = None,
    sentinels: SentinelsOption = None,
    sentinel_master: SentinelMasterOption = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            parser=seconds,
            help="Budget for the whole command: the process exits within it (+0.5 s).",
        ),
    ] = 1.0,
    output_format: Annotated[
        HealthFormat,
        typer.Option("--format", help="text for people, json (health+json), nagios."),
    ] = HealthFormat.text,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Also SET (PX 10000) and DEL a key cpa-ops:health:<host>:<pid>: catches "
            "read-only replicas, OOM and paused writes.",
        ),
    ] = False,
    wait: Annotated[
        float | None,
        typer.Option(
            "--wait",
            metavar="SECONDS",
            parser=seconds,
            help="Retry with backoff until healthy or SECONDS pass (then exit 1).",
            show_default=False,
        ),
    ] = None,
    warn_ms: Annotated[
        float,
        typer.Option(
            "--warn-ms",
            metavar="MS",
            parser=milliseconds,
            help="Warn when the PING round-trip exceeds this many milliseconds.",
        ),
    ] = 100.0,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No output when healthy; only the failure line on stderr."
        ),
    ] = False,
    watch: Annotated[
        float | None,
        typer.Option(
            "--watch",
            metavar="SECONDS",
            parser=seconds,
            help="Re-run the checks every SECONDS until Ctrl-C (exit 0); each round within "
            "--timeout. A live table on a terminal, one JSON object per line with --format json.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check Redis (and Sentry and logging configuration); exit 0 healthy, 1 not, 2 bad input.

    REDIS_URL, SENTRY_DSN and ENVIRONMENT come from the environment or the .env file.
    """
    import cpa_ops
    from cpa_ops.cli.console import Terminal
    from cpa_ops.cli.deadline import OUTPUT_LOCK, Watchdog, wait_for_watchdog
    from cpa_ops.cli.exits import ExitCode, NagiosCode
    from cpa_ops.core.settings import ConfigError, load_settings

    terminal = Terminal()
    env_file = (ctx.find_root().obj or {}).get("env_file")
    try:
        settings = load_settings(
            env_file,
            redis_url=redis_url,
            **topology_overrides(mode, sentinels, sentinel_master),
        )
    except ConfigError as exc:
        if output_format is HealthFormat.nagios:
            terminal.out(f"CPA-OPS UNKNOWN - invalid configuration: {'; '.join(exc.problems)}")
            raise typer.Exit(NagiosCode.UNKNOWN) from None
        from cpa_ops.cli.console import fail_config

        fail_config(exc.problems, terminal)

    if watch is not None:
        _watch(settings, watch, timeout, wait, write, warn_ms, output_format, quiet, terminal)
    started = cpa_ops.STARTED_AT
    hard_end = started + (wait or 0.0) + timeout

    def on_expiry() -> int:
        report = _deadline_report(settings, timeout + (wait or 0.0))
        return _emit(report, settings, output_format, quiet, terminal)

    watchdog = Watchdog(hard_end, on_expiry).start()
    report = _run_checks(settings, timeout, wait, write, warn_ms, hard_end, terminal, quiet)
    code = _exit_code(report, output_format)
    if not watchdog.claim(code):
        wait_for_watchdog()
    with OUTPUT_LOCK:
        _emit(report, settings, output_format, quiet, terminal)
    raise typer.Exit(code if code else ExitCode.OK)


def _run_checks(
    settings: Settings,
    timeout: float,
    wait: float | None,
    write: bool,
    warn_ms: float,
    hard_end: float,
    terminal: Terminal,
    quiet: bool,
) -> Report:
    import asyncio

    from cpa_ops.core.health import Report, logging_config_check, sentry_config_check
    from cpa_ops.core.redis import diagnose

    config_checks = (
        sentry_config_check(
            settings.environment, settings.sentry_host, settings.sentry_traces_sample_rate
        ),
        logging_config_check(settings.environment, settings.log_format, settings.log_level),
    )
    # what rendering and exiting need after the last probe
    reserve = 0.08
    delay = 0.1
    spinner = _Spinner(terminal) if wait and terminal.stderr_live and not quiet else None
    try:
        while True:
            budget = min(timeout, hard_end - time.monotonic() - reserve)
            deadline = time.monotonic() + max(budget, 0.01)
            probe = diagnose(settings.redis_target, deadline=deadline, write=write, warn_ms=warn_ms)
            loop = asyncio.new_event_loop()
            try:
                diagnosis = loop.run_until_complete(probe)
            finally:
                loop.close()
            left = hard_end - timeout - time.monotonic()  # time to start another full attempt
            if diagnosis.healthy or wait is None or left <= 0:
                break
            if spinner:
                spinner.update(f"waiting for Redis: {diagnosis.reason} ({left:.0f} s left)")
            time.sleep(min(delay, left))
            delay = min(delay * 2, 2.0)
    finally:
        if spinner:
            spinner.stop()
    return Report((*diagnosis.checks, *config_checks))


def _watch(
    settings: Settings,
    every: float,
    timeout: float,
    wait: float | None,
    write: bool,
    warn_ms: float,
    output_format: HealthFormat,
    quiet: bool,
    terminal: Terminal,
) -> None:
    """Re-run the checks every ``every`` seconds until Ctrl-C (exit 0); never returns."""
    from cpa_ops.cli.console import fail_usage
    from cpa_ops.cli.exits import uninterrupted
    from cpa_ops.cli.render import check_label
    from cpa_ops.core.health import rfc3339, utc_now

    if wait is not None:
        fail_usage("--watch and --wait cannot be combined (--watch already re-checks)", terminal)
    live = None
    if output_format is HealthFormat.text and terminal.stdout_live and not quiet:
        from rich.live import Live
        from rich.table import Table
        from rich.text import Text

        live = Live(Text("checking..."), console=terminal.rich(), auto_refresh=False)

    def table(report: Report, round_no: int, at: str) -> Table:
        styles = {"pass": "green", "warn": "yellow", "fail": "bold red"}
        status = report.status.value
        title = Text.assemble(
            f"cpa-ops health of {settings.redis_target_masked}: every {every:g} s, "
            f"round {round_no} at {at}: ",
            (status, styles[status]),
        )  # a Text, not markup: an IPv6 URL's [::1] is not a style tag
        grid = Table(title=title, title_justify="left")
        for column in ("status", "check", "measured", "output"):
            grid.add_column(column)
        for check in report.checks:
            measured = (
                f"{check.observed_value:.1f} ms"
                if check.observed_value is not None and check.observed_unit == "ms"
                else ""
            )
            output = f"[{check.reason}] {check.output}" if check.reason else check.output
            grid.add_row(
                Text(check.status.value.upper(), style=styles[check.status.value]),
                check_label(check),
                measured,
                Text(output + (f"\nhint: {check.hint}" if check.hint else "")),
            )
        return grid

    round_no = 0
    try:
        if live is not None:
            live.start()
        while True:
            round_no += 1
            started = time.monotonic()
            # each round has its own --timeout budget; the process-level deadline is per command
            report = _run_checks(
                settings, timeout, None, write, warn_ms, started + timeout, terminal, quiet
            )
            at = rfc3339(utc_now())
            with uninterrupted():  # a Ctrl-C waits for the round's output to be whole
                if live is not None:
                    live.update(table(report, round_no, at), refresh=True)
                else:
                    if output_format is HealthFormat.text and not quiet:
                        terminal.out(f"--- round {round_no} at {at} ---")
                    _emit(report, settings, output_format, quiet, terminal)
            time.sleep(max(started + every - time.monotonic(), 0.0))
    except KeyboardInterrupt:
        pass
    finally:
        if live is not None:
            with uninterrupted():
                live.stop()
    raise typer.Exit(0)


def _deadline_report(settings: Settings, budget: float) -> Report:
    from cpa_ops.core.health import Check, Report, Status
    from cpa_ops.core.redis import REASONS

    reason = REASONS["deadline"]
    return Report(
        (
            Check(
                "redis",
                "ping",
                Status.FAIL,
                f"{reason.explanation} ({settings.redis_target_masked}): "
                f"no verdict within {budget:.2f} s",
                reason="deadline",
                hint=reason.hint,
            ),
        )
    )


def _exit_code(report: Report, output_format: HealthFormat) -> int:
    from cpa_ops.cli.exits import ExitCode
    from cpa_ops.cli.render import report_nagios
    from cpa_ops.core.health import Status

    if output_format is HealthFormat.nagios:
        return int(report_nagios(report)[1])
    return ExitCode.UNHEALTHY if report.status is Status.FAIL else ExitCode.OK


def _emit(
    report: Report,
    settings: Settings,
    output_format: HealthFormat,
    quiet: bool,
    terminal: Terminal,
) -> int:
    """Write the verdict; the exit code it stands for."""
    from cpa_ops.cli.render import check_label, report_json, report_nagios, report_text
    from cpa_ops.core.health import Status

    code = _exit_code(report, output_format)
    if quiet:
        for check in report.failures:
            terminal.err(f"cpa-ops health: {check_label(check)} [{check.reason}] {check.output}")
        return code
    if output_format is HealthFormat.json:
        terminal.out(report_json(report, f"cpa-ops health of {settings.redis_target_masked}"))
    elif output_format is HealthFormat.nagios:
        terminal.out(report_nagios(report)[0])
    else:
        for line in report_text(report, terminal):
            terminal.out(line)
        if report.status is Status.FAIL:
            first = report.failures[0]
            terminal.err(
                f"cpa-ops health: {check_label(first)} failed [{first.reason}]: {first.hint}"
            )
    return code


class _Spinner:
    """A one-line spinner on stderr while --wait polls (only on a TTY)."""

    def __init__(self, terminal: Terminal) -> None:
        from rich.status import Status as RichStatus

        self._status = RichStatus("waiting for Redis", console=terminal.rich(stderr=True))
        self._status.start()

    def update(self, text: str) -> None:
        self._status.update(text)

    def stop(self) -> None:
        self._status.stop()
