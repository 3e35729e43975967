"""The console script's first steps, before anything heavy is imported: when the process
started, the whole-command budget of the commands that have one (``health``, ``sentry-test``:
read from argv cheaply), and the start-up verdict the watchdog writes if the budget runs out
before the command could take over.

Importing Typer, pydantic and redis on a starved node can take longer than a probe's whole
budget; this module needs only the standard library, so the deadline holds from the start. The
start-up verdict is what the command itself writes when its deadline passes, in the asked-for
format, written with string formatting alone: the renderers import Typer, which may be what is
still loading (tests/cli/test_startup_verdict.py keeps the two alike). ``health``'s is the report
renderers' output for a one-check ``deadline`` report (text, health+json, Nagios, --quiet);
``sentry-test``'s is its own watchdog's ``timeout`` verdict (cli/sentry.py). ``ping`` has no
whole-command bound (its --timeout is one sample's), so it is not armed.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from cpa_ops import __version__
from cpa_ops.core.cpu_wait import STARVED_HINT, CpuCounters, CpuWait, cpu_wait_since

#: root options that take a value (cpa_ops/cli/root.py)
_ROOT_VALUE_OPTIONS = ("--env-file",)
#: what the start-up verdict says happened, and the hint when the CPU was not the cause
STARTUP_OUTPUT = "cpa-ops health did not get through its start-up (imports, settings) in time"
STARTUP_HINT = "raise --timeout (and the probe's timeoutSeconds), or look for a slow --env-file"
#: sentry-test's verdict when its deadline passed before any (cli/render/sentry.py uses it)
SENTRY_NO_VERDICT = "timeout: no verdict within --timeout"


class StartupPlan:
    """What the start-up verdict of ``cpa-ops COMMAND ARGS`` needs, read from argv."""

    __slots__ = ("command", "output_format", "quiet", "timeout", "wait")

    def __init__(
        self,
        command: str,
        timeout: float,
        wait: float | None = None,
        output_format: str = "text",
        quiet: bool = False,
    ):
        self.command = command
        self.timeout = timeout
        self.wait = wait
        self.output_format = output_format
        self.quiet = quiet

    @property
    def budget(self) -> float:
        return (self.wait or 0.0) + self.timeout


if TYPE_CHECKING:
    from collections.abc import Callable

    #: (stdout lines, stderr lines, exit code) of a start-up verdict, from the CPU wait and the
    #: seconds since the process started
    Verdict = Callable[[StartupPlan, CpuWait, float], tuple[list[str], list[str], int]]


class CommandBudget:
    """How one command with a whole-command budget reads in argv (as Typer does: every option
    that takes a value is listed, so its value is never taken for an option), and its verdict."""

    __slots__ = (
        "choices",
        "default_timeout",
        "quiet_flags",
        "unbounded",
        "value_options",
        "verdict",
    )

    def __init__(
        self,
        default_timeout: float,
        value_options: tuple[str, ...],
        choices: dict[str, tuple[str, ...]],
        verdict: Verdict,
        quiet_flags: tuple[str, ...] = (),
        unbounded: tuple[str, ...] = (),
    ):
        self.default_timeout = default_timeout
        self.value_options = value_options
        #: the values Typer accepts (in any case) for an option with choices
        self.choices = choices
        self.verdict = verdict
        self.quiet_flags = quiet_flags
        #: options under which the command has no process deadline (``health --watch``)
        self.unbounded = unbounded


def budget_text(timeout: float, wait: float | None = None) -> str:
    """The budget as the user gave it: ``--timeout 1 s`` (``--wait 60 s + --timeout 1 s``)."""
    given = f"--timeout {timeout:g} s"
    return f"--wait {wait:g} s + {given}" if wait else given


def startup_plan(argv: list[str], environ: os._Environ[str] | dict[str, str]) -> StartupPlan | None:
    """The budget and output of the command argv runs, when it has a process deadline; None for
    any other command, --help, ``health --watch``, a completion round, or a value Typer will
    reject (its usage error comes before any deadline would)."""
    if any(name.startswith("_CPA_OPS_COMPLETE") for name in environ):
        return None
    args = iter(argv)
    for arg in args:
        if arg in _ROOT_VALUE_OPTIONS:
            next(args, None)
        elif arg.startswith("-"):
            if arg in ("-h", "--help", "--version"):
                return None
        else:
            name, budget = arg, COMMANDS.get(arg)
            if budget is None:
                return None
            break
    else:
        return None
    values: dict[str, str] = {}
    quiet = False
    for arg in args:
        option, equals, value = arg.partition("=")
        if arg in ("-h", "--help") or option in budget.unbounded:
            return None
        if arg in budget.quiet_flags:
            quiet = True
        elif option in budget.value_options:
            values[option] = value if equals else next(args, "")
    try:
        timeout = float(values.get("--timeout", budget.default_timeout))
        wait = float(values["--wait"]) if "--wait" in values else None
    except ValueError:
        return None
    ok = 0 < timeout <= 86_400 and (wait is None or 0 < wait <= 86_400)
    for option, accepted in budget.choices.items():
        ok = ok and (option not in values or values[option].lower() in accepted)
    if not ok:
        return None
    output_format = values.get("--format", "text").lower()
    return StartupPlan(name, timeout, wait, output_format, quiet)


def write_startup_verdict(plan: StartupPlan, started: CpuCounters) -> int:
    """The watchdog's verdict when the command had not taken over by the deadline; its exit
    code (health: as :func:`cpa_ops.cli.health._write_unloaded`, 1, Nagios UNKNOWN 3;
    sentry-test: 1)."""
    out, err, code = startup_verdict(
        plan, cpu_wait_since(started), time.monotonic() - process_started_at()
    )
    for line in out:
        sys.stdout.write(line + "\n")
    for line in err:
        sys.stderr.write(line + "\n")
    return code


def startup_verdict(
    plan: StartupPlan, cpu: CpuWait, elapsed: float
) -> tuple[list[str], list[str], int]:
    """(stdout lines, stderr lines, exit code) of ``plan``'s command's start-up verdict in its
    format, ``elapsed`` seconds after the process started."""
    return COMMANDS[plan.command].verdict(plan, cpu, elapsed)


def startup_check(plan: StartupPlan, cpu: CpuWait) -> tuple[str, str, dict[str, float | int]]:
    """The output, hint and details of ``health``'s start-up verdict's one ``redis:ping``
    check."""
    output = f"{STARTUP_OUTPUT}: no verdict within {budget_text(plan.timeout, plan.wait)}"
    if cpu.known:
        output += f" ({cpu.text()})"
    hint = STARVED_HINT if cpu.significant(plan.budget) else STARTUP_HINT
    return output, hint, cpu.details()


def _health_verdict(
    plan: StartupPlan, cpu: CpuWait, elapsed: float
) -> tuple[list[str], list[str], int]:
    """``health``'s: a one-check ``deadline`` report as the report renderers write it."""
    output, hint, details = startup_check(plan, cpu)
    if plan.output_format == "nagios" and not plan.quiet:
        return [f"CPA-OPS UNKNOWN - {output}"], [], 3
    code = 3 if plan.output_format == "nagios" else 1
    if plan.quiet:
        return [], [f"cpa-ops health: redis:ping [deadline] {output}"], code
    if plan.output_format == "json":
        return [_health_json(output, hint, details)], [], code
    width = len("redis:ping")
    out = [
        f"FAIL  redis:ping  {'':>9}  [deadline] {output}",
        f"{'':4}  {'':<{width}}  {'':>9}  hint: {hint}",
        "status: fail (1 of 1 checks not passing)",
    ]
    return out, [f"cpa-ops health: redis:ping failed [deadline]: {hint}"], code


