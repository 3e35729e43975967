"""The terminal: owns stdout/stderr, knows which is a TTY and which gets colour.

Results go to stdout, diagnostics to stderr. Colour is decided once, by
:func:`cpa_ops.core.terminal.colour_wanted` (NO_COLOR, FORCE_COLOR, TERM=dumb, TTY).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, NoReturn

from typer._click.exceptions import UsageError

from cpa_ops.cli.exits import output_lost, silence
from cpa_ops.core.known_secrets import scrub_text
from cpa_ops.core.terminal import colour_wanted, live_view_wanted, visible_controls

if TYPE_CHECKING:
    from rich.console import Console

_ANSI = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "cyan": "36",
    "bold red": "1;31",
    "bold green": "1;32",
    "bold yellow": "1;33",
}


@dataclass
class Terminal:
    """The streams a command writes to; build it inside the command (CliRunner swaps them)."""

    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def __post_init__(self) -> None:
        self.stdout_colour = colour_wanted(self.stdout, self.environ)
        self.stderr_colour = colour_wanted(self.stderr, self.environ)
        self.stdout_isatty = _isatty(self.stdout)
        self.stderr_isatty = _isatty(self.stderr)
        # where a live view (spinner, table redrawn in place) may be drawn: not on TERM=dumb
        self.stdout_live = live_view_wanted(self.stdout, self.environ)
        self.stderr_live = live_view_wanted(self.stderr, self.environ)

    def out(self, text: str = "") -> None:
        """Write a result line to stdout, every known secret replaced by value; OutputLost
        when stdout cannot take it (cpa_ops.cli.run makes that the exit code)."""
        try:
            self.stdout.write(scrub_text(text) + "\n")
            self.stdout.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            raise output_lost(exc, self.stdout) from None

    def err(self, text: str = "") -> None:
        """Write a diagnostic line to stderr, every known secret replaced by value. A stderr
        that cannot take it (closed, gone, full) loses the line, and nothing else: the exit
        code stays the command's."""
        try:
            self.stderr.write(scrub_text(text) + "\n")
            self.stderr.flush()
        except (OSError, ValueError):
            silence(self.stderr)

    def paint(self, text: str, style: str, *, stderr: bool = False) -> str:
        """``text`` in ``style`` (see _ANSI) when that stream gets colour, else unchanged."""
        if not (self.stderr_colour if stderr else self.stdout_colour):
            return text
        return f"\x1b[{_ANSI[style]}m{text}\x1b[0m"

    def rich(self, *, stderr: bool = False) -> Console:
        """A Rich console on stdout (or stderr) that obeys the one colour decision."""
        from rich.console import Console

        colour = self.stderr_colour if stderr else self.stdout_colour
        live = self.stderr_live if stderr else self.stdout_live
        stream = self.stderr if stderr else self.stdout
        console = Console(
            # every frame passes the known-secret layer, as out() and err() do
            file=_Scrubbed(stream, diagnostics=stderr),  # type: ignore[arg-type]
            # a terminal for Rich (live redraws) when coloured, or a TTY under NO_COLOR
            force_terminal=colour or live,
            color_system="auto" if colour else None,
            no_color=not colour,
            highlight=False,
            emoji=False,
            soft_wrap=True,
        )

        # Rich would end the process on a broken pipe (SystemExit(1)): the exit contract is
        # ours, as out() and err() keep it
        def on_broken_pipe() -> None:
            import errno

            if stderr:
                silence(stream)
                console.quiet = True
                return
            raise output_lost(BrokenPipeError(errno.EPIPE, "Broken pipe"), stream)

        console.on_broken_pipe = on_broken_pipe  # type: ignore[method-assign]
        return console


class _Scrubbed:
    """A stream whose writes pass the known-secret layer (for Rich, which writes directly).
    A failed write is what Terminal.out and Terminal.err make of it (stderr: the text lost)."""

    def __init__(self, stream: IO[str], *, diagnostics: bool = False) -> None:
        self._stream = stream
        self._diagnostics = diagnostics

    def write(self, text: str) -> int:
        try:
            return self._stream.write(scrub_text(text))
        except BrokenPipeError:
            raise  # to Rich's on_broken_pipe (see Terminal.rich)
        except (OSError, ValueError) as exc:
            if self._diagnostics:
                silence(self._stream)
                return len(text)
            raise output_lost(exc, self._stream) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:
            if self._diagnostics:
                silence(self._stream)
                return
            raise output_lost(exc, self._stream) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class CommandUsageError(UsageError):
    """A usage error a command found itself (one Click cannot see); its message, already
    safe to show, is written as it is by the one error boundary, cpa_ops.cli.run."""


def fail_usage(message: str, terminal: Terminal | None = None) -> NoReturn:
    """One line naming what is wrong, exit 2 (``health --format nagios``: an UNKNOWN line,
    exit 3): raised to cpa_ops.cli.run, which writes every usage error (``terminal`` is kept
    for the callers' sake; the boundary writes to the process's streams)."""
    del terminal
    raise CommandUsageError(visible_controls(message))


def fail_config(problems: list[str], terminal: Terminal | None = None) -> NoReturn:
    """One line per bad setting on stderr, then exit 2."""
    import typer

    from cpa_ops.cli.exits import ExitCode

    term = terminal or Terminal()
    for line in problems:
        term.err(f"cpa-ops: invalid configuration: {visible_controls(line)}")
    raise typer.Exit(ExitCode.USAGE)
