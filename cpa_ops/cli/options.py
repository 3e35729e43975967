"""Options and parsers shared by several commands, and settings loading for the CLI."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from cpa_ops.core.settings import Settings

MAX_SECONDS = 86_400.0


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _positive_number(value: str | float, unit: str, examples: str, maximum: float) -> float:
    """A finite number greater than 0 and at most ``maximum``, or BadParameter saying so."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        raise typer.BadParameter(
            f"{_shown(text)} is not a number of {unit} (expected e.g. {examples})"
        ) from None
    if not math.isfinite(number) or number <= 0 or number > maximum:
        raise typer.BadParameter(
            f"{_shown(text)} is out of range (expected {unit} greater than 0, at most {maximum:g})"
        )
    return number


def seconds(value: str | float) -> float:
    """Parse a duration in seconds: a finite number > 0 and at most one day."""
    return _positive_number(value, "seconds", "0.5, 1, 30", MAX_SECONDS)


def milliseconds(value: str | float) -> float:
    """Parse a threshold in milliseconds: a finite number > 0 and at most one hour."""
    return _positive_number(value, "milliseconds", "50, 100, 250", 3_600_000)


def seconds_or_zero(value: str | float) -> float:
    """Like :func:`seconds`, but 0 is accepted (meaning: none / back to back)."""
    text = str(value).strip()
    try:
        if float(text) == 0:
            return 0.0
    except ValueError:
        pass
    try:
        return seconds(text)
    except typer.BadParameter:
        raise typer.BadParameter(
            f"{_shown(text)} is not accepted (expected seconds from 0 to 86400)"
        ) from None


def _shown(text: str) -> str:
    return repr(text if len(text) <= 30 else text[:27] + "...")


def settings_or_exit(ctx: typer.Context, **overrides: Any) -> Settings:
    """Load the settings (global --env-file, environment, overrides) or exit 2 naming each fault."""
    from cpa_ops.cli.console import fail_config
    from cpa_ops.core.settings import ConfigError, load_settings

    env_file: Path | None = (ctx.find_root().obj or {}).get("env_file")
    try:
        return load_settings(env_file, **overrides)
    except ConfigError as exc:
        fail_config(exc.problems)
