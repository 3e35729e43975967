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
    ...          the event's own keys: bound context first, then the call's, in call order;
                 a key clashing with one above is renamed with a trailing "_"
    error        when an exception is logged: {"kind": type, "message": str, "stack": text},
                 the error.kind / error.message / error.stack that log platforms group on;
                 a plain formatted traceback, never local variables

The console shows the same event, coloured only when :func:`cpa_ops.core.terminal.colour_wanted`
says so for the stream, with a plain traceback (no locals).

Redaction (:mod:`cpa_ops.core.redact`) applies to every line: values under sensitive keys become
``[REDACTED:<kind>]`` and every string (message, values, nested values, exception messages and
stacks, the repr of odd objects) has its sensitive patterns replaced before serialisation.
Dataclasses, pydantic models and Mappings are rendered as dicts so their field names count as
keys. The correlation ids are opaque ids, not PII: ``client_id`` is not redacted as a key, but
a value bound there that *looks* like PII (an email, an SSN) is still masked.

A log call never raises: values orjson cannot serialise are rendered as their redacted
``repr``, non-str keys as text, ints past 64 bits as text, cycles and deep nesting as
placeholders; a line over 64 KiB has each string cut to :data:`MAX_STRING_CHARS`; if rendering
still fails, a minimal line says so; a closed or broken stream is ignored.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Final, Literal, ParamSpec, TypeVar, cast

import orjson
import structlog
from structlog import BoundLoggerBase

from cpa_ops.core.redact import (
    REDACTED_TEXT_CACHE,
    marker,
    redact,
    redact_text,
    sensitive_key_kind,
)
from cpa_ops.core.terminal import colour_wanted

if TYPE_CHECKING:
    from cpa_ops.core.settings import Settings

__all__ = [
    "MAX_STRING_CHARS",
    "CpaBoundLogger",
    "LogFormat",
    "agent_ctx",
    "bind_correlation",
    "client_id_ctx",
    "configure_logging",
    "correlation_ids",
    "get_logger",
    "task_id_ctx",
]

LogFormat = Literal["console", "json"]
# The correlation ids of the agent task a line belongs to (names from the platform's design).
task_id_ctx: ContextVar[str | None] = ContextVar("task_id", default=None)
client_id_ctx: ContextVar[str | None] = ContextVar("client_id", default=None)
agent_ctx: ContextVar[str | None] = ContextVar("agent", default=None)
_CORRELATION: Final = (("task_id", task_id_ctx), ("client_id", client_id_ctx), ("agent", agent_ctx))
_Tokens = tuple[tuple[ContextVar[str | None], Token[str | None]], ...]
# The bindings entered and not yet exited in this context: (id of the binder, its tokens).
_open_bindings: ContextVar[tuple[tuple[int, _Tokens], ...]] = ContextVar(
    "cpa_ops_open_bindings", default=()
)

# Longer strings are cut (after redaction), so one call cannot flood the log platform.
MAX_STRING_CHARS: Final = 16_384
_MAX_LINE_BYTES: Final = 65_536
_LEVELS: Final[dict[str, int]] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_HEAD_KEYS: Final = frozenset(
    {
        "timestamp",
        "level",
        "logger",
        "message",
        "task_id",
        "client_id",
        "agent",
        "service",
        "environment",
        "version",
        "error",
    }
)
_SPECIAL_KEYS: Final = frozenset({"exc_info", "exception", "stack_info"})
_ORJSON_OPTIONS: Final = (
    orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_APPEND_NEWLINE
)
_P = ParamSpec("_P")
_R = TypeVar("_R")


# ---------------------------------------------------------------------------------------------
# Correlation


