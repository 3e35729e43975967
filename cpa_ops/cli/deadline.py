"""The one hard, process-level deadline of every command: asyncio timeouts cannot stop a thread
stuck in a DNS lookup (or a read of a .env FIFO), and a kubelet does not kill a hung exec probe,
so a watchdog thread writes the command's own ``deadline`` verdict and ends the process."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from cpa_ops.cli.exits import ExitCode

#: held while a verdict is written, so the watchdog never interleaves with it
OUTPUT_LOCK = threading.Lock()


class Watchdog:
    """Ends the process at ``at`` (time.monotonic) unless the command finished first.

    ``on_expiry`` writes a verdict and returns the exit code; after :meth:`claim`, expiry only
    makes sure the process ends with the code already chosen (interpreter shutdown can wait on
    executor threads that will never return). Armed only when ``enabled`` (the real process):
    in-process callers are never ended.
    """

    def __init__(self, at: float, on_expiry: Callable[[], int], *, enabled: bool) -> None:
        self.at = at
        self._on_expiry = on_expiry
        self._enabled = enabled
        self._code: int | None = None
        self._lock = threading.Lock()

    def start(self) -> Watchdog:
        if self._enabled:
            threading.Thread(target=self._run, name="cpa-ops-watchdog", daemon=True).start()
        return self

    def claim(self, code: int) -> bool:
        """Claim the right to write the verdict, to exit with ``code``; False if the watchdog
        already fired (it writes the ``deadline`` verdict and ends the process)."""
        with self._lock:
            if self._code is None:
                self._code = code
                return True
            return False

    @contextmanager
    def verdict(self, code: int) -> Iterator[None]:
        """Write the command's verdict (exit ``code``) inside this block, whole: if the watchdog
        fired first, park while it ends the process with its own."""
        if not self.claim(code):
            wait_for_watchdog()
        with OUTPUT_LOCK:
            yield

    def _run(self) -> None:
        time.sleep(max(self.at - time.monotonic(), 0.0))
        with self._lock:
            expired = self._code is None
            if expired:
                self._code = -1
        with OUTPUT_LOCK:  # waits for a verdict being written by the command to be complete
            code: int = ExitCode.UNHEALTHY
            try:
                code = self._on_expiry() if expired else (self._code or ExitCode.OK)
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code if code >= 0 else ExitCode.UNHEALTHY)


def wait_for_watchdog() -> None:
    """The watchdog owns the verdict now: park until it ends the process."""
    while True:
        time.sleep(1)
