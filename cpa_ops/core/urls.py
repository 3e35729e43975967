"""REDIS_URL and SENTRY_DSN policy: what is accepted (and how a rejected value may be shown),
the secrets a configuration carries, and how a URL is shown with its secrets masked.

The settings validate REDIS_URL here and parse it once into a
:class:`cpa_ops.core.target.RedisTarget`; no other module parses a Redis URL.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cpa_ops.core.addresses import check_host_name
from cpa_ops.core.known_secrets import MASK

REDIS_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_REDIS_URL = "redis://localhost:6379/0"
#: the start of the key ``cpa-ops health --write`` sets and deletes (REDIS_HEALTH_KEY_PREFIX)
HEALTH_KEY_PREFIX = "cpa-ops:health:"
DEFAULT_PORT = 6379
# Query parameters redis-py reads a secret from.
SECRET_QUERY_KEYS = frozenset({"password", "pass", "pwd", "auth", "token", "ssl_password"})

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

#: what every error about a password hidden in a broken URL says to do
PERCENT_ENCODE = (
    "percent-encode the password's special characters (# as %23, ? as %3F, / as %2F, @ as %40)"
)
_MAX_URL_LENGTH = 4096
_MAX_DSN_LENGTH = 2048
_MAX_PROJECT_ID_DIGITS = 20


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
    if len(url) > _MAX_URL_LENGTH:
        raise ValueError(f"is longer than {_MAX_URL_LENGTH} characters")
    if mode == "cluster":
        seeds = split_seeds(url)
        for number, seed in enumerate(seeds, 1):
            where = f"seed {number} " if len(seeds) > 1 else ""
            if not seed:
                raise ValueError(f"{where}is empty (expected URLs separated by single commas)")
            try:
                validate_redis_url(seed)
            except ValueError as exc:
                if "@" in seed and "://" not in seed:  # the rest of a password cut at a ','
                    fault = f"{where}has no scheme: {PERCENT_ENCODE}, ',' as %2C"
                    raise ValueError(fault) from None
                raise ValueError(f"{where}{exc}") from None
            if seed.lower().startswith("unix:"):
                raise ValueError(f"{where}is a unix socket: Redis Cluster needs host:port seeds")
            if any(db.lstrip("0") for db in _databases(seed)):
                raise ValueError(
                    f"{where}names a database other than 0: Redis Cluster has only db 0 "
                    "(use /0 or no path)"
                )
        return
    if "," in url and url.count("://") > 1:
        raise ValueError("is a list of URLs, which only REDIS_MODE=cluster accepts")
    _check_no_hidden_password(url)
    parts = _split(url)
    scheme = parts.scheme.lower()
    if scheme not in REDIS_SCHEMES:
        shown = f"'{scheme}://'" if scheme.isascii() and scheme.isalnum() else "no scheme"
        raise ValueError(f"has {shown}")
    _check_url_options(scheme, parts.query)
    query_db = dict(parse_qsl(parts.query)).get("db")
    if scheme == "unix":
        socket_path(url)
        _check_db(query_db, "?db=0, ?db=1, ...")
        return
    hostport = parts.netloc.rpartition("@")[2]
    if not parts.hostname or hostport.startswith(":"):
        raise ValueError("names no host")
    check_host_name(redis_host(parts), bracketed=hostport.startswith("["))
    if parts.port == 0:
        raise ValueError("has an invalid port (expected 1-65535)")
    db = parts.path.lstrip("/")
    _check_db(db, "/0, /1, ...")
    _check_db(query_db, "/0, /1, ...")
    if db and query_db and int(db) != int(query_db):
        # redis-py would take the query's and drop the path's
        raise ValueError("names two databases, in the path and as ?db=: keep one")


#: the longest socket path AF_UNIX takes, in bytes (sun_path less its NUL; 104 on the BSDs)
_MAX_SOCKET_PATH_BYTES = 103 if sys.platform == "darwin" or "bsd" in sys.platform else 107
#: what a unix socket REDIS_URL looks like, for the lines that refuse one
UNIX_URL = "unix:///absolute/path/to/socket"


def redis_host(parts: Any) -> str:
    """The host of a split TCP Redis URL as redis-py connects to it: percent-decoded (an IPv6
    zone is written ``[fe80::1%25eth0]``)."""
    from urllib.parse import unquote

    return unquote(parts.hostname or "")


def socket_path(url: str) -> str:
    """The socket file a ``unix:`` REDIS_URL names, percent-decoded as redis-py decodes it;
    ValueError, naming the fault without repeating the URL, unless it is an absolute path.

    redis-py reads only the URL's path: in ``unix://relative/path`` the first segment is the
    host and is dropped (``/path``), and a relative path would depend on the working directory.
    """
    from urllib.parse import unquote

    parts = _split(url.strip())
    if parts.netloc.rpartition("@")[2]:
        raise ValueError(
            "has a host or a relative path after unix:// (its first part would be dropped; a "
            "socket URL has three slashes and an absolute path)"
        )
    if not parts.path or parts.path == "/":
        raise ValueError("names no socket path")
    try:
        path = unquote(parts.path, errors="strict")
    except UnicodeDecodeError:
        raise ValueError("has a socket path whose percent-encoding is not UTF-8") from None
    if not path.startswith("/"):
        raise ValueError("has a relative socket path (a socket URL has an absolute path)")
    if any(not c.isprintable() for c in path):
        raise ValueError("has a socket path with a control character (percent-encoded)")
    if path.endswith("/"):
        raise ValueError("names a directory (a path ending in '/'), not a socket")
    if len(path.encode()) > _MAX_SOCKET_PATH_BYTES:
        raise ValueError(
            f"has a socket path longer than {_MAX_SOCKET_PATH_BYTES} bytes, which a unix socket "
            "cannot have"
        )
    return path


#: the highest database number Redis parses (SELECT takes a C int)
_MAX_DB = 2**31 - 1


def _check_db(db: str | None, expected: str) -> None:
    if db and not (db.isascii() and db.isdigit()):
        raise ValueError(f"has a database that is not a whole number (expected {expected})")
    if db and int(db) > _MAX_DB:
        raise ValueError(
            f"has a database number no Redis has (expected {expected}; a server has 16 by default)"
        )


def _databases(url: str) -> list[str]:
    """The database numbers a TCP Redis URL names, as written: its path and its ``db`` option."""
    parts = _split(url)
    candidates = (parts.path.lstrip("/"), dict(parse_qsl(parts.query)).get("db"))
    return [candidate for candidate in candidates if candidate]


def _check_url_options(scheme: str, query: str) -> None:
    """Raise ValueError unless every query option of a REDIS_URL is one cpa-ops hands on.

    An unknown option is not named: a mistyped URL can put a password where a key belongs.
    """
    options = dict(_URL_OPTIONS, **(_TLS_URL_OPTIONS if scheme == "rediss" else {}))
    accepted = ", ".join(options) + ("" if scheme == "rediss" else "; ssl_* options with rediss://")
    # blank values are skipped, as redis-py skips them
    pairs = parse_qsl(query)
    keys = [key for key, _ in pairs]
    for key, value in pairs:
        if keys.count(key) > 1 and key in options:  # redis-py takes the first, we'd check each
            raise ValueError(f"has the query option {key} more than once")
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


def _check_no_hidden_password(url: str) -> None:
    """Raise ValueError when the URL's shape shows a password that was not percent-encoded:
    a '#' (the rest would be a fragment), an '@' after the host (the password's '/' or '?' cut
    it into the path or query), more than one '@', or a '[' or ']' outside an IPv6 host."""
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError(f"contains a space, a control character or bad UTF-8: {PERCENT_ENCODE}")
    if "#" in url:
        raise ValueError(f"contains '#', which would cut it short: {PERCENT_ENCODE}")
    _, _, rest = url.partition("://")
    netloc, _, after = _split_netloc(rest)
    if "@" in after:
        raise ValueError(f"has an '@' after the host: {PERCENT_ENCODE}")
    if netloc.count("@") > 1:
        raise ValueError(f"has more than one '@': {PERCENT_ENCODE}")
    userinfo, _, hostport = netloc.rpartition("@")
    if "[" in userinfo or "]" in userinfo:
        raise ValueError(f"has a '[' or ']' before the host: {PERCENT_ENCODE}")
    if ("[" in hostport or "]" in hostport) and not (
        hostport.startswith("[") and hostport.count("[") == 1 and hostport.count("]") == 1
    ):
        raise ValueError("has a '[' or ']' outside an [IPv6] host")


def _split_netloc(rest: str) -> tuple[str, str, str]:
    """``rest`` (what follows ``scheme://``) as (netloc, the delimiter, what follows it)."""
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return rest[:end], rest[end : end + 1], rest[end + 1 :]


def _split(url: str) -> Any:
    """urlsplit, with its ValueErrors (a bad port, a bad [IPv6]) named without the URL."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        if "IPv6" in str(exc) or "IPv4 or IPv6" in str(exc):
            raise ValueError("has an invalid IPv6 address in brackets") from None
        raise ValueError("has an invalid port (expected 1-65535)") from None
    return parts


def validate_sentry_dsn(dsn: str) -> None:
    """Raise ValueError, never repeating the DSN, unless ``dsn`` is a Sentry DSN.

    The one DSN validator (settings, ``config check``, ``sentry-test``): at least as strict as
    the SDK's parser (``sentry_sdk.utils.Dsn``), and stricter where it is lax (a project id of
    ASCII digits only, no spaces, no fragment, one '@', a bounded length).
    """
    dsn = dsn.strip()
    if len(dsn) > _MAX_DSN_LENGTH:
        raise ValueError(f"is malformed (longer than {_MAX_DSN_LENGTH} characters)")
    if any(c.isspace() or not c.isprintable() for c in dsn):
        raise ValueError("is malformed (contains a space or a control character)")
    try:
        _check_no_hidden_password(dsn)
    except ValueError:
        raise ValueError(
            "is malformed (a '#', '[', a second '@' or an '@' after the host: expected "
            "https://<key>@<host>/<project-id>)"
        ) from None
    try:
        parts = _split(dsn)
    except ValueError as exc:
        fault = "invalid IPv6 host" if "IPv6" in str(exc) else "bad port, expected 1-65535"
        raise ValueError(f"is malformed ({fault})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("is malformed (scheme must be http or https)")
    if not parts.username:
        raise ValueError("is malformed (no public key before '@')")
    hostport = parts.netloc.rpartition("@")[2]
    if not parts.hostname or hostport.startswith(":"):
        raise ValueError("is malformed (no host)")
    try:
        check_host_name(parts.hostname, bracketed=hostport.startswith("["))
    except ValueError as exc:
        raise ValueError(f"is malformed ({str(exc).removeprefix('has ')})") from None
    if parts.port == 0:
        raise ValueError("is malformed (bad port, expected 1-65535)")
    if parts.query:
        raise ValueError("is malformed (a query after the project id)")
    project = parts.path.rpartition("/")[2]
    if not project:
        raise ValueError("is malformed (no project id after the host)")
    if not (project.isascii() and project.isdigit()) or len(project) > _MAX_PROJECT_ID_DIGITS:
        raise ValueError(
            f"is malformed (project id must be a number, of 1-{_MAX_PROJECT_ID_DIGITS} digits)"
        )


# --------------------------------------------------------------------------------------------
# Masking

#: a rejected value is repeated in an error only when it is this short, made only of these
#: characters (no '@', ':', '/', '=' or space: no URL, credential, e-mail or tag) and holds at
#: most this many digits (no SSN, EIN, phone, card or account number)
SHOWN_MAX_LENGTH = 24
SHOWN_MAX_DIGITS = 6
_SHOWN_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def shown_value(value: str) -> str:
    """How an error line may repeat a rejected ``value``: quoted, when it cannot carry a secret
    or PII (see SHOWN_MAX_LENGTH), otherwise only its kind and length."""
    if (
        0 < len(value) <= SHOWN_MAX_LENGTH
        and _SHOWN_CHARACTERS.issuperset(value)
        and sum(c.isdigit() for c in value) <= SHOWN_MAX_DIGITS
    ):
        return f"'{value}'"
    if not value:
        return "an empty value"
    kind = "a URL" if "://" in value else "a value"
    return f"{kind} of {len(value)} character{'s' if len(value) != 1 else ''}"


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
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(k.lower() in SECRET_QUERY_KEYS for k, _ in pairs):  # else kept as written
        query = urlencode(
            [(k, MASK if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*/:"
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