class bind_correlation:
    """Bind correlation ids for a block: ``with``, ``async with``, or as a function decorator.

    Ids left as None keep their current value. Child asyncio tasks created inside the block
    inherit the ids (they copy the context); what a child binds never leaks back to its parent.
    As a decorator it binds afresh on every call, for ``def`` and ``async def`` alike.
    """

    def __init__(
        self, task_id: str | None = None, client_id: str | None = None, agent: str | None = None
    ) -> None:
        self._values = {"task_id": task_id, "client_id": client_id, "agent": agent}

    def __enter__(self) -> bind_correlation:
        tokens = []
        for name, var in _CORRELATION:
            value = self._values[name]
            if value is not None:
                tokens.append((var, var.set(value)))
        # tokens live in the context that made them, so one instance shared by many tasks works
        _open_bindings.set((*_open_bindings.get(), (id(self), tuple(tokens))))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = _open_bindings.get()
        for index in range(len(stack) - 1, -1, -1):
            owner, tokens = stack[index]
            if owner == id(self):
                _open_bindings.set(stack[:index] + stack[index + 1 :])
                for var, token in reversed(tokens):
                    var.reset(token)
                return

    async def __aenter__(self) -> bind_correlation:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: Callable[_P, _R]) -> Callable[_P, _R]:
        values = self._values
        if inspect.iscoroutinefunction(func):
            async_func = cast(Callable[_P, Awaitable[Any]], func)

            @functools.wraps(func)
            async def bound_async(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                with bind_correlation(**values):
                    return await async_func(*args, **kwargs)

            return cast(Callable[_P, _R], bound_async)

        @functools.wraps(func)
        def bound(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with bind_correlation(**values):
                return func(*args, **kwargs)

        return bound


def correlation_ids() -> dict[str, str]:
    """The correlation ids bound in the current context."""
    return {name: value for name, var in _CORRELATION if (value := var.get()) is not None}


# ---------------------------------------------------------------------------------------------
# Rendering helpers shared by both formats


class _Clock:
    """RFC 3339 UTC timestamps; the seconds part is formatted once per second."""

    def __init__(self) -> None:
        # one attribute, replaced whole, so threads never pair one second with another's text
        self._second_and_prefix = (-1, "")

    def now(self) -> str:
        now = time.time()
        second = int(now)
        cached_second, prefix = self._second_and_prefix
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second_and_prefix = (second, prefix)
        return f"{prefix}.{int((now - second) * 1_000_000):06d}Z"


def _exc_info_of(value: Any) -> tuple[type[BaseException], BaseException, Any] | None:
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return (type(value[1]), value[1], value[2])
    if value is True or (value and not isinstance(value, tuple)):
        current = sys.exception()
        if isinstance(current, BaseException):
            return type(current), current, current.__traceback__
    return None
    return None


def _error_fields(value: Any) -> dict[str, str] | None:
    """kind, message and stack of the exception ``value`` names; never its local variables."""
    info = _exc_info_of(value)
    if info is None:
        return None
    kind, exc, tb = info
    try:
        message = str(exc)
    except Exception:
        message = f"<unprintable {kind.__name__}>"
    try:
        stack = "".join(traceback.format_exception(kind, exc, tb))
    except Exception:
        stack = f"{kind.__name__}: <traceback could not be formatted>"
    qualified = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else (f"{kind.__module__}.{kind.__qualname__}")
    )
    return {"kind": qualified, "message": message, "stack": stack}


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<unrepresentable {type(value).__name__}>"
    return _shorten(redact_text(text))


def _shorten(text: str) -> str:
    if len(text) <= MAX_STRING_CHARS:
        return text
    return f"{text[:MAX_STRING_CHARS]}...[truncated {len(text) - MAX_STRING_CHARS} chars]"


def _orjson_default(value: Any) -> Any:
    """What orjson cannot serialise natively: sets as lists, bytes as text, objects with fields
    as (redacted) dicts, the rest as (redacted) repr."""
    return _object_value(value, 0)


def _object_value(value: Any, depth: int) -> Any:
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _shorten(redact_text(bytes(value).decode("utf-8", "backslashreplace")))
    if isinstance(value, str):
        return _shorten(redact_text(str(value)))
    fields = _fields_of(value)
    if fields is not None:  # field names matter: account_number=... must be redacted by key
        return _plain(redact(fields), depth + 1)
    return _safe_repr(value)


def _fields_of(value: Any) -> dict[str, Any] | None:
    """The fields of a dataclass, a pydantic model or a Mapping, else None."""
    try:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        if isinstance(value, Mapping):
            return dict(value)
        dump = getattr(type(value), "model_dump", None)
        if callable(dump):
            dumped = dump(value)
            return dumped if isinstance(dumped, dict) else None
    except Exception:
        return None
    return None


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` made of JSON-safe parts only: str keys, short strings, bounded ints."""
    if isinstance(value, str):
        return _shorten(redact_text(str(value)))
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return int(value) if -(2**63) <= value < 2**64 else str(value)
    if depth > 64:
        return "<too deep>"
    if isinstance(value, dict):
        return {_key_text(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1) for v in value]
    return _object_value(value, depth)


def _key_text(key: Any) -> str:
    return _shorten(redact_text(key)) if isinstance(key, str) else _safe_repr(key)


# ---------------------------------------------------------------------------------------------
# JSON lines


class _JsonLines:
    """Renders one event as one redacted JSON line (str, with its newline)."""

    def __init__(self, static: Mapping[str, str]) -> None:
        self._static = dict(static)
        self._clock = _Clock()
        # the last correlation ids seen and their rendering (static fields appended): ids
        # change once per task, lines come many per task
        self._last_ids: tuple[tuple[Any, Any, Any], dict[str, Any]] = ((None,) * 3, self._static)

    def line(
        self, level: str, logger_name: str, message: Any, *field_maps: Mapping[str, Any]
    ) -> str:
        # every string is redacted before serialisation; short ones are looked up in the cache
        cached = REDACTED_TEXT_CACHE.get
        text = redact_text
        record: dict[str, Any] = {
            "timestamp": self._clock.now(),
            "level": level,
            "logger": cached(logger_name) or text(logger_name),
            "message": (cached(message) or text(message))
            if type(message) is str
            else _message_text(message),
        }
        ids = (task_id_ctx.get(), client_id_ctx.get(), agent_ctx.get())
        last_ids, rendered = self._last_ids
        if ids != last_ids:
            rendered = self._render_ids(ids)
            self._last_ids = (ids, rendered)
        record.update(rendered)
        error = None
        plans = _FIELD_PLANS
        for fields in field_maps:
            for key, value in fields.items():
                plan = plans.get(key, _UNPLANNED)
                if plan is _UNPLANNED:
                    plan = _plan_field(key)
                if plan is None:  # the common case: an ordinary key
                    kind = type(value)
                    if kind is str:
                        record[key] = cached(value) or text(value)
                    elif (
                        kind is float
                        or kind is bool
                        or value is None
                        or (kind is int and -_SMALLEST_CARD < value < _SMALLEST_CARD)
                    ):
                        record[key] = value
                    else:
                        record[key] = redact(value)
                    continue
                if plan is _SPECIAL:
                    if key == "stack_info":
                        if value:
                            record["stack_info"] = "".join(traceback.format_stack()[:-3])
                    elif value:
                        error = _error_fields(value)
                    continue
                name, kind_marker = plan
                if kind_marker is not None and value is not None and type(value) is not bool:
                    record[name] = kind_marker
                else:
                    record[name] = redact(value)
        if error is not None:
            error = {name: _shorten(text(value)) for name, value in error.items()}
        if error is not None:
            record["error"] = error
        try:
            body = orjson.dumps(record, default=_orjson_default, option=_ORJSON_OPTIONS)
        except Exception:  # non-str keys orjson refuses, ints past 64 bits
            body = orjson.dumps(_plain(record), default=_orjson_default, option=_ORJSON_OPTIONS)
        if len(body) > _MAX_LINE_BYTES:
            body = orjson.dumps(_plain(record), default=_orjson_default, option=_ORJSON_OPTIONS)
        return body.decode()

    def _render_ids(self, ids: tuple[Any, Any, Any]) -> dict[str, Any]:
        rendered: dict[str, Any] = {}
        for (name, _), value in zip(_CORRELATION, ids, strict=True):
            if value is not None:
                rendered[name] = redact_text(value) if type(value) is str else redact(value)
        rendered.update(self._static)
        return rendered

    def fallback(self, level: str, logger_name: str, problem: BaseException) -> str:
        """The line written when rendering itself failed: still one valid JSON object."""
        record = {
            "timestamp": self._clock.now(),
            "level": level,
            "logger": logger_name,
            "message": f"log event could not be rendered ({type(problem).__name__})",
            **self._static,
        }
        return orjson.dumps(record).decode() + "\n"


# What to do with a field key, decided once per key: None (copy the value, the common case),
# _SPECIAL (exc_info, exception, stack_info), or (name to write, marker if sensitive).
_UNPLANNED: Final = object()
_SPECIAL: Final = object()
_FIELD_PLANS: dict[str, Any] = {}
_FIELD_PLANS_MAX: Final = 4096
# Ints from here on may be card numbers (13+ digits): they go through redact().
_SMALLEST_CARD: Final = 10**12


def _plan_field(key: str) -> Any:
    if key in _SPECIAL_KEYS:
        plan: Any = _SPECIAL
    else:
        name = f"{key}_" if key in _HEAD_KEYS else key
        kind = sensitive_key_kind(name)
        if type(name) is str:
            name = redact_text(name)
        plan = None if kind is None and name == key else (name, kind and marker(kind))
    if len(_FIELD_PLANS) >= _FIELD_PLANS_MAX:
        _FIELD_PLANS.clear()
    _FIELD_PLANS[key] = plan
    return plan


def _message_text(message: Any) -> str:
    if isinstance(message, str):
        return str(message)
    return _safe_repr(message)


# ---------------------------------------------------------------------------------------------
# Console


class _ConsoleLines:
    """Renders one event as readable (optionally coloured) console text, redacted."""

    def __init__(self, colour: bool) -> None:
        self._clock = _Clock()
        self._renderer = structlog.dev.ConsoleRenderer(
            colors=colour, exception_formatter=structlog.dev.plain_traceback
        )

    def line(
        self, level: str, logger_name: str, message: Any, *field_maps: Mapping[str, Any]
    ) -> str:
        event: dict[str, Any] = {
            "timestamp": self._clock.now(),
            "level": level,
            "logger": logger_name,
            "event": _shorten(redact_text(_message_text(message))),
            **correlation_ids(),
        }
        error = None
        for fields in field_maps:
            for key, value in fields.items():
                if key in _SPECIAL_KEYS:
                    if key == "stack_info" and value:
                        event["stack"] = "".join(traceback.format_stack()[:-3])
                    elif key != "stack_info" and value:
                        error = _error_fields(value)
                    continue
                if key in event or key in ("stack", "exception"):
                    key = f"{key}_"
                event[key] = value
        event = _plain(redact(event))
        if error is not None:
            event["exception"] = _shorten(redact_text(error["stack"].rstrip("\n")))
        return str(self._renderer(None, level, event)) + "\n"

    def fallback(self, level: str, logger_name: str, problem: BaseException) -> str:
        return (
            f"{self._clock.now()} [{level}] {logger_name}: log event could not be rendered "
            f"({type(problem).__name__})\n"
        )


_Lines = _JsonLines | _ConsoleLines


# ---------------------------------------------------------------------------------------------
# The sink structlog loggers write to, and the bound logger that never raises


class _State:
    """The current configuration; loggers read it on every call, so reconfiguring reaches
    loggers cached before (structlog's cache_logger_on_first_use)."""

    def __init__(self) -> None:
        self.lines: _Lines = _ConsoleLines(colour=False)
        self.stream: IO[str] = sys.stderr
        self.min_level = logging.INFO


_state = _State()


class _Sink:
    """What structlog calls "the logger": the name lines are written under."""

    def __init__(self, name: str) -> None:
        self.name = name


def _render_safely(level: str, name: str, message: Any, *field_maps: Mapping[str, Any]) -> str:
    lines = _state.lines
    try:
        return lines.line(level, name, message, *field_maps)
    except Exception as exc:
        try:
            return lines.fallback(level, name, exc)
        except Exception:
            return "log event could not be rendered\n"


def _write(stream: IO[str], text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except Exception:  # a closed or broken stream must not take the caller down
        pass


def _interpolate(event: Any, args: tuple[Any, ...]) -> Any:
    if not args:
        return event
    try:
        if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
            return event % args[0]
        return event % args
    except Exception:
        return f"{_message_text(event)} {_safe_repr(args)}"


def _level_method(level_no: int, level: str) -> Callable[..., None]:
    """The log method for one level: the whole fast path in one frame."""

    def log_at_level(self: CpaBoundLogger, event: Any = None, *args: Any, **kw: Any) -> None:
        state = _state
        if level_no < state.min_level:
            return None
        try:
            if args:
                event = _interpolate(event, args)
            text = state.lines.line(level, self._logger.name, event, self._context, kw)
        except Exception:
            text = _render_safely(level, self._logger.name, event, self._context, kw)
        try:
            stream = state.stream
            stream.write(text)
            stream.flush()
        except Exception:  # a closed or broken stream must not take the caller down
            pass
        return None

    log_at_level.__name__ = level
    return log_at_level


class CpaBoundLogger(BoundLoggerBase):
    """structlog's bound logger for cpa-ops: level-filtered, never raising, one renderer.

    ``log.info("event", key=value)``, ``log.bind(...)``, ``log.exception(...)`` and the async
    variants (``await log.ainfo(...)``) behave as with structlog's filtering bound logger.
    """

    _logger: _Sink

    debug = _level_method(logging.DEBUG, "debug")
    info = _level_method(logging.INFO, "info")
    warning = _level_method(logging.WARNING, "warning")
    error = _level_method(logging.ERROR, "error")
    critical = _level_method(logging.CRITICAL, "critical")

    def exception(self, event: Any = None, *args: Any, **kw: Any) -> None:
        kw.setdefault("exc_info", True)
        return self.error(event, *args, **kw)

    def log(self, level: int | str, event: Any = None, *args: Any, **kw: Any) -> None:
        level_no = level if isinstance(level, int) else _LEVELS.get(str(level).lower(), 20)
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
        return level >= _state.min_level


_BY_FLOOR: Final[tuple[tuple[int, Callable[..., None]], ...]] = (
    (logging.CRITICAL, CpaBoundLogger.critical),
    (logging.ERROR, CpaBoundLogger.error),
    (logging.WARNING, CpaBoundLogger.warning),
    (logging.INFO, CpaBoundLogger.info),
    (logging.DEBUG, CpaBoundLogger.debug),
)


# ---------------------------------------------------------------------------------------------
# stdlib logging


class _StdlibRenderer:
    """The last processor of the ProcessorFormatter: a stdlib record through our renderer."""

    def __init__(self, lines: _Lines) -> None:
        self._lines = lines

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> str:
        record: logging.LogRecord = event_dict.pop("_record")
        event_dict.pop("_from_structlog", None)
        message = event_dict.pop("event", "")
        level = record.levelname.lower()
        level = {"warn": "warning", "fatal": "critical", "notset": "debug"}.get(level, level)
        if level not in _LEVELS:
            level = "info"
        return self._lines.line(level, record.name, message, event_dict).rstrip("\n")


class _StdlibHandler(logging.Handler):
    """Writes stdlib records as our lines; a record that cannot be formatted still gets one."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + "\n"
        except Exception as exc:
            try:
                text = _state.lines.fallback(record.levelname.lower(), record.name, exc)
            except Exception:
                text = "log record could not be rendered\n"
        _write(_state.stream, text)


def _install_stdlib_handler(lines: _Lines, level: int) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StdlibHandler):
            root.removeHandler(handler)
    handler = _StdlibHandler(level)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[_StdlibRenderer(lines)],
            foreign_pre_chain=[structlog.stdlib.ExtraAdder()],
            keep_exc_info=False,
        )
    )
    root.addHandler(handler)
    root.setLevel(level)


# ---------------------------------------------------------------------------------------------


def configure_logging(
    settings: Settings,
    *,
    stream: IO[str] | None = None,
    log_format: LogFormat | None = None,
    level: str | int | None = None,
    service: str = "cpa-ops",
    version: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Configure structlog and stdlib ``logging`` for this process; callable again to change it.

    ``log_format`` defaults to ``settings.log_format`` (console in development, JSON lines
    otherwise), ``level`` to ``settings.log_level``, ``stream`` to stdout. Colour (console only)
    follows :func:`cpa_ops.core.terminal.colour_wanted` for ``stream`` and ``environ``.
    """
    from cpa_ops import __version__

    target = sys.stdout if stream is None else stream
    chosen_format = log_format or settings.log_format
    if isinstance(level, int):
        min_level = level
    else:
        min_level = _LEVELS.get(str(level or settings.log_level).lower(), logging.INFO)
    lines: _Lines
    if chosen_format == "json":
        lines = _JsonLines(
            {
                "service": service,
                "environment": settings.environment,
                "version": version or __version__,
            }
        )
    else:
        lines = _ConsoleLines(colour_wanted(target, environ))

    _state.lines, _state.stream, _state.min_level = lines, target, min_level
    structlog.reset_defaults()
    structlog.configure(
        processors=[],
        wrapper_class=CpaBoundLogger,
        logger_factory=_sink_for,
        cache_logger_on_first_use=True,
    )
    _install_stdlib_handler(lines, min_level)


def _sink_for(*args: Any) -> _Sink:
    return _Sink(str(args[0]) if args and args[0] is not None else "root")


def get_logger(name: str | None = None, **initial_values: Any) -> CpaBoundLogger:
    """A logger named ``name`` (shown as ``logger``), optionally with bound values.

    It follows every later :func:`configure_logging` (``structlog.get_logger`` works too, at
    the cost of structlog's lazy proxy on each call).
    """
    return CpaBoundLogger(_sink_for(name), processors=[], context=dict(initial_values))
