"""REDIS_URL and SENTRY_DSN policy: what is accepted, parsed once into a :class:`RedisTarget`,
and how each is shown with its secrets masked.

No other module parses a Redis URL: the settings validate REDIS_URL here and build the target;
the probes, the clients and ``cpa-ops ping`` take the target and ask it for what they need (the
addresses, connection options, another node of the same set-up, a sentinel).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from cpa_ops.core.known_secrets import MASK, register_secret, scrub_text

REDIS_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_PORT = 6379
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


# --------------------------------------------------------------------------------------------
# Validation


def split_seeds(url: str) -> list[str]:
    """Cluster mode's comma-separated seed URLs, stripped."""
    return [part.strip() for part in url.split(",")]


def validate_redis_url(url: str, mode: str = "standalone") -> None:
    """Raise ValueError, naming the fault without repeating the URL, unless ``url`` is usable.

    In cluster ``mode`` the URL may be a comma-separated list of seed URLs (TCP only).
    """
    url = url.strip()
    if not url:
        raise ValueError("is empty")
    if mode == "cluster":
        seeds = split_seeds(url)
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


def format_address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


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


# --------------------------------------------------------------------------------------------
# Masking


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


def dsn_host(dsn: str) -> str:
    """The Sentry host (and port) of a DSN, never its key."""
    return urlsplit(dsn).netloc.rpartition("@")[2]


def secrets_given(values: Mapping[str, Any]) -> tuple[str, ...]:
    """Every secret raw settings ``values`` may carry, valid or not (registered before any check):
    :attr:`RedisTarget.secrets` of each REDIS_URL seed, the userinfo before the last ``@`` of
    each seed and REDIS_SENTINELS entry (an unencoded ``#?/`` splits a password), DSN keys."""
    found: list[str] = []
    url = _raw_text(values.get("redis_url"))
    for seed in split_seeds(url) if url else ():
        found += RedisTarget(urls=(seed,)).secrets
        found += _userinfo_secrets(seed, keep_user=False)
    sentinels = values.get("redis_sentinels")
    entries = sentinels.split(",") if isinstance(sentinels, str) else sentinels or ()
    for entry in entries if isinstance(entries, list | tuple) else ():
        found += _userinfo_secrets(_raw_text(entry), keep_user=False)
    dsn = _raw_text(values.get("sentry_dsn"))
    if dsn:
        found += _userinfo_secrets(dsn.strip(), keep_user=True)
    return tuple(dict.fromkeys(s for s in found if s))


def _raw_text(value: Any) -> str:
    secret = getattr(value, "get_secret_value", None)
    value = secret() if callable(secret) else value
    return value if isinstance(value, str) else ""


def _userinfo_secrets(text: str, *, keep_user: bool) -> list[str]:
    """The password (or a lone userinfo; both parts with ``keep_user``) before the last ``@``."""
    rest = text.strip().partition("://")[2] or text.strip()
    if "@" not in rest:
        return []
    user, has_password, password = rest.rpartition("@")[0].partition(":")
    parts = [user, password] if keep_user else [password if has_password else user]
    return [spelling for part in parts for spelling in (part, unquote(part)) if spelling]


# --------------------------------------------------------------------------------------------
# The target


