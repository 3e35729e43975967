"""The current logging configuration, read by every log call, and the level names."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, MutableMapping
from typing import IO, Any, Final

from cpa_ops.core.logging.console_lines import ConsoleLines
from cpa_ops.core.logging.json_lines import JsonLines

Lines = JsonLines | ConsoleLines
# A structlog processor: (logger, method name, event dict) -> event dict.
Processor = Callable[[Any, str, MutableMapping[str, Any]], MutableMapping[str, Any]]
# An observer of lines: (level, logger name, message, fields) -> None; must not raise.
LineObserver = Callable[[str, str, Any, dict[str, Any]], None]
LEVELS: Final[dict[str, int]] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


class State:
    """The current configuration; loggers read it on every call, so reconfiguring reaches
    loggers cached before (structlog's cache_logger_on_first_use)."""

    def __init__(self) -> None:
        self.lines: Lines = ConsoleLines(colour=False)
        self.stream: IO[str] = sys.stderr
        self.min_level = logging.INFO
        self.processors: tuple[Processor, ...] = ()
        #: the free-text policy (staging, production): ``%`` arguments of messages vetted
        self.withhold = False
        #: told of every line at info and above (Sentry's breadcrumbs and events), or None
        self.observer: LineObserver | None = None


state = State()
