"""The one decision on whether a stream gets colour (ANSI codes); used by logging and the CLI."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import IO, Any

_FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


def colour_wanted(stream: IO[Any] | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to write ANSI colour to ``stream``.

    NO_COLOR (non-empty) always wins; then FORCE_COLOR (non-empty, not 0/false) forces it on;
    then TERM=dumb turns it off; otherwise colour only when ``stream`` is a TTY.
    """
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", ""):
        return False
    if env.get("FORCE_COLOR", "").strip().lower() not in _FALSE_WORDS:
        return True
    if env.get("TERM", "") == "dumb":
        return False
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def live_view_wanted(stream: IO[Any] | None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``stream`` can show a live view (a spinner, a table redrawn in place): a TTY whose
    TERM is not dumb. Colour is decided apart: under NO_COLOR a live view stays, uncoloured."""
    env = os.environ if environ is None else environ
    if env.get("TERM", "") == "dumb":
        return False
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


# C0 controls, DEL and C1 controls (ESC, CSI, OSC, BEL, ...), line and paragraph separators, the
# bidirectional controls that can reorder what a person reads (Trojan Source), and lone
# surrogates (an undecodable byte of argv or the environment: written raw, it is not UTF-8)
_CONTROLS = frozenset(
    (*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029)
).union(range(0x202A, 0x202F), range(0x2066, 0x206A), range(0xD800, 0xE000))
_VISIBLE = {code: (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") for code in _CONTROLS}


def visible_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` made safe to show on a terminal: every control character that could move the
    cursor, retitle the window, clear the screen or reorder the text is written out visibly
    (ESC as ``\\x1b``). Untrusted text (server replies, hosts, paths, user values) goes through
    this where it is rendered for a person; ``keep_newlines`` keeps ``\\n`` as a line break."""
    if text.isascii() and text.isprintable():
        return text  # the common case, at C speed
    table = _VISIBLE if not keep_newlines else {**_VISIBLE, 0x0A: "\n"}
    return text.translate(table)


class _JsonEscapes(dict[int, "str | int"]):
    """A str.translate table filled on first sight of each character: a control (by
    :func:`visible_controls`) above the C0 range a JSON encoder already escapes maps to its
    ``\\uXXXX``, anything else to itself."""

    def __missing__(self, code: int) -> str | int:
        escaped: str | int = f"\\u{code:04x}" if code >= 0x7F and code in _CONTROLS else code
        self[code] = escaped
        return escaped


_JSON_ESCAPES = _JsonEscapes()


def json_controls_escaped(text: str) -> str:
    """A JSON text with the characters encoders leave raw that a terminal or a log viewer acts
    on (DEL, C1 controls, U+2028/2029, bidi controls) written as ``\\uXXXX``: still valid JSON
    with the same parsed value (outside strings JSON is printable ASCII and white space)."""
    if text.isascii():
        return text.replace("\x7f", "\\u007f") if "\x7f" in text else text
    return text.translate(_JSON_ESCAPES)
