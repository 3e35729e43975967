"""The free-text policy of staging and production: text no pattern can vet is withheld.

Exception messages, ``HTTPException.detail``, validation errors (their messages embed the input
values) and the arguments of log messages carry whatever the caller put in them: a client's
name reads like any other word. In staging and production they are replaced by
:data:`WITHHELD` in the JSON log lines and in Sentry; in development they stay (the pattern
redaction of :mod:`cpa_ops.core.redact` still runs everywhere, as the second layer).

* An exception's message is kept only when its type (or a base class) is allowed: the
  library's own (``cpa_ops.*``), the types a service registers with
  :func:`allow_exception_messages`, and the dotted names in ALLOWED_EXCEPTION_MESSAGES. Type,
  stack frames and grouping always stay; validation errors are never allowed.
* A log line's message (structlog's event, a stdlib record's format string) is a literal of the
  code and is kept; its ``%`` arguments and the values of its fields follow :func:`vetted`:
  numbers, booleans and None are kept, and strings are kept under a known-safe key
  (:data:`SAFE_KEYS`) or when they read as a machine token (:func:`is_token`), else withheld.
"""

from __future__ import annotations

import dataclasses
import re
import traceback
from collections.abc import Iterable, Mapping
from typing import Any, Final

#: what replaces free text that is not sent
WITHHELD: Final = "[withheld: free text]"

#: keys whose string values are kept as they are (still pattern-redacted): ids, routes, states
SAFE_KEYS: Final = frozenset(
    {
        "request_id",
        "task_id",
        "client_id",
        "agent",
        "route",
        "method",
        "status",
        "service",
        "environment",
        "version",
        "logger",
        "level",
        "code",
        "reason_code",
        "kind",
        "command",
        "verdict",
        "state",
        "mode",
    }
)

_TOKEN: Final = re.compile(r"[A-Za-z0-9_.:/{}<>+=#-]{1,64}")
# a capitalised word (Jane, O'Neil, Smith-Jones) reads as a name, not as a token
_NAME_LIKE: Final = re.compile(r"[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)*")
# messages built from their input, whatever the type's name is allowed as
_NEVER_ALLOWED: Final = frozenset(
    {
        "pydantic_core._pydantic_core.ValidationError",
        "pydantic.ValidationError",
        "pydantic_core.ValidationError",
        "fastapi.exceptions.RequestValidationError",
        "fastapi.exceptions.ResponseValidationError",
        "fastapi.exceptions.WebSocketRequestValidationError",
    }
)
_LIBRARY_PREFIX: Final = "cpa_ops."

_allowed_types: set[type[BaseException]] = set()
_allowed_names: set[str] = set()


def allow_exception_messages(*types: type[BaseException]) -> None:
    """Keep the messages of exceptions of ``types`` (and their subclasses) in staging and
    production, in the logs and in Sentry: for types whose messages never carry client data."""
    for kind in types:
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            raise TypeError(f"{kind!r} is not an exception type")
        _allowed_types.add(kind)


def allow_exception_names(names: Iterable[str]) -> None:
    """Keep the messages of the exception types named ``module.Class`` (``TimeoutError`` for a
    builtin): ALLOWED_EXCEPTION_MESSAGES, registered when settings are applied."""
    _allowed_names.update(names)


def type_name(kind: type) -> str:
    """``module.Qualname`` of a type; the bare name for a builtin."""
    module = getattr(kind, "__module__", "") or ""
    qualname = getattr(kind, "__qualname__", kind.__name__)
    return qualname if module == "builtins" else f"{module}.{qualname}"


def message_allowed(kind: type[BaseException]) -> bool:
    """Whether the message of an exception of type ``kind`` may be sent."""
    try:
        mro = kind.__mro__
    except AttributeError:
        return False
    if type_name(kind) in _NEVER_ALLOWED or any(type_name(k) in _NEVER_ALLOWED for k in mro):
        return False
    for base in mro:
        if base in (BaseException, Exception, object):
            continue
        name = type_name(base)
        if base in _allowed_types or name in _allowed_names or name.startswith(_LIBRARY_PREFIX):
            return True
    return False


def name_allowed(module: str | None, kind: str | None) -> bool:
    """:func:`message_allowed` for a type known only by name (a Sentry exception value): the
    exact type must be allowed (its bases are unknown)."""
    if not kind:
        return False
    name = kind if module in (None, "", "builtins") else f"{module}.{kind}"
    if name in _NEVER_ALLOWED:
        return False
    if name in _allowed_names or name.startswith(_LIBRARY_PREFIX):
        return True
    return any(type_name(t) == name for t in _allowed_types)


