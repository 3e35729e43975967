"""Live views of ``health`` on a terminal (Rich): the ``--watch`` table of one round, redrawn in
place, and the ``--wait`` spinner."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpa_ops.cli.render.report import check_label
from cpa_ops.core.terminal import visible_controls

if TYPE_CHECKING:
    from rich.table import Table

    from cpa_ops.cli.console import Terminal
    from cpa_ops.core.health import Report

_STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def watch_table(report: Report, target: str, every: float, round_no: int, at: str) -> Table:
    """One round as a table: status, check, measurement, output (and hint) of each check.

    Every cell is a Text (never markup) of terminal-safe text: Rich passes ESC and most other
    control characters through to the terminal as they are."""
    from rich.table import Table
    from rich.text import Text

    status = report.status.value
    title = Text.assemble(
        f"cpa-ops health of {visible_controls(target)}: every {every:g} s, "
        f"round {round_no} at {at}: ",
        (status, _STYLES[status]),
    )  # a Text, not markup: an IPv6 URL's [::1] is not a style tag
    grid = Table(title=title, title_justify="left")
    for column in ("status", "check", "measured", "output"):
        grid.add_column(column)
    for check in report.checks:
        measured = (
            f"{check.observed_value:.1f} ms"
            if check.observed_value is not None and check.observed_unit == "ms"
            else ""
        )
        output = visible_controls(check.output)
        output = f"[{check.reason}] {output}" if check.reason else output
        if check.hint:
            output += f"\nhint: {visible_controls(check.hint)}"
        grid.add_row(
            Text(check.status.value.upper(), style=_STYLES[check.status.value]),
            Text(check_label(check)),
            Text(measured),
            Text(output),
        )
    return grid


class WaitSpinner:
    """``health --wait`` on a terminal: one line on stderr saying what it waits for."""

    def __init__(self, terminal: Terminal) -> None:
        from rich.status import Status as RichStatus

        self._status = RichStatus("waiting for Redis", console=terminal.rich(stderr=True))
        self._status.start()

    def update(self, text: str) -> None:
        from rich.text import Text

        self._status.update(Text(visible_controls(text)))

    def stop(self) -> None:
        self._status.stop()
