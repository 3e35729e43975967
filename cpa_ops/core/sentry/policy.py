"""The policy hooks that run before the scrubbing: the web policy (:mod:`.web`) always, the
free-text policy (:mod:`.withhold`) in staging and production. Both fail closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cpa_ops.core.sentry.web import correlation_tags, safe_breadcrumb, web_event
from cpa_ops.core.sentry.withhold import withheld_breadcrumb, withheld_event

Event = dict[str, Any]
Hook = Callable[[Event, dict[str, Any]], Event | None]


def current_correlation() -> dict[str, str]:
    """The correlation ids bound where an event is captured: ``request_id`` (a structlog
    contextvar, bound by the middleware) and the task, client and agent ids."""
    from cpa_ops.core.logging.correlation import correlation_ids
    from cpa_ops.core.logging.pipeline import STRUCTLOG_VARS, structlog_context

    context = structlog_context() if STRUCTLOG_VARS else {}
    pairs = [*context.items(), *correlation_ids().items()]
    return correlation_tags(pairs)


def policy_hook(withhold: bool) -> Hook:
    """``before_send``/``before_send_transaction`` policy: None (dropped) if it fails."""

    def hook(event: Event, hint: dict[str, Any]) -> Event | None:
        try:
            event = web_event(event, current_correlation())
            return withheld_event(event, hint or {}) if withhold else event
        except Exception:
            return None

    return hook


def breadcrumb_policy_hook(withhold: bool) -> Hook:
    """``before_breadcrumb`` policy: None (dropped) for uvicorn's access lines or a failure."""

    def hook(crumb: Event, hint: dict[str, Any]) -> Event | None:
        try:
            kept = safe_breadcrumb(crumb)
            if kept is None:
                return None
            return withheld_breadcrumb(kept, hint) if withhold else kept
        except Exception:
            return None

    return hook
