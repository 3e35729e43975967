"""The web policy of Sentry: what an event, a transaction, a span or a breadcrumb of a web
service may say about the request, and which traces are sampled. Plain functions, no SDK.

* The request: URL and transaction name from the route template (:data:`UNMATCHED` when no
  route matched), no query string, no cookies, no body, no environment (``REMOTE_ADDR``),
  headers by :data:`ALLOWED_HEADERS` only (any other header is absent, not ``[Filtered]``).
* No client address anywhere: ``user.ip_address``, ``client.address`` and the like are removed.
* Redis: span descriptions, ``db.statement``-style data, breadcrumbs and ``redis.key`` tags keep
  the command and the key's prefix (``SET return-by-name:<redacted>``), never the rest of the key
  or any value (:func:`redis_text`).
* Outgoing HTTP (spans, breadcrumbs): scheme, host and path, no query string or fragment.
* uvicorn's access breadcrumbs are dropped (the middleware's access line says it without data).
* The correlation ids (``request_id``, ``task_id``, ``client_id``, ``agent``) of the context an
  event is captured in become its tags (:func:`correlation_tags`).
* :func:`traces_sampler`: health routes (:data:`HEALTH_PATHS`) never, a parent's decision
  followed, else the configured rate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

Event = dict[str, Any]

#: the route name of a path no route matched (the access line says the same)
UNMATCHED: Final = "<unmatched>"
#: the health routes: never sampled, their access lines at debug
HEALTH_PATHS: Final = frozenset({"/livez", "/readyz", "/healthz"})
#: the only request headers sent (lower case); any other is left out entirely
ALLOWED_HEADERS: Final = frozenset(
    {
        "content-type",
        "content-length",
        "accept",
        "user-agent",
        "x-request-id",
        "x-task-id",
        "x-client-id",
        "x-agent",
    }
)
#: what stands for the part of a Redis key after its prefix
REDACTED_KEY: Final = "<redacted>"
CORRELATION_TAGS: Final = ("request_id", "task_id", "client_id", "agent")
# the correlation middleware's rule for an id: anything else is not a tag
_VALID_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HOST: Final = re.compile(
    r"[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](?::[0-9]{1,5})?"
)
_METHOD: Final = re.compile(r"[A-Z]{1,16}")
# a key prefix: letters, digits and _ . - up to the first separator
_KEY_PREFIX: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}[:/|{#]")
_COMMAND_WORD: Final = re.compile(r"[A-Z][A-Z0-9_.]*")
_QUOTED: Final = re.compile(r"""b?'(?:[^'\\]|\\.)*'|b?"(?:[^"\\]|\\.)*\"""")
# sources whose transaction name is not the raw URL
_NAMED_SOURCES: Final = frozenset({"route", "component", "view", "task", "custom"})
# data keys (spans, breadcrumbs, contexts) that hold a client's address or a query string
_DROPPED_DATA: Final = frozenset(
    {
        "client.address",
        "user.ip_address",
        "http.client_ip",
        "net.peer.ip",
        "net.sock.peer.addr",
        "http.query",
        "http.fragment",
        "url.query",
        "url.fragment",
        "http.request.header.x-forwarded-for",
        "http.request.header.cookie",
    }
)
_REDIS_TEXT_DATA: Final = ("db.statement", "db.query.text")
_REDIS_KEY_FIELDS: Final = ("redis.key", "db.redis.key", "cache.key")


# ---------------------------------------------------------------------------------------------
# the request and the transaction name


def route_name(event: Mapping[str, Any]) -> str | None:
    """The event's transaction name as it may be sent: kept when it names a route (or a
    component, task, custom name), :data:`UNMATCHED` when it is a raw URL; None when unset."""
    name = event.get("transaction")
    if not isinstance(name, str):
        return None
    info = event.get("transaction_info")
    source = info.get("source") if isinstance(info, Mapping) else None
    return name if source in _NAMED_SOURCES else UNMATCHED


