"""``cpa-ops sentry-test`` run as the installed console script against a real ingest server."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpa_ops import __version__
from cpa_ops.core.free_text import WITHHELD
from cpa_ops.core.redact import MARKER_PREFIX
from tests.conftest import Ran, clean_env, run_cpa_ops, slow_env_file
from tests.servers.sentry_fixtures import StartSentryIngest, assert_no_pii, planted_pii
from tests.servers.sentry_ingest import (
    PUBLIC_KEY,
    RETRY_AFTER,
    Mode,
    ReceivedEnvelope,
    SentryIngest,
    dead_port,
)

EVENT_ID = re.compile(r"[0-9a-f]{32}")


def sentry_test(dsn: str | None, *args: str, **env: str) -> Ran:
    """Run ``cpa-ops sentry-test ARGS`` with SENTRY_DSN (unless None) and ENVIRONMENT=staging."""
    values = {"ENVIRONMENT": "staging", **env}
    if dsn is not None:
        values["SENTRY_DSN"] = dsn
    return run_cpa_ops("sentry-test", *args, env=clean_env(**values), timeout=15)


def assert_one_line(stderr: str) -> None:
    """Exactly one diagnostic line, no traceback, no DSN key."""
    assert len(stderr.splitlines()) == 1, stderr
    assert "Traceback" not in stderr
    assert PUBLIC_KEY not in stderr


class TestDelivered:
    @pytest.mark.timeout(20)
    def test_reports_event_id_host_status_and_elapsed(self, sentry_ingest: SentryIngest) -> None:
        """2xx: exit 0; the report names the event, the host (no key), 200 and the time."""
        ran = sentry_test(sentry_ingest.dsn, "--tag", "team=ops", "--tag", "ticket=OPS-17")
        assert ran.returncode == 0, ran.stderr
        assert ran.stderr == ""
        report = dict(
            line.split(None, 1) for line in ran.stdout.replace("event id", "id").splitlines()
        )
        assert EVENT_ID.fullmatch(report["id"])
        assert report["host"] == f"127.0.0.1:{sentry_ingest.port}"
        assert report["status"] == "200"
        assert re.fullmatch(r"\d+\.\d{3} s", report["elapsed"])
        assert PUBLIC_KEY not in ran.stdout
        [envelope] = sentry_ingest.wait_for(1)
        assert envelope.headers["event_id"] == report["id"]
        event = envelope.event
        assert event["environment"] == "staging"
        assert event["release"] == f"cpa-ops@{__version__}"
        assert event["level"] == "info"
        assert {"team": "ops", "ticket": "OPS-17"}.items() <= event["tags"].items()
        assert envelope.auth["sentry_key"] == PUBLIC_KEY  # the key travels only in the header
        assert PUBLIC_KEY not in envelope.body.decode()
        assert envelope.content_encoding in ("br", "gzip")

    @pytest.mark.timeout(20)
    def test_json_report(self, sentry_ingest: SentryIngest) -> None:
        """--format json: one object with the verdict, id, host, status, elapsed."""
        ran = sentry_test(sentry_ingest.dsn, "--format", "json")
        assert ran.returncode == 0, ran.stderr
        report = json.loads(ran.stdout)
        assert report["delivered"] is True
        assert report["verdict"] == "delivered"
        assert report["status"] == 200
        assert report["host"] == f"127.0.0.1:{sentry_ingest.port}"
        assert report["retry_after"] is None
        assert 0 <= report["elapsed"] < 2
        [envelope] = sentry_ingest.wait_for(1)
        assert envelope.headers["event_id"] == report["event_id"]

    @pytest.mark.timeout(20)
    def test_exception_carries_a_stack_trace(self, sentry_ingest: SentryIngest) -> None:
        """--exception: an error-level event with the raised exception and its frames."""
        ran = sentry_test(sentry_ingest.dsn, "--exception", "--message", "boom for test")
        assert ran.returncode == 0, ran.stderr
        event = sentry_ingest.wait_for(1)[0].event
        assert event["level"] == "error"
        [error] = event["exception"]["values"]
        assert (error["type"], error["value"]) == ("SentryTestError", "boom for test")
        assert len(error["stacktrace"]["frames"]) >= 2
        assert all("vars" not in frame for frame in error["stacktrace"]["frames"])

    @pytest.mark.timeout(20)
    def test_level(self, sentry_ingest: SentryIngest) -> None:
        """--level sets the event level, with or without --exception."""
        assert sentry_test(sentry_ingest.dsn, "--level", "warning").returncode == 0
        assert sentry_test(sentry_ingest.dsn, "--level", "fatal", "--exception").returncode == 0
        assert [e.event["level"] for e in sentry_ingest.wait_for(2)] == ["warning", "fatal"]

    @pytest.mark.timeout(20)
    def test_test_event_carries_no_identity(self, sentry_ingest: SentryIngest) -> None:
        """No env vars, OS user, host name, IP, argv or DSN key; no integrations loaded."""
        canary = "canary-value-7f3a9c"
        ran = sentry_test(sentry_ingest.dsn, "--exception", CPA_CANARY=canary)
        assert ran.returncode == 0, ran.stderr
        [envelope] = sentry_ingest.wait_for(1)
        event = envelope.event
        text = envelope.text
        assert canary not in text
        assert "server_name" not in event
        assert f'"{socket.gethostname()}"' not in text
        assert "user" not in event
        assert "{{auto}}" not in text
        assert event["sdk"]["settings"]["infer_ip"] == "never"
        assert "sys.argv" not in event.get("extra", {})
        assert "sentry-test" not in json.dumps(event.get("extra", {}))
        assert str(Path.home()) + "/" not in text
        assert PUBLIC_KEY not in envelope.body.decode()
        assert "trace" not in envelope.headers
        assert event["sdk"]["integrations"] == []  # the CLI pays for no integration


class TestFailures:
    @pytest.mark.timeout(20)
    @pytest.mark.parametrize(
        ("mode", "verdict", "status"),
        [
            (Mode.UNAUTHORIZED, "auth_rejected", 401),
            (Mode.FORBIDDEN, "auth_rejected", 403),
            (Mode.TOO_LARGE, "too_large", 413),
            (Mode.RATE_LIMITED, "rate_limited", 429),
            (Mode.SERVER_ERROR, "server_error", 500),
            (Mode.UNAVAILABLE, "server_error", 503),
            (Mode.CLOSE, "connection_closed", None),
        ],
    )
    def test_each_refusal_exits_1_with_its_reason(
        self, start_sentry_ingest: StartSentryIngest, mode: Mode, verdict: str, status: int | None
    ) -> None:
        """Every non-2xx answer (or none): exit 1, the verdict on stdout and in one stderr line."""
        server = start_sentry_ingest(mode)
        ran = sentry_test(server.dsn, "--format", "json", "--timeout", "3")
        assert len(server.received) == 1
        assert ran.returncode == 1, ran.stderr
        report = json.loads(ran.stdout)
        assert (report["verdict"], report["status"], report["delivered"]) == (
            verdict,
            status,
            False,
        )
        assert_one_line(ran.stderr)
        assert ran.stderr.startswith(f"cpa-ops: sentry-test: {verdict}: ")
        assert report["retry_after"] == (float(RETRY_AFTER) if status == 429 else None)
        if status in (401, 403):
            assert f"127.0.0.1:{server.port} rejected the DSN's key or project" in ran.stderr
        assert ran.elapsed < 3

    @pytest.mark.timeout(20)
    def test_rate_limit_shows_retry_after_in_text(
        self, start_sentry_ingest: StartSentryIngest
    ) -> None:
        """429 in text: Retry-After is shown in the report and in the stderr line."""
        server = start_sentry_ingest(Mode.RATE_LIMITED)
        ran = sentry_test(server.dsn)
        assert ran.returncode == 1
        assert re.search(rf"^retry after +{RETRY_AFTER} s$", ran.stdout, re.MULTILINE)
        assert ran.stderr.rstrip().endswith(f"retry after {RETRY_AFTER} s")

    @pytest.mark.timeout(20)
    def test_refused_connection_exits_1_at_once(self) -> None:
        """Nothing listening: connection_refused, exit 1, long before --timeout."""
        ran = sentry_test(f"http://{PUBLIC_KEY}@127.0.0.1:{dead_port()}/1", "--timeout", "5")
        assert ran.returncode == 1
        assert ran.stderr.startswith("cpa-ops: sentry-test: connection_refused: ")
        assert_one_line(ran.stderr)
        assert ran.elapsed < 2

    @pytest.mark.timeout(20)
    @pytest.mark.parametrize("timeout", ["1.2"])
    def test_silent_endpoint_exits_1_within_timeout(
        self, start_sentry_ingest: StartSentryIngest, timeout: str
    ) -> None:
        """A server that accepts and never answers: exit 1 (timeout) within --timeout + 0.5 s."""
        server = start_sentry_ingest(Mode.SILENT)
        ran = sentry_test(server.dsn, "--timeout", timeout, "--format", "json")
        assert len(server.received) == 1
        assert ran.returncode == 1, ran.stderr
        assert json.loads(ran.stdout)["verdict"] == "timeout"
        assert_one_line(ran.stderr)
        assert float(timeout) - 0.2 < ran.elapsed < float(timeout) + 0.5

    @pytest.mark.timeout(20)
    def test_watchdog_ends_a_command_stuck_before_sending(self, tmp_path: Path) -> None:
        """Stuck outside the SDK (parsing a slow .env): still exit 1 within --timeout + 0.5 s."""
        fifo = slow_env_file(tmp_path)
        ran = run_cpa_ops(
            "--env-file", str(fifo), "sentry-test", "--timeout", "1", env=clean_env(), timeout=15
        )
        assert ran.returncode == 1
        assert ran.stderr == "cpa-ops: sentry-test: timeout: no verdict within --timeout\n"
        assert ran.elapsed < 1.5


class TestDryRun:
    @pytest.mark.timeout(20)
    def test_sends_nothing_and_prints_the_scrubbed_envelope(
        self, sentry_ingest: SentryIngest
    ) -> None:
        """--dry-run: exit 0, nothing reaches the server, stdout is the envelope as JSON."""
        ran = sentry_test(
            sentry_ingest.dsn, "--dry-run", "--message", "client jane@example.com", "--tag", "k=v"
        )
        assert ran.returncode == 0, ran.stderr
        assert sentry_ingest.received == []
        envelope = json.loads(ran.stdout)
        assert EVENT_ID.fullmatch(envelope["headers"]["event_id"])
        [item] = envelope["items"]
        assert item["headers"]["type"] == "event"
        event = item["payload"]
        assert event["message"] == f"client {MARKER_PREFIX}email]"
        assert event["tags"]["k"] == "v"
        assert (event["environment"], event["release"]) == ("staging", f"cpa-ops@{__version__}")
        assert "server_name" not in event and "user" not in event
        assert PUBLIC_KEY not in ran.stdout

    @pytest.mark.timeout(20)
    def test_json_format_is_one_line(self, sentry_ingest: SentryIngest) -> None:
        """--dry-run --format json: the envelope on a single line."""
        ran = sentry_test(sentry_ingest.dsn, "--dry-run", "--format", "json")
        assert ran.returncode == 0
        assert len(ran.stdout.splitlines()) == 1
        assert json.loads(ran.stdout)["items"][0]["payload"]["level"] == "info"

    @pytest.mark.timeout(20)
    def test_works_without_a_dsn(self) -> None:
        """Nothing is sent, so a dry run needs no SENTRY_DSN: see the payload before setup."""
        ran = sentry_test(None, "--dry-run")
        assert ran.returncode == 0, ran.stderr
        assert json.loads(ran.stdout)["items"][0]["payload"]["message"]


class TestPlantedPii:
    @pytest.mark.timeout(60)
    @settings(
        max_examples=5,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(pii=planted_pii, exception=st.booleans())
    def test_planted_pii_never_leaves_the_machine(
        self, sentry_ingest: SentryIngest, pii: str, exception: bool
    ) -> None:
        """PII in --message and --tag values is redacted before the envelope is sent."""
        before = len(sentry_ingest.received)
        args = ["--message", f"client {pii} failed", "--tag", f"client={pii}"]
        ran = sentry_test(sentry_ingest.dsn, *args, *(["--exception"] if exception else []))
        assert ran.returncode == 0, ran.stderr
        envelope: ReceivedEnvelope = sentry_ingest.wait_for(before + 1)[-1]
        assert_no_pii(envelope, pii)
        # staging: a tag that is not a token is withheld (free text); one that is, redacted
        tag = envelope.event["tags"]["client"]
        assert tag.startswith(MARKER_PREFIX) or tag == WITHHELD, tag


class TestUsage:
    @pytest.mark.timeout(20)
    def test_unset_dsn_exits_2_saying_so(self) -> None:
        """No SENTRY_DSN: exit 2, one line naming SENTRY_DSN as not set."""
        ran = sentry_test(None)
        assert ran.returncode == 2
        assert_one_line(ran.stderr)
        assert "SENTRY_DSN is not set" in ran.stderr
        assert ran.stdout == ""

    @pytest.mark.timeout(30)
    @pytest.mark.parametrize(
        ("dsn", "fault"),
        [
            ("ftp://f00dfeedf00dfeed@127.0.0.1/1", "scheme must be http or https"),
            ("https://127.0.0.1/1", "no public key"),
            ("https://f00dfeedf00dfeed@127.0.0.1/", "no project id"),
            ("https://f00dfeedf00dfeed@127.0.0.1/proj", "project id must be a number"),
            ("https://f00dfeedf00dfeed@127.0.0.1:99999/1", "bad port"),
        ],
    )
    def test_malformed_dsn_exits_2_saying_what_is_wrong(self, dsn: str, fault: str) -> None:
        """Malformed SENTRY_DSN: exit 2, one line naming it and the fault, the key not echoed."""
        ran = sentry_test(dsn)
        assert ran.returncode == 2
        assert_one_line(ran.stderr)
        assert "SENTRY_DSN is malformed" in ran.stderr and fault in ran.stderr
        assert "f00dfeed" not in ran.stderr

    @pytest.mark.timeout(30)
    @pytest.mark.parametrize(
        "args",
        [
            ["--tag", "novalue"],
            ["--tag", "k="],
            ["--tag", "bad key=v"],
            ["--tag", "k" * 33 + "=v"],
            ["--timeout", "0"],
            ["--timeout", "soon"],
            ["--level", "loud"],
            ["--format", "xml"],
        ],
    )
    def test_bad_option_exits_2_with_one_line(
        self, sentry_ingest: SentryIngest, args: list[str]
    ) -> None:
        """A bad --tag/--timeout/--level/--format: exit 2, one line, nothing sent."""
        ran = sentry_test(sentry_ingest.dsn, *args)
        assert ran.returncode == 2
        assert_one_line(ran.stderr)
        assert args[0] in ran.stderr
        assert sentry_ingest.received == []

    def test_help_does_not_import_the_sdk(self) -> None:
        """Loading the CLI (for --help or completion) imports no sentry_sdk."""
        code = "import sys, cpa_ops.cli; print('sentry_sdk' in sys.modules)"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
        )
        assert out.stdout.strip() == "False"
        ran = run_cpa_ops("sentry-test", "--help")
        assert ran.returncode == 0 and "--dry-run" in ran.stdout