def is_token(text: str) -> bool:
    """A machine token (``GET``, ``eu-1``, ``/clients/{ref}``, ``form-1040``, ``42``): 1-64
    characters of ``[A-Za-z0-9_.:/{}<>+=#-]`` and not a capitalised word (that reads as a name)."""
    return bool(_TOKEN.fullmatch(text)) and not _NAME_LIKE.fullmatch(text)


_KEPT: dict[str, bool] = {}  # is_token of short strings seen: a log field repeats its values
_KEPT_MAX = 4096


def kept_text(key: str, text: str) -> bool:
    """Whether the string ``text`` under ``key`` is kept (a safe key, or a token); cached."""
    if key in SAFE_KEYS:
        return True
    kept = _KEPT.get(text)
    if kept is None:
        kept = is_token(text)
        if len(text) <= 64:
            if len(_KEPT) >= _KEPT_MAX:
                _KEPT.clear()
            _KEPT[text] = kept
    return kept


def vetted(value: Any, key: str | None = None) -> Any:
    """``value`` with its free text withheld: numbers, booleans, None and tokens stay; strings
    under a :data:`SAFE_KEYS` key stay; containers, dataclasses and pydantic models are vetted
    field by field (their keys stay: the key redaction still sees them); anything else (other
    strings, objects) becomes :data:`WITHHELD`. A cycle becomes ``"<cycle>"``."""
    return _vetted(value, key, ())


def _vetted(value: Any, key: str | None, path: tuple[int, ...]) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if (key in SAFE_KEYS or is_token(value)) else WITHHELD
    if id(value) in path:
        return "<cycle>"
    if len(path) > 32:
        return WITHHELD
    inner = (*path, id(value))
    fields = fields_of(value)
    if fields is not None:
        return {k: _vetted(v, k if isinstance(k, str) else None, inner) for k, v in fields.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_vetted(v, key, inner) for v in value]
    return WITHHELD


def fields_of(value: Any) -> dict[Any, Any] | None:
    """The fields of a dataclass, a pydantic model or a Mapping, else None (never raises)."""
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


def withheld_format(message: Any, args: Any) -> str:
    """A log message (``%``-format literal) with its arguments vetted: ``"for %s"`` with a name
    gives ``"for [withheld: free text]"``; numbers and tokens are kept."""
    text = message if isinstance(message, str) else str(message)
    if not args:
        return text
    if isinstance(args, Mapping):
        shown: Any = {k: _arg(v) for k, v in args.items()}
    else:
        shown = tuple(_arg(v) for v in (args if isinstance(args, tuple) else (args,)))
    try:
        return str(text % shown)
    except Exception:
        return f"{text} {WITHHELD}"


def _arg(value: Any) -> Any:
    kept = vetted(value)
    return kept if not isinstance(kept, list | dict) else WITHHELD


def shown_message(exc: BaseException, withhold: bool) -> str:
    """The message of ``exc`` as it may be shown: :data:`WITHHELD` under the policy unless its
    type is allowed."""
    if withhold and not message_allowed(type(exc)):
        return WITHHELD
    try:
        return str(exc)
    except Exception:
        return f"<unprintable {type(exc).__name__}>"


def withheld_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` (and its causes and contexts, as Python prints them) with each
    message withheld unless its type is allowed: types and frames stay."""
    te = traceback.TracebackException.from_exception(exc, capture_locals=False)
    _withhold_messages(te, set())
    return "".join(te.format())


def _withhold_messages(te: traceback.TracebackException, seen: set[int]) -> None:
    if id(te) in seen:
        return
    seen.add(id(te))
    kind = getattr(te, "exc_type", None)
    if kind is None or not message_allowed(kind):
        # the message TracebackException prints (its documented-in-source attribute)
        te._str = WITHHELD  # type: ignore[attr-defined]
        if getattr(te, "__notes__", None):
            te.__notes__ = [WITHHELD]
        if kind is not None and issubclass(kind, SyntaxError):
            te.msg, te.text = WITHHELD, None  # type: ignore[assignment]  # printed instead of _str, with the source line
    for nested in (te.__cause__, te.__context__, *(getattr(te, "exceptions", None) or ())):
        if nested is not None:
            _withhold_messages(nested, seen)
