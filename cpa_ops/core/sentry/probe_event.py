"""One test event, sent or built: :func:`send_test_event` and its :class:`TestEventResult`.

The event goes through a private client in a forked scope (nothing global is touched), with the
SDK's own HTTP transport (:class:`~cpa_ops.core.sentry.transport.DeliveryRecordingTransport`),
and the result says how the ingest endpoint answered within a deadline; with ``dry_run`` it is
the envelope instead.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope

from cpa_ops.core.choices import EventLevel
from cpa_ops.core.known_secrets import scrub_value
from cpa_ops.core.redact import redact_text
from cpa_ops.core.sentry.delivery import Delivery, Verdict
from cpa_ops.core.sentry.options import pii_option_accepted, sentry_options
from cpa_ops.core.sentry.scrub import Event
from cpa_ops.core.sentry.transport import DeliveryRecordingTransport, EnvelopeKeepingTransport
from cpa_ops.core.settings import ConfigError, Settings

Level = EventLevel

TEST_MESSAGE = "cpa-ops sentry-test: test event"
TEST_TAG = ("cpa_ops.sentry_test", "true")


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
    kept = EnvelopeKeepingTransport() if dry_run else None
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
    with pii_option_accepted():
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
    # what is shown must hold no known secret (the DSN keys, a Redis password) in any spelling
    data: dict[str, Any] = scrub_value({"headers": dict(envelope.headers), "items": items})
    return data
