"""The exit-code contract of cpa-ops, in one place (documented in README.md): the codes, which
contract an argv runs under (``health --format nagios``), and what a stream that cannot be
written does to the code."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import IO, Any


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


def nagios_wanted(argv: list[str]) -> bool:
    """Whether ``argv`` runs ``health --format nagios`` (the last --format given wins, as in
    Click), read from the words themselves: a usage error means Click parsed no options."""
    start = 0
    while start < len(argv) and argv[start].startswith("-"):  # the root's options
        start += 2 if argv[start] == "--env-file" else 1
    if argv[start : start + 1] != ["health"]:
        return False
    chosen = None
    rest = argv[start + 1 :]
    for number, word in enumerate(rest):
        if word == "--":
            break
        if word == "--format" and number + 1 < len(rest):
            chosen = rest[number + 1]
        elif word.startswith("--format="):
            chosen = word.partition("=")[2]
    return chosen is not None and chosen.strip().lower() == "nagios"


def silence(stream: IO[str] | None) -> None:
    """Point ``stream``'s descriptor at /dev/null (a stream without one is left alone)."""
    try:
        fd = stream.fileno() if stream is not None else -1
    except (OSError, ValueError, AttributeError):
        return
    if fd < 0:
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    except OSError:
        pass
    finally:
        os.close(null)


def output_lost(error: BaseException, stream: IO[str]) -> OutputLost:
    """The OutputLost for a failed write to stdout, ``stream`` silenced first (/dev/null), so
    that nothing after it, the final flush included, fails again."""
    silence(stream)
    return OutputLost(error)


def lost_output_code(lost: OutputLost, stderr: IO[str] | None) -> int:
    """stdout could not be written: its reader went away (exit 141, nothing said: as a process
    SIGPIPE ended), or it is full or failing (one line on ``stderr``, exit 1)."""
    if lost.reader_gone:
        return ExitCode.READER_GONE
    write_line(stderr, f"cpa-ops: error: stdout could not be written ({lost.reason})")
    return ExitCode.UNHEALTHY


def write_line(stream: IO[str] | None, line: str, *, newline: bool = True) -> int:
    """Write ``line`` to ``stream``: 0, or the exit code of a stdout that could not take it
    (any other stream that cannot loses the line, and nothing else)."""
    import sys

    try:
        if stream is None:
            raise ValueError("no stream")
        if line or newline:  # (writing "" would make even an empty flush write)
            stream.write(line + "\n" if newline else line)
        stream.flush()
    except (OSError, ValueError) as exc:
        if stream is not sys.stdout:
            silence(stream)
            return 0
        return lost_output_code(output_lost(exc, stream), sys.stderr)
    return 0


def reader_gone_in_typer() -> int:
    """Typer's main() turns a broken pipe (Click's echo of --help or --version, | head) into
    sys.exit(1), wrapping both streams to keep the exit quiet: our code for it, streams back."""
    import sys

    from typer._click.utils import PacifyFlushWrapper

    if not isinstance(sys.stdout, PacifyFlushWrapper):
        return 0
    for name in ("stdout", "stderr"):
        stream: Any = getattr(sys, name)
        if isinstance(stream, PacifyFlushWrapper):
            setattr(sys, name, stream.wrapped)
    restored: Any = sys.stdout
    silence(restored)
    return ExitCode.READER_GONE


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
