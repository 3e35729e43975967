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
        """Write a result line to stdout, every known secret replaced by value."""
        self.stdout.write(scrub_text(text) + "\n")
        self.stdout.flush()

    def err(self, text: str = "") -> None:
        """Write a diagnostic line to stderr, every known secret replaced by value."""
        self.stderr.write(scrub_text(text) + "\n")
        self.stderr.flush()

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
        return Console(
            # every frame passes the known-secret layer, as out() and err() do
            file=_Scrubbed(self.stderr if stderr else self.stdout),  # type: ignore[arg-type]
            # a terminal for Rich (live redraws) when coloured, or a TTY under NO_COLOR
            force_terminal=colour or live,
            color_system="auto" if colour else None,
            no_color=not colour,
            highlight=False,
            emoji=False,
            soft_wrap=True,
        )


class _Scrubbed:
    """A stream whose writes pass the known-secret layer (for Rich, which writes directly)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(scrub_text(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _isatty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def fail_usage(message: str, terminal: Terminal | None = None) -> NoReturn:
    """One line on stderr naming what is wrong, then exit 2."""
    import typer

    from cpa_ops.cli.exits import ExitCode

    (terminal or Terminal()).err(f"cpa-ops: error: {visible_controls(message)}")
    raise typer.Exit(ExitCode.USAGE)


def fail_config(problems: list[str], terminal: Terminal | None = None) -> NoReturn:
    """One line per bad setting on stderr, then exit 2."""
    import typer

    from cpa_ops.cli.exits import ExitCode

    term = terminal or Terminal()
    for line in problems:
        term.err(f"cpa-ops: invalid configuration: {visible_controls(line)}")
    raise typer.Exit(ExitCode.USAGE)
