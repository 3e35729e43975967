"""Every option and parser several commands share, declared once, and settings loading for the
CLI. An option's name says its meaning: ``CommandTimeoutOption`` bounds the whole command,
``SampleTimeoutOption`` one ping sample."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, cast, get_args

import typer

from cpa_ops.core.choices import EventLevel, LogFormat, LogLevel, RedisMode, parse_log_level

if TYPE_CHECKING:
    from cpa_ops.core.settings import Settings

MAX_SECONDS = 86_400.0
MAX_SAMPLES = 1_000_000_000
MAX_SHOWCASES = 1_000_000


def _choices(name: str, values: tuple[str, ...]) -> type[StrEnum]:
    """A Typer choice enum whose members are ``values`` (a core Literal's, via get_args)."""
    return cast("type[StrEnum]", StrEnum(name, {value: value for value in values}))


if TYPE_CHECKING:  # to a type checker, a member's value is a str
    RedisModeChoice = StrEnum
    LogFormatChoice = StrEnum
    EventLevelChoice = StrEnum
else:
    RedisModeChoice = _choices("RedisModeChoice", get_args(RedisMode))
    LogFormatChoice = _choices("LogFormatChoice", get_args(LogFormat))
    EventLevelChoice = _choices("EventLevelChoice", get_args(EventLevel))


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class HealthFormat(StrEnum):
    text = "text"
    json = "json"
    nagios = "nagios"


# --------------------------------------------------------------------------------------------
# Parsers


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


def _whole_number(value: str | int, minimum: int, maximum: int, fault: str) -> int:
    """A whole number from ``minimum`` to ``maximum``, or BadParameter: the value as
    :func:`_shown` allows (never a card number echoed back), then ``fault``."""
    text = str(value).strip()
    # the length first: int() of a 5000-digit string raises (Python's digit limit)
    digits = text.lstrip("0") or "0"
    whole = text.isascii() and text.isdigit() and len(digits) <= len(str(maximum))
    if not whole or not minimum <= int(digits) <= maximum:
        raise typer.BadParameter(f"{_shown(text)} {fault}")
    return int(digits)


def sample_count(value: str | int) -> int:
    """A sample count: a whole number from 0 (until Ctrl-C) to a billion."""
    fault = (
        f"is not a count of samples (expected a whole number from 0, until Ctrl-C, to "
        f"{MAX_SAMPLES})"
    )
    return _whole_number(value, 0, MAX_SAMPLES, fault)


def showcase_count(value: str | int) -> int:
    """log-test's --count: a whole number of showcases from 1 to a million."""
    fault = f"is not a number of showcases (expected a whole number from 1 to {MAX_SHOWCASES})"
    return _whole_number(value, 1, MAX_SHOWCASES, fault)


def log_level(value: str) -> str:
    """A log level in any of its spellings (cpa_ops.core.choices: any case, WARN, FATAL), as
    LOG_LEVEL accepts it."""
    try:
        return parse_log_level(str(value))
    except ValueError as exc:
        raise typer.BadParameter(f"{_shown(str(value).strip())} {exc}") from None


def _complete_log_level(incomplete: str) -> list[str]:
    """Tab offers the log levels' names (lower case when that is what is typed so far)."""
    lower = incomplete.islower()
    names = [name.lower() if lower else name for name in get_args(LogLevel)]
    return [name for name in names if name.lower().startswith(incomplete.lower())]


def _shown(text: str) -> str:
    """A rejected value as an error may show it (the one rule: cpa_ops.core.urls.shown_value)."""
    from cpa_ops.core.urls import shown_value

    return shown_value(text)


# --------------------------------------------------------------------------------------------
# Options

RedisUrlOption = Annotated[
    str | None,
    typer.Option(
        "--redis-url",
        metavar="URL",
        help="Redis to use (overrides REDIS_URL): redis://, rediss:// or unix://.",
        show_default=False,
    ),
]
ModeOption = Annotated[
    RedisModeChoice | None,
    typer.Option(
        "--mode",
        case_sensitive=False,  # as REDIS_MODE
        help="Redis topology (overrides REDIS_MODE; default standalone).",
        show_default=False,
    ),
]
SentinelsOption = Annotated[
    str | None,
    typer.Option(
        "--sentinels",
        metavar="HOST:PORT,...",
        help="Sentinel mode: the sentinels (overrides REDIS_SENTINELS).",
        show_default=False,
    ),
]
SentinelMasterOption = Annotated[
    str | None,
    typer.Option(
        "--sentinel-master",
        metavar="NAME",
        help="Sentinel mode: the service name (overrides REDIS_SENTINEL_MASTER).",
        show_default=False,
    ),
]
#: the whole command's budget (health, sentry-test): each command gives its own default
CommandTimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        parser=seconds,
        help="Budget for the whole command: the process exits within it (+0.5 s).",
    ),
]
#: ping's bound on one sample
SampleTimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        "-W",
        metavar="SECONDS",
        parser=seconds,
        help="Time allowed for one sample (a reconnect included); no retries.",
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", case_sensitive=False, help="text for people, json for machines."),
]
HealthFormatOption = Annotated[
    HealthFormat,
    typer.Option(
        "--format", case_sensitive=False, help="text for people, json (health+json), nagios."
    ),
]
#: log-test's lowest level: the spellings LOG_LEVEL accepts
LogLevelOption = Annotated[
    str | None,
    typer.Option(
        "--level",
        metavar="LEVEL",
        parser=log_level,
        autocompletion=_complete_log_level,
        help="Lowest level written: DEBUG, INFO, WARNING (or WARN), ERROR, CRITICAL (or FATAL), "
        "any case (default: LOG_LEVEL, else INFO).",
        show_default=False,
    ),
]


def topology_overrides(
    mode: StrEnum | None, sentinels: str | None, sentinel_master: str | None
) -> dict[str, Any]:
    """The settings overrides the topology options stand for (None: not given)."""
    return {
        "redis_mode": mode.value if mode else None,
        "redis_sentinels": sentinels,
        "redis_sentinel_master": sentinel_master,
    }


def group_option(ctx: typer.Context, name: str, value: Any) -> Any:
    """The value of an option that a group and its subcommands both take (``cpa-ops config
    --redis-url URL check`` and ``cpa-ops config check --redis-url URL`` alike): the
    subcommand's own when it was given there, else the nearest group's that was given, else
    the subcommand's default. An option given on a group is never silently dropped."""
    from typer._click.core import Context, ParameterSource

    def given(context: Context) -> bool:
        source = context.get_parameter_source(name)
        return source is not None and source is not ParameterSource.DEFAULT

    if given(ctx):
        return value
    parent: Context | None = ctx.parent
    while parent is not None:
        if name in parent.params and given(parent):
            found = parent.params[name]
            # a group's ctx.params hold what Click parsed: the choice's text, not Typer's enum
            if isinstance(value, StrEnum) and not isinstance(found, type(value)):
                found = type(value)(found)
            return found
        parent = parent.parent
    return value


def settings_or_exit(ctx: typer.Context, **overrides: Any) -> Settings:
    """Load the settings (global --env-file, environment, overrides) or exit 2 naming each fault."""
    from cpa_ops.cli.console import fail_config
    from cpa_ops.cli.context import cli_context
    from cpa_ops.core.settings import ConfigError, load_settings

    context = cli_context(ctx)
    try:
        return load_settings(context.env_file, **overrides)
    except ConfigError as exc:
        fail_config(exc.problems, context.terminal)
