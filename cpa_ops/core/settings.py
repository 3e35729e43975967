"""The one settings model of cpa-ops and the platform's services, and masking of its secrets.

Values come from, in order of precedence: explicit overrides (CLI options), the process
environment, an optional ``.env`` file, then the defaults below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Environment = Literal["development", "staging", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
RedisMode = Literal["standalone", "cluster", "sentinel"]

REDIS_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
MASK = "***"
# Query parameters redis-py reads a secret from.
_SECRET_QUERY_KEYS = frozenset({"password", "pass", "pwd", "auth", "token", "ssl_password"})

# REDIS_URL query options handed on to redis-py, with the values each accepts (None: any text).
# redis-py passes every query option to the connection as a keyword argument, and a query option
# wins over what the caller passes: an unknown one is a TypeError at connect time, and a
# socket_timeout or max_connections would override the deadlines and limits cpa-ops sets.
_BOOLEAN = ("true", "false", "yes", "no", "1", "0")
_URL_OPTIONS: dict[str, tuple[str, ...] | None] = {
    "db": None,  # checked with the path's db
    "username": None,
    "password": None,
    "client_name": None,
    "protocol": ("2", "3"),
}
_TLS_URL_OPTIONS: dict[str, tuple[str, ...] | None] = {
    "ssl_ca_certs": None,
    "ssl_ca_path": None,
    "ssl_certfile": None,
    "ssl_keyfile": None,
    "ssl_password": None,
    "ssl_cert_reqs": ("none", "optional", "required"),
    "ssl_check_hostname": _BOOLEAN,
    "ssl_ciphers": None,
}
# Options redis-py knows that cpa-ops sets itself, and where to set them instead.
_URL_OPTIONS_SET_ELSEWHERE = {
    "max_connections": "REDIS_MAX_CONNECTIONS",
    "timeout": "--timeout, or create_redis_pool(acquire_timeout=...)",
    "socket_timeout": "--timeout, or create_redis_pool(socket_timeout=...)",
    "socket_connect_timeout": "--timeout, or create_redis_pool(connect_timeout=...)",
}

# What each variable accepts: the second half of every error line.
ACCEPTED: dict[str, str] = {
    "redis_url": "a redis://[[user]:password@]host[:port][/db], rediss://... or "
    "unix:///path/to/socket URL (REDIS_MODE=cluster: seed URLs separated by commas)",
    "redis_max_connections": "a whole number from 1 to 10000",
    "redis_mode": "one of " + ", ".join(get_args(RedisMode)) + " (any case)",
    "redis_sentinels": "a comma-separated list of host:port (e.g. "
    "sentinel-1:26379,sentinel-2:26379,sentinel-3:26379)",
    "redis_sentinel_master": "the service name the sentinels monitor (e.g. mymaster)",
    "sentry_dsn": "empty (Sentry disabled) or a DSN like https://<key>@<host>/<project-id>",
    "sentry_traces_sample_rate": "a number from 0 to 1",
    "environment": "one of " + ", ".join(get_args(Environment)),
    "log_level": "one of " + ", ".join(get_args(LogLevel)) + " (any case)",
}
# Variables whose value is never repeated back in an error.
SECRET_FIELDS = frozenset({"redis_url", "sentry_dsn"})


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
        for address in addresses:
            try:
                parse_host_port(address)
            except ValueError as exc:
                shown = address if len(address) <= 40 else address[:37] + "..."
                raise ValueError(f"entry {shown!r} {exc}") from None
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
        return name or None

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
        if isinstance(value, str):
            value = value.strip().upper()
            return "WARNING" if value == "WARN" else value
        return value

    @property
    def redis_url_masked(self) -> str:
        """REDIS_URL with its password shown as ``***`` (every seed's, in cluster mode)."""
        return mask_url(self.redis_url.get_secret_value())

    @property
    def redis_seed_urls(self) -> list[str]:
        """Cluster mode: the seed node URLs of REDIS_URL; otherwise REDIS_URL alone."""
        raw = self.redis_url.get_secret_value()
        if self.redis_mode != "cluster":
            return [raw]
        return [part.strip() for part in raw.split(",") if part.strip()]

    @property
    def redis_target_masked(self) -> str:
        """What the Redis checks look at, for people: the URL(s), or the sentinel service."""
        if self.redis_mode == "sentinel":
            return (
                f"sentinel service {self.redis_sentinel_master} via "
                f"{','.join(self.redis_sentinels)} ({self.redis_url_masked})"
            )
        return self.redis_url_masked

    @property
    def sentry_host(self) -> str | None:
        """The Sentry host (and port) from the DSN, never its key; None when Sentry is off."""
        if self.sentry_dsn is None:
            return None
        return urlsplit(self.sentry_dsn.get_secret_value()).netloc.rpartition("@")[2]

    @property
    def log_format(self) -> Literal["console", "json"]:
        """The log format ENVIRONMENT selects."""
        return "console" if self.environment == "development" else "json"


def validate_redis_url(url: str, mode: str = "standalone") -> None:
    """Raise ValueError, naming the fault without repeating the URL, unless ``url`` is usable.

    In cluster ``mode`` the URL may be a comma-separated list of seed URLs (TCP only).
    """
    url = url.strip()
    if not url:
        raise ValueError("is empty")
    if mode == "cluster":
        seeds = [seed.strip() for seed in url.split(",")]
        for number, seed in enumerate(seeds, 1):
            where = f"seed {number} " if len(seeds) > 1 else ""
            if not seed:
                raise ValueError(f"{where}is empty (expected URLs separated by single commas)")
            try:
                validate_redis_url(seed)
            except ValueError as exc:
                raise ValueError(f"{where}{exc}") from None
            if seed.lower().startswith("unix:"):
                raise ValueError(f"{where}is a unix socket: Redis Cluster needs host:port seeds")
        return
    if "," in url and url.count("://") > 1:
        raise ValueError("is a list of URLs, which only REDIS_MODE=cluster accepts")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port (expected 1-65535)") from None
    scheme = parts.scheme.lower()
    if scheme not in REDIS_SCHEMES:
        shown = f"'{scheme}://'" if scheme else "no scheme"
        raise ValueError(f"has {shown}")
    _check_url_options(scheme, parts.query)
    if scheme == "unix":
        if not (parts.path or parts.netloc):
            raise ValueError("names no socket path")
        return
    if not parts.hostname:
        raise ValueError("names no host")
    if port == 0:
        raise ValueError("has an invalid port (expected 1-65535)")
    db = parts.path.lstrip("/")
    query_db = dict(parse_qsl(parts.query)).get("db")
    for candidate in (db, query_db):
        if candidate and not (candidate.isascii() and candidate.isdigit()):
            raise ValueError("has a database that is not a whole number (expected /0, /1, ...)")


def _check_url_options(scheme: str, query: str) -> None:
    """Raise ValueError unless every query option of a REDIS_URL is one cpa-ops hands on.

    An unknown option is not named: a mistyped URL can put a password where a key belongs.
    """
    options = dict(_URL_OPTIONS, **(_TLS_URL_OPTIONS if scheme == "rediss" else {}))
    accepted = ", ".join(options) + ("" if scheme == "rediss" else "; ssl_* options with rediss://")
    # blank values are skipped, as redis-py skips them
    for key, value in parse_qsl(query):
        if key in _URL_OPTIONS_SET_ELSEWHERE:
            instead = _URL_OPTIONS_SET_ELSEWHERE[key]
            raise ValueError(f"sets {key}, which cpa-ops sets itself: use {instead}")
        if key in _TLS_URL_OPTIONS and key not in options:
            raise ValueError(f"has the TLS option {key} on {scheme}:// (TLS needs rediss://)")
        if key not in options:
            raise ValueError(f"has a query option cpa-ops does not accept (accepted: {accepted})")
        choices = options[key]
        # redis-py reads booleans in any case, the other choices exactly as written
        if choices is not None and (value.lower() if choices is _BOOLEAN else value) not in choices:
            raise ValueError(f"has {key} that is not one of {', '.join(choices)}")


def parse_host_port(address: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a pair; ValueError naming the fault otherwise."""
    host, colon, port_text = address.strip().rpartition(":")
    host = host.strip("[]")
    if not colon or not host or any(c.isspace() or c in "/@," for c in host):
        raise ValueError("is not host:port")
    if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
        raise ValueError("has an invalid port (expected 1-65535)")
    return host, int(port_text)


def validate_sentry_dsn(dsn: str) -> None:
    """Raise ValueError, never repeating the DSN, unless ``dsn`` is a Sentry DSN."""
    try:
        parts = urlsplit(dsn.strip())
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError("is malformed (bad port)") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("is malformed (scheme must be http or https)")
    if not parts.username:
        raise ValueError("is malformed (no public key before '@')")
    if not parts.hostname:
        raise ValueError("is malformed (no host)")
    project = parts.path.rstrip("/").rpartition("/")[2]
    if not project:
        raise ValueError("is malformed (no project id after the host)")


def mask_url(url: str) -> str:
    """``url`` with any password (userinfo or query) replaced by ``***``; safe on garbage.

    A comma-separated list of URLs (cluster seeds) is masked URL by URL.
    """
    if "," in url and url.count("://") > 1:
        return ",".join(mask_url(part) for part in url.split(","))
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        # a lone userinfo (redis://secret@host) is masked too: it is often a misplaced password
        userinfo = f"{user}:{MASK}" if has_password else MASK
        netloc = f"{userinfo}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*/:"
        )
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing secret: keep it exactly as given (unix:/// stays unix:///)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_dsn(dsn: str) -> str:
    """A Sentry DSN with its public (and any secret) key replaced by ``***``."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return MASK
    hostport = parts.netloc.rpartition("@")[2]
    netloc = f"{MASK}@{hostport}" if "@" in parts.netloc else hostport
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _problem_line(field: str, error: Mapping[str, Any], value: Any) -> str:
    env = field.upper()
    accepted = ACCEPTED.get(field, "")
    kind = error.get("type", "")
    if kind == "value_error":
        what = str(error.get("msg", "")).removeprefix("Value error, ")
    elif field in SECRET_FIELDS or value is None:
        what = "is invalid"
    else:
        shown = str(value)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        what = f"{shown!r} is not accepted"
    return f"{env} {what}; expected {accepted}" if accepted else f"{env} {what}"


def check_env_file(path: Path) -> None:
    """Raise ConfigError unless ``path`` is a readable UTF-8 .env file of KEY=VALUE lines."""
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"--env-file {path}: no such file"]) from None
    except IsADirectoryError:
        raise ConfigError([f"--env-file {path}: is a directory, expected a file"]) from None
    except PermissionError:
        raise ConfigError([f"--env-file {path}: permission denied"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"--env-file {path}: not UTF-8 text"]) from None
    except OSError as exc:
        raise ConfigError([f"--env-file {path}: cannot be read ({exc.strerror})"]) from None
    import io

    bad = [str(b.original.line) for b in parse_stream(io.StringIO(text)) if b.error]
    if bad:
        raise ConfigError(
            [
                f"{path}: line {', '.join(bad)} is not KEY=VALUE "
                "(expected lines like REDIS_URL=redis://localhost:6379/0, or # comments)"
            ]
        )


def load_settings(env_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings; raise ConfigError with one line per bad variable.

    ``env_file`` names a .env file that must exist; without it ``./.env`` is read if present.
    ``overrides`` (field names) take precedence over the environment; None values are ignored.
    """
    env_path: Path | None = Path(env_file) if env_file is not None else Path(".env")
    if env_file is None and not env_path.is_file():  # type: ignore[union-attr]
        env_path = None
    if env_path is not None:
        check_env_file(env_path)
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(_env_file=env_path, **given)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=True):
            field = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(_problem_line(field, error, error.get("input")))
        raise ConfigError(problems) from None


def setting_sources(env_file: Path | str | None = None) -> dict[str, str]:
    """Where each setting's value comes from: ``environment``, ``.env file`` or ``default``."""
    from dotenv import dotenv_values

    path = Path(env_file) if env_file is not None else Path(".env")
    file_values = {k.lower() for k in dotenv_values(path)} if path.is_file() else set()
    env_names = {k.lower() for k in os.environ}
    sources = {}
    for field in Settings.model_fields:
        if field in env_names:
            sources[field] = "environment"
        elif field in file_values:
            sources[field] = f"{path} file"
        else:
            sources[field] = "default"
    return sources
