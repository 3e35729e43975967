"""``cpa-ops health``: is Redis usable, and if not, exactly why, within a hard deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from cpa_ops.cli.options import (
    CommandTimeoutOption,
    HealthFormat,
    HealthFormatOption,
    ModeOption,
    RedisUrlOption,
    SentinelMasterOption,
    SentinelsOption,
    milliseconds,
    seconds,
    topology_overrides,
)

if TYPE_CHECKING:
    from cpa_ops.cli.console import Terminal
    from cpa_ops.cli.context import CliContext
    from cpa_ops.cli.deadline import Watchdog
    from cpa_ops.cli.render.watch import WaitSpinner
    from cpa_ops.core.cpu_wait import CpuWait
    from cpa_ops.core.health import Report
    from cpa_ops.core.settings import Settings

    #: a report read with this run's CPU wait (and the wait while the probe ran, when known)
    Explain = Callable[[Report, CpuWait | None], Report]

EPILOG = """\
Examples:

  Kubernetes exec probe (exit 0 healthy, 1 unhealthy, within 1.5 s):
    cpa-ops health --timeout 1 --quiet

  CI smoke check, waiting up to 60 s for Redis to come up, writes included:
    cpa-ops health --wait 60 --write --format json

  Nagios / Icinga:
    cpa-ops health --format nagios --warn-ms 50
