"""A health report read together with the CPU wait of the process that made it.

On a busy node a probe can spend its budget runnable and not running, or throttled by its CPU
limit (:mod:`cpa_ops.core.cpu_wait`). Then a ``deadline`` names the wait and the budget as
given, and a timeout is not evidence against the server: a connect or a read that timed out
while starved becomes ``deadline``, never ``timeout`` ("firewalled"). A passing verdict shows
large figures in ``details``. Values in, values out.
"""

from __future__ import annotations

from dataclasses import replace

from cpa_ops.core.cpu_wait import STARVED_HINT, CpuWait
from cpa_ops.core.health import Check, Report, Status

#: reasons that mean "no answer in time": a starved probe cannot tell them from its own wait
TIMEOUT_REASONS = frozenset({"timeout", "read_timeout", "write_timeout"})


def with_cpu_wait(
    report: Report,
    cpu: CpuWait,
    *,
    budget: float,
    budget_text: str,
    during_probe: CpuWait | None = None,
) -> Report:
    """``report`` with the CPU wait ``cpu`` of a run given ``budget`` seconds, as the user gave
    it in ``budget_text`` (``--timeout 1 s``).

    ``during_probe``, the wait while the probe itself ran (after the start-up), decides whether
    a timeout was the probe's own: a probe waiting for a silent server sleeps (it is not on a
    run queue), one whose healthy server answered at once but that got no CPU to read the reply
    waits on the run queue. So a starved start-up never excuses a silent server."""
    if not cpu.known:
        return _with_budget(report, budget_text)
    starved = (during_probe if during_probe is not None else cpu).starved(budget)
    named = False
    checks = []
    for check in report.checks:
        if check.reason == "deadline":
            check = _deadline(check, cpu, budget, budget_text)
            named = True
        elif check.reason in TIMEOUT_REASONS and check.status is Status.FAIL and starved:
            check = _starved_timeout(check, cpu, budget_text)
            named = True
        checks.append(check)
    if not named and checks and cpu.significant(budget):
        first = checks[0]
        checks[0] = replace(first, details={**first.details, **cpu.details()})
    return Report(tuple(checks))


def _with_budget(report: Report, budget_text: str) -> Report:
    checks = tuple(
        replace(c, output=f"{c.output} ({budget_text})") if c.reason == "deadline" else c
        for c in report.checks
    )
    return Report(checks)


def _deadline(check: Check, cpu: CpuWait, budget: float, budget_text: str) -> Check:
    """``... no verdict by the deadline (--timeout 1 s: waited 620 ms for CPU, throttled 0 ms
    by the CPU limit)``; the starvation hint when the wait was a large share of the budget."""
    hint = STARVED_HINT if cpu.significant(budget) else check.hint
    return replace(
        check,
        output=f"{check.output} ({budget_text}: {cpu.text()})",
        hint=hint,
        details={**check.details, **cpu.details()},
    )


def _starved_timeout(check: Check, cpu: CpuWait, budget_text: str) -> Check:
    """A timeout while the probe was starved: its own wait, not a verdict on the server."""
    return replace(
        check,
        reason="deadline",
        output=f"{check.output}, while this probe {cpu.text()} of its {budget_text}: "
        "starved of CPU, no verdict on the server",
        hint=STARVED_HINT,
        details={**check.details, **cpu.details(), "starvedReason": check.reason},
    )
