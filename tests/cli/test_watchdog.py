"""The one watchdog: when a command's --timeout passes without a verdict, the installed
``cpa-ops`` still writes one, in the command's own format, and ends within --timeout + 0.5 s."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Ran, clean_env, run_cpa_ops, slow_env_file
from tests.servers.redis_faults import SilentListener
from tests.servers.sentry_ingest import PUBLIC_KEY, dead_port

pytestmark = pytest.mark.timeout(30)

#: the interpreter's own start, before cpa_ops is imported and its clock starts (loaded machine)
INTERPRETER_START = 0.5

#: the keys of sentry-test's JSON report, whichever way its verdict came
REPORT_KEYS = {
    "delivered",
    "verdict",
    "reason",
    "event_id",
    "host",
    "status",
    "retry_after",
    "elapsed",
}


def sentry_json(dsn: str, *args: str) -> Ran:
    env = clean_env(SENTRY_DSN=dsn, ENVIRONMENT="staging")
    return run_cpa_ops("sentry-test", "--format", "json", *args, env=env, timeout=15)


def one_json_object(stdout: str) -> dict[str, object]:
    [line] = stdout.splitlines()
    document = json.loads(line)
    assert isinstance(document, dict)
    return document


class TestSentryTestJson:
    def test_stuck_before_sending_writes_a_timeout_verdict(self, tmp_path: Path) -> None:
        """Settings still loading (a slow .env): the watchdog's verdict is the JSON report (verdict
        timeout, not delivered), the stderr line is today's, exit 1 within --timeout + 0.5 s."""
        fifo = slow_env_file(tmp_path)
        ran = run_cpa_ops(
            "--env-file",
            str(fifo),
            "sentry-test",
            "--timeout",
            "1",
            "--format",
            "json",
            env=clean_env(),
            timeout=15,
        )
        assert ran.returncode == 1, ran.stderr
        report = one_json_object(ran.stdout)
        assert set(report) == REPORT_KEYS
        assert (report["verdict"], report["delivered"]) == ("timeout", False)
        assert report["reason"] == "timeout: no verdict within --timeout"
        assert ran.stderr == "cpa-ops: sentry-test: timeout: no verdict within --timeout\n"
        assert report["elapsed"] < 1.5  # the process's own clock, from cpa_ops.STARTED_AT
        assert ran.elapsed < 1.5 + INTERPRETER_START

    def test_tiny_timeout_against_a_silent_host(self, silent_listener: SilentListener) -> None:
        """A DSN host that accepts and never answers, a --timeout about as long as a loaded
        start-up: one JSON object with verdict timeout (by the watchdog or by the send's own
        deadline, whichever comes first), exit 1, within --timeout + 0.5 s."""
        timeout = 0.5
        ran = sentry_json(
            f"http://{PUBLIC_KEY}@127.0.0.1:{silent_listener.port}/1", "--timeout", str(timeout)
        )
        assert ran.returncode == 1, ran.stderr
        report = one_json_object(ran.stdout)
        assert set(report) == REPORT_KEYS
        assert (report["verdict"], report["delivered"]) == ("timeout", False)
        assert len(ran.stderr.splitlines()) == 1, ran.stderr
        assert ran.stderr.startswith("cpa-ops: sentry-test: timeout: ")
        assert isinstance(report["elapsed"], float) and report["elapsed"] < timeout + 0.5
        assert ran.elapsed < timeout + 0.5 + INTERPRETER_START

    def test_the_keys_are_those_of_a_normal_report(self) -> None:
        """The reference: a refused connection's report has the same keys."""
        ran = sentry_json(f"http://{PUBLIC_KEY}@127.0.0.1:{dead_port()}/1")
        assert ran.returncode == 1
        assert set(one_json_object(ran.stdout)) == REPORT_KEYS


class TestSentryTestText:
    def test_stuck_in_text_writes_only_the_stderr_line(self, tmp_path: Path) -> None:
        fifo = slow_env_file(tmp_path)
        ran = run_cpa_ops(
            "--env-file", str(fifo), "sentry-test", "--timeout", "0.5", env=clean_env(), timeout=15
        )
        assert ran.returncode == 1
        assert ran.stdout == ""
        assert ran.stderr == "cpa-ops: sentry-test: timeout: no verdict within --timeout\n"
        assert ran.elapsed < 1.0 + INTERPRETER_START
