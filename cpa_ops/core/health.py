"""Health verdicts as values: Status (pass/warn/fail), Check, Report; the worst status wins."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """The verdict of one check or of a whole report (health+json draft vocabulary)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


def worst(statuses: list[Status]) -> Status:
    """The worst of ``statuses``; PASS for none."""
    return max(statuses, key=lambda s: s.rank, default=Status.PASS)


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """``2026-11-28T12:00:00.123Z``: RFC 3339, UTC, millisecond precision."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Check:
    """One measured check, keyed ``component:measurement`` (e.g. ``redis:ping``)."""

    component: str
    measurement: str
    status: Status
    output: str
    reason: str | None = None
    hint: str | None = None
    observed_value: float | None = None
    observed_unit: str | None = None
    time: datetime = field(default_factory=utc_now)
    details: dict[str, Any] = field(default_factory=dict)
    #: which instance of the component, when there are several (a cluster node's host:port)
    component_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.component}:{self.measurement}"


@dataclass(frozen=True)
class Report:
    """All checks of one round; its status is the worst of theirs."""

    checks: tuple[Check, ...]

    @property
    def status(self) -> Status:
        return worst([c.status for c in self.checks])

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is Status.FAIL)
