"""Live views of ``health`` on a terminal (Rich): the ``--watch`` table of one round, redrawn in
place, and the ``--wait`` spinner."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpa_ops.cli.render.report import check_label

if TYPE_CHECKING:
    from rich.table import Table

    from cpa_ops.cli.console import Terminal
    from cpa_ops.core.health import Report

_STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def watch_table(report: Report, target: str, every: float, round_no: int, at: str) -> Table:
    """One round as a table: status, check, measurement, output (and hint) of each check."""
    from rich.table import Table
    from rich.text import Text

    status = report.status.value
    title = Text.assemble(
        f"cpa-ops health of {target}: every {every:g} s, round {round_no} at {at}: ",
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
        output = f"[{check.reason}] {check.output}" if check.reason else check.output
        grid.add_row(
            Text(check.status.value.upper(), style=_STYLES[check.status.value]),
            check_label(check),
            measured,
            Text(output + (f"\nhint: {check.hint}" if check.hint else "")),
        )
    return grid


class WaitSpinner:
    """``health --wait`` on a terminal: one line on stderr saying what it waits for."""

    def __init__(self, terminal: Terminal) -> None:
        from rich.status import Status as RichStatus

        self._status = RichStatus("waiting for Redis", console=terminal.rich(stderr=True))
        self._status.start()

    def update(self, text: str) -> None:
        self._status.update(text)

    def stop(self) -> None:
        self._status.stop()
