"""One event as readable console text (structlog's ConsoleRenderer), redacted, plain traceback,
terminal-safe: a logged value cannot move the cursor, retitle the window or forge a line."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any

import structlog

from cpa_ops.core.free_text import vetted
from cpa_ops.core.known_secrets import scrub_text
from cpa_ops.core.logging.clock import Clock
from cpa_ops.core.logging.correlation import correlation_ids
from cpa_ops.core.logging.values import SPECIAL_KEYS, error_fields, message_text, plain, shorten
from cpa_ops.core.redact import redact, redact_text
from cpa_ops.core.terminal import visible_controls


class ConsoleLines:
    """Renders one event as readable (optionally coloured) console text, redacted."""

    def __init__(
        self, colour: bool, extra: Mapping[str, Any] | None = None, withhold: bool = False
    ) -> None:
        self.withhold = withhold  # the free-text policy, as in JSON lines
        self._clock = Clock()
        self._extra = dict(extra or {})
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
            "event": shorten(redact_text(message_text(message))),
            **correlation_ids(),
        }
        error = None
        for fields in (self._extra, *field_maps):
            for key, value in fields.items():
                if key in SPECIAL_KEYS:
                    if key == "stack_info" and value:
                        event["stack"] = "".join(traceback.format_stack()[:-3])
                    elif key != "stack_info" and value:
                        error = error_fields(value, self.withhold)
                    continue
                if self.withhold and fields is not self._extra:
                    value = vetted(value, key)
                if key in event or key in ("stack", "exception"):
                    key = f"{key}_"
                event[key] = value
        event = _terminal_safe(plain(redact(event)))
        if error is not None:
            stack = shorten(redact_text(error["stack"].rstrip("\n")))
            event["exception"] = visible_controls(stack, keep_newlines=True)
        # known secrets by value, once over the final text (every spelling, repr-escaped too)
        return scrub_text(str(self._renderer(None, level, event))) + "\n"

    def fallback(
        self, level: str, logger_name: str, problem: BaseException, stage: str = "rendered"
    ) -> str:
        """The text written when processing or rendering failed."""
        return scrub_text(
            f"{self._clock.now()} [{level}] {logger_name}: log event could not be {stage} "
            f"({type(problem).__name__})\n"
        )


class _Shown(str):
    """A text value as the console shows it: its control characters made visible. ConsoleRenderer
    writes a value as it is, or, when it holds a space, a quote or ``=``, as its ``repr``: that
    is the original's ``repr``, which escapes every control character itself (not twice)."""

    def __new__(cls, original: str) -> _Shown:
        shown = super().__new__(cls, visible_controls(original))
        shown.original = original
        return shown

    original: str

    def __repr__(self) -> str:
        return repr(self.original)


def _terminal_safe(event: dict[str, Any]) -> dict[str, Any]:
    """Keys and text values made terminal-safe (a list or dict is written by ``repr``, which
    escapes them already). A stack keeps its line breaks; a message or a value does not: one
    event, one line."""
    return {
        visible_controls(key): (
            (visible_controls(value, keep_newlines=True) if key == "stack" else _Shown(value))
            if isinstance(value, str)
            else value
        )
        for key, value in event.items()
    }
