"""The closed sets of values a setting or an option takes, declared once: the settings model
validates against them and the CLI derives its choices from them (``typing.get_args``).

A log level has one set of spellings everywhere (LOG_LEVEL in the environment or a .env file,
``log-test --level``, ``configure_logging(level=...)``): a name below in any case, or an alias
the standard library's logging also knows (WARN, FATAL).
"""

from __future__ import annotations

from typing import Literal, cast, get_args

RedisMode = Literal["standalone", "cluster", "sentinel"]
Environment = Literal["development", "staging", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["console", "json"]
#: the level of a Sentry event (cpa-ops sentry-test --level)
EventLevel = Literal["fatal", "error", "warning", "info", "debug"]

#: other names of a log level, as logging.getLevelName knows them
LOG_LEVEL_ALIASES: dict[str, LogLevel] = {"WARN": "WARNING", "FATAL": "CRITICAL"}
#: the accepted spellings of a log level, for every error line that refuses one
LOG_LEVELS_ACCEPTED = (
    "one of "
    + ", ".join(
        level + "".join(f" (or {alias})" for alias, of in LOG_LEVEL_ALIASES.items() if of == level)
        for level in get_args(LogLevel)
    )
    + ", in any case"
)


def log_level_name(text: str) -> str:
    """``text`` as the log level name it spells (upper case, an alias resolved); the caller
    checks it is one of :data:`LogLevel`."""
    name = text.strip().upper()
    return LOG_LEVEL_ALIASES.get(name, name)


def parse_log_level(text: str) -> LogLevel:
    """The log level ``text`` spells, or ValueError (without repeating ``text``)."""
    name = log_level_name(text)
    if name not in get_args(LogLevel):
        raise ValueError(f"is not a log level (expected {LOG_LEVELS_ACCEPTED})")
    return cast("LogLevel", name)
