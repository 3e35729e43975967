"""Tests for ``cpa-ops log-test``, run as the installed console script."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import BIN, clean_env, run_cpa_ops

# What the showcase plants; none of it may reach stdout.
PLANTED = [
    "123-45-6789",
    "jane.doe@example.com",
    "000123456789",
    "(555) 123-4567",
    "4111 1111 1111 1111",
    "s3cret-pass",
    "local-secret-never-logged",
]
LINES_PER_ROUND_AT_INFO = 8


def _json_records(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


class TestJsonFormat:
    def test_every_line_is_json_and_the_showcase_is_complete(self) -> None:
        """Each stdout line parses; levels, correlation ids, exception and stdlib line appear."""
        ran = run_cpa_ops("log-test", "--format", "json")
        assert ran.returncode == 0, ran.stderr
        assert ran.stderr == ""
        records = _json_records(ran.stdout)
        assert len(records) == LINES_PER_ROUND_AT_INFO
        assert [r["level"] for r in records] == [
            "info",
            "info",
            "info",
            "warning",
            "error",
            "error",
            "info",
            "warning",
        ]
        bound = [r for r in records if "task_id" in r]
        assert len(bound) == 7
        assert all(r["client_id"] == "client-demo-42" and r["agent"] == "intake" for r in bound)
        crashed = next(r for r in records if "error" in r)
        error = crashed["error"]
        assert isinstance(error, dict) and error["kind"] == "ValueError"
        assert "Traceback (most recent call last)" in error["stack"]
        assert records[-1]["logger"] == "cpa_ops.log_test.stdlib"
        assert all(r["environment"] == "development" for r in records)

    def test_planted_pii_and_secrets_are_redacted(self) -> None:
        """The PII event shows markers; no planted value and no local variable leaks."""
        ran = run_cpa_ops("log-test", "--format", "json")
        for planted in PLANTED:
            assert planted not in ran.stdout
        pii = next(r for r in _json_records(ran.stdout) if r["message"].startswith("client"))
        assert pii["ssn"] == "[REDACTED:ssn]"
        assert pii["accountNumber"] == "[REDACTED:account_number]"
        assert pii["redis_url"] == "redis://:[REDACTED:password]@127.0.0.1:6379/0"

    def test_default_format_follows_environment(self) -> None:
        """ENVIRONMENT=production gives JSON lines without --format; development gives console."""
        prod = run_cpa_ops("log-test", env=clean_env(ENVIRONMENT="production"))
        dev = run_cpa_ops("log-test", env=clean_env(ENVIRONMENT="development"))
        assert prod.returncode == 0 and dev.returncode == 0
        assert {r["environment"] for r in _json_records(prod.stdout)} == {"production"}
        assert not dev.stdout.startswith("{")
        assert "log-test started" in dev.stdout

    def test_count_repeats_the_showcase(self) -> None:
        """--count N writes N rounds, each numbered."""
        ran = run_cpa_ops("log-test", "--format", "json", "--count", "3")
        records = _json_records(ran.stdout)
        assert len(records) == 3 * LINES_PER_ROUND_AT_INFO
        assert {r.get("showcase_round") for r in records if r["logger"] == "cpa_ops.log_test"} == {
            1,
            2,
            3,
        }

    @pytest.mark.parametrize(
        ("level", "expected"),
        [("debug", LINES_PER_ROUND_AT_INFO + 1), ("ERROR", 2), ("Warning", 4)],
    )
    def test_level_filters_lines(self, level: str, expected: int) -> None:
        """--level (any case) sets the lowest level written; debug shows the debug line."""
        ran = run_cpa_ops("log-test", "--format", "json", "--level", level)
        assert ran.returncode == 0
        assert len(_json_records(ran.stdout)) == expected

    def test_log_level_setting_is_the_default_level(self) -> None:
        """Without --level, LOG_LEVEL from the environment decides."""
        ran = run_cpa_ops("log-test", "--format", "json", env=clean_env(LOG_LEVEL="error"))
        assert len(_json_records(ran.stdout)) == 2


class TestStopsWhenTheReaderLeaves:
    @pytest.mark.timeout(20)
    def test_closed_pipe_stops_a_long_run_quietly(self) -> None:
        """Like `| head -1`: a huge --count stops soon after stdout closes, with no traceback."""
        proc = subprocess.Popen(
            [str(BIN), "log-test", "--format", "json", "--count", "1000000"],
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert proc.stdout is not None and proc.stderr is not None
        json.loads(proc.stdout.readline())
        proc.stdout.close()
        try:
            proc.wait(timeout=10)
        finally:
            proc.kill()
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.returncode == 141  # ExitCode.READER_GONE: as a process SIGPIPE ended
        assert "Traceback" not in stderr


class TestConsoleColour:
    def test_no_ansi_into_a_pipe(self) -> None:
        """Console output into a pipe (the subprocess) has no ANSI codes."""
        ran = run_cpa_ops("log-test", "--format", "console")
        assert ran.returncode == 0
        assert "\x1b[" not in ran.stdout
        assert "Traceback (most recent call last)" in ran.stdout

    def test_force_color_adds_ansi_and_no_color_wins(self) -> None:
        """FORCE_COLOR=1 colours even a pipe; NO_COLOR turns it off again."""
        forced = run_cpa_ops("log-test", "--format", "console", env=clean_env(FORCE_COLOR="1"))
        vetoed = run_cpa_ops(
            "log-test", "--format", "console", env=clean_env(FORCE_COLOR="1", NO_COLOR="1")
        )
        assert "\x1b[" in forced.stdout
        assert "\x1b[" not in vetoed.stdout
        for planted in PLANTED:
            assert planted not in forced.stdout


class TestBadInput:
    @pytest.mark.parametrize(
        ("args", "names"),
        [
            (["--format", "xml"], "--format"),
            (["--count", "0"], "--count"),
            (["--count", "many"], "--count"),
            (["--count", "1000001"], "--count"),
            (["--level", "LOUD"], "--level"),
            (["--bogus"], "--bogus"),
        ],
    )
    def test_bad_options_exit_2_with_one_line(self, args: list[str], names: str) -> None:
        """A bad option exits 2 with one stderr line naming it, no traceback, nothing on stdout."""
        ran = run_cpa_ops("log-test", *args)
        assert ran.returncode == 2
        assert ran.stdout == ""
        assert len(ran.stderr.strip().splitlines()) == 1
        assert names in ran.stderr
        assert "Traceback" not in ran.stderr

    def test_bad_environment_exits_2(self) -> None:
        """An invalid ENVIRONMENT is a configuration error: exit 2, one line naming it."""
        ran = run_cpa_ops("log-test", env=clean_env(ENVIRONMENT="prod"))
        assert ran.returncode == 2
        assert "ENVIRONMENT" in ran.stderr and ran.stdout == ""

    def test_help_lists_the_options(self) -> None:
        """--help exits 0 and documents the three options."""
        ran = run_cpa_ops("log-test", "--help")
        assert ran.returncode == 0
        for option in ("--format", "--level", "--count"):
            assert option in ran.stdout
