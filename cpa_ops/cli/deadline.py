"""The one hard, process-level deadline of every command: asyncio timeouts cannot stop a thread
stuck in a DNS lookup (or a read of a .env FIFO), a kubelet ends a late exec probe as failed, and
a starved start-up can spend the whole budget importing, so a watchdog thread writes the
command's own ``deadline`` verdict and ends the process.

The console script arms it at its first instruction (:mod:`cpa_ops.cli.startup`), before any
heavy import, with a start-up verdict that needs only the standard library; a command then hands
it its own deadline and verdict writer (:func:`command_watchdog`). Only the standard library here.

The process's watchdog fires two ways, whichever comes first: SIGALRM (``setitimer``), whose
handler runs in the main thread, the one holding the GIL while it imports, so the verdict needs
no GIL hand-over (on a starved node each hand-over waits for both threads to be scheduled:
0.1-0.4 s measured with four CPU burners); and the thread, for a main thread stuck in C code
that does not return to Python.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: held while a verdict is written, so the watchdog never interleaves with it
OUTPUT_LOCK = threading.Lock()
#: the exit code when a verdict writer itself fails (ExitCode.UNHEALTHY; exits.py is not
#: imported here: it is not needed before a verdict)
_UNHEALTHY = 1


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
        # reentrant: the SIGALRM handler may run in the main thread while it holds the lock
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._disarmed = False
        self._alarm = False

    @property
    def enabled(self) -> bool:
        return self._enabled

    def start(self) -> Watchdog:
        if self._enabled:
            threading.Thread(target=self._run, name="cpa-ops-watchdog", daemon=True).start()
        return self

    def with_alarm(self) -> Watchdog:
        """Also fire by SIGALRM in the main thread (call from the main thread)."""
        if self._enabled:
            signal.signal(signal.SIGALRM, self._on_alarm)
            self._alarm = True
            self._set_alarm()
        return self

    def rearm(self, at: float, on_expiry: Callable[[], int]) -> None:
        """From now on end the process at ``at`` with ``on_expiry``'s verdict (a command taking
        over from the start-up verdict). Too late once the watchdog has fired."""
        with self._changed:
            self.at = at
            self._on_expiry = on_expiry
            self._set_alarm()
            self._changed.notify_all()

    def disarm(self) -> None:
        """No process deadline after all (``health --watch`` runs until Ctrl-C)."""
        with self._changed:
            self._disarmed = True
            if self._alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
            self._changed.notify_all()

    def _set_alarm(self) -> None:
        if self._alarm and threading.current_thread() is threading.main_thread():
            signal.setitimer(signal.ITIMER_REAL, max(self.at - time.monotonic(), 0.001))

    def _on_alarm(self, signum: int, frame: object) -> None:
        if self._disarmed or self._code is not None:
            return  # the command claimed its verdict (no alarm any more), or the thread fired
        if time.monotonic() < self.at:  # rearmed later meanwhile
            self._set_alarm()
            return
        with self._lock:
            if self._code is not None:
                return  # the command claimed its verdict, or the thread fired: let it finish
            self._code = -1
            on_expiry = self._on_expiry
        self._expire(on_expiry)

    def claim(self, code: int) -> bool:
        """Claim the right to write the verdict, to exit with ``code``; False if the watchdog
        already fired (it writes the ``deadline`` verdict and ends the process)."""
        with self._lock:
            if self._code is None:
                self._code = code
                if self._alarm:
                    # the thread still bounds the exit; a SIGALRM after the interpreter reset
                    # its handlers (a shutdown that flushes Sentry) would kill the process
                    signal.setitimer(signal.ITIMER_REAL, 0)
                return True
            return False

    def settle(self, code: int) -> None:
        """The run is over with ``code`` (the command's verdict, or the error boundary's): from
        now on expiry only ends the process with the code already chosen; if the watchdog
        fired first, park while it ends the process with its own."""
        if not self.claim(code) and self._code == -1:
            wait_for_watchdog()

    @contextmanager
    def verdict(self, code: int) -> Iterator[None]:
        """Write the command's verdict (exit ``code``) inside this block, whole: if the watchdog
        fired first, park while it ends the process with its own."""
        if not self.claim(code):
            wait_for_watchdog()
        with OUTPUT_LOCK:
            yield

    def _run(self) -> None:
        with self._changed:
            while not self._disarmed and (left := self.at - time.monotonic()) > 0:
                self._changed.wait(left)
            if self._disarmed:
                return
            expired = self._code is None
            if expired:
                self._code = -1
            on_expiry = self._on_expiry
        if expired:
            self._expire(on_expiry)
        with OUTPUT_LOCK:  # waits for the verdict being written (by the command, or by the alarm)
            code = self._code or 0
            os._exit(code if code >= 0 else _UNHEALTHY)

    def _expire(self, on_expiry: Callable[[], int]) -> None:
        """Write the deadline verdict and end the process with its code."""
        with OUTPUT_LOCK:
            code = _UNHEALTHY
            try:
                code = on_expiry()
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code if code >= 0 else _UNHEALTHY)


#: the watchdog the console script armed at its first instruction (None in-process)
_process_watchdog: Watchdog | None = None


def arm_process_watchdog(at: float, on_expiry: Callable[[], int]) -> Watchdog:
    """Arm the process's watchdog (the console script, before any heavy import)."""
    global _process_watchdog
    _process_watchdog = Watchdog(at, on_expiry, enabled=True).with_alarm().start()
    return _process_watchdog


def command_watchdog(at: float, on_expiry: Callable[[], int], *, enabled: bool) -> Watchdog:
    """The watchdog of a command: the process's own, armed at start-up, now ending the process
    at ``at`` with ``on_expiry``'s verdict; a new one where none was armed. ``enabled`` False
    (in-process, or a command without a process deadline): nothing ends the process."""
    armed = _process_watchdog
    if armed is not None:
        if enabled:
            armed.rearm(at, on_expiry)
            return armed
        armed.disarm()
    return Watchdog(at, on_expiry, enabled=enabled).start()


def settle_process(code: int) -> None:
    """The process's run is over with ``code``: its watchdog, if armed, now only bounds the
    shutdown (:meth:`Watchdog.settle`)."""
    if _process_watchdog is not None:
        _process_watchdog.settle(code)


def wait_for_watchdog() -> None:
    """The watchdog owns the verdict now: park until it ends the process."""
    while True:
        time.sleep(1)
