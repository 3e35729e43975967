"""The CLI context object every command finds in ``ctx.obj``: where its output goes, which .env
file was asked for, when the process started and whether it runs as the real process."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from cpa_ops.cli.console import Terminal


@dataclass
class CliContext:
    """What a command needs from the process it runs in."""

    #: time.monotonic() instant the command's deadlines count from (cpa_ops.STARTED_AT in the
    #: real process; the call of cpa_ops.cli.run in-process)
    started_at: float
    #: True only when run as the real process by cpa_ops.cli.main: then a watchdog may end it
    process_mode: bool = False
    #: the global --env-file (None: ./.env when present)
    env_file: Path | None = field(default=None)

    @cached_property
    def terminal(self) -> Terminal:
        """The streams, built on first use inside the command (CliRunner swaps sys.stdout)."""
        from cpa_ops.cli.console import Terminal

        return Terminal()


def cli_context(ctx: typer.Context) -> CliContext:
    """The context object of this run (made by the root callback when ``cli.run`` did not)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliContext):
        import time

        root.obj = CliContext(started_at=time.monotonic())
    return root.obj
