"""Sentry for the platform: :func:`init_sentry`, the PII-scrubbing hooks, and delivery checks.

* :func:`init_sentry` configures the SDK from :class:`~cpa_ops.core.settings.Settings`: nothing
  when SENTRY_DSN is unset; ``send_default_pii`` off, no local variables, no request bodies,
  and every event, transaction, breadcrumb, log and metric passed through
  :func:`scrub_event` / :func:`scrub_record` (the shared :mod:`cpa_ops.core.redact`), which
  drop what they cannot scrub.
* :func:`send_test_event` sends one scrubbed test event through the SDK's own HTTP transport
  (:class:`DeliveryRecordingTransport`) and returns how the ingest endpoint answered, within a
  deadline; with ``dry_run`` it returns the envelope instead of sending it.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote_plus

import sentry_sdk
import urllib3
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import HttpTransport, Transport
from sentry_sdk.utils import BadDsn, Dsn

from cpa_ops import __version__
from cpa_ops.core.redact import MARKER_PREFIX, redact, redact_text, sensitive_key_kind
from cpa_ops.core.settings import ACCEPTED, ConfigError, Settings

if TYPE_CHECKING:
    from sentry_sdk.consts import EndpointType

__all__ = [
    "RELEASE",
    "Delivery",
    "DeliveryRecordingTransport",
    "TestEventResult",
    "Verdict",
    "init_sentry",
    "scrub_event",
    "scrub_record",
    "send_test_event",
    "sentry_options",
]

Event = dict[str, Any]
Hook = Callable[[Event, dict[str, Any]], Event | None]
Level = Literal["fatal", "error", "warning", "info", "debug"]

RELEASE = f"cpa-ops@{__version__}"
TEST_MESSAGE = "cpa-ops sentry-test: test event"
TEST_TAG = ("cpa_ops.sentry_test", "true")

# Options nobody may override: they are what keeps client PII out of Sentry.
_FIXED_OPTIONS: Mapping[str, Any] = {"send_default_pii": False}
_HOOKS = (
    "before_send",
    "before_send_transaction",
    "before_breadcrumb",
    "before_send_log",
    "before_send_metric",
)


# ---------------------------------------------------------------------------------------------
# Configuration


def sentry_options(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """The ``sentry_sdk.init`` options for ``settings``; ``overrides`` win, except PII ones.

    A ``before_send``/``before_send_transaction``/``before_breadcrumb``/``before_send_log``/
    ``before_send_metric`` override runs first and the scrubbing hook after it, so no override
    can send anything unscrubbed. Raises ValueError on ``send_default_pii=True`` or any
    ``data_collection`` (which would override it), and ConfigError when the SDK cannot parse
    SENTRY_DSN.
    """
    for name, value in _FIXED_OPTIONS.items():
        if name in overrides and overrides[name] != value:
            raise ValueError(f"{name}={overrides[name]!r} is not allowed: client PII stays home")
    if "data_collection" in overrides:
        raise ValueError("data_collection is not allowed: it would override send_default_pii")
    dsn = settings.sentry_dsn.get_secret_value() if settings.sentry_dsn is not None else None
    if dsn is not None:
        _check_dsn(dsn)
    scrubbers: dict[str, Hook] = {
        "before_send": scrub_event,
        "before_send_transaction": scrub_event,
        "before_breadcrumb": scrub_record,
        "before_send_log": scrub_record,  # Sentry logs, when a service enables them
        "before_send_metric": scrub_record,
    }
    options: dict[str, Any] = {
        "dsn": dsn,
        "environment": settings.environment,
        "release": RELEASE,
        "traces_sample_rate": settings.sentry_traces_sample_rate,
        "include_local_variables": False,
        # request bodies of a CPA platform are client data: they never leave
        "max_request_body_size": "never",
    }
    options.update({k: v for k, v in overrides.items() if k not in _HOOKS})
    options.update(_FIXED_OPTIONS)
    for hook, scrubber in scrubbers.items():
        options[hook] = _then(overrides.get(hook), scrubber)
    return options


def init_sentry(settings: Settings, **overrides: Any) -> bool:
    """Initialise the global Sentry SDK; False (and nothing done) when SENTRY_DSN is unset.

    ``overrides`` are ``sentry_sdk.init`` options (see :func:`sentry_options`). The SDK's
    default and auto-enabling integrations stay on, so FastAPI is instrumented wherever it is
    installed; one-shot tools pass ``default_integrations=False,
    auto_enabling_integrations=False`` to skip their import cost.
    """
    if settings.sentry_dsn is None:
        return False
    options = sentry_options(settings, **overrides)
    with _pii_option_accepted():
        sentry_sdk.init(**options)
    return True


def _check_dsn(dsn: str) -> None:
    try:
        Dsn(dsn)
    except BadDsn as exc:
        # the SDK's message may repeat part of the DSN: name the fault in our own words
        text = str(exc)
        if "project" in text:
            fault = "project id must be a number"
        elif "public key" in text:
            fault = "no public key before '@'"
        elif "hostname" in text:
            fault = "no host"
        else:
            fault = "scheme must be http or https"
        raise ConfigError(
            [f"SENTRY_DSN is malformed ({fault}); expected {ACCEPTED['sentry_dsn']}"]
        ) from None


@contextmanager
def _pii_option_accepted() -> Iterator[None]:
    # sentry-sdk 2.75 deprecates send_default_pii for data_collection; False maps to the same
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "The send_default_pii option is deprecated", DeprecationWarning
        )
        yield


def _then(first: Hook | None, scrubber: Hook) -> Hook:
    if first is None:
        return scrubber

    def hook(item: Event, hint: dict[str, Any]) -> Event | None:
        try:
            result = first(item, hint)
        except Exception:
            return None  # fail closed: the caller's hook broke, send nothing
        return None if result is None else scrubber(result, hint)

    return hook


# ---------------------------------------------------------------------------------------------
# Scrubbing


def scrub_event(event: Event, hint: dict[str, Any]) -> Event | None:
    """``before_send``/``before_send_transaction``: the event with all PII redacted, or None.

    Every string anywhere in the event (message, logentry, exception values, frame variables,
    extra, tags, contexts, user, request, breadcrumbs, spans) goes through
    :func:`~cpa_ops.core.redact.redact`; ``sys.argv`` also loses the values of sensitive
    flags, URLs and query strings are decoded first so encoded PII is seen, ``user.ip_address``
    is removed and Sentry is told not to infer an IP, and the dynamic sampling context (which
    would put the DSN key in the envelope header) is left out. If anything fails the event is
    dropped.
    """
    try:
        return _scrubbed_event(event)
    except Exception:
        return None  # fail closed


def scrub_record(record: Event, hint: dict[str, Any]) -> Event | None:
    """``before_breadcrumb``/``before_send_log``/``before_send_metric``: the breadcrumb, log or
    metric with all PII redacted, or None (dropped) if that fails."""
    try:
        scrubbed = redact(record)
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
    scrubbed = redact(prepared)
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
    sdk = scrubbed.get("sdk")
    if isinstance(sdk, dict):
        # without this, ingest may fill user.ip_address from the connection
        scrubbed["sdk"] = {**sdk, "settings": {**sdk.get("settings", {}), "infer_ip": "never"}}
    return scrubbed


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


# ---------------------------------------------------------------------------------------------
# Delivery


class Verdict(StrEnum):
    """How the ingest endpoint answered one envelope (or why it never did)."""

    DELIVERED = "delivered"  #: 2xx
    CONNECTION_REFUSED = "connection_refused"
    UNREACHABLE = "unreachable"  #: no route, name does not resolve, ...
    TLS_ERROR = "tls_error"
    TIMEOUT = "timeout"  #: no answer within the deadline
    CONNECTION_CLOSED = "connection_closed"  #: closed without an HTTP answer
    AUTH_REJECTED = "auth_rejected"  #: 401 or 403: bad key or project
    TOO_LARGE = "too_large"  #: 413
    RATE_LIMITED = "rate_limited"  #: 429
    SERVER_ERROR = "server_error"  #: 5xx
    UNEXPECTED_STATUS = "unexpected_status"  #: any other status
    DROPPED = "dropped"  #: never sent: scrubbing failed, so the event was dropped
    DRY_RUN = "dry_run"  #: not sent on purpose


@dataclass(frozen=True)
class Delivery:
    """What became of one envelope: the verdict, the HTTP status, Retry-After (seconds)."""

    verdict: Verdict
    status: int | None = None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        """The endpoint answered 2xx."""
        return self.verdict is Verdict.DELIVERED


def _verdict_for_status(status: int) -> Verdict:
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status in (401, 403):
        return Verdict.AUTH_REJECTED
    if status == 413:
        return Verdict.TOO_LARGE
    if status == 429:
        return Verdict.RATE_LIMITED
    if 500 <= status < 600:
        return Verdict.SERVER_ERROR
    return Verdict.UNEXPECTED_STATUS


def _verdict_for_error(error: BaseException) -> Verdict:
    from urllib3 import exceptions

    if isinstance(error, exceptions.NewConnectionError):  # before TimeoutError: it subclasses it
        refused = isinstance(error.__cause__, ConnectionRefusedError)
        return Verdict.CONNECTION_REFUSED if refused else Verdict.UNREACHABLE
    if isinstance(error, exceptions.TimeoutError | TimeoutError):
        return Verdict.TIMEOUT
    if isinstance(error, exceptions.SSLError):
        return Verdict.TLS_ERROR
    if isinstance(error, exceptions.ProtocolError | ConnectionError):
        return Verdict.CONNECTION_CLOSED
    return Verdict.UNREACHABLE


class DeliveryRecordingTransport(HttpTransport):
    """The SDK's HTTP transport, recording how the endpoint answered each event envelope.

    It sends through the SDK's own request path (one attempt, no retries, ``request_timeout``)
    and records a :class:`Delivery` per event id, which :meth:`wait_for` hands out.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.request_timeout: float = float(self.TIMEOUT)
        self._deliveries: dict[str, Delivery] = {}
        self._recorded = threading.Condition()

    def wait_for(self, event_id: str, timeout: float) -> Delivery | None:
        """The delivery of ``event_id``; None if it is not known within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._recorded:
            while event_id not in self._deliveries:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._recorded.wait(left)
            return self._deliveries[event_id]

    def _record(self, envelope: Envelope | None, delivery: Delivery) -> None:
        event_id = envelope.headers.get("event_id") if envelope is not None else None
        if not isinstance(event_id, str):
            return
        with self._recorded:
            self._deliveries.setdefault(event_id, delivery)  # the first word is the answer
            self._recorded.notify_all()

    def _request(
        self,
        method: str,
        endpoint_type: EndpointType,
        body: Any,
        headers: Mapping[str, str],
    ) -> urllib3.BaseHTTPResponse:
        return self._pool.request(
            method,
            self._auth.get_api_url(endpoint_type),
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=self.request_timeout, read=self.request_timeout),
            retries=False,  # one attempt: the verdict is about this endpoint, now
        )

    def _send_request(
        self,
        body: bytes,
        headers: dict[str, str],
        endpoint_type: EndpointType,
        envelope: Envelope | None = None,
    ) -> None:
        try:
            super()._send_request(body, headers, endpoint_type, envelope)
        except Exception as error:
            self._record(envelope, Delivery(_verdict_for_error(error)))
            raise

    def _handle_response(self, response: Any, envelope: Envelope | None) -> None:
        status = int(response.status)
        retry_after = None
        if status == 429:
            value = self._get_header_value(response, "Retry-After")
            retry_after = float(self._retry.parse_retry_after(value)) if value else None
        self._record(envelope, Delivery(_verdict_for_status(status), status, retry_after))
        super()._handle_response(response, envelope)


class _EnvelopeKeepingTransport(Transport):
    """Keeps the envelopes it is given and sends nothing: ``--dry-run``."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)