def _health_json(output: str, hint: str, details: dict[str, float | int]) -> str:
    """The health+json document of the one failing check (cpa_ops.core.report.health_document),
    on one line as json.dumps writes it. Every text here is our own ASCII."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    entry = (
        f'{{"componentType": "datastore", "status": "fail", "time": {_s(stamp)}, '
        f'"output": {_s(output)}, "reason": "deadline", "hint": {_s(hint)}'
    )
    if details:
        figures = ", ".join(f"{_s(k)}: {v}" for k, v in details.items())
        entry += f', "details": {{{figures}}}'
    return (
        f'{{"status": "fail", "releaseId": {_s(__version__)}, "serviceId": "cpa-ops", '
        f'"description": "cpa-ops health", "output": {_s("redis:ping: " + output)}, '
        f'"checks": {{"redis:ping": [{entry}}}]}}}}'
    )


def _sentry_verdict(
    plan: StartupPlan, cpu: CpuWait, elapsed: float
) -> tuple[list[str], list[str], int]:
    """``sentry-test``'s: its own watchdog's ``timeout`` verdict before the settings named a
    host (cli/sentry.py ``_write_timeout``; json: render/sentry.py ``timeout_data``), exit 1."""
    err = [f"cpa-ops: sentry-test: {SENTRY_NO_VERDICT}"]
    if plan.output_format != "json":
        return [], err, 1
    report = (
        f'{{"delivered": false, "verdict": "timeout", "reason": {_s(SENTRY_NO_VERDICT)}, '
        f'"event_id": null, "host": null, "status": null, "retry_after": null, '
        f'"elapsed": {round(elapsed, 4)!r}}}'
    )
    return [report], err, 1


#: the commands with a whole-command budget, and how each reads its argv (cli/health.py,
#: cli/sentry.py: tests/cli/test_startup_verdict.py checks these against their Typer options)
COMMANDS = {
    "health": CommandBudget(
        default_timeout=1.0,
        value_options=(
            "--redis-url", "--mode", "--sentinels", "--sentinel-master", "--timeout",
            "--format", "--write-prefix", "--wait", "--warn-ms", "--watch",
        ),
        choices={
            "--format": ("text", "json", "nagios"),
            "--mode": ("standalone", "cluster", "sentinel"),
        },
        verdict=_health_verdict,
        quiet_flags=("-q", "--quiet"),
        unbounded=("--watch",),  # each round has its own --timeout; no process deadline
    ),
    "sentry-test": CommandBudget(
        default_timeout=5.0,
        value_options=("--message", "--level", "--tag", "--timeout", "--format"),
        choices={
            "--format": ("text", "json"),
            "--level": ("fatal", "error", "warning", "info", "debug"),
        },
        verdict=_sentry_verdict,
    ),
}  # fmt: skip


def _s(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def process_started_at() -> float:
    """The time.monotonic() instant the real process started: the fork, as a kubelet counts
    (cpa_ops.STARTED_AT, the first import, where the kernel does not say)."""
    global _process_started_at
    if _process_started_at is None:
        import cpa_ops
        from cpa_ops.core.cpu_wait import process_started_at as from_kernel

        started = from_kernel(cpa_ops.STARTED_AT)
        _process_started_at = cpa_ops.STARTED_AT if started is None else started
    return _process_started_at


_process_started_at: float | None = None
#: the CPU counters at the process's start (run-queue wait from the fork)
started_counters: CpuCounters | None = None


def arm_deadline(argv: list[str]) -> None:
    """Arm the process's watchdog for a command with a whole-command budget (the console
    script's first step): the start-up verdict until the command takes over (cli/health.py,
    cli/sentry.py)."""
    global started_counters
    from cpa_ops.cli.deadline import arm_process_watchdog
    from cpa_ops.core.cpu_wait import at_process_start, read_counters

    started_counters = at_process_start(read_counters())
    plan = startup_plan(argv, os.environ)
    if plan is None:
        return
    counters = started_counters
    arm_process_watchdog(
        process_started_at() + plan.budget, lambda: write_startup_verdict(plan, counters)
    )
