"""The one way the CLI writes JSON: ``json.dumps`` with the characters it leaves raw that a
terminal or a log viewer acts on (DEL, C1 controls, U+2028/2029, bidi controls) as ``\\uXXXX``.

Still valid JSON with the same parsed value: outside strings a JSON text is printable ASCII
and whitespace, so every such character sits inside a string, where ``\\uXXXX`` means itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cpa_ops.core.terminal import json_controls_escaped


def json_text(
    document: Any, *, indent: int | None = None, default: Callable[[Any], Any] | None = None
) -> str:
    """``document`` as JSON (non-ASCII text kept readable), every control character escaped."""
    text = json.dumps(document, ensure_ascii=False, indent=indent, default=default)
    return json_controls_escaped(text)
