"""The console script's first steps, before anything heavy is imported: when the process
started, what ``health``'s budget is (read from argv cheaply), and the start-up verdict the
watchdog writes if the budget runs out before the command could take over.

Importing Typer, pydantic and redis on a starved node can take longer than a probe's whole
budget; this module needs only the standard library, so the deadline holds from the start. The
start-up verdict is the report renderers' output for a one-check ``deadline`` report (text,
health+json, Nagios, --quiet), written with string formatting alone: the renderers import Typer,
which may be what is still loading (tests/cli/test_startup_verdict.py keeps the two alike).
"""

from __future__ import annotations

import os
import sys
import time

from cpa_ops import __version__
from cpa_ops.core.cpu_wait import STARVED_HINT, CpuCounters, CpuWait, cpu_wait_since

#: health's --timeout default (cpa_ops/cli/health.py)
HEALTH_TIMEOUT = 1.0
#: root options that take a value (cpa_ops/cli/root.py)
_ROOT_VALUE_OPTIONS = ("--env-file",)
_FORMATS = ("text", "json", "nagios")
#: what the start-up verdict says happened, and the hint when the CPU was not the cause
STARTUP_OUTPUT = "cpa-ops health did not get through its start-up (imports, settings) in time"
STARTUP_HINT = "raise --timeout (and the probe's timeoutSeconds), or look for a slow --env-file"


class HealthPlan:
    """What the start-up verdict of ``cpa-ops health ARGS`` needs, read from argv."""

    __slots__ = ("output_format", "quiet", "timeout", "wait")

    def __init__(self, timeout: float, wait: float | None, output_format: str, quiet: bool):
        self.timeout = timeout
        self.wait = wait
        self.output_format = output_format
        self.quiet = quiet

    @property
    def budget(self) -> float:
        return (self.wait or 0.0) + self.timeout


def budget_text(timeout: float, wait: float | None = None) -> str:
    """The budget as the user gave it: ``--timeout 1 s`` (``--wait 60 s + --timeout 1 s``)."""
    given = f"--timeout {timeout:g} s"
    return f"--wait {wait:g} s + {given}" if wait else given


def health_plan(argv: list[str], environ: os._Environ[str] | dict[str, str]) -> HealthPlan | None:
    """``health``'s budget and output, when argv runs it with a process deadline; None for any
    other command, --help, --watch, a completion round, or a value Typer will reject (its usage
    error comes before any deadline would)."""
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
            if arg != "health":
                return None
            break
    else:
        return None
    values: dict[str, str] = {}
    quiet = False
    for arg in args:
        if arg in ("-h", "--help", "--watch") or arg.startswith("--watch="):
            return None
        if arg in ("-q", "--quiet"):
            quiet = True
        name, equals, value = arg.partition("=")
        if name in ("--timeout", "--wait", "--format"):
            values[name] = value if equals else next(args, "")
    try:
        timeout = float(values.get("--timeout", HEALTH_TIMEOUT))
        wait = float(values["--wait"]) if "--wait" in values else None
    except ValueError:
        return None
    output_format = values.get("--format", "text")
    ok = 0 < timeout <= 86_400 and (wait is None or 0 < wait <= 86_400)
    if not ok or output_format not in _FORMATS:
        return None
    return HealthPlan(timeout, wait, output_format, quiet)


def write_startup_verdict(plan: HealthPlan, started: CpuCounters) -> int:
    """The watchdog's verdict when ``health`` had not taken over by the deadline; its exit code
    (as :func:`cpa_ops.cli.health._write_unloaded`: 1, Nagios UNKNOWN 3)."""
    out, err, code = startup_verdict(plan, cpu_wait_since(started))
    for line in out:
        sys.stdout.write(line + "\n")
    for line in err:
        sys.stderr.write(line + "\n")
    return code


def startup_check(plan: HealthPlan, cpu: CpuWait) -> tuple[str, str, dict[str, float | int]]:
    """The output, hint and details of the start-up verdict's one ``redis:ping`` check."""
    output = f"{STARTUP_OUTPUT}: no verdict within {budget_text(plan.timeout, plan.wait)}"
    if cpu.known:
        output += f" ({cpu.text()})"
    hint = STARVED_HINT if cpu.significant(plan.budget) else STARTUP_HINT
    return output, hint, cpu.details()


def startup_verdict(plan: HealthPlan, cpu: CpuWait) -> tuple[list[str], list[str], int]:
    """(stdout lines, stderr lines, exit code) of the start-up verdict in ``plan``'s format."""
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
    """Arm the process's watchdog for ``health ARGS`` (the console script's first step): the
    start-up verdict until the command takes over (cli/health.py)."""
    global started_counters
    from cpa_ops.cli.deadline import arm_process_watchdog
    from cpa_ops.core.cpu_wait import at_process_start, read_counters

    started_counters = at_process_start(read_counters())
    plan = health_plan(argv, os.environ)
    if plan is None:
        return
    counters = started_counters
    arm_process_watchdog(
        process_started_at() + plan.budget, lambda: write_startup_verdict(plan, counters)
    )
