"""The extension point: structlog's contextvars and a service's processors, before rendering.

Lines go this way only when a processor is configured or a structlog contextvar was ever bound
(``structlog.contextvars.bind_contextvars``); otherwise the renderer is called directly.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any, Final

import structlog

from cpa_ops.core.logging.state import Lines, Processor

# structlog keeps one ContextVar per key ever bound here (private, read-only to us): while it
# is empty no line can carry a structlog contextvar, one truth test on the hot path. Should a
# later structlog drop it, a non-empty stand-in sends every line through get_contextvars().
_FOUND: Final[dict[str, ContextVar[Any]] | None] = getattr(
    structlog.contextvars, "_CONTEXT_VARS", None
)
STRUCTLOG_VARS: Final[Mapping[str, ContextVar[Any]]] = (
    _FOUND if isinstance(_FOUND, dict) else {"?": ContextVar("cpa_ops_unknown_structlog")}
)
_PREFIX_LEN: Final = len(structlog.contextvars.STRUCTLOG_KEY_PREFIX)


class Sink:
    """What structlog calls "the logger" (and processors receive): the name lines go under."""

    def __init__(self, name: str) -> None:
        self.name = name


def structlog_context() -> dict[str, Any]:
    """The structlog contextvars bound in this context, as ``get_contextvars()`` returns them."""
    if STRUCTLOG_VARS is not _FOUND:
        return structlog.contextvars.get_contextvars()
    context: dict[str, Any] = {}
    try:
        for name, var in STRUCTLOG_VARS.items():
            value = var.get()
            if value is not Ellipsis:  # structlog's "unbound"
                context[name[_PREFIX_LEN:]] = value
    except RuntimeError:  # another thread bound a new key meanwhile: structlog's own reading
        return structlog.contextvars.get_contextvars()
    return context


def extended_line(
    lines: Lines,
    processors: tuple[Processor, ...],
    sink: Sink,
    level: str,
    message: Any,
    *field_maps: Mapping[str, Any],
) -> str | None:
    """The line of an event with structlog's contextvars merged and ``processors`` run over it,
    or None when a processor dropped it (``structlog.DropEvent``).

    The contextvars come first, so the bound context and the call's keys win over them. A
    processor that raises or returns no dict gives the fallback line, never the unprocessed
    event (a processor may be there to remove something). Only the fallback may raise.
    """
    try:
        context = structlog_context()
        if not processors:
            return lines.line(level, sink.name, message, context, *field_maps)
        event: MutableMapping[str, Any] = context
        for fields in field_maps:
            event.update(fields)
        event["event"] = message
        for processor in processors:
            try:
                event = processor(sink, level, event)
                if not isinstance(event, MutableMapping):
                    raise TypeError(f"a processor returned {type(event).__name__}, not a dict")
            except structlog.DropEvent:
                return None
            except Exception as exc:
                return lines.fallback(level, sink.name, exc, f"processed by {_name_of(processor)}")
        message = event.pop("event", None)
        return lines.line(level, sink.name, message, event)
    except Exception as exc:
        return lines.fallback(level, sink.name, exc)


def _name_of(processor: Processor) -> str:
    name = getattr(processor, "__qualname__", None) or type(processor).__qualname__
    return str(name)
