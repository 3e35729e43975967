"""The exit-code contract of cpa-ops, in one place (documented in README.md)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum


class ExitCode(IntEnum):
    """What ``cpa-ops`` exits with."""

    OK = 0  #: every check passed or warned; the command did its job
    UNHEALTHY = 1  #: a check failed, a sample failed, delivery failed, --wait ran out
    USAGE = 2  #: bad arguments, environment, .env file or configuration
    INTERRUPTED = 130  #: SIGINT (Ctrl-C)
    TERMINATED = 143  #: SIGTERM


#: the exit code of a run a signal ended (after what it had to say so far)
EXIT_ON_SIGNAL = {signal.SIGINT: ExitCode.INTERRUPTED, signal.SIGTERM: ExitCode.TERMINATED}


class NagiosCode(IntEnum):
    """Exit codes of ``--format nagios`` (Nagios plugin guidelines)."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM (a BaseException, like KeyboardInterrupt, so that
    ``except Exception`` does not swallow it); ``cpa_ops.cli.main`` exits 143."""


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while a screen update is written, then act on them.

    Python raises KeyboardInterrupt (and cpa-ops Terminated) between any two bytecodes, also
    halfway through writing a redraw: the terminal got half a box-drawing character. Inside this
    block a signal is only noted; on leaving it, the handler it would have met runs. Only the
    main thread can set handlers: elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: held.append(signum)) for sig in watched
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(held):
            handler = previous[signal.Signals(signum)]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)
