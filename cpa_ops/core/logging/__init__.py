"""The one logging configuration of the platform's services: structlog and stdlib ``logging``.

:func:`configure_logging` selects, from the settings, a readable console in development and one
JSON object per line (rendered with orjson) in staging and production, written to a stream the
caller chooses (the services use stdout), one write and one flush per line so a line is never
held back in a buffer. Records of stdlib ``logging`` (redis, urllib3, sentry_sdk, a service's
own) go through the same renderer via structlog's ``ProcessorFormatter`` on a root handler, so
a production stream is all JSON. Loggers come from :func:`get_logger` or
``structlog.get_logger``; both follow any later reconfiguration.

A JSON line holds, in this order::

    timestamp    RFC 3339, UTC, microseconds, "Z": "2026-11-28T12:00:00.123456Z"
    level        debug | info | warning | error | critical
    logger       the logger name
    message      the event (structlog's first argument; a stdlib record's message)
    task_id, client_id, agent   the correlation ids bound when the line was logged (each
                 omitted when unbound)
    service, environment, version
    ...          the ``extra_fields`` given to :func:`configure_logging` (each line the same)
    ...          the event's own keys: structlog's contextvars first, then bound context, then
                 the call's, in call order (a later one wins for a key seen twice), as the
                 processors left them; a key clashing with one above is renamed with a
                 trailing "_"
    error        when an exception is logged: {"kind": type, "message": str, "stack": text},
                 the error.kind / error.message / error.stack that log platforms group on;
                 a plain formatted traceback, never local variables

The console shows the same event, coloured only when :func:`cpa_ops.core.terminal.colour_wanted`
says so for the stream, with a plain traceback (no locals).

In staging and production the free-text policy (:mod:`cpa_ops.core.free_text`) runs first:
exception messages are withheld (``error.message`` and the message lines of ``error.stack``)
unless the type is allowed, ``%`` arguments of messages and field values that are neither
numbers, known-safe keys nor machine tokens become ``[withheld: free text]``; the message itself
(a literal of the code) stays. With Sentry initialised, lines from info up are also handed to
an observer (``state.observer``): Sentry's breadcrumbs and, from error up, its events.

Redaction (:mod:`cpa_ops.core.redact`) applies to every line: values under sensitive keys become
``[REDACTED:<kind>]`` and every string (message, values, nested values, exception messages and
stacks, the repr of odd objects) has its sensitive patterns replaced before serialisation.
Dataclasses, pydantic models and Mappings are rendered as dicts so their field names count as
keys. The correlation ids are opaque ids, not PII: ``client_id`` is not redacted as a key, but
a value bound there that *looks* like PII (an email, an SSN) is still masked.

Services extend it without touching the renderer: ``structlog.contextvars.bind_contextvars``
fields appear on every line (structlog and stdlib records alike), ``extra_fields`` are added to
every line, and ``processors`` (structlog's ``(logger, method_name, event_dict) -> event_dict``)
run in order on each event before rendering; ``structlog.DropEvent`` drops the line. What they
add is redacted like the rest. With no processor and no structlog contextvar ever bound, a line
costs what it did before the extension point.

A log call never raises: values orjson cannot serialise are rendered as their redacted
``repr``, non-str keys as text, ints past 64 bits as text, cycles and deep nesting as
placeholders; a line over 64 KiB has each string cut to :data:`MAX_STRING_CHARS`; if rendering
still fails, or a processor raises, a minimal line says so; a closed or broken stream is ignored.
"""

from __future__ import annotations

from cpa_ops.core.choices import LogFormat
from cpa_ops.core.logging.config import configure_logging, get_logger
from cpa_ops.core.logging.correlation import (
    agent_ctx,
    bind_correlation,
    client_id_ctx,
    correlation_ids,
    task_id_ctx,
)
from cpa_ops.core.logging.logger import CpaBoundLogger
from cpa_ops.core.logging.state import Processor
from cpa_ops.core.logging.values import MAX_STRING_CHARS

__all__ = [
    "MAX_STRING_CHARS",
    "CpaBoundLogger",
    "LogFormat",
    "Processor",
    "agent_ctx",
    "bind_correlation",
    "client_id_ctx",
    "configure_logging",
    "correlation_ids",
    "get_logger",
    "task_id_ctx",
]
