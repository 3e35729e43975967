"""The stdlib ``logging`` bridge: records of redis, urllib3, sentry_sdk, ... as our lines."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import IO, Any

import structlog

from cpa_ops.core.free_text import withheld_format
from cpa_ops.core.logging.pipeline import STRUCTLOG_VARS, Sink, extended_line, structlog_context
from cpa_ops.core.logging.state import LEVELS, Lines, Processor, state

_LEVEL_ALIASES = {"warn": "warning", "fatal": "critical", "notset": "debug"}


class StdlibRenderer:
    """The last processor of the ProcessorFormatter: a stdlib record through our renderer.

    Returns "" for a record a processor dropped.
    """

    def __init__(self, lines: Lines, processors: tuple[Processor, ...]) -> None:
        self._lines = lines
        self._processors = processors

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> str:
        record: logging.LogRecord = event_dict.pop("_record")
        event_dict.pop("_from_structlog", None)
        message = event_dict.pop("event", "")
        level = record.levelname.lower()
        level = _LEVEL_ALIASES.get(level, level)
        if level not in LEVELS:
            level = "info"
        if self._processors:
            sink = Sink(record.name)
            text = extended_line(self._lines, self._processors, sink, level, message, event_dict)
            return "" if text is None else text.rstrip("\n")
        if STRUCTLOG_VARS and (context := structlog_context()):
            return self._lines.line(level, record.name, message, context, event_dict).rstrip("\n")
        return self._lines.line(level, record.name, message, event_dict).rstrip("\n")


class StdlibHandler(logging.Handler):
    """Writes stdlib records as our lines; a record that cannot be formatted still gets one."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if state.withhold and record.args:  # the free-text policy: the literal, args vetted
                record = logging.makeLogRecord(record.__dict__)
                record.msg, record.args = withheld_format(record.msg, record.args), ()
            text = self.format(record)
            if not text:  # dropped by a processor
                return
            text += "\n"
        except Exception as exc:
            try:
                text = state.lines.fallback(record.levelname.lower(), record.name, exc)
            except Exception:
                text = "log record could not be rendered\n"
        _write(state.stream, text)


def _write(stream: IO[str], text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except Exception:  # a closed or broken stream must not take the caller down
        pass


def install_stdlib_handler(lines: Lines, processors: tuple[Processor, ...], level: int) -> None:
    """Route the root logger's records, from ``level`` up, through our renderer."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, StdlibHandler):
            root.removeHandler(handler)
    handler = StdlibHandler(level)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[StdlibRenderer(lines, processors)],
            foreign_pre_chain=[structlog.stdlib.ExtraAdder()],
            keep_exc_info=False,
        )
    )
    root.addHandler(handler)
    root.setLevel(level)
