"""The health report composed in core, against a real redis-server: what a service serves is the
document ``cpa-ops health --format json`` prints, under its own service id and release."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from cpa_ops import __version__
from cpa_ops.core.health import Status
from cpa_ops.core.report import (
    deadline_report,
    health_document,
    health_report,
    logging_config_check,
    sentry_config_check,
)
from cpa_ops.core.settings import load_settings
from tests.servers.redis_faults import RedisServer

pytestmark = pytest.mark.timeout(60)

#: generous on a loaded machine; a healthy loopback Redis answers in milliseconds
BUDGET = 5.0


class TestHealthReport:
    def test_healthy_redis_passes_with_config_checks(self, redis_server: RedisServer) -> None:
        """Redis checks first, then sentry:config and logging:config; the report passes."""
        settings = load_settings(redis_url=redis_server.url())
        report = asyncio.run(health_report(settings, deadline=time.monotonic() + BUDGET))
        keys = [check.key for check in report.checks]
        assert keys[0] == "redis:ping"
        assert keys[-2:] == ["sentry:config", "logging:config"]
        assert report.status is Status.PASS, report.failures

    def test_write_adds_the_write_check(self, redis_server: RedisServer) -> None:
        settings = load_settings(redis_url=redis_server.url())
        deadline = time.monotonic() + BUDGET
        report = asyncio.run(health_report(settings, deadline=deadline, write=True))
        assert "redis:write" in {check.key for check in report.checks}
        assert report.status is Status.PASS, report.failures

    def test_nothing_listening_fails_within_the_deadline(self, refused_port: int) -> None:
        """A refused connection: a failing redis check, a verdict well before the deadline."""
        settings = load_settings(redis_url=f"redis://127.0.0.1:{refused_port}/0")
        started = time.monotonic()
        report = asyncio.run(health_report(settings, deadline=started + BUDGET))
        assert report.status is Status.FAIL
        assert report.failures[0].reason == "refused"
        assert time.monotonic() - started < BUDGET

    def test_a_passed_deadline_still_gives_a_verdict(self, redis_server: RedisServer) -> None:
        """A deadline already behind: the probe still answers (a minimal budget), never hangs."""
        settings = load_settings(redis_url=redis_server.url())
        report = asyncio.run(health_report(settings, deadline=time.monotonic() - 1.0))
        assert report.checks[-2].key == "sentry:config"


class TestHealthDocument:
    def test_a_service_serves_it_under_its_own_name(self, redis_server: RedisServer) -> None:
        settings = load_settings(redis_url=redis_server.url())
        report = asyncio.run(health_report(settings, deadline=time.monotonic() + BUDGET))
        document = health_document(
            report, description="intake health", service_id="intake", release="1.4.2"
        )
        assert (document["serviceId"], document["releaseId"]) == ("intake", "1.4.2")
        assert document["status"] == "pass"
        assert document["description"] == "intake health"
        assert "output" not in document  # only when a check is not passing
        [ping] = document["checks"]["redis:ping"]
        assert ping["componentType"] == "datastore"
        assert ping["observedUnit"] == "ms" and ping["observedValue"] >= 0
        assert document["checks"]["sentry:config"][0]["componentType"] == "component"
        json.dumps(document)  # serialisable as it is

    def test_defaults_are_the_cli_s(self) -> None:
        settings = load_settings(redis_url="redis://127.0.0.1:1/0")
        document = health_document(deadline_report(settings), description="d")
        assert (document["serviceId"], document["releaseId"]) == ("cpa-ops", __version__)

    def test_problems_are_summed_up_in_output(self) -> None:
        settings = load_settings(redis_url="redis://:pw-xyz@127.0.0.1:1/0")
        document = health_document(deadline_report(settings), description="d")
        assert document["status"] == "fail"
        assert document["output"].startswith("redis:ping: ")
        assert "pw-xyz" not in json.dumps(document)


class TestDeadlineReport:
    def test_one_failing_deadline_check_naming_the_target(self) -> None:
        """The budget as given is the CLI's to add (core.starvation): what remained of it when
        a probe began said "within 0.14 s" for --timeout 1."""
        settings = load_settings(redis_url="redis://:pw-xyz@127.0.0.1:1/0")
        report = deadline_report(settings)
        [check] = report.checks
        assert (check.key, check.status, check.reason) == ("redis:ping", Status.FAIL, "deadline")
        assert check.output.endswith("no verdict by the deadline")
        assert settings.redis_target_masked in check.output
        assert "pw-xyz" not in check.output
        assert check.hint


class TestConfigChecks:
    def test_sentry_disabled_warns_only_in_production(self) -> None:
        assert sentry_config_check("production", None, 0.1).status is Status.WARN
        assert sentry_config_check("staging", None, 0.1).status is Status.PASS
        enabled = sentry_config_check("production", "sentry.example.com", 0.25)
        assert enabled.status is Status.PASS and "sentry.example.com" in enabled.output

    def test_logging_names_format_and_level(self) -> None:
        check = logging_config_check("staging", "json", "INFO")
        assert check.output == "json logs at INFO (ENVIRONMENT=staging)"
