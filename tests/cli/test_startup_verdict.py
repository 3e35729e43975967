"""The start-up verdict: a command with a whole-command budget (``health``, ``sentry-test``) out
of it before it could take over from the console script's first instruction (cli/startup.py)
writes its own deadline verdict in the asked-for format within --timeout + 0.5 s: health's
``deadline`` (exit 1, Nagios UNKNOWN 3), line for line what the report renderers write for the
same check; sentry-test's ``timeout`` (exit 1), line for line what its own watchdog writes.
argv is read as Typer reads it; help, completion and other commands (ping) are not armed, and
nothing but the standard library is imported before the deadline is armed."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cpa_ops.cli.options import HealthFormat, OutputFormat
from cpa_ops.cli.startup import (
    COMMANDS,
    StartupPlan,
    budget_text,
    startup_check,
    startup_plan,
    startup_verdict,
)
from cpa_ops.core.cpu_wait import CpuWait
from tests.cli.test_watchdog import REPORT_KEYS
from tests.conftest import clean_env, run_cpa_ops

pytestmark = pytest.mark.timeout(60)

#: shorter than any start-up: the watchdog's start-up verdict every time
TINY = "0.01"
#: the interpreter's own start before the process's first instruction, on a loaded machine
SLACK = 0.5
#: what each armed command is given besides its budget: a target that answers at once, were
#: the start-up ever to finish in time
ARMED = {
    "health": ("--redis-url", "redis://127.0.0.1:1/0"),
    "sentry-test": (),
}
#: sentry-test's one stderr line when no verdict came within --timeout (its watchdog's)
SENTRY_TIMEOUT_LINE = "cpa-ops: sentry-test: timeout: no verdict within --timeout"


def tiny(*args: str, command: str = "health") -> tuple[int, str, str, float]:
    ran = run_cpa_ops(command, *ARMED[command], "--timeout", TINY, *args, timeout=20)
    return ran.returncode, ran.stdout, ran.stderr, ran.elapsed


class TestThroughTheConsoleScript:
    def test_text(self) -> None:
        code, out, err, _ = tiny()
        assert code == 1, err
        lines = out.splitlines()
        assert len(lines) == 3, out
        assert lines[0].startswith("FAIL  redis:ping")
        assert "[deadline]" in lines[0] and "no verdict within --timeout 0.01 s" in lines[0]
        assert re.search(r"waited \d+ ms for CPU, throttled \d+ ms by the CPU limit", lines[0])
        assert lines[1].strip().startswith("hint: ")
        assert lines[2] == "status: fail (1 of 1 checks not passing)"
        assert err.startswith("cpa-ops health: redis:ping failed [deadline]: "), err

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


class TestSentryTestThroughTheConsoleScript:
    """sentry-test's --timeout holds from the first instruction: its start-up verdict is the
    timeout verdict its own watchdog writes before the settings name a host."""

    def test_text_is_the_one_stderr_line(self) -> None:
        code, out, err, _ = tiny(command="sentry-test")
        assert code == 1, err
        assert out == ""
        assert err == SENTRY_TIMEOUT_LINE + "\n"

    def test_json_is_the_timeout_report(self) -> None:
        code, out, err, _ = tiny("--format", "json", command="sentry-test")
        assert code == 1, err
        [line] = out.splitlines()
        report = json.loads(line)
        assert set(report) == REPORT_KEYS
        assert (report["verdict"], report["delivered"], report["host"]) == ("timeout", False, None)
        assert report["reason"] == "timeout: no verdict within --timeout"
        # the process's own clock, from its fork: the budget, and the time to write the verdict
        assert float(TINY) <= report["elapsed"] < float(TINY) + 0.5
        assert err == SENTRY_TIMEOUT_LINE + "\n"

    def test_a_dsn_changes_nothing_before_the_settings(self) -> None:
        """With a DSN (a port nothing listens on, refused at once were it ever reached) and
        --dry-run alike, the budget still runs out in the start-up."""
        env = clean_env(SENTRY_DSN="http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1")
        for extra in ((), ("--dry-run",)):
            ran = run_cpa_ops("sentry-test", "--timeout", TINY, *extra, env=env, timeout=20)
            assert (ran.returncode, ran.stdout, ran.stderr) == (1, "", SENTRY_TIMEOUT_LINE + "\n")


class TestEveryArmedCommand:
    @pytest.mark.parametrize("command", list(ARMED))
    @pytest.mark.parametrize("output_format", ["text", "json"])
    def test_ends_within_the_budget(self, command: str, output_format: str) -> None:
        """Exit 1 within --timeout + 0.5 s of the fork (+ the test's own slack), in the
        command's format: json on stdout is one object."""
        code, out, err, elapsed = tiny("--format", output_format, command=command)
        assert code == 1, err
        assert elapsed < float(TINY) + 0.5 + SLACK
        if output_format == "json":
            assert isinstance(json.loads(out), dict), out

    @pytest.mark.parametrize("command", [*ARMED, "ping"])
    def test_help_is_not_armed(self, command: str) -> None:
        """--help after a tiny --timeout: the help, exit 0 (it imports Typer: longer than the
        budget, were it armed)."""
        ran = run_cpa_ops(command, "--timeout", TINY, "--help", timeout=20)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.startswith(f"Usage: cpa-ops {command} ")
        assert ran.stderr == ""


class TestPingIsNotArmed:
    def test_a_tiny_sample_timeout_is_not_a_process_deadline(self) -> None:
        """ping's --timeout bounds one sample: a tiny one still gives ping's own samples and
        summary (a refused port: exit 1), never a start-up verdict."""
        ran = run_cpa_ops(
            "ping", "-c", "2", "-i", "0.05", "--timeout", TINY, "--redis-url",
            "redis://127.0.0.1:1/0", timeout=20,
        )  # fmt: skip
        assert ran.returncode == 1, ran.stderr
        assert ran.stdout.startswith("PING redis://127.0.0.1:1/0: 2 samples"), ran.stdout
        assert "ping statistics" in ran.stdout and "2 sent" in ran.stdout, ran.stdout
        assert "start-up" not in ran.stdout + ran.stderr
        assert "no verdict" not in ran.stdout + ran.stderr


class TestSameAsTheRenderers:
    """The start-up verdict, written with string formatting alone, against the renderers."""

    CPU = CpuWait(0.62, 0.0, 0)

    def rendered(self, plan: StartupPlan) -> tuple[list[str], list[str]]:
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
        plan = StartupPlan("health", 1.0, None, output_format, quiet)
        out, err, code = startup_verdict(plan, self.CPU, 1.0)
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
        _, hint, _ = startup_check(StartupPlan("health", 1.0), self.CPU)
        assert "CPU request" in hint and "timeoutSeconds" in hint
        _, calm, _ = startup_check(StartupPlan("health", 1.0), CpuWait(0.01, 0.0, 0))
        assert "timeoutSeconds" in calm and "CPU request" not in calm


class TestSameAsSentryTestsWatchdog:
    """sentry-test's start-up verdict, written with string formatting alone, against the
    verdict its own watchdog writes (cli/sentry.py) before the settings name a host."""

    @pytest.mark.parametrize("output_format", ["text", "json"])
    @pytest.mark.parametrize("elapsed", [0.0123, 0.5, 4.99996, 12.0])
    def test_line_for_line(self, output_format: str, elapsed: float) -> None:
        from cpa_ops.cli.console import Terminal
        from cpa_ops.cli.sentry import _write_timeout

        plan = StartupPlan("sentry-test", 5.0, output_format=output_format)
        out, err, code = startup_verdict(plan, CpuWait(0.62, 0.0, 0), elapsed)
        want_out, want_err = io.StringIO(), io.StringIO()
        terminal = Terminal(stdout=want_out, stderr=want_err, environ={})
        _write_timeout(OutputFormat(output_format), None, elapsed, terminal)
        assert out == want_out.getvalue().splitlines()
        assert err == want_err.getvalue().splitlines()
        assert code == 1  # ExitCode.UNHEALTHY, as its watchdog's


class TestArgv:
    @pytest.mark.parametrize(
        ("argv", "expected"),
        [
            (["health"], ("health", 1.0, None, "text", False)),
            (["health", "--timeout", "2.5", "-q"], ("health", 2.5, None, "text", True)),
            (["health", "--timeout=3", "--format=json"], ("health", 3.0, None, "json", False)),
            (
                ["--env-file", "x.env", "health", "--wait", "60"],
                ("health", 1.0, 60.0, "text", False),
            ),
            (["health", "--format", "nagios", "--quiet"], ("health", 1.0, None, "nagios", True)),
            (["health", "--format", "JSON"], ("health", 1.0, None, "json", False)),
            # an option's value is never read as an option, as Typer reads it
            (
                ["health", "--write-prefix", "--watch", "--timeout", "2"],
                ("health", 2.0, None, "text", False),
            ),
            (["sentry-test"], ("sentry-test", 5.0, None, "text", False)),
            (
                ["sentry-test", "--timeout", "0.05", "--format", "json"],
                ("sentry-test", 0.05, None, "json", False),
            ),
            (
                ["--env-file=x.env", "sentry-test", "--dry-run", "--level", "ERROR", "--exception"],
                ("sentry-test", 5.0, None, "text", False),
            ),
            (
                ["sentry-test", "--message", "--help", "--tag", "--timeout", "--timeout=2"],
                ("sentry-test", 2.0, None, "text", False),
            ),
        ],
    )
    def test_armed(self, argv: list[str], expected: tuple[object, ...]) -> None:
        plan = startup_plan(argv, {})
        assert plan is not None
        assert (plan.command, plan.timeout, plan.wait, plan.output_format, plan.quiet) == expected

    @pytest.mark.parametrize(
        "argv",
        [
            [],
            ["--help"],
            ["--version"],
            ["ping"],
            ["ping", "-c", "3", "--timeout", "1"],
            ["log-test"],
            ["config", "check"],
            ["health", "--help"],
            ["health", "--watch", "5"],
            ["health", "--watch=5"],
            ["health", "--timeout", "soon"],
            ["health", "--timeout", "0"],
            ["health", "--timeout", "nan"],
            ["health", "--format", "xml"],
            ["health", "--mode", "ring"],
            ["sentry-test", "-h"],
            ["sentry-test", "--timeout", "0"],
            ["sentry-test", "--timeout", "86401"],
            ["sentry-test", "--timeout"],
            ["sentry-test", "--format", "nagios"],
            ["sentry-test", "--level", "loud"],
        ],
    )
    def test_not_armed(self, argv: list[str]) -> None:
        """Other commands (ping's --timeout is one sample's), help, --watch (no process
        deadline), and values Typer rejects (its usage error, exit 2, comes first)."""
        assert startup_plan(argv, {}) is None

    @pytest.mark.parametrize("command", list(COMMANDS))
    def test_not_armed_for_a_completion_round(self, command: str) -> None:
        assert startup_plan([command], {"_CPA_OPS_COMPLETE": "complete_bash"}) is None

    @pytest.mark.parametrize("command", list(COMMANDS))
    def test_read_as_typer_reads_the_command(self, command: str) -> None:
        """The options taking a value, their choices, the quiet flags and --timeout's default
        are the command's own (so a new option of the command cannot go unnoticed here)."""
        import typer

        from cpa_ops.cli import app

        click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
        options = [p for p in click_command.params if p.param_type_name == "option"]
        budget = COMMANDS[command]
        takes_value = {name for o in options if not o.is_flag for name in o.opts}
        assert set(budget.value_options) == takes_value
        choices = {
            name: tuple(str(c).lower() for c in o.type.choices)
            for o in options
            if hasattr(o.type, "choices")  # a Choice (an enum option)
            for name in o.opts
        }
        assert {k: set(v) for k, v in budget.choices.items()} == {
            k: set(v) for k, v in choices.items()
        }
        quiet = {name for o in options if o.name == "quiet" for name in o.opts}
        assert set(budget.quiet_flags) == quiet
        [timeout] = [o for o in options if "--timeout" in o.opts]
        assert budget.default_timeout == timeout.default

    def test_budget_text(self) -> None:
        assert budget_text(1.0) == "--timeout 1 s"
        assert budget_text(0.5, 60.0) == "--wait 60 s + --timeout 0.5 s"


class TestArmedBeforeAnyHeavyImport:
    """The console script arms the deadline having imported only the standard library and
    cpa-ops' own start-up modules (cli/__init__.py main, cli/startup.py, cli/deadline.py)."""

    @pytest.mark.parametrize(
        "argv", [["health", "--timeout", "5"], ["sentry-test", "--timeout", "5"], ["ping"]]
    )
    def test_only_the_standard_library_before_arming(self, argv: list[str]) -> None:
        # main() as the console script runs it, stopped right after arm_deadline
        code = (
            "import os, sys\n"
            "before = set(sys.modules)\n"
            "import cpa_ops.cli.startup as startup\n"
            "arm = startup.arm_deadline\n"
            "def arm_and_stop(argv):\n"
            "    arm(argv)\n"
            "    from cpa_ops.cli import deadline\n"
            "    armed = deadline._process_watchdog is not None\n"
            "    print(armed, sorted(set(sys.modules) - before))\n"
            "    sys.stdout.flush()\n"
            "    os._exit(0)\n"
            "startup.arm_deadline = arm_and_stop\n"
            f"sys.argv = ['cpa-ops', *{argv!r}]\n"
            "from cpa_ops.cli import main\n"
            "main()\n"
        )
        ran = subprocess.run(
            [sys.executable, "-c", code],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert ran.returncode == 0, ran.stderr
        armed, modules = ran.stdout.split(" ", 1)
        assert armed == str(argv[0] != "ping")
        loaded = eval(modules)  # a list of module names, printed by the child
        foreign = [
            m
            for m in loaded
            if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "cpa_ops"
        ]
        assert foreign == []
        ours = {m for m in loaded if m.split(".")[0] == "cpa_ops"}
        assert ours <= {
            "cpa_ops", "cpa_ops.cli", "cpa_ops.cli.startup", "cpa_ops.cli.deadline",
            "cpa_ops.cli.exits",
            "cpa_ops.core", "cpa_ops.core.cpu_wait",
        }  # fmt: skip


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
