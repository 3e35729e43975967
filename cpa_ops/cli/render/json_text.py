"""The one way the CLI writes JSON: ``json.dumps`` with the characters it leaves raw that a
terminal or a log viewer acts on (DEL, C1 controls, U+2028/2029, bidi controls) as ``\\uXXXX``.

Still valid JSON with the same parsed value: outside strings a JSON text is printable ASCII
and whitespace, so every such character sits inside a string, where ``\\uXXXX`` means itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cpa_ops.core.terminal import visible_controls


class _Escapes(dict[int, "str | int"]):
    """A str.translate table filled on first sight of each character: a control (by
    :func:`visible_controls`, the one definition) above the C0 range json.dumps already
    escapes maps to its ``\\uXXXX``, anything else to itself."""

    def __missing__(self, code: int) -> str | int:
        char = chr(code)
        escaped: str | int = (
            f"\\u{code:04x}" if code >= 0x7F and visible_controls(char) != char else code
        )
        self[code] = escaped
        return escaped


_ESCAPES = _Escapes()


def json_text(
    document: Any, *, indent: int | None = None, default: Callable[[Any], Any] | None = None
) -> str:
    """``document`` as JSON (non-ASCII text kept readable), every control character escaped."""
    text = json.dumps(document, ensure_ascii=False, indent=indent, default=default)
    if text.isascii():
        return text.replace("\x7f", "\\u007f") if "\x7f" in text else text
    return text.translate(_ESCAPES)
