"""The PII-scrubbing hooks: every event, transaction, breadcrumb, log and metric, or nothing.

Each hook replaces the process's known secrets by value in every string of its item
(:func:`~cpa_ops.core.known_secrets.scrub_value`), then passes it through the shared
:func:`~cpa_ops.core.redact.redact`, and fails closed: an item it cannot scrub is dropped (None).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from cpa_ops.core.known_secrets import scrub_value
from cpa_ops.core.redact import MARKER_PREFIX, redact, redact_text, sensitive_key_kind

Event = dict[str, Any]
Hook = Callable[[Event, dict[str, Any]], Event | None]


def scrub_event(event: Event, hint: dict[str, Any]) -> Event | None:
    """``before_send``/``before_send_transaction``: the event with all PII redacted, or None.

    Every string anywhere in the event (message, logentry, exception values, frame variables,
    extra, tags, contexts, user, request, breadcrumbs, spans) has the known secrets replaced by
    value and goes through :func:`~cpa_ops.core.redact.redact`; ``sys.argv`` also loses the
    values of sensitive flags, URLs and query strings are decoded first so encoded PII is seen,
    ``user.ip_address`` is removed and Sentry is told not to infer an IP, and the dynamic
    sampling context (which would put the DSN key in the envelope header) is left out. If
    anything fails the event is dropped.
    """
    try:
        return _scrubbed_event(event)
    except Exception:
        return None  # fail closed


def scrub_record(record: Event, hint: dict[str, Any]) -> Event | None:
    """``before_breadcrumb``/``before_send_log``/``before_send_metric``: the breadcrumb, log or
    metric with all PII redacted, or None (dropped) if that fails."""
    try:
        scrubbed = redact(scrub_value(record))
    except Exception:
        return None  # fail closed
    return scrubbed if isinstance(scrubbed, dict) else None


def _scrubbed_event(event: Event) -> Event | None:
    prepared = dict(event)
    extra = prepared.get("extra")
    if isinstance(extra, dict) and isinstance(extra.get("sys.argv"), list):
        prepared["extra"] = {**extra, "sys.argv": _scrubbed_argv(extra["sys.argv"])}
    request = prepared.get("request")
    if isinstance(request, dict):
        prepared["request"] = _readable_request(request)
    # known secrets by value first: a pattern that masks part of one would hide the rest
    scrubbed = redact(scrub_value(prepared))
    if not isinstance(scrubbed, dict):
        return None
    user = scrubbed.get("user")
    if isinstance(user, dict):
        user.pop("ip_address", None)
        if not user:
            del scrubbed["user"]
    contexts = scrubbed.get("contexts")
    trace = contexts.get("trace") if isinstance(contexts, dict) else None
    if isinstance(trace, dict):
        # the dynamic sampling context becomes the envelope's `trace` header, DSN key included;
        # Relay ignores a missing one (it only loses trace-wide dynamic sampling)
        trace.pop("dynamic_sampling_context", None)
    _keep_software_names(prepared, scrubbed)
    sdk = scrubbed.get("sdk")
    if isinstance(sdk, dict):
        # without this, ingest may fill user.ip_address from the connection
        scrubbed["sdk"] = {**sdk, "settings": {**sdk.get("settings", {}), "infer_ip": "never"}}
    return scrubbed


# where a `name` is a piece of software's (sentry.python, Linux, CPython), never a person's
_SOFTWARE_CONTEXTS = ("os", "runtime")


def _keep_software_names(event: Event, scrubbed: Event) -> None:
    """Put back the SDK's, its packages' and the platform's names that the name-like key rule
    redacted: the SDK describes itself there (Sentry groups and processes events by them).
    Their text still passes the known-secret and pattern layers."""
    sdk, kept_sdk = event.get("sdk"), scrubbed.get("sdk")
    _restore_name(sdk, kept_sdk)
    if isinstance(sdk, dict) and isinstance(kept_sdk, dict):
        packages, kept_packages = sdk.get("packages"), kept_sdk.get("packages")
        if isinstance(packages, list) and isinstance(kept_packages, list):
            for package, kept_package in zip(packages, kept_packages, strict=False):
                _restore_name(package, kept_package)
    contexts, kept_contexts = event.get("contexts"), scrubbed.get("contexts")
    if isinstance(contexts, dict) and isinstance(kept_contexts, dict):
        for key in _SOFTWARE_CONTEXTS:
            _restore_name(contexts.get(key), kept_contexts.get(key))


def _restore_name(source: Any, kept: Any) -> None:
    if isinstance(source, dict) and isinstance(kept, dict) and isinstance(source.get("name"), str):
        kept["name"] = redact_text(scrub_value(source["name"]))


def _scrubbed_argv(argv: list[Any]) -> list[Any]:
    """``argv`` with the value of every sensitive flag (``--password x``, ``--ssn=x``) hidden."""
    result: list[Any] = []
    hide_next: str | None = None
    for arg in argv:
        if hide_next is not None:
            result.append(f"{MARKER_PREFIX}{hide_next}]")
            hide_next = None
            continue
        if isinstance(arg, str) and arg.startswith("-"):
            name, equals, _ = arg.partition("=")
            kind = sensitive_key_kind(name.lstrip("-"))
            if kind is not None and equals:
                result.append(f"{name}={MARKER_PREFIX}{kind}]")
                continue
            hide_next = kind
        result.append(arg)
    return result


def _readable_request(request: Event) -> Event:
    """``request`` with its URL and query string decoded (``%40`` hides an email from a regex)."""
    result = dict(request)
    url = result.get("url")
    if isinstance(url, str):
        path, mark, query = url.partition("?")
        result["url"] = unquote_plus(path) + mark + _readable_query(query)
    query_string = result.get("query_string")
    if isinstance(query_string, str):
        result["query_string"] = _readable_query(query_string)
    return result


def _readable_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    shown = []
    for key, value in pairs:
        kind = sensitive_key_kind(key)
        shown.append(f"{key}={MARKER_PREFIX}{kind}]" if kind and value else f"{key}={value}")
    return "&".join(shown)
