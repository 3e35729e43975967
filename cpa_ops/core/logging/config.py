"""configure_logging: the one configuration of structlog and stdlib logging; get_logger."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any

import structlog

from cpa_ops.core.choices import LogFormat, log_level_name
from cpa_ops.core.free_text import allow_exception_names
from cpa_ops.core.logging.console_lines import ConsoleLines
from cpa_ops.core.logging.json_lines import JsonLines
from cpa_ops.core.logging.logger import CpaBoundLogger, sink_for
from cpa_ops.core.logging.state import LEVELS, Lines, Processor, state
from cpa_ops.core.logging.stdlib import install_stdlib_handler
from cpa_ops.core.logging.values import SPECIAL_KEYS
from cpa_ops.core.terminal import colour_wanted

if TYPE_CHECKING:
    from cpa_ops.core.settings import Settings


def configure_logging(
    settings: Settings,
    *,
    stream: IO[str] | None = None,
    log_format: LogFormat | None = None,
    level: str | int | None = None,
    service: str = "cpa-ops",
    version: str | None = None,
    environ: Mapping[str, str] | None = None,
    processors: Iterable[Processor] = (),
    extra_fields: Mapping[str, Any] | None = None,
) -> None:
    """Configure structlog and stdlib ``logging`` for this process; callable again to change it.

    ``log_format`` defaults to ``settings.log_format`` (console in development, JSON lines
    otherwise), ``level`` to ``settings.log_level``, ``stream`` to stdout. Colour (console only)
    follows :func:`cpa_ops.core.terminal.colour_wanted` for ``stream`` and ``environ``.

    ``extra_fields`` (say ``{"region": "eu-1"}``) are added to every line after the service
    fields, rendered once. ``processors`` are structlog processors ``(logger, method_name,
    event_dict) -> event_dict`` run in order on every event (stdlib records too) before
    rendering; the event dict holds ``event`` (the message), structlog's contextvars, the bound
    context and the call's keys. A processor may add, change or drop keys, or raise
    ``structlog.DropEvent`` to drop the line; what it returns is redacted like any event. One
    that raises anything else gives a line saying so instead of the event.
    """
    from cpa_ops import __version__

    extra = dict(extra_fields or {})
    if bad := sorted(str(k) for k in extra if not isinstance(k, str) or k in SPECIAL_KEYS):
        raise ValueError(f"extra_fields cannot use these keys: {', '.join(bad)}")
    chain = tuple(processors)
    target = sys.stdout if stream is None else stream
    chosen_format = log_format or settings.log_format
    if isinstance(level, int):
        min_level = level
    else:
        # the spellings LOG_LEVEL accepts (any case, WARN, FATAL)
        name = log_level_name(str(level or settings.log_level)).lower()
        min_level = LEVELS.get(name, logging.INFO)
    withhold = settings.environment != "development"  # the free-text policy (free_text)
    allow_exception_names(settings.allowed_exception_messages)
    lines: Lines
    if chosen_format == "json":
        lines = JsonLines(
            {
                "service": service,
                "environment": settings.environment,
                "version": version or __version__,
            },
            extra,
            withhold,
        )
    else:
        lines = ConsoleLines(colour_wanted(target, environ), extra, withhold)

    state.lines, state.stream, state.min_level = lines, target, min_level
    state.processors, state.withhold = chain, withhold
    structlog.reset_defaults()
    structlog.configure(
        processors=[],
        wrapper_class=CpaBoundLogger,
        logger_factory=sink_for,
        cache_logger_on_first_use=True,
    )
    install_stdlib_handler(lines, chain, min_level)


def get_logger(name: str | None = None, **initial_values: Any) -> CpaBoundLogger:
    """A logger named ``name`` (shown as ``logger``), optionally with bound values.

    It follows every later :func:`configure_logging` (``structlog.get_logger`` works too, at
    the cost of structlog's lazy proxy on each call).
    """
    return CpaBoundLogger(sink_for(name), processors=[], context=dict(initial_values))
