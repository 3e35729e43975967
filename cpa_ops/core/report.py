"""The health report of cpa-ops and the platform's services: the Redis checks, Sentry's and
logging's configuration, and the health+json document (draft-inadarei-api-health-check).

A service serves the same document as ``cpa-ops health --format json``::

    report = await health_report(settings, deadline=time.monotonic() + 1.0)
    document = health_document(report, description="...", service_id="intake", release="1.4.2")
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from cpa_ops import __version__
from cpa_ops.core.health import Check, Report, Status, rfc3339

if TYPE_CHECKING:
    from cpa_ops.core.settings import Settings

#: the shortest time a probe is given: it then names the step it could not finish
_MIN_BUDGET = 0.01


async def health_report(
    settings: Settings, *, deadline: float, write: bool = False, warn_ms: float = 100.0
) -> Report:
    """Probe Redis as REDIS_MODE says (within ``deadline``, a time.monotonic() instant) and add
    the Sentry and logging configuration checks."""
    from cpa_ops.core.redis import diagnose

    deadline = max(deadline, time.monotonic() + _MIN_BUDGET)
    diagnosis = await diagnose(
        settings.redis_target,
        deadline=deadline,
        write=write,
        warn_ms=warn_ms,
        write_prefix=settings.redis_health_key_prefix,
    )
    return Report((*diagnosis.checks, *config_checks(settings)))


def deadline_report(settings: Settings) -> Report:
    """The verdict when no probe answered by the deadline: one failing ``deadline`` (the CLI
    adds the budget as given, cpa_ops.core.starvation)."""
    from cpa_ops.core.redis import REASONS

    reason = REASONS["deadline"]
    check = Check(
        "redis",
        "ping",
        Status.FAIL,
        f"{reason.explanation} ({settings.redis_target_masked}): no verdict by the deadline",
        reason="deadline",
        hint=reason.hint,
    )
    return Report((check,))


def config_checks(settings: Settings) -> tuple[Check, Check]:
    """``sentry:config`` and ``logging:config`` of these settings."""
    return (
        sentry_config_check(
            settings.environment, settings.sentry_host, settings.sentry_traces_sample_rate
        ),
        logging_config_check(settings.environment, settings.log_format, settings.log_level),
    )


def sentry_config_check(environment: str, dsn_host: str | None, sample_rate: float) -> Check:
    """Sentry's configuration: enabled (which host), or disabled, a warn in production."""
    if dsn_host is None:
        if environment == "production":
            return Check(
                "sentry",
                "config",
                Status.WARN,
                "Sentry is disabled (SENTRY_DSN unset): production errors are not reported",
                reason="disabled",
                hint="set SENTRY_DSN=https://<key>@<host>/<project-id>",
            )
        return Check("sentry", "config", Status.PASS, f"Sentry is disabled ({environment})")
    return Check(
        "sentry",
        "config",
        Status.PASS,
        f"Sentry enabled: host {dsn_host}, environment {environment}, "
        f"traces sample rate {sample_rate:g}",
    )


def logging_config_check(environment: str, log_format: str, log_level: str) -> Check:
    """Which log format and level ENVIRONMENT and LOG_LEVEL select."""
    return Check(
        "logging",
        "config",
        Status.PASS,
        f"{log_format} logs at {log_level} (ENVIRONMENT={environment})",
    )


def health_document(
    report: Report,
    *,
    description: str,
    service_id: str = "cpa-ops",
    release: str = __version__,
) -> dict[str, Any]:
    """The report as one health+json object: checks grouped by ``component:measurement``."""
    checks: dict[str, list[dict[str, Any]]] = {}
    for check in report.checks:
        checks.setdefault(check.key, []).append(_check_entry(check))
    document: dict[str, Any] = {
        "status": report.status.value,
        "releaseId": release,
        "serviceId": service_id,
        "description": description,
    }
    problems = [c for c in report.checks if c.status != "pass"]
    if problems:
        document["output"] = "; ".join(f"{c.key}: {c.output}" for c in problems)
    document["checks"] = checks
    return document


def _check_entry(check: Check) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "componentType": "datastore" if check.component == "redis" else "component",
        **({"componentId": check.component_id} if check.component_id else {}),
        "status": check.status.value,
        "time": rfc3339(check.time),
    }
    if check.observed_value is not None:
        entry["observedValue"] = check.observed_value
        if check.observed_unit:
            entry["observedUnit"] = check.observed_unit
    entry["output"] = check.output
    if check.reason:
        entry["reason"] = check.reason
    if check.hint:
        entry["hint"] = check.hint
    if check.details:
        entry["details"] = check.details
    return entry