def safe_request(request: Mapping[str, Any], route: str | None) -> Event:
    """The ``request`` of an event as it may be sent: method, the URL of the route template
    (scheme and host kept when they look like a host), the allowlisted headers; nothing else."""
    safe: Event = {}
    method = request.get("method")
    if isinstance(method, str) and _METHOD.fullmatch(method):
        safe["method"] = method
    path = route if route is not None and route.startswith("/") else UNMATCHED
    url = request.get("url")
    origin = _origin(url) if isinstance(url, str) else ""
    safe["url"] = f"{origin}{path}" if origin and path.startswith("/") else path
    headers = request.get("headers")
    if isinstance(headers, Mapping):
        kept = {
            str(k): v
            for k, v in headers.items()
            if isinstance(k, str) and k.lower() in ALLOWED_HEADERS and isinstance(v, str)
        }
        if kept:
            safe["headers"] = kept
    return safe


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` when its host looks like one, else ""."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    netloc = parts.netloc
    if parts.scheme not in ("http", "https", "ws", "wss") or not _HOST.fullmatch(netloc):
        return ""
    return f"{parts.scheme}://{netloc}"


def safe_url(url: str) -> str:
    """An outgoing request's URL without query string, fragment or userinfo."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return UNMATCHED
    origin = _origin(url)
    if not origin:
        return UNMATCHED
    return f"{origin}{parts.path}"


# ---------------------------------------------------------------------------------------------
# Redis


def redis_key_prefix(key: Any) -> str:
    """The prefix of a Redis key up to its first separator (``return-by-name:``) followed by
    :data:`REDACTED_KEY`; only :data:`REDACTED_KEY` when it has no such prefix."""
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    if isinstance(key, list | tuple):
        return ", ".join(redis_key_prefix(k) for k in key)
    if not isinstance(key, str):
        return REDACTED_KEY
    match = _KEY_PREFIX.match(key)
    return f"{match.group()}{REDACTED_KEY}" if match else REDACTED_KEY


def redis_text(text: str) -> str:
    """A Redis command as the SDK writes it (``SET 'return-by-name:Jane' [Filtered]``) cut to
    the command and the key's prefix: ``SET return-by-name:<redacted>``. Idempotent."""
    words = text.split(" ")
    command: list[str] = []
    while words and _COMMAND_WORD.fullmatch(words[0]):
        command.append(words.pop(0))
    if not command:
        return REDACTED_KEY
    rest = " ".join(words).strip()
    if not rest:
        return " ".join(command)
    quoted = _QUOTED.match(rest)
    if quoted:
        import ast  # only when a span or breadcrumb is cut: not on the import path

        try:
            key: Any = ast.literal_eval(quoted.group())
        except (ValueError, SyntaxError):
            key = None
    else:
        key = rest.split(" ", 1)[0]
    return f"{' '.join(command)} {redis_key_prefix(key)}"


# ---------------------------------------------------------------------------------------------
# spans, breadcrumbs, tags


def safe_span(span: Event) -> Event:
    """A span with Redis text cut, outgoing URLs without query, no client address."""
    op = span.get("op")
    op = op if isinstance(op, str) else ""
    data = span.get("data") if isinstance(span.get("data"), dict) else None
    tags = span.get("tags") if isinstance(span.get("tags"), dict) else None
    is_redis = op.startswith("db.redis") or (data or {}).get("db.system") == "redis"
    description = span.get("description")
    if is_redis:
        if isinstance(description, str):
            span["description"] = redis_text(description)
        _cut_redis_fields(data)
        _cut_redis_fields(tags)
    elif op.startswith("cache."):
        if description is not None:
            span["description"] = redis_key_prefix(_split_keys(description))
        _cut_redis_fields(data)
    elif op.startswith("http.client") and isinstance(description, str):
        method, _, url = description.partition(" ")
        span["description"] = f"{method} {safe_url(url)}" if url else method
    for fields in (data, tags):
        if fields is not None:
            _drop_addresses(fields)
            if isinstance(fields.get("url"), str):
                fields["url"] = safe_url(fields["url"])
    return span


def _split_keys(description: Any) -> Any:
    return description.split(", ") if isinstance(description, str) else description


def _cut_redis_fields(fields: dict[str, Any] | None) -> None:
    if fields is None:
        return
    for name in _REDIS_KEY_FIELDS:
        if name in fields:
            fields[name] = redis_key_prefix(fields[name])
    for name in _REDIS_TEXT_DATA:
        if isinstance(fields.get(name), str):
            fields[name] = redis_text(fields[name])
    commands = fields.get("redis.commands")
    if isinstance(commands, dict) and isinstance(commands.get("first_ten"), list):
        commands["first_ten"] = [
            redis_text(c) if isinstance(c, str) else REDACTED_KEY for c in commands["first_ten"]
        ]


def _drop_addresses(fields: dict[str, Any]) -> None:
    for name in [k for k in fields if isinstance(k, str) and k.lower() in _DROPPED_DATA]:
        del fields[name]


def safe_breadcrumb(crumb: Event) -> Event | None:
    """A breadcrumb with the same cuts as spans; uvicorn's access breadcrumbs dropped."""
    category = crumb.get("category")
    if category == "uvicorn.access":
        return None
    data = crumb.get("data") if isinstance(crumb.get("data"), dict) else None
    kind = crumb.get("type")
    if kind == "redis" or category == "redis":
        if isinstance(crumb.get("message"), str):
            crumb["message"] = redis_text(crumb["message"])
        _cut_redis_fields(data)
    elif kind == "http" and data is not None and isinstance(data.get("url"), str):
        data["url"] = safe_url(data["url"])
    if data is not None:
        _drop_addresses(data)
    return crumb


def correlation_tags(context: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """The correlation ids among ``context`` (name, value) that are valid ids."""
    return {
        name: value
        for name, value in context
        if name in CORRELATION_TAGS and isinstance(value, str) and _VALID_ID.fullmatch(value)
    }


def web_event(event: Event, tags: Mapping[str, str]) -> Event:
    """``event`` (error or transaction) under the web policy, ``tags`` (correlation) added."""
    route = route_name(event)
    if route is not None and route != event.get("transaction"):
        event["transaction"] = route
        event["transaction_info"] = {"source": "route"}
    request = event.get("request")
    if isinstance(request, Mapping):
        event["request"] = safe_request(request, route)
    meta = event.get("_meta")
    if isinstance(meta, dict):
        meta.pop("request", None)
        if not meta:
            del event["_meta"]
    user = event.get("user")
    if isinstance(user, dict):
        for name in ("ip_address", "geo"):
            user.pop(name, None)
        if not user:
            del event["user"]
    if tags:
        current = event.get("tags")
        if isinstance(current, dict):
            for name, value in tags.items():
                current.setdefault(name, value)
        elif current is None:
            event["tags"] = dict(tags)
    contexts = event.get("contexts")
    if isinstance(contexts, dict):
        for context in contexts.values():
            if isinstance(context, dict):
                _drop_addresses(context)
                if isinstance(context.get("data"), dict):
                    _drop_addresses(context["data"])
    spans = event.get("spans")
    if isinstance(spans, list):
        event["spans"] = [safe_span(s) for s in spans if isinstance(s, dict)]
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values") if isinstance(crumbs, dict) else None
    if isinstance(crumbs, dict) and isinstance(values, list):
        kept = [safe_breadcrumb(c) for c in values if isinstance(c, dict)]
        crumbs["values"] = [c for c in kept if c is not None]
    return event


# ---------------------------------------------------------------------------------------------
# sampling


def is_health_path(path: Any, health_paths: Iterable[str] = HEALTH_PATHS) -> bool:
    """Whether ``path`` (a path or a URL) is one of the health routes (a mount prefix allowed)."""
    if not isinstance(path, str):
        return False
    if "://" in path:
        try:
            path = urlsplit(path).path
        except ValueError:
            return False
    path = path.rstrip("/") or "/"
    return any(path == p or path.endswith(p) for p in health_paths)


def traces_sampler(
    rate: float, health_paths: Iterable[str] = HEALTH_PATHS
) -> Callable[[Mapping[str, Any]], float]:
    """A ``traces_sampler``: 0 for the health routes (whatever a parent decided), the parent's
    decision when there is one, else ``rate``."""
    paths = frozenset(health_paths)

    def sample(context: Mapping[str, Any]) -> float:
        asgi = context.get("asgi_scope")
        path = asgi.get("path") if isinstance(asgi, Mapping) else None
        if path is None:
            transaction = context.get("transaction_context")
            path = transaction.get("name") if isinstance(transaction, Mapping) else None
        if is_health_path(path, paths):
            return 0.0
        parent = context.get("parent_sampled")
        if parent is not None:
            return 1.0 if parent else 0.0
        return rate

    return sample
