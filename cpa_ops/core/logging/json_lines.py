"""One event as one redacted JSON line (orjson), in the layout the package face documents."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from typing import Any, Final

import orjson

from cpa_ops.core.free_text import WITHHELD, kept_text, vetted
from cpa_ops.core.known_secrets import scrub_json_line
from cpa_ops.core.logging.clock import Clock
from cpa_ops.core.logging.correlation import CORRELATION
from cpa_ops.core.logging.values import (
    SPECIAL_KEYS,
    error_fields,
    message_text,
    orjson_default,
    plain,
    shorten,
)
from cpa_ops.core.redact import (
    REDACTED_TEXT_CACHE,
    marker,
    redact,
    redact_text,
    sensitive_key_kind,
)
from cpa_ops.core.terminal import json_controls_escaped

_MAX_LINE_BYTES: Final = 65_536
# The keys of the line's head; an event key named like one is written with a trailing "_".
HEAD_KEYS: Final = frozenset(
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
# The ids' getters, bound once: CPython 3.11 looks a method of an imported name up anew
# (a bound-method object) on every call, a few percent of a line.
_task_id, _client_id, _agent = (var.get for _, var in CORRELATION)
_ORJSON_OPTIONS: Final = (
    orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_APPEND_NEWLINE
)


class JsonLines:
    """Renders one event as one redacted JSON line (str, with its newline)."""

    def __init__(
        self,
        static: Mapping[str, str],
        extra: Mapping[str, Any] | None = None,
        withhold: bool = False,
    ) -> None:
        self._static = dict(static)
        #: the free-text policy (staging, production): field values vetted, messages withheld
        self.withhold = withhold
        # the static fields and then the extra ones, rendered once
        self._fixed = {**self._static, **_rendered_fields(extra or {})}
        self._clock = Clock()
        # the last correlation ids seen and their rendering (fixed fields appended): ids
        # change once per task, lines come many per task
        self._last_ids: tuple[tuple[Any, Any, Any], dict[str, Any]] = ((None,) * 3, self._fixed)

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
            else message_text(message),
        }
        ids = (_task_id(), _client_id(), _agent())
        last_ids, rendered = self._last_ids
        if ids != last_ids:
            rendered = self._render_ids(ids)
            self._last_ids = (ids, rendered)
        record.update(rendered)
        error = None
        plans = _FIELD_PLANS
        withhold = self.withhold
        for fields in field_maps:
            for key, value in fields.items():
                plan = plans.get(key, _UNPLANNED)
                if plan is _UNPLANNED:
                    plan = _plan_field(key)
                if plan is None:  # the common case: an ordinary key
                    kind = type(value)
                    if kind is str:
                        if withhold and not kept_text(key, value):
                            record[key] = WITHHELD
                        else:
                            record[key] = cached(value) or text(value)
                    elif (
                        kind is float
                        or kind is bool
                        or value is None
                        or (kind is int and -_SMALLEST_CARD < value < _SMALLEST_CARD)
                    ):
                        record[key] = value
                    else:
                        record[key] = redact(vetted(value, key) if withhold else value)
                    continue
                if plan is _SPECIAL:
                    if key == "stack_info":
                        if value:
                            record["stack_info"] = "".join(traceback.format_stack()[:-3])
                    elif value:
                        error = error_fields(value, self.withhold)
                    continue
                if withhold:
                    value = vetted(value, key)
                record[plan[0]] = _planned_value(plan, value)
        if error is not None:
            error = {name: shorten(text(value)) for name, value in error.items()}
        if error is not None:
            record["error"] = error
        try:
            body = orjson.dumps(record, default=orjson_default, option=_ORJSON_OPTIONS)
        except Exception:  # non-str keys orjson refuses, ints past 64 bits
            body = orjson.dumps(plain(record), default=orjson_default, option=_ORJSON_OPTIONS)
        if len(body) > _MAX_LINE_BYTES:
            body = orjson.dumps(plain(record), default=orjson_default, option=_ORJSON_OPTIONS)
        # known secrets by value, once over the final line (every spelling, JSON-escaped too)
        # C1 and bidi controls that orjson leaves raw, written out (a log viewer acts on them)
        return scrub_json_line(json_controls_escaped(body.decode()))

    def _render_ids(self, ids: tuple[Any, Any, Any]) -> dict[str, Any]:
        rendered: dict[str, Any] = {}
        for (name, _), value in zip(CORRELATION, ids, strict=True):
            if value is not None:
                rendered[name] = redact_text(value) if type(value) is str else redact(value)
        rendered.update(self._fixed)
        return rendered

    def fallback(
        self, level: str, logger_name: str, problem: BaseException, stage: str = "rendered"
    ) -> str:
        """The line written when processing or rendering failed: still one valid JSON object."""
        record = {
            "timestamp": self._clock.now(),
            "level": level,
            "logger": logger_name,
            "message": f"log event could not be {stage} ({type(problem).__name__})",
            **self._static,
        }
        return scrub_json_line(orjson.dumps(record).decode() + "\n")


# What to do with a field key, decided once per key: None (copy the value, the common case),
# _SPECIAL (exc_info, exception, stack_info), or (name to write, marker if sensitive).
_UNPLANNED: Final = object()
_SPECIAL: Final = object()
_FIELD_PLANS: dict[str, Any] = {}
_FIELD_PLANS_MAX: Final = 4096
# Ints from here on may be card numbers (13+ digits): they go through redact().
_SMALLEST_CARD: Final = 10**12


def _plan_field(key: str) -> Any:
    if key in SPECIAL_KEYS:
        plan: Any = _SPECIAL
    else:
        name = f"{key}_" if key in HEAD_KEYS else key
        kind = sensitive_key_kind(name)
        if type(name) is str:
            name = redact_text(name)
        plan = None if kind is None and name == key else (name, kind and marker(kind))
    if len(_FIELD_PLANS) >= _FIELD_PLANS_MAX:
        _FIELD_PLANS.clear()
    _FIELD_PLANS[key] = plan
    return plan


def _planned_value(plan: tuple[str, str | None], value: Any) -> Any:
    """The value written for a renamed or sensitive key: its marker, or the redacted value."""
    kind_marker = plan[1]
    if kind_marker is not None and value is not None and type(value) is not bool:
        return kind_marker
    return redact(value)


def _rendered_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Fields rendered by the rules of :meth:`JsonLines.line`, for fields fixed at start."""
    rendered: dict[str, Any] = {}
    for key, value in fields.items():
        plan = _plan_field(key)
        if plan is None:
            rendered[key] = redact(value)
        elif plan is not _SPECIAL:
            rendered[plan[0]] = _planned_value(plan, value)
    return plain(rendered)  # type: ignore[no-any-return]
