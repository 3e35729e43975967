"""The CLI's choices are the core's: each Typer enum is derived from one Literal."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, get_args

import pytest

from cpa_ops.cli import options
from cpa_ops.core import choices


@pytest.mark.parametrize(
    ("enum", "literal"),
    [
        (options.RedisModeChoice, choices.RedisMode),
        (options.LogFormatChoice, choices.LogFormat),
        (options.EventLevelChoice, choices.EventLevel),
    ],
)
def test_choices_are_the_core_literals(enum: type[StrEnum], literal: Any) -> None:
    assert [member.value for member in enum] == list(get_args(literal))


def test_settings_accept_exactly_these_choices() -> None:
    """Until settings.py imports its Literals from core/choices.py, they must stay equal."""
    from cpa_ops.core import settings

    for name in ("RedisMode", "Environment", "LogLevel"):
        if hasattr(settings, name):
            assert get_args(getattr(settings, name)) == get_args(getattr(choices, name)), name


def test_log_level_completion_offers_the_core_levels() -> None:
    """--level is parsed (it takes aliases), not a Choice: Tab still offers the core's levels."""
    from cpa_ops.cli.options import _complete_log_level

    assert _complete_log_level("") == list(get_args(choices.LogLevel))
    assert _complete_log_level("w") == ["warning"]
    assert _complete_log_level("E") == ["ERROR"]