@dataclass(frozen=True)
class TestEventResult:
    """One test event: its id, the Sentry host (never the key), what happened, how long it took.

    ``envelope`` is the envelope as it would be sent (dry run only), as JSON-ready data.
    """

    __test__ = False  # not a pytest test class

    event_id: str | None
    host: str | None
    delivery: Delivery
    elapsed: float
    envelope: dict[str, Any] | None = None


class SentryTestError(Exception):
    """The exception a test event with ``exception=True`` carries."""

    __test__ = False


def send_test_event(
    settings: Settings,
    *,
    deadline: float,
    message: str = TEST_MESSAGE,
    level: Level | None = None,
    exception: bool = False,
    tags: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> TestEventResult:
    """Send one scrubbed test event and wait until ``deadline`` (``time.monotonic()``) at most.

    The event carries no environment variables, OS user, host name, IP address or argv, and
    its envelope no DSN key. Nothing global is touched: a private client in a forked scope.
    Raises ConfigError when SENTRY_DSN is unset (unless ``dry_run``) or malformed.
    """
    if settings.sentry_dsn is None and not dry_run:
        raise ConfigError(
            [
                "SENTRY_DSN is not set (Sentry is disabled); expected a DSN like "
                "https://<key>@<host>/<project-id>"
            ]
        )
    kept = _EnvelopeKeepingTransport() if dry_run else None
    options = sentry_options(
        settings,
        transport=kept if kept is not None else DeliveryRecordingTransport,
        before_send=_strip_identity,
        default_integrations=False,
        auto_enabling_integrations=False,
        server_name="",
        send_client_reports=False,
        max_breadcrumbs=0,
        shutdown_timeout=0,
    )
    with _pii_option_accepted():
        client = sentry_sdk.Client(**options)
    if isinstance(client.transport, DeliveryRecordingTransport):
        # the worker thread gives up when the caller does, not 30 s later
        client.transport.request_timeout = max(0.1, deadline - time.monotonic())
    started = time.monotonic()
    try:
        event_id = _capture_test_event(client, message, level, exception, tags or {})
        if kept is not None:
            verdict = Verdict.DRY_RUN if event_id else Verdict.DROPPED
            envelope = _envelope_data(kept.envelopes[0]) if kept.envelopes else None
            return TestEventResult(
                event_id,
                settings.sentry_host,
                Delivery(verdict),
                time.monotonic() - started,
                envelope,
            )
        transport = client.transport
        assert isinstance(transport, DeliveryRecordingTransport)
        answer = None
        if event_id is not None:
            answer = transport.wait_for(event_id, deadline - time.monotonic())
        if answer is None:
            answer = Delivery(Verdict.TIMEOUT if event_id else Verdict.DROPPED)
        return TestEventResult(event_id, settings.sentry_host, answer, time.monotonic() - started)
    finally:
        client.close(timeout=0)  # never wait for a silent endpoint


def _capture_test_event(
    client: sentry_sdk.Client,
    message: str,
    level: Level | None,
    exception: bool,
    tags: Mapping[str, str],
) -> str | None:
    with sentry_sdk.isolation_scope(), sentry_sdk.new_scope() as scope:
        scope.set_client(client)
        scope.set_tag(*TEST_TAG)
        for key, value in tags.items():
            scope.set_tag(key, value)
        if not exception:
            return scope.capture_message(message, level=level)
        if level is not None:
            scope.set_level(level)
        try:
            _raise_test_exception(message)
        except SentryTestError as error:
            return scope.capture_exception(error)
    return None  # pragma: no cover - _raise_test_exception always raises


def _raise_test_exception(message: str) -> None:
    raise SentryTestError(message)


def _strip_identity(event: Event, hint: dict[str, Any]) -> Event:
    """The test event without host name, user, argv, or the home directory (OS user name)."""
    event = dict(event)
    event.pop("server_name", None)
    event.pop("user", None)
    extra = event.get("extra")
    if isinstance(extra, dict):
        event["extra"] = {k: v for k, v in extra.items() if k != "sys.argv"}
    home = str(Path.home())
    replaced = _replace_text(event, home, "~") if len(home) > 1 else event
    return replaced if isinstance(replaced, dict) else event


def _replace_text(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace_text(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_text(v, old, new) for v in value]
    return value


def _envelope_data(envelope: Envelope) -> dict[str, Any]:
    """An envelope as JSON-ready data: its headers and each item's headers and payload."""
    import json

    items = []
    for item in envelope.items:
        raw = item.get_bytes()
        try:
            payload: Any = json.loads(raw)
        except ValueError:
            payload = redact_text(raw.decode("utf-8", "replace"))
        items.append({"headers": dict(item.headers), "payload": payload})
    return {"headers": dict(envelope.headers), "items": items}
