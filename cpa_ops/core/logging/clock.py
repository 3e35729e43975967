"""RFC 3339 UTC timestamps for log lines, cheap enough for every line."""

from __future__ import annotations

import time


class Clock:
    """RFC 3339 UTC timestamps; the seconds part is formatted once per second."""

    def __init__(self) -> None:
        # one attribute, replaced whole, so threads never pair one second with another's text
        self._second_and_prefix = (-1, "")

    def now(self) -> str:
        now = time.time()
        second = int(now)
        cached_second, prefix = self._second_and_prefix
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second_and_prefix = (second, prefix)
        return f"{prefix}.{int((now - second) * 1_000_000):06d}Z"
