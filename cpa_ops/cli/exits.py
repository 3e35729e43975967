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
    #: stdout's reader went away (EPIPE: ``| head``): what a process SIGPIPE ended reports
    #: (128 + 13), so a ``set -o pipefail`` script sees what it sees of any other tool
    READER_GONE = 141
    TERMINATED = 143  #: SIGTERM


#: the exit code of a run a signal ended (after what it had to say so far)
EXIT_ON_SIGNAL = {signal.SIGINT: ExitCode.INTERRUPTED, signal.SIGTERM: ExitCode.TERMINATED}


class NagiosCode(IntEnum):
    """Exit codes of ``--format nagios`` (Nagios plugin guidelines)."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class OutputLost(Exception):
    """stdout could not be written: its reader went away (``errno`` EPIPE: exit 141, quietly),
    or it is full, closed or failing (another errno: one line on stderr, exit 1). Raised by
    the Terminal; ``cpa_ops.cli.run`` turns it into the exit code."""

    def __init__(self, error: BaseException) -> None:
        import errno

        code = getattr(error, "errno", None)
        super().__init__(code)
        self.errno: int = code if isinstance(code, int) else errno.EBADF
        self.reason: str = getattr(error, "strerror", None) or "the stream is closed"

    @property
    def reader_gone(self) -> bool:
        import errno

        return self.errno == errno.EPIPE


def reopen_missing_streams() -> None:
    """A standard stream the process was started without (``>&-``, ``2>&-``, ``<&-``) becomes
    /dev/null, first thing: otherwise the next socket or file opened takes its descriptor, and
    what cpa-ops writes to stdout would go into a connection to Redis. Its output is discarded
    and the command's exit code is its own, as with ``>/dev/null``."""
    import sys

    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        try:
            os.fstat(fd)
            taken = True  # opened since the interpreter started: not ours to replace
        except OSError:
            taken = False
        null = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
        if not taken and null != fd:
            os.dup2(null, fd)
            os.close(null)
            null = fd
        mode = "r" if fd == 0 else "w"
        setattr(sys, name, open(null, mode, encoding="utf-8", closefd=null != fd))  # noqa: SIM115


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
