"""Sentry for a service: core's init_sentry with the release ``<service>@<version>``."""

from __future__ import annotations

from typing import Any

from cpa_ops.core.settings import Settings


def init_service_sentry(
    settings: Settings, *, service: str, version: str, **overrides: Any
) -> bool:
    from cpa_ops.core.sentry import init_sentry

    return init_sentry(settings, release=f"{service}@{version}", **overrides)
