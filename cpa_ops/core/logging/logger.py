"""The bound logger the services use: level-filtered, never raising, one renderer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from structlog import BoundLoggerBase

from cpa_ops.core.free_text import withheld_format
from cpa_ops.core.logging.pipeline import STRUCTLOG_VARS, Sink, extended_line, structlog_context
from cpa_ops.core.logging.state import LEVELS, state
from cpa_ops.core.logging.values import message_text, safe_repr


def _render_safely(
    problem: Exception, level: str, sink: Sink, message: Any, *field_maps: Mapping[str, Any]
) -> str:
    """A second try after a failure; with processors, the fallback line (never the event as it
    was before them: a processor may be there to remove something)."""
    lines = state.lines
    try:
        if state.processors:
            return lines.fallback(level, sink.name, problem)
        return lines.line(level, sink.name, message, *field_maps)
    except Exception as exc:
        try:
            return lines.fallback(level, sink.name, exc)
        except Exception:
            return "log event could not be rendered\n"


def _interpolate(event: Any, args: tuple[Any, ...]) -> Any:
    if not args:
        return event
    if state.withhold:  # the free-text policy: the literal stays, its arguments are vetted
        if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            return withheld_format(event, args[0])
        return withheld_format(event, args)
    try:
        if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            return event % args[0]
        return event % args
    except Exception:
        return f"{message_text(event)} {safe_repr(args)}"


def _observe(observer: Any, level: str, logger: CpaBoundLogger, event: Any, kw: Any) -> None:
    """Tell the observer (Sentry) of a line: the bound context and the call's keys."""
    try:
        fields = {**logger._context, **kw} if logger._context else dict(kw)
        observer(level, logger._logger.name, event, fields)
    except Exception:  # the observer must not take the caller down
        pass


def _level_method(level_no: int, level: str) -> Callable[..., None]:
    """The log method for one level: the whole fast path in one frame."""

    def log_at_level(self: CpaBoundLogger, event: Any = None, *args: Any, **kw: Any) -> None:
        current = state
        if level_no < current.min_level:
            return None
        try:
            if args:
                event = _interpolate(event, args)
            if current.processors:
                text = extended_line(
                    current.lines, current.processors, self._logger, level, event, self._context, kw
                )
                if text is None:  # a processor dropped it
                    return None
            elif STRUCTLOG_VARS and (context := structlog_context()):
                text = current.lines.line(
                    level, self._logger.name, event, context, self._context, kw
                )
            else:
                text = current.lines.line(level, self._logger.name, event, self._context, kw)
        except Exception as exc:
            text = _render_safely(exc, level, self._logger, event, self._context, kw)
        try:
            stream = current.stream
            stream.write(text)
            stream.flush()
        except Exception:  # a closed or broken stream must not take the caller down
            pass
        if current.observer is not None and level_no >= logging.INFO:
            _observe(current.observer, level, self, event, kw)
        return None

    log_at_level.__name__ = level
    return log_at_level


class CpaBoundLogger(BoundLoggerBase):
    """structlog's bound logger for cpa-ops: level-filtered, never raising, one renderer.

    ``log.info("event", key=value)``, ``log.bind(...)``, ``log.exception(...)`` and the async
    variants (``await log.ainfo(...)``) behave as with structlog's filtering bound logger.
    """

    _logger: Sink

    debug = _level_method(logging.DEBUG, "debug")
    info = _level_method(logging.INFO, "info")
    warning = _level_method(logging.WARNING, "warning")
    error = _level_method(logging.ERROR, "error")
    critical = _level_method(logging.CRITICAL, "critical")

    def exception(self, event: Any = None, *args: Any, **kw: Any) -> None:
        kw.setdefault("exc_info", True)
        return self.error(event, *args, **kw)

    def log(self, level: int | str, event: Any = None, *args: Any, **kw: Any) -> None:
        level_no = level if isinstance(level, int) else LEVELS.get(str(level).lower(), 20)
        # a custom level is written as the nearest named level below it
        for floor, method in _BY_FLOOR:
            if level_no >= floor:
                return method(self, event, *args, **kw)
        return None

    warn = warning
    fatal = critical
    msg = info

    async def adebug(self, event: Any = None, *args: Any, **kw: Any) -> None:
        return self.debug(event, *args, **kw)

    async def ainfo(self, event: Any = None, *args: Any, **kw: Any) -> None:
        return self.info(event, *args, **kw)

    async def awarning(self, event: Any = None, *args: Any, **kw: Any) -> None:
        return self.warning(event, *args, **kw)

    async def aerror(self, event: Any = None, *args: Any, **kw: Any) -> None:
        return self.error(event, *args, **kw)

    async def acritical(self, event: Any = None, *args: Any, **kw: Any) -> None:
        return self.critical(event, *args, **kw)

    async def aexception(self, event: Any = None, *args: Any, **kw: Any) -> None:
        return self.exception(event, *args, **kw)

    async def alog(self, level: int | str, event: Any = None, *args: Any, **kw: Any) -> None:
        return self.log(level, event, *args, **kw)

    def is_enabled_for(self, level: int) -> bool:
        """Whether a line at ``level`` would be written."""
        return level >= state.min_level


_BY_FLOOR: Final[tuple[tuple[int, Callable[..., None]], ...]] = (
    (logging.CRITICAL, CpaBoundLogger.critical),
    (logging.ERROR, CpaBoundLogger.error),
    (logging.WARNING, CpaBoundLogger.warning),
    (logging.INFO, CpaBoundLogger.info),
    (logging.DEBUG, CpaBoundLogger.debug),
)


def sink_for(*args: Any) -> Sink:
    """structlog's logger factory: the sink for a logger name (``root`` when none)."""
    return Sink(str(args[0]) if args and args[0] is not None else "root")
