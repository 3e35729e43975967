"""A hard, process-level deadline: asyncio timeouts cannot stop a thread stuck in a DNS lookup,
and a kubelet does not kill a hung exec probe, so a watchdog thread ends the process itself."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

#: set by ``cpa_ops.cli.main`` when running as the real process (never under CliRunner)
PROCESS_MODE = False
#: held while a verdict is written, so the watchdog never interleaves with it
OUTPUT_LOCK = threading.Lock()


class Watchdog:
    """Ends the process at ``at`` (time.monotonic) unless the command finished first.

    ``on_expiry`` writes a verdict and returns the exit code; after :meth:`claim`, expiry only
    makes sure the process ends with the code already chosen (interpreter shutdown can wait on
    executor threads that will never return).
    """

    def __init__(self, at: float, on_expiry: Callable[[], int]) -> None:
        self.at = at
        self._on_expiry = on_expiry
        self._code: int | None = None
        self._lock = threading.Lock()

    def start(self) -> Watchdog:
        if PROCESS_MODE:
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

    def _run(self) -> None:
        time.sleep(max(self.at - time.monotonic(), 0.0))
        with self._lock:
            expired = self._code is None
            if expired:
                self._code = -1
        with OUTPUT_LOCK:  # waits for a verdict being written by the command to be complete
            code = self._on_expiry() if expired else self._code
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code if code is not None and code >= 0 else 1)


def wait_for_watchdog() -> None:
    """The watchdog owns the verdict now: park until it ends the process."""
    while True:
        time.sleep(1)
