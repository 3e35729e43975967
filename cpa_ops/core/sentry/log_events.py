"""The library logger's lines in Sentry: error and critical lines become events (with the
exception and its stack when one is logged), info and warning lines breadcrumbs.

:func:`install` makes :func:`observe` the observer of :mod:`cpa_ops.core.logging` (structlog lines
do not pass through stdlib ``logging``, where the SDK's LoggingIntegration sees records). What is
sent passes the same hooks as every event: the web and free-text policies, then the scrubbing.
"""

from __future__ import annotations

from typing import Any

from cpa_ops.core.logging.values import SPECIAL_KEYS, exc_info_of, message_text

_EVENT_LEVELS = {"error": "error", "critical": "fatal"}


def install() -> None:
    """Tell Sentry of every line of the library logger from info up."""
    from cpa_ops.core.logging.state import state

    state.observer = observe


def uninstall() -> None:
    from cpa_ops.core.logging.state import state

    if state.observer is observe:
        state.observer = None


def observe(level: str, logger_name: str, message: Any, fields: dict[str, Any]) -> None:
    """One line: an event at error and above, else a breadcrumb. Never raises."""
    import sentry_sdk

    client = sentry_sdk.get_client()
    if not client.is_active():
        return
    text = message if isinstance(message, str) else message_text(message)
    data = {k: v for k, v in fields.items() if k not in SPECIAL_KEYS}
    event_level = _EVENT_LEVELS.get(level)
    if event_level is None:
        sentry_sdk.add_breadcrumb(
            type="log", category=logger_name, level=level, message=text, data=data
        )
        return
    info = None
    for key in ("exc_info", "exception"):
        if fields.get(key):
            info = exc_info_of(fields[key])
            break
    if info is not None:
        from sentry_sdk.utils import event_from_exception

        event, hint = event_from_exception(
            info, client_options=client.options, mechanism={"type": "logging", "handled": True}
        )
    else:
        event, hint = {}, {}
    event.update(
        {
            "level": event_level,  # type: ignore[typeddict-item]
            "logger": logger_name,
            "logentry": {"message": text, "formatted": text, "params": []},
            "extra": data,
        }
    )
    sentry_sdk.capture_event(event, hint=hint)
