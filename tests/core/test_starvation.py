"""CPU-wait figures (core/cpu_wait.py, read from this machine's real /proc and cgroup files)
and how they change a report (core/starvation.py)."""

from __future__ import annotations

import os
import time

import pytest

from cpa_ops.core.cpu_wait import (
    STARVED_HINT,
    CpuCounters,
    CpuWait,
    at_process_start,
    cpu_wait_since,
    process_started_at,
    read_counters,
)
from cpa_ops.core.health import Check, Report, Status
from cpa_ops.core.starvation import with_cpu_wait

linux = pytest.mark.skipif(not os.path.exists("/proc/self/schedstat"), reason="Linux only")

STARVED = CpuWait(0.62, 0.0, 0)
CALM = CpuWait(0.004, 0.0, 0)
BUDGET = "--timeout 1 s"


def ping(reason: str | None = None, status: Status = Status.FAIL, output: str = "x") -> Check:
    return Check("redis", "ping", status, output, reason, "the reason's own hint")


def explained(check: Check, cpu: CpuWait) -> Check:
    return with_cpu_wait(Report((check,)), cpu, budget=1.0, budget_text=BUDGET).checks[0]


class TestCounters:
    @linux
    def test_this_process_has_a_run_queue_wait_and_a_cgroup(self) -> None:
        counters = read_counters()
        assert counters.run_queue_ns is not None and counters.run_queue_ns >= 0
        # cgroup v1 (cpu,cpuacct) or v2: some cpu.stat with throttling counters is found
        assert counters.throttled_ns is not None and counters.nr_throttled is not None

    @linux
    def test_the_wait_grows_only(self) -> None:
        start = read_counters()
        deadline = time.monotonic() + 0.05
        while time.monotonic() < deadline:
            pass
        wait = cpu_wait_since(start)
        assert wait.waited_s is not None and wait.waited_s >= 0
        assert wait.throttled_s is not None and wait.throttled_s >= 0

    @linux
    def test_from_the_process_start(self) -> None:
        """at_process_start counts the run-queue wait from the fork: at least the wait since."""
        now = read_counters()
        since_fork = cpu_wait_since(at_process_start(now), now)
        assert since_fork.waited_s == (now.run_queue_ns or 0) / 1e9

    @linux
    def test_the_process_started_before_now(self) -> None:
        import cpa_ops

        started = process_started_at(cpa_ops.STARTED_AT)
        assert started is not None
        # the fork came before cpa_ops was imported: the budget never starts later
        assert started <= cpa_ops.STARTED_AT
        assert time.monotonic() - started < 3600

    def test_unknown_figures_stay_unknown(self) -> None:
        nothing = CpuCounters(None, None, None)
        wait = cpu_wait_since(nothing, nothing)
        assert not wait.known and wait.text() == "" and wait.details() == {}


class TestCpuWait:
    def test_text_and_details(self) -> None:
        wait = CpuWait(0.6204, 0.1, 3)
        assert (
            wait.text() == "waited 620 ms for CPU, throttled 100 ms by the CPU limit in 3 periods"
        )
        assert wait.details() == {
            "cpuWaitMs": 620.4,
            "cpuThrottledMs": 100.0,
            "cpuThrottledPeriods": 3,
        }

    @pytest.mark.parametrize(
        ("waited", "budget", "significant", "starved"),
        [
            (0.05, 1.0, False, False),  # under 100 ms: never
            (0.15, 1.0, True, False),  # 15% of 1 s
            (0.30, 1.0, True, True),  # 30%
            (0.30, 5.0, False, False),  # 6% of 5 s
            (1.30, 5.0, True, True),
        ],
    )
    def test_thresholds(self, waited: float, budget: float, significant: bool, starved: bool):
        wait = CpuWait(waited, 0.0, 0)
        assert (wait.significant(budget), wait.starved(budget)) == (significant, starved)

    def test_throttling_counts_as_lost_time(self) -> None:
        assert CpuWait(0.0, 0.4, 8).starved(1.0)


class TestReport:
    def test_a_deadline_states_the_budget_as_given_and_the_wait(self) -> None:
        check = explained(ping("deadline", output="no verdict by the deadline"), STARVED)
        assert check.output == (
            "no verdict by the deadline (--timeout 1 s: waited 620 ms for CPU, "
            "throttled 0 ms by the CPU limit)"
        )
        assert check.hint == STARVED_HINT
        assert check.details["cpuWaitMs"] == 620.0

    def test_a_calm_deadline_keeps_its_hint(self) -> None:
        check = explained(ping("deadline"), CALM)
        assert check.hint == "the reason's own hint"
        assert "--timeout 1 s" in check.output

    @pytest.mark.parametrize("reason", ["timeout", "read_timeout", "write_timeout"])
    def test_a_timeout_while_starved_is_a_deadline(self, reason: str) -> None:
        check = explained(ping(reason, output="Timeout connecting to server"), STARVED)
        assert check.reason == "deadline"
        assert check.output.startswith("Timeout connecting to server, while this probe waited")
        assert "no verdict on the server" in check.output
        assert check.hint == STARVED_HINT
        assert check.details["starvedReason"] == reason

    def test_a_timeout_without_starvation_stays_a_timeout(self) -> None:
        assert explained(ping("timeout"), CALM).reason == "timeout"
        assert explained(ping("timeout"), CpuWait(0.2, 0.0, 0)).reason == "timeout"

    def test_the_wait_while_the_probe_ran_decides(self) -> None:
        """A starved start-up, then a probe asleep waiting for a silent server: a timeout."""
        report = Report((ping("read_timeout"),))
        kept = with_cpu_wait(
            report, STARVED, budget=1.0, budget_text=BUDGET, during_probe=CALM
        ).checks[0]
        assert kept.reason == "read_timeout"
        turned = with_cpu_wait(
            report, CALM, budget=1.0, budget_text=BUDGET, during_probe=STARVED
        ).checks[0]
        assert turned.reason == "deadline"

    def test_other_reasons_are_kept(self) -> None:
        check = explained(ping("refused"), STARVED)
        assert (check.reason, check.output) == ("refused", "x")

    def test_a_pass_shows_large_figures_in_details(self) -> None:
        passed = explained(ping(None, Status.PASS), STARVED)
        assert passed.status is Status.PASS
        assert passed.details["cpuWaitMs"] == 620.0
        assert explained(ping(None, Status.PASS), CALM).details == {}

    def test_unknown_figures_still_state_the_budget(self) -> None:
        check = explained(ping("deadline", output="no verdict"), CpuWait(None, None, None))
        assert check.output == "no verdict (--timeout 1 s)"
