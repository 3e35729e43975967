"""The free-text policy (:mod:`cpa_ops.core.free_text`) applied to Sentry events and
breadcrumbs in staging and production.

Exception values are withheld unless their type is allowed (types and stack frames stay, so
grouping by type and frames is unchanged); a log event keeps its message literal and has its
arguments vetted; ``extra``, tags and breadcrumb data are vetted; frame variables are removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from cpa_ops.core.free_text import (
    WITHHELD,
    message_allowed,
    name_allowed,
    type_name,
    vetted,
    withheld_format,
)

Event = dict[str, Any]
_SDK_CONTEXTS = frozenset(
    {
        "trace",
        "runtime",
        "os",
        "device",
        "app",
        "browser",
        "gpu",
        "response",
        "cloud_resource",
        "culture",
        "otel",
        "profile",
        "replay",
        "flags",
        "state",
        "asgi",
        "celery",
        "redis",
    }
)


def withheld_event(event: Event, hint: dict[str, Any]) -> Event:
    """``event`` with its free text withheld (see the module)."""
    allowed = {type_name(type(e)) for e in _chain(hint) if message_allowed(type(e))}
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else None
    for value in values if isinstance(values, list) else ():
        if not isinstance(value, dict):
            continue
        module, kind = value.get("module"), value.get("type")
        name = f"{module}.{kind}" if module not in (None, "", "builtins") else kind
        if value.get("value") is not None and not (name in allowed or name_allowed(module, kind)):
            value["value"] = WITHHELD
        _drop_vars(value.get("stacktrace"))
    threads = event.get("threads")
    for thread in threads.get("values", ()) if isinstance(threads, dict) else ():
        if isinstance(thread, dict):
            _drop_vars(thread.get("stacktrace"))
    record = hint.get("log_record")
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        event["logentry"] = _withheld_logentry(logentry, record)
    for name in ("extra", "tags", "user"):
        if isinstance(event.get(name), dict):
            event[name] = vetted(event[name])
    contexts = event.get("contexts")
    if isinstance(contexts, dict):  # the SDK's own contexts describe software, not clients
        for name, context in contexts.items():
            if name not in _SDK_CONTEXTS:
                contexts[name] = vetted(context)
    crumbs = event.get("breadcrumbs")
    crumb_values = crumbs.get("values") if isinstance(crumbs, dict) else None
    if isinstance(crumbs, dict) and isinstance(crumb_values, list):
        crumbs["values"] = [withheld_breadcrumb(c, {}) for c in crumb_values if isinstance(c, dict)]
    return event


def withheld_breadcrumb(crumb: Event, hint: dict[str, Any] | None) -> Event:
    """A breadcrumb with its free text withheld: a log record's message is its format literal
    with the arguments vetted; other messages and all data are vetted."""
    record = (hint or {}).get("log_record")
    message = crumb.get("message")
    if isinstance(record, logging.LogRecord):
        crumb["message"] = withheld_format(record.msg, record.args)
    elif isinstance(message, str) and crumb.get("type") not in ("log", "redis"):
        crumb["message"] = vetted(message)
    if isinstance(crumb.get("data"), dict):
        crumb["data"] = vetted(crumb["data"])
    return crumb


def _withheld_logentry(logentry: Event, record: Any) -> Event:
    if isinstance(record, logging.LogRecord):
        message, params = record.msg, record.args
    else:
        message, params = logentry.get("message"), logentry.get("params")
    literal = message if isinstance(message, str) else WITHHELD
    result: Event = {"message": literal}
    if params:
        result["formatted"] = withheld_format(literal, params)
        result["params"] = vetted(params if isinstance(params, dict) else list(params))
    else:
        result["formatted"] = literal
    return result


def _drop_vars(stacktrace: Any) -> None:
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    for frame in frames if isinstance(frames, list) else ():
        if isinstance(frame, dict):
            frame.pop("vars", None)


def _chain(hint: dict[str, Any]) -> Iterator[BaseException]:
    """The exception of the hint, its causes, contexts and group members."""
    info = hint.get("exc_info")
    first = info[1] if isinstance(info, tuple) and len(info) == 3 else None
    stack = [first] if isinstance(first, BaseException) else []
    seen: set[int] = set()
    while stack:
        exc = stack.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        for nested in (exc.__cause__, exc.__context__, *getattr(exc, "exceptions", ())):
            if isinstance(nested, BaseException):
                stack.append(nested)