"""
# what rendering and exiting need after the last probe of a --wait
_RESERVE = 0.08


def register(app: typer.Typer) -> None:
    app.command("health", epilog=EPILOG, rich_help_panel="Diagnostics")(health)


def health(
    ctx: typer.Context,
    redis_url: RedisUrlOption = None,
    mode: ModeOption = None,
    sentinels: SentinelsOption = None,
    sentinel_master: SentinelMasterOption = None,
    timeout: CommandTimeoutOption = 1.0,
    output_format: HealthFormatOption = HealthFormat.text,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Also SET (PX 10000) and DEL a key <prefix><host>:<pid>: catches "
            "read-only replicas, OOM and paused writes.",
        ),
    ] = False,
    write_prefix: Annotated[
        str | None,
        typer.Option(
            "--write-prefix",
            metavar="PREFIX",
            help="The --write key's prefix (overrides REDIS_HEALTH_KEY_PREFIX; default "
            "cpa-ops:health:): an ACL user needs ~<prefix>* +set +del.",
            show_default=False,
        ),
    ] = None,
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
    from cpa_ops.cli.context import cli_context
    from cpa_ops.cli.deadline import command_watchdog
    from cpa_ops.cli.render.report import write_report
    from cpa_ops.cli.startup import budget_text
    from cpa_ops.core.redis import REASONS  # noqa: F401 - the watchdog's verdicts use it
    from cpa_ops.core.report import deadline_report

    context = cli_context(ctx)
    terminal = context.terminal
    overrides = {
        "redis_url": redis_url,
        "redis_health_key_prefix": write_prefix,
        **topology_overrides(mode, sentinels, sentinel_master),
    }
    budget = (wait or 0.0) + timeout
    hard_end = context.started_at + budget
    given = budget_text(timeout, wait)
    explain = _starvation(context, budget, given)
    loaded: list[Settings] = []  # the settings, once known: the watchdog's verdict names them

    def render(report: Report) -> None:
        target = f" of {loaded[0].redis_target_masked}" if loaded else ""
        write_report(
            report, output_format, terminal, description=f"cpa-ops health{target}", quiet=quiet
        )

    def on_expiry() -> int:
        if not loaded:
            return _write_unloaded(explain, output_format, quiet, terminal, render)
        report = explain(deadline_report(loaded[0]), None)
        render(report)
        return _exit_code(report, output_format)

    # the process's watchdog, armed at its first instruction (cli/startup.py), now writes this
    # command's verdict; a slow .env counts inside --timeout (--watch runs until Ctrl-C and has
    # no process deadline: each round has its own)
    enabled = context.process_mode and watch is None
    watchdog = command_watchdog(hard_end, on_expiry, enabled=enabled)
    settings = _settings_or_exit(context, output_format, overrides, watchdog)
    loaded.append(settings)

    if watch is not None:
        if wait is not None:
            from cpa_ops.cli.console import fail_usage
            from cpa_ops.cli.exits import ExitCode

            with watchdog.verdict(ExitCode.USAGE):
                fail_usage(
                    "--watch and --wait cannot be combined (--watch already re-checks)", terminal
                )
        _watch(settings, watch, timeout, write, warn_ms, output_format, quiet, terminal, render)

    spinner = _spinner(terminal) if wait and not quiet else None
    try:
        report, during_probe = _checks(settings, timeout, wait, write, warn_ms, hard_end, spinner)
        report = explain(report, during_probe)
    finally:
        if spinner:
            spinner.stop()
    code = _exit_code(report, output_format)
    with watchdog.verdict(code):
        render(report)
    raise typer.Exit(code)


def _settings_or_exit(
    context: CliContext, output_format: HealthFormat, overrides: dict[str, Any], watchdog: Watchdog
) -> Settings:
    """The settings, or exit 2 naming each fault (Nagios: an UNKNOWN line, exit 3)."""
    from cpa_ops.cli.console import fail_config
    from cpa_ops.cli.exits import ExitCode, NagiosCode
    from cpa_ops.core.settings import ConfigError, load_settings

    try:
        return load_settings(context.env_file, **overrides)
    except ConfigError as exc:
        if output_format is HealthFormat.nagios:
            with watchdog.verdict(NagiosCode.UNKNOWN):
                from cpa_ops.core.terminal import visible_controls

                problems = visible_controls("; ".join(exc.problems))
                context.terminal.out(f"CPA-OPS UNKNOWN - invalid configuration: {problems}")
            raise typer.Exit(NagiosCode.UNKNOWN) from None
        with watchdog.verdict(ExitCode.USAGE):
            fail_config(exc.problems, context.terminal)


def _write_unloaded(
    explain: Explain,
    output_format: HealthFormat,
    quiet: bool,
    terminal: Terminal,
    render: Callable[[Report], None],
) -> int:
    """The watchdog's verdict when the settings were not even loaded by the deadline: no
    target to name. Text and JSON: a failing ``deadline`` (exit 1); Nagios: UNKNOWN (exit 3),
    since nothing about Redis is known."""
    from cpa_ops.cli.exits import ExitCode, NagiosCode
    from cpa_ops.core.health import Check, Report, Status
    from cpa_ops.core.redis import REASONS

    reason = REASONS["deadline"]
    unloaded = Check(
        "redis",
        "ping",
        Status.FAIL,
        "the settings were not loaded: no verdict",
        "deadline",
        reason.hint,
    )
    report = explain(Report((unloaded,)), None)
    if output_format is HealthFormat.nagios and not quiet:
        terminal.out(f"CPA-OPS UNKNOWN - {report.checks[0].output}")
        return NagiosCode.UNKNOWN
    render(report)
    return NagiosCode.UNKNOWN if output_format is HealthFormat.nagios else ExitCode.UNHEALTHY


def _starvation(context: CliContext, budget: float, given: str) -> Explain:
    """A report read with this run's CPU wait (from the process's start in the real process,
    from the command's in-process): the budget as given, starvation named, never a timeout
    blamed on the server while starved (cpa_ops.core.starvation)."""
    from cpa_ops.cli import startup
    from cpa_ops.core.cpu_wait import cpu_wait_since, read_counters
    from cpa_ops.core.starvation import with_cpu_wait

    started = startup.started_counters if context.process_mode else None
    started = started or read_counters()

    def explain(report: Report, during_probe: CpuWait | None = None) -> Report:
        cpu = cpu_wait_since(started)
        return with_cpu_wait(
            report, cpu, budget=budget, budget_text=given, during_probe=during_probe
        )

    return explain


def _checks(
    settings: Settings,
    timeout: float,
    wait: float | None,
    write: bool,
    warn_ms: float,
    hard_end: float,
    spinner: WaitSpinner | None = None,
) -> tuple[Report, CpuWait]:
    """One report within ``timeout``, and the CPU wait while it was made; with ``wait``, retried
    with backoff until it passes or no full attempt fits before ``hard_end`` (a
    time.monotonic() instant)."""
    from cpa_ops.cli.runner import run
    from cpa_ops.core.cpu_wait import cpu_wait_since, read_counters
    from cpa_ops.core.health import Status
    from cpa_ops.core.report import health_report

    delay = 0.1
    while True:
        deadline = min(time.monotonic() + timeout, hard_end - _RESERVE)
        counters = read_counters()
        report = run(health_report(settings, deadline=deadline, write=write, warn_ms=warn_ms))
        during_probe = cpu_wait_since(counters)
        left = hard_end - timeout - time.monotonic()  # time to start another full attempt
        if report.status is not Status.FAIL or wait is None or left <= 0:
            return report, during_probe
        if spinner:
            reason = report.failures[0].reason
            spinner.update(f"waiting for Redis: {reason} ({left:.0f} s left)")
        time.sleep(min(delay, left))
        delay = min(delay * 2, 2.0)


def _spinner(terminal: Terminal) -> WaitSpinner | None:
    """The --wait spinner, on a terminal that can redraw a line."""
    if not terminal.stderr_live:
        return None
    from cpa_ops.cli.render.watch import WaitSpinner

    return WaitSpinner(terminal)


def _watch(
    settings: Settings,
    every: float,
    timeout: float,
    write: bool,
    warn_ms: float,
    output_format: HealthFormat,
    quiet: bool,
    terminal: Terminal,
    render: Callable[[Report], None],
) -> NoReturn:
    """Re-run the checks every ``every`` seconds until Ctrl-C (exit 0)."""
    from cpa_ops.cli.exits import ExitCode, uninterrupted
    from cpa_ops.cli.startup import budget_text
    from cpa_ops.core.cpu_wait import cpu_wait_since, read_counters
    from cpa_ops.core.health import rfc3339, utc_now
    from cpa_ops.core.starvation import with_cpu_wait

    given = budget_text(timeout)

    live = None
    if output_format is HealthFormat.text and terminal.stdout_live and not quiet:
        from rich.live import Live
        from rich.text import Text

        from cpa_ops.cli.render.watch import watch_table

        live = Live(Text("checking..."), console=terminal.rich(), auto_refresh=False)

    round_no = 0
    try:
        if live is not None:
            live.start()
        while True:
            round_no += 1
            started = time.monotonic()
            counters = read_counters()
            # each round has its own --timeout budget; the process-level deadline is per command
            ends = started + timeout
            report, during_probe = _checks(settings, timeout, None, write, warn_ms, ends)
            cpu = cpu_wait_since(counters)
            report = with_cpu_wait(
                report, cpu, budget=timeout, budget_text=given, during_probe=during_probe
            )
            at = rfc3339(utc_now())
            with uninterrupted():  # a Ctrl-C waits for the round's output to be whole
                if live is not None:
                    table = watch_table(report, settings.redis_target_masked, every, round_no, at)
                    live.update(table, refresh=True)
                else:
                    if output_format is HealthFormat.text and not quiet:
                        terminal.out(f"--- round {round_no} at {at} ---")
                    render(report)
            time.sleep(max(started + every - time.monotonic(), 0.0))
    except KeyboardInterrupt:
        pass
    finally:
        if live is not None:
            with uninterrupted():
                live.stop()
    raise typer.Exit(ExitCode.OK)


def _exit_code(report: Report, output_format: HealthFormat) -> int:
    from cpa_ops.cli.exits import ExitCode
    from cpa_ops.cli.render.report import report_nagios
    from cpa_ops.core.health import Status

    if output_format is HealthFormat.nagios:
        return int(report_nagios(report)[1])
    return ExitCode.UNHEALTHY if report.status is Status.FAIL else ExitCode.OK
