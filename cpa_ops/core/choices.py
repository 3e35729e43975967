"""The closed sets of values a setting or an option takes, declared once: the settings model
validates against them and the CLI derives its choices from them (``typing.get_args``)."""

from __future__ import annotations

from typing import Literal

RedisMode = Literal["standalone", "cluster", "sentinel"]
Environment = Literal["development", "staging", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["console", "json"]
#: the level of a Sentry event (cpa-ops sentry-test --level)
EventLevel = Literal["fatal", "error", "warning", "info", "debug"]