@dataclass(frozen=True)
class RedisTarget:
    """Where the platform's Redis is, parsed once from REDIS_URL (and the sentinel settings).

    ``urls`` hold the credentials: never shown (``repr`` and :attr:`masked` hide them). One URL
    in standalone and sentinel mode (sentinel: the data nodes' password, db and TLS options),
    the seeds in cluster mode.
    """

    mode: str = "standalone"
    urls: tuple[str, ...] = field(default=(DEFAULT_REDIS_URL,), repr=False)
    sentinels: tuple[str, ...] = ()  #: sentinel mode: host:port of each sentinel
    sentinel_master: str | None = None  #: sentinel mode: the service name

    @classmethod
    def from_url(
        cls,
        url: str,
        mode: str = "standalone",
        sentinels: tuple[str, ...] = (),
        sentinel_master: str | None = None,
    ) -> RedisTarget:
        """The target REDIS_URL names (already validated by :func:`validate_redis_url`)."""
        url = url.strip()
        urls = tuple(s for s in split_seeds(url) if s) if mode == "cluster" else (url,)
        return cls(mode, urls, tuple(sentinels), sentinel_master)

    @property
    def url(self) -> str:
        """The first URL, credentials included: for redis-py only, never to be shown."""
        return self.urls[0]

    @cached_property
    def _parts(self) -> Any:
        return urlsplit(self.url)

    @property
    def scheme(self) -> str:
        return str(self._parts.scheme).lower()

    @property
    def is_unix(self) -> bool:
        return self.scheme == "unix"

    @property
    def host(self) -> str | None:
        """The first URL's host (None for a unix socket)."""
        return None if self.is_unix else self._parts.hostname

    @property
    def port(self) -> int:
        return int(self._parts.port or DEFAULT_PORT)

    @cached_property
    def address(self) -> str:
        """``host:port`` of the first URL (the socket path for unix://)."""
        if self.is_unix:
            return str(self._parts.path or self._parts.netloc)
        return format_address(self.host or "", self.port)

    @cached_property
    def addresses(self) -> tuple[str, ...]:
        """``host:port`` of every URL (the cluster's seeds)."""
        return tuple(RedisTarget(urls=(u,)).address for u in self.urls)

    @cached_property
    def masked(self) -> str:
        """The URL(s) with every password shown as ``***``."""
        return ",".join(mask_url(u) for u in self.urls)

    @property
    def description(self) -> str:
        """What the Redis checks look at, for people: the URL(s), or the sentinel service."""
        if self.mode == "sentinel":
            return (
                f"sentinel service {self.sentinel_master} via {','.join(self.sentinels)} "
                f"({self.masked})"
            )
        return self.masked

    @cached_property
    def secrets(self) -> tuple[str, ...]:
        """Every secret the URLs carry, as written and percent-decoded: passwords, a lone
        userinfo (often a misplaced password), and secret query options."""
        found: list[str] = []
        for url in self.urls:
            try:
                parts = urlsplit(url)
            except ValueError:
                continue
            userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
            user, has_password, password = userinfo.partition(":")
            candidates = [password] if has_password else [user]
            candidates += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_QUERY_KEYS]
            for secret in candidates:
                for spelling in (secret, unquote(secret)):
                    if spelling and spelling not in found:
                        found.append(spelling)
        return tuple(found)

    def without_secrets(self, text: str) -> str:
        """``text`` with every secret of the target (and every other known secret) replaced by
        ``***`` in every spelling: the one redaction by value of
        :mod:`cpa_ops.core.known_secrets`, where the target's secrets are registered."""
        register_secret(*self.secrets)
        return scrub_text(text)

    def for_node(self, address: str) -> RedisTarget:
        """A standalone target at ``address`` (host:port) with this one's credentials, db and
        TLS options."""
        host, port = parse_host_port(address)
        parts = urlsplit(self.url)
        userinfo = parts.netloc.rpartition("@")[0]
        hostport = format_address(host, port)
        netloc = f"{userinfo}@{hostport}" if userinfo else hostport
        scheme = "redis" if parts.scheme == "unix" else parts.scheme
        path = "" if parts.scheme == "unix" else parts.path
        return RedisTarget(urls=(urlunsplit((scheme, netloc, path, parts.query, "")),))

    def for_sentinel(self, address: str) -> RedisTarget:
        """A sentinel at ``address``: this target's scheme and TLS options, no credentials and
        no db (sentinels are asked without a password)."""
        parts = urlsplit(self.for_node(address).url)
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.startswith("ssl")])
        hostport = parts.netloc.rpartition("@")[2]
        return RedisTarget(urls=(urlunsplit((parts.scheme, hostport, "", query, "")),))

    def connection_options(self) -> dict[str, Any]:
        """The first URL's credentials, db and TLS options as redis-py connection keyword
        arguments (no host, port or path; ``ssl=True`` for rediss://)."""
        from redis.asyncio import SSLConnection
        from redis.asyncio.connection import parse_url

        options: dict[str, Any] = dict(parse_url(self.url))
        for key in ("host", "port", "path"):
            options.pop(key, None)
        if options.pop("connection_class", None) is SSLConnection:
            options["ssl"] = True
        return options

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [parse_host_port(address) for address in self.sentinels]
