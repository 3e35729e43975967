"""The start-up verdict: ``cpa-ops health`` out of budget before it could take over from the
console script's first instruction (cli/startup.py) writes its ``deadline`` in the asked-for
format, exit 1 (Nagios: UNKNOWN, 3), within --timeout + 0.5 s; it is, line for line, what the
report renderers write for the same check; argv is read as Typer reads it."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from cpa_ops.cli.options import HealthFormat
from cpa_ops.cli.startup import HealthPlan, budget_text, health_plan, startup_check, startup_verdict
from cpa_ops.core.cpu_wait import CpuWait
from tests.conftest import clean_env, run_cpa_ops

pytestmark = pytest.mark.timeout(60)

#: shorter than any start-up: the watchdog's start-up verdict every time
TINY = "0.01"
#: the interpreter's own start before the process's first instruction, on a loaded machine
SLACK = 0.5


def tiny(*args: str) -> tuple[int, str, str, float]:
    ran = run_cpa_ops(
        "health", "--redis-url", "redis://127.0.0.1:1/0", "--timeout", TINY, *args, timeout=20
    )
    return ran.returncode, ran.stdout, ran.stderr, ran.elapsed


class TestThroughTheConsoleScript:
    def test_text(self) -> None:
        code, out, err, elapsed = tiny()
        assert code == 1, err
        lines = out.splitlines()
        assert len(lines) == 3, out
        assert lines[0].startswith("FAIL  redis:ping")
        assert "[deadline]" in lines[0] and "no verdict within --timeout 0.01 s" in lines[0]
        assert re.search(r"waited \d+ ms for CPU, throttled \d+ ms by the CPU limit", lines[0])
        assert lines[1].strip().startswith("hint: ")
        assert lines[2] == "status: fail (1 of 1 checks not passing)"
        assert err.startswith("cpa-ops health: redis:ping failed [deadline]: "), err
        assert elapsed < 0.01 + 0.5 + SLACK

    def test_json_is_a_health_document(self) -> None:
        code, out, err, _ = tiny("--format", "json")
        assert code == 1, err
        document = json.loads(out)
        assert document["status"] == "fail"
        assert document["description"] == "cpa-ops health"
        [check] = document["checks"]["redis:ping"]
        assert (check["status"], check["reason"]) == ("fail", "deadline")
        assert "--timeout 0.01 s" in check["output"]
        assert set(check["details"]) >= {"cpuWaitMs", "cpuThrottledMs"}
        assert document["output"] == f"redis:ping: {check['output']}"
        assert err == ""

    def test_nagios_is_unknown(self) -> None:
        code, out, err, _ = tiny("--format", "nagios")
        assert code == 3, err
        assert out.startswith("CPA-OPS UNKNOWN - cpa-ops health did not get through its start-up")
        assert len(out.splitlines()) == 1 and err == ""

    @pytest.mark.parametrize("output_format", ["text", "json", "nagios"])
    def test_quiet_is_one_stderr_line(self, output_format: str) -> None:
        code, out, err, _ = tiny("--format", output_format, "-q")
        assert code == (3 if output_format == "nagios" else 1), err
        assert out == ""
        [line] = err.splitlines()
        assert line.startswith("cpa-ops health: redis:ping [deadline] ")

    def test_a_slow_env_file_counts_inside_the_budget(self, tmp_path: Path) -> None:
        """A .env that takes seconds to parse: the settings never load, the verdict comes at
        --timeout (the command's own watchdog by then), naming the budget as given."""
        from tests.conftest import slow_env_file

        slow = slow_env_file(tmp_path)
        ran = run_cpa_ops(
            "--env-file", str(slow), "health", "--timeout", "1", "--format", "json",
            env=clean_env(), timeout=20,
        )  # fmt: skip
        assert ran.returncode == 1, ran.stderr
        [check] = json.loads(ran.stdout)["checks"]["redis:ping"]
        assert check["reason"] == "deadline"
        assert "--timeout 1 s" in check["output"]
        assert ran.elapsed < 1.5 + SLACK

    def test_wait_is_part_of_the_budget_as_given(self) -> None:
        code, out, _, _ = tiny("--wait", "0.01", "--format", "json")
        assert code == 1
        [check] = json.loads(out)["checks"]["redis:ping"]
        assert "--wait 0.01 s + --timeout 0.01 s" in check["output"]


class TestSameAsTheRenderers:
    """The start-up verdict, written with string formatting alone, against the renderers."""

    CPU = CpuWait(0.62, 0.0, 0)

    def rendered(self, plan: HealthPlan) -> tuple[list[str], list[str]]:
        from cpa_ops.cli.console import Terminal
        from cpa_ops.cli.render.report import write_report
        from cpa_ops.core.health import Check, Report, Status

        output, hint, details = startup_check(plan, self.CPU)
        check = Check("redis", "ping", Status.FAIL, output, "deadline", hint, details=details)
        out, err = io.StringIO(), io.StringIO()
        terminal = Terminal(stdout=out, stderr=err, environ={})
        write_report(
            Report((check,)),
            HealthFormat(plan.output_format),
            terminal,
            description="cpa-ops health",
            quiet=plan.quiet,
        )
        return out.getvalue().splitlines(), err.getvalue().splitlines()

    @pytest.mark.parametrize("output_format", ["text", "json"])
    @pytest.mark.parametrize("quiet", [False, True])
    def test_line_for_line(self, output_format: str, quiet: bool) -> None:
        plan = HealthPlan(1.0, None, output_format, quiet)
        out, err, code = startup_verdict(plan, self.CPU)
        want_out, want_err = self.rendered(plan)
        stamp = re.compile(r'"time": "[^"]+"')
        assert [stamp.sub("<t>", line) for line in out] == [
            stamp.sub("<t>", line) for line in want_out
        ]
        assert err == want_err
        assert code == 1
        if output_format == "json" and not quiet:
            assert json.loads(out[0])["checks"]["redis:ping"][0]["details"]["cpuWaitMs"] == 620.0

    def test_the_starved_hint_names_requests_and_timeout_seconds(self) -> None:
        _, hint, _ = startup_check(HealthPlan(1.0, None, "text", False), self.CPU)
        assert "CPU request" in hint and "timeoutSeconds" in hint
        _, calm, _ = startup_check(HealthPlan(1.0, None, "text", False), CpuWait(0.01, 0.0, 0))
        assert "timeoutSeconds" in calm and "CPU request" not in calm


class TestArgv:
    @pytest.mark.parametrize(
        ("argv", "expected"),
        [
            (["health"], (1.0, None, "text", False)),
            (["health", "--timeout", "2.5", "-q"], (2.5, None, "text", True)),
            (["health", "--timeout=3", "--format=json"], (3.0, None, "json", False)),
            (["--env-file", "x.env", "health", "--wait", "60"], (1.0, 60.0, "text", False)),
            (["health", "--format", "nagios", "--quiet"], (1.0, None, "nagios", True)),
        ],
    )
    def test_health_is_armed(self, argv: list[str], expected: tuple[object, ...]) -> None:
        plan = health_plan(argv, {})
        assert plan is not None
        assert (plan.timeout, plan.wait, plan.output_format, plan.quiet) == expected

    @pytest.mark.parametrize(
        "argv",
        [
            [],
            ["--help"],
            ["--version"],
            ["ping"],
            ["config", "check"],
            ["health", "--help"],
            ["health", "--watch", "5"],
            ["health", "--timeout", "soon"],
            ["health", "--timeout", "0"],
            ["health", "--timeout", "nan"],
            ["health", "--format", "xml"],
        ],
    )
    def test_not_armed(self, argv: list[str]) -> None:
        """Other commands, help, --watch (no process deadline), and values Typer rejects (its
        usage error, exit 2, comes first)."""
        assert health_plan(argv, {}) is None

    def test_not_armed_for_a_completion_round(self) -> None:
        assert health_plan(["health"], {"_CPA_OPS_COMPLETE": "complete_bash"}) is None

    def test_budget_text(self) -> None:
        assert budget_text(1.0) == "--timeout 1 s"
        assert budget_text(0.5, 60.0) == "--wait 60 s + --timeout 0.5 s"


class TestAWrapperThatExecs:
    """A wrapper that does its own work, then ``exec``-s cpa-ops (``./dev`` after installing,
    an entrypoint script) keeps its fork time: the time it slept before the exec is not the
    probe's start-up and does not eat the budget."""

    @pytest.mark.parametrize("nap", ["1.5", "3"])
    def test_a_nap_before_exec_is_not_the_budget(self, redis_server: Any, nap: str) -> None:
        import subprocess
        import sys
        import time

        from tests.conftest import BIN

        script = f'sleep {nap}; exec "$0" health --redis-url "$1" --timeout 1'
        started = time.monotonic()
        ran = subprocess.run(
            ["bash", "-c", script, str(BIN), redis_server.url()],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        elapsed = time.monotonic() - started
        assert ran.returncode == 0, (ran.stdout, ran.stderr, sys.executable)
        assert "deadline" not in ran.stdout
        assert elapsed >= float(nap)

    def test_a_busy_wrapper_still_counts(self) -> None:
        """Time the wrapper spent on a CPU before the exec is the process's own start-up (a
        kubelet counts it too): a budget smaller than it gives the start-up verdict."""
        import subprocess

        from tests.conftest import BIN

        # ~0.4 s of shell arithmetic on a CPU, then the exec with a 0.1 s budget
        script = 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec "$0" health '
        script += "--redis-url redis://127.0.0.1:1/0 --timeout 0.1"
        ran = subprocess.run(
            ["bash", "-c", script, str(BIN)],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert ran.returncode == 1, ran.stderr
        assert "[deadline]" in ran.stdout and "start-up" in ran.stdout, ran.stdout
