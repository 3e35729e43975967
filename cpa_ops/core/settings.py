"""The one settings model of cpa-ops and the platform's services.

Values come from, in order of precedence: explicit overrides (CLI options), the process
environment, an optional ``.env`` file, then the defaults below.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, get_args

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cpa_ops.core.addresses import check_host_port
from cpa_ops.core.choices import (
    LOG_LEVELS_ACCEPTED,
    Environment,
    LogFormat,
    LogLevel,
    RedisMode,
    log_level_name,
)
from cpa_ops.core.known_secrets import register_secret
from cpa_ops.core.target import RedisTarget, secrets_given
from cpa_ops.core.terminal import visible_controls
from cpa_ops.core.urls import (
    DEFAULT_REDIS_URL,
    HEALTH_KEY_PREFIX,
    UNIX_URL,
    dsn_host,
    mask_dsn,
    mask_url,
    shown_value,
    validate_redis_url,
    validate_sentry_dsn,
)

__all__ = [
    "ACCEPTED",
    "ConfigError",
    "Settings",
    "load_settings",
    "mask_dsn",
    "mask_url",
    "setting_sources",
]


# What each variable accepts: the second half of every error line.
ACCEPTED: dict[str, str] = {
    "redis_url": "a redis://[[user]:password@]host[:port][/db], rediss://... or "
    f"{UNIX_URL}[?db=N] URL (REDIS_MODE=cluster: seed URLs separated by commas)",
    "redis_max_connections": "a whole number from 1 to 10000",
    "redis_mode": "one of " + ", ".join(get_args(RedisMode)) + " (any case)",
    "redis_sentinels": "a comma-separated list of host:port (e.g. "
    "sentinel-1:26379,sentinel-2:26379,sentinel-3:26379)",
    "redis_sentinel_master": "the service name the sentinels monitor (e.g. mymaster)",
    "redis_sentinel_password": "the sentinels' own password (their requirepass), or empty",
    "redis_sentinel_username": "the ACL user the sentinels are asked as (with "
    "REDIS_SENTINEL_PASSWORD), or empty for the default user",
    "sentry_dsn": "empty (Sentry disabled) or a DSN like https://<key>@<host>/<project-id>",
    "sentry_traces_sample_rate": "a number from 0 to 1",
    "environment": "one of " + ", ".join(get_args(Environment)),
    "log_level": LOG_LEVELS_ACCEPTED,
    "allowed_exception_messages": "a comma-separated list of exception classes as module.Class "
    "(e.g. myservice.errors.QuotaExceeded,TimeoutError)",
    "redis_health_key_prefix": "a key prefix of 1 to 200 printable characters without spaces "
    "(default cpa-ops:health:)",
}
_CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# Variables whose value is never repeated back in an error.
SECRET_FIELDS = frozenset({"redis_url", "redis_sentinel_password", "sentry_dsn"})


def _check_sendable(value: str) -> None:
    """ValueError unless redis-py can send ``value``: an undecodable byte of the environment
    or .env (a lone surrogate) cannot be encoded as UTF-8."""
    if any("\ud800" <= c <= "\udfff" for c in value):
        raise ValueError("is not UTF-8 (it holds an undecodable byte)")


class ConfigError(ValueError):
    """The configuration is invalid; ``problems`` holds one line per bad variable or file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    """Every setting of cpa-ops; environment variable names are the upper-cased field names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    # declared first: the validators of the fields below read it
    redis_mode: RedisMode = Field(
        default="standalone",
        description="standalone (one server) | cluster (Redis Cluster) | sentinel (Sentinel-"
        "managed master).",
    )
    redis_url: SecretStr = Field(
        default=SecretStr(DEFAULT_REDIS_URL),
        description="Redis to use: redis://, rediss:// (TLS) or unix:// URL; in cluster mode a "
        "comma-separated list of seed nodes; in sentinel mode the password, db and TLS only.",
    )
    redis_sentinels: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Sentinel mode: the sentinels, host:port, comma-separated."
    )
    redis_sentinel_master: str | None = Field(
        default=None, description="Sentinel mode: the service name the sentinels monitor."
    )
    # the password first: the username's validator reads it
    redis_sentinel_password: SecretStr | None = Field(
        default=None,
        description="Sentinel mode: the sentinels' own password (their requirepass); "
        "REDIS_URL's password is the master's and replicas'.",
    )
    redis_sentinel_username: str | None = Field(
        default=None,
        description="Sentinel mode: the ACL user the sentinels are asked as (with "
        "REDIS_SENTINEL_PASSWORD); unset: the default user.",
    )
    redis_max_connections: int = Field(
        default=20, ge=1, le=10_000, description="Most connections one pool opens."
    )
    sentry_dsn: SecretStr | None = Field(
        default=None, description="Sentry DSN; empty or unset disables Sentry."
    )
    sentry_traces_sample_rate: float = Field(
        default=0.1, ge=0.0, le=1.0, allow_inf_nan=False, description="Share of traces sent."
    )
    environment: Environment = Field(
        default="development",
        description="development (console logs) | staging | production (JSON logs).",
    )
    log_level: LogLevel = Field(default="INFO", description="Lowest level logged.")
    allowed_exception_messages: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Exception classes (module.Class, comma-separated) whose messages are kept "
        "in staging and production logs and Sentry; other messages are withheld.",
    )
    redis_health_key_prefix: str = Field(
        default=HEALTH_KEY_PREFIX,
        description="The start of the key `cpa-ops health --write` sets and deletes (an ACL "
        "user needs ~<prefix>* +set +del).",
    )

    @model_validator(mode="before")
    @classmethod
    def _register_secrets(cls, data: Any) -> Any:
        # before any check, so that not even an error line can show one (known_secrets)
        if isinstance(data, Mapping):
            register_secret(*secrets_given(data))
        return data

    @field_validator("redis_url", mode="before")
    @classmethod
    def _check_redis_url(cls, value: Any, info: ValidationInfo) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            raise ValueError("not a string")
        validate_redis_url(raw, mode=info.data.get("redis_mode", "standalone"))
        return SecretStr(raw.strip())

    @field_validator("redis_mode", mode="before")
    @classmethod
    def _lower_redis_mode(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("redis_sentinels", mode="before")
    @classmethod
    def _check_sentinels(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            raise ValueError("is not a list")
        addresses = tuple(str(part).strip() for part in value)
        for number, address in enumerate(addresses, 1):
            try:
                check_host_port(address)
            except ValueError as exc:  # an entry may hold user:password@: named by position
                raise ValueError(f"entry {number} ({shown_value(address)}) {exc}") from None
        if not addresses and info.data.get("redis_mode") == "sentinel":
            raise ValueError("is required when REDIS_MODE=sentinel")
        return addresses

    @field_validator("redis_sentinel_master", mode="before")
    @classmethod
    def _check_sentinel_master(cls, value: Any, info: ValidationInfo) -> Any:
        name = value.strip() if isinstance(value, str) else value
        if not name and info.data.get("redis_mode") == "sentinel":
            raise ValueError("is required when REDIS_MODE=sentinel")
        if name and any(c.isspace() for c in name):
            raise ValueError("contains white space")
        if name:
            _check_sendable(name)
        return name or None

    @field_validator("redis_sentinel_password", mode="before")
    @classmethod
    def _check_sentinel_password(cls, value: Any) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str):
            raise ValueError("not a string")
        _check_sendable(raw)
        return SecretStr(raw)  # as given: a password may begin or end with a space

    @field_validator("redis_sentinel_username", mode="before")
    @classmethod
    def _check_sentinel_username(cls, value: Any, info: ValidationInfo) -> Any:
        name = value.strip() if isinstance(value, str) else value
        if not name:
            return None
        if not isinstance(name, str):
            raise ValueError("not a string")
        if any(c.isspace() or not c.isprintable() for c in name):
            raise ValueError("contains white space or a control character")
        # an invalid password is absent from info.data: its own line says so
        if "redis_sentinel_password" in info.data and info.data["redis_sentinel_password"] is None:
            raise ValueError("is set without REDIS_SENTINEL_PASSWORD (a user needs its password)")
        return name

    @field_validator("sentry_dsn", mode="before")
    @classmethod
    def _check_sentry_dsn(cls, value: Any) -> Any:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        if not isinstance(raw, str):
            raise ValueError("not a string")
        validate_sentry_dsn(raw)
        return SecretStr(raw.strip())

    @field_validator("environment", mode="before")
    @classmethod
    def _lower_environment(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return log_level_name(value) if isinstance(value, str) else value

    @field_validator("allowed_exception_messages", mode="before")
    @classmethod
    def _check_allowed_exceptions(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            raise ValueError("is not a list")
        names = tuple(str(part).strip() for part in value)
        for number, name in enumerate(names, 1):
            if not _CLASS_NAME.fullmatch(name):
                raise ValueError(f"entry {number} ({shown_value(name)}) is not a module.Class name")
        return names

    @field_validator("redis_health_key_prefix", mode="before")
    @classmethod
    def _check_health_key_prefix(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("is not a string")
        if not value:
            raise ValueError("is empty")
        if len(value) > 200:
            raise ValueError("is longer than 200 characters")
        if any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError("contains white space or a control character")
        return value

    @cached_property
    def redis_target(self) -> RedisTarget:
        """REDIS_URL (and the sentinel settings) parsed once: what the probes and clients take."""
        return RedisTarget.from_url(
            self.redis_url.get_secret_value(),
            self.redis_mode,
            self.redis_sentinels,
            self.redis_sentinel_master,
            sentinel_username=self.redis_sentinel_username,
            sentinel_password=(
                self.redis_sentinel_password.get_secret_value()
                if self.redis_sentinel_password is not None
                else None
            ),
        )

    @property
    def redis_url_masked(self) -> str:
        """REDIS_URL with its password shown as ``***`` (every seed's, in cluster mode)."""
        return self.redis_target.masked

    @property
    def redis_target_masked(self) -> str:
        """What the Redis checks look at, for people: the URL(s), or the sentinel service."""
        return self.redis_target.description

    @property
    def sentry_host(self) -> str | None:
        """The Sentry host (and port) from the DSN, never its key; None when Sentry is off."""
        if self.sentry_dsn is None:
            return None
        return dsn_host(self.sentry_dsn.get_secret_value())

    @property
    def log_format(self) -> LogFormat:
        """The log format ENVIRONMENT selects."""
        return "console" if self.environment == "development" else "json"


def _problem_line(field: str, error: Mapping[str, Any], value: Any) -> str:
    env = field.upper()
    accepted = ACCEPTED.get(field, "")
    kind = error.get("type", "")
    if kind == "value_error":
        what = str(error.get("msg", "")).removeprefix("Value error, ")
    elif field in SECRET_FIELDS or value is None:
        what = "is invalid"
    else:
        what = f"{shown_value(str(value))} is not accepted"
    return f"{env} {what}; expected {accepted}" if accepted else f"{env} {what}"


#: the most of a .env file read: anything larger is not a settings file
ENV_FILE_MAX_BYTES = 1 << 20


def read_env_file(path: Path) -> dict[str, str]:
    """The KEY=VALUE pairs (keys lower-cased) of the .env file at ``path``; ConfigError naming
    the fault unless it is a regular, readable UTF-8 file of at most 1 MiB. A FIFO or a device
    is refused before it is read: it could block forever or never end."""
    import io
    import stat

    from dotenv.main import resolve_variables
    from dotenv.parser import parse_stream

    shown = visible_controls(str(path))
    try:
        # O_NONBLOCK: opening a FIFO swapped in after a check must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError([f"--env-file {shown}: no such file"]) from None
    except IsADirectoryError:
        raise ConfigError([f"--env-file {shown}: is a directory, expected a file"]) from None
    except PermissionError:
        raise ConfigError([f"--env-file {shown}: permission denied"]) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or "not a path"
        raise ConfigError([f"--env-file {shown}: cannot be read ({reason})"]) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ConfigError([f"--env-file {shown}: is a directory, expected a file"])
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
            raise ConfigError([f"--env-file {shown}: is {kind}, expected a regular file"])
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(ENV_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"--env-file {shown}: cannot be read ({exc.strerror})"]) from None
    finally:
        os.close(fd)
    if len(data) > ENV_FILE_MAX_BYTES:
        raise ConfigError([f"--env-file {shown}: is larger than 1 MiB, expected a .env file"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError([f"--env-file {shown}: not UTF-8 text"]) from None
    bindings = list(parse_stream(io.StringIO(text)))  # parsed once: 1 MiB takes seconds
    bad = [str(b.original.line) for b in bindings if b.error]
    if bad:
        raise ConfigError(
            [
                f"{shown}: line {', '.join(bad)} is not KEY=VALUE "
                "(expected lines like REDIS_URL=redis://localhost:6379/0, or # comments)"
            ]
        )
    # ${VAR} interpolated as dotenv_values does it
    values = resolve_variables(((b.key, b.value) for b in bindings if b.key), override=True)
    return {k.lower(): v for k, v in values.items() if v is not None}


def _env_file_path(env_file: Path | str | None) -> Path | None:
    """The .env file to read: ``env_file``, else ./.env when it is a regular file (a directory
    named .env, often a virtualenv, or anything else is not a settings file and is skipped)."""
    if env_file is not None:
        return Path(env_file)
    default = Path(".env")
    return default if default.is_file() else None


def load_settings(env_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings; raise ConfigError with one line per bad variable.

    ``env_file`` names a .env file that must exist; without it ``./.env`` is read if present.
    ``overrides`` (field names) take precedence over the environment; None values are ignored.
    """
    env_path = _env_file_path(env_file)
    file_values = read_env_file(env_path) if env_path is not None else {}
    # the file is read here, once and bounded; the environment still wins over it
    env_names = {k.lower() for k in os.environ}
    given: dict[str, Any] = {k: v for k, v in file_values.items() if k in Settings.model_fields}
    given = {k: v for k, v in given.items() if k not in env_names}
    given.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(_env_file=None, **given)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=True):
            field = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(_problem_line(field, error, error.get("input")))
        raise ConfigError(problems) from None


def setting_sources(env_file: Path | str | None = None) -> dict[str, str]:
    """Where each setting's value comes from: ``environment``, ``.env file`` or ``default``."""
    path = _env_file_path(env_file)
    file_values = set(read_env_file(path)) if path is not None and path.is_file() else set()
    env_names = {k.lower() for k in os.environ}
    sources = {}
    for field in Settings.model_fields:
        if field in env_names:
            sources[field] = "environment"
        elif field in file_values:
            sources[field] = f"{visible_controls(str(path))} file"
        else:
            sources[field] = "default"
    return sources
