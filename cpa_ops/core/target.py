"""The platform's Redis as a value: REDIS_URL (and the sentinel settings) parsed once.

The probes, the clients and ``cpa-ops ping`` take the target and ask it for what they need: the
addresses, the masked text, the secrets it carries, connection options, another node of the
same set-up, a sentinel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from cpa_ops.core.addresses import format_address, parse_host_port
from cpa_ops.core.known_secrets import register_secret, scrub_text
from cpa_ops.core.urls import (
    DEFAULT_PORT,
    DEFAULT_REDIS_URL,
    SECRET_QUERY_KEYS,
    mask_url,
    redis_host,
    split_seeds,
)


@dataclass(frozen=True)
class RedisTarget:
    """Where the platform's Redis is, parsed once from REDIS_URL (and the sentinel settings).

    ``urls`` hold the credentials: never shown (``repr`` and :attr:`masked` hide them). One URL
    in standalone and sentinel mode (sentinel: the data nodes' password, db and TLS options),
    the seeds in cluster mode. The sentinels' own credentials (REDIS_SENTINEL_USERNAME and
    REDIS_SENTINEL_PASSWORD) are apart: they go to the sentinels only (:meth:`for_sentinel`).
    """

    mode: str = "standalone"
    urls: tuple[str, ...] = field(default=(DEFAULT_REDIS_URL,), repr=False)
    sentinels: tuple[str, ...] = ()  #: sentinel mode: host:port of each sentinel
    sentinel_master: str | None = None  #: sentinel mode: the service name
    #: sentinel mode: the ACL user the sentinels are asked as (None: the default user)
    sentinel_username: str | None = None
    #: sentinel mode: the sentinels' own password (their requirepass); never shown
    sentinel_password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(
        cls,
        url: str,
        mode: str = "standalone",
        sentinels: tuple[str, ...] = (),
        sentinel_master: str | None = None,
        *,
        sentinel_username: str | None = None,
        sentinel_password: str | None = None,
    ) -> RedisTarget:
        """The target REDIS_URL names (already validated by :func:`validate_redis_url`)."""
        url = url.strip()
        urls = tuple(s for s in split_seeds(url) if s) if mode == "cluster" else (url,)
        return cls(
            mode, urls, tuple(sentinels), sentinel_master, sentinel_username, sentinel_password
        )

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
        return None if self.is_unix else redis_host(self._parts)

    @property
    def port(self) -> int:
        return int(self._parts.port or DEFAULT_PORT)

    @cached_property
    def address(self) -> str:
        """``host:port`` of the first URL (the socket path for unix://)."""
        if self.is_unix:  # the file redis-py connects to: the path, percent-decoded
            return unquote(str(self._parts.path))
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
        userinfo (often a misplaced password), and secret query options; and the sentinels'
        password."""
        found: list[str] = [self.sentinel_password] if self.sentinel_password else []
        for url in self.urls:
            try:
                parts = urlsplit(url)
            except ValueError:
                continue
            userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
            user, has_password, password = userinfo.partition(":")
            candidates = [password] if has_password else [user]
            candidates += [v for k, v in parse_qsl(parts.query) if k.lower() in SECRET_QUERY_KEYS]
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
        """A sentinel at ``address``: this target's scheme and TLS options, no db, and the
        sentinels' own credentials (REDIS_URL's are the data nodes')."""
        parts = urlsplit(self.for_node(address).url)
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.startswith("ssl")])
        netloc = parts.netloc.rpartition("@")[2]
        if self.sentinel_password:
            user = quote(self.sentinel_username or "", safe="")
            netloc = f"{user}:{quote(self.sentinel_password, safe='')}@{netloc}"
        return RedisTarget(urls=(urlunsplit((parts.scheme, netloc, "", query, "")),))

    def sentinel_credentials(self) -> dict[str, str]:
        """The sentinels' username and password as redis-py connection keyword arguments
        (empty when the sentinels take no password)."""
        if not self.sentinel_password:
            return {}
        credentials = {"password": self.sentinel_password}
        if self.sentinel_username:
            credentials["username"] = self.sentinel_username
        return credentials

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


def secrets_given(values: Mapping[str, Any]) -> tuple[str, ...]:
    """Every secret raw settings ``values`` may carry, valid or not (registered before any check):
    :attr:`RedisTarget.secrets` of each REDIS_URL seed, the userinfo before the last ``@`` of
    each seed and REDIS_SENTINELS entry (an unencoded ``#?/`` splits a password),
    REDIS_SENTINEL_PASSWORD, DSN keys."""
    found: list[str] = [_raw_text(values.get("redis_sentinel_password"))]
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
