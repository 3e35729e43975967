"""The ``cpa-ops`` console script, and the face of the CLI.

:func:`main` is the console script's first instruction after ``import cpa_ops``: it arms the
process's deadline (standard library only) before Typer, Rich, pydantic or redis is imported,
so a starved start-up, the settings and the ``.env`` file all count inside ``--timeout``. The
root app and the in-process :func:`run` live in :mod:`cpa_ops.cli.root`, imported on first use.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cpa_ops.cli.root import app, run

__all__ = ["app", "main", "run"]


def main() -> None:
    """The console script: deadline first, then everything else."""
    import gc
    import os

    # Importing redis, pydantic and typer creates ~300k objects: the cyclic GC would scan
    # them again and again (~25 ms a start). Commands that outlive a second get it back.
    gc.disable()
    # pydantic would scan every installed distribution for plugins on first model build (~15 ms)
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from cpa_ops.cli.exits import reopen_missing_streams
    from cpa_ops.cli.startup import arm_deadline

    # before anything opens a file: no socket may take the number of a closed stdout (>&-)
    reopen_missing_streams()

    arm_deadline(sys.argv[1:])
    from cpa_ops.cli.root import run_process

    run_process(sys.argv[1:])


def __getattr__(name: str) -> Any:
    if name in ("app", "run"):
        from cpa_ops.cli import root

        return getattr(root, name)
    raise AttributeError(f"module 'cpa_ops.cli' has no attribute {name!r}")
