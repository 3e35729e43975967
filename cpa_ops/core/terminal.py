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
