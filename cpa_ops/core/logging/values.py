"""Any value made safe for a log line: JSON-safe parts only, redacted, bounded in size.

Shared by both line formats: strings are redacted then cut to :data:`MAX_STRING_CHARS`,
objects with fields (dataclasses, pydantic models, Mappings) become redacted dicts so their field
names count as keys, the rest becomes a redacted ``repr``; an exception becomes the error fields.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any, Final

from cpa_ops.core.free_text import fields_of, shown_message, withheld_traceback
from cpa_ops.core.redact import redact, redact_text

# Longer strings are cut (after redaction), so one call cannot flood the log platform.
MAX_STRING_CHARS: Final = 16_384
# Keys of an event that are instructions to the renderer, not fields.
SPECIAL_KEYS: Final = frozenset({"exc_info", "exception", "stack_info"})


def exc_info_of(value: Any) -> tuple[type[BaseException], BaseException, Any] | None:
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return (type(value[1]), value[1], value[2])
    if value is True or (value and not isinstance(value, tuple)):
        current = sys.exception()
        if isinstance(current, BaseException):
            return type(current), current, current.__traceback__
    return None


def error_fields(value: Any, withhold: bool = False) -> dict[str, str] | None:
    """kind, message and stack of the exception ``value`` names; never its local variables.

    ``withhold`` (staging, production): the free-text policy of :mod:`cpa_ops.core.free_text`,
    the message (in ``message`` and in the stack) withheld unless the type is allowed."""
    info = exc_info_of(value)
    if info is None:
        return None
    kind, exc, tb = info
    message = shown_message(exc, withhold)
    try:
        if withhold:
            stack = withheld_traceback(exc)
        else:
            stack = "".join(traceback.format_exception(kind, exc, tb))
    except Exception:
        stack = f"{kind.__name__}: <traceback could not be formatted>"
    qualified = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else (f"{kind.__module__}.{kind.__qualname__}")
    )
    return {"kind": qualified, "message": message, "stack": stack}


def safe_repr(value: Any) -> str:
    """The redacted, bounded ``repr`` of ``value``, even when its ``__repr__`` raises."""
    try:
        text = repr(value)
    except Exception:
        text = f"<unrepresentable {type(value).__name__}>"
    return shorten(redact_text(text))


def shorten(text: str) -> str:
    """``text`` cut to :data:`MAX_STRING_CHARS`, saying how much was cut."""
    if len(text) <= MAX_STRING_CHARS:
        return text
    return f"{text[:MAX_STRING_CHARS]}...[truncated {len(text) - MAX_STRING_CHARS} chars]"


def message_text(message: Any) -> str:
    """The event (structlog's first argument) as text."""
    if isinstance(message, str):
        return str(message)
    return safe_repr(message)


def orjson_default(value: Any) -> Any:
    """What orjson cannot serialise natively: sets as lists, bytes as text, objects with fields
    as (redacted) dicts, the rest as (redacted) repr."""
    return _object_value(value, 0)


def _object_value(value: Any, depth: int) -> Any:
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return shorten(redact_text(bytes(value).decode("utf-8", "backslashreplace")))
    if isinstance(value, str):
        return shorten(redact_text(str(value)))
    fields = fields_of(value)
    if fields is not None:  # field names matter: account_number=... must be redacted by key
        return plain(redact(fields), depth + 1)
    return safe_repr(value)


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` made of JSON-safe parts only: str keys, short strings, bounded ints."""
    if isinstance(value, str):
        return shorten(redact_text(encodable(str(value))))
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return int(value) if -(2**63) <= value < 2**64 else str(value)
    if depth > 64:
        return "<too deep>"
    if isinstance(value, dict):
        return {_key_text(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v, depth + 1) for v in value]
    return _object_value(value, depth)


def _key_text(key: Any) -> str:
    return shorten(redact_text(encodable(key))) if isinstance(key, str) else safe_repr(key)


def encodable(text: str) -> str:
    """``text`` with any lone surrogate (an undecodable byte of a file name, argv or the
    environment, which orjson refuses) written out as ``\\udcff``; other text as it is."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
