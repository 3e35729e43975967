"""``cpa-ops health``: placeholder until the Redis core lands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("health")(health)


def health() -> None:
    """Check Redis, Sentry and logging configuration."""
    raise typer.Exit(1)
