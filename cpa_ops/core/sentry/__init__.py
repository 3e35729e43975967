"""Sentry for the platform: :func:`init_sentry`, the PII-scrubbing hooks, and delivery checks.

* :func:`init_sentry` configures the SDK from :class:`~cpa_ops.core.settings.Settings`: nothing
  when SENTRY_DSN is unset; ``send_default_pii`` off, no local variables, no request bodies,
  and every event, transaction, breadcrumb, log and metric passed through
  :func:`scrub_event` / :func:`scrub_record` (the shared :mod:`cpa_ops.core.redact`), which
  drop what they cannot scrub.
* The policies before the scrubbing (``policy``): the web policy (``web``: request URL and
  transaction name from the route template, headers by allowlist, no query string, cookies or
  client address, Redis text cut to the command and key prefix, health routes never sampled)
  and, in staging and production, the free-text policy (``withhold``): exception messages
  withheld unless :func:`allow_exception_messages` (or ALLOWED_EXCEPTION_MESSAGES) allows the
  type, log arguments and extra data vetted. The library logger's error lines become events,
  its info and warning lines breadcrumbs (``log_events``).
* :func:`send_test_event` sends one scrubbed test event through the SDK's own HTTP transport
  (:class:`DeliveryRecordingTransport`) and returns how the ingest endpoint answered, within a
  deadline; with ``dry_run`` it returns the envelope instead of sending it.

The parts: ``options`` (the SDK options, init), ``scrub`` (the hooks), ``delivery`` (verdicts),
``transport`` (the SDK transports), ``probe_event`` (the test event). Importing this face does
not import sentry_sdk; the names that need it (the transport, the test event) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpa_ops.core.free_text import WITHHELD, allow_exception_messages
from cpa_ops.core.sentry.delivery import Delivery, Verdict
from cpa_ops.core.sentry.options import RELEASE, init_sentry, sentry_options
from cpa_ops.core.sentry.scrub import scrub_event, scrub_record

if TYPE_CHECKING:
    from cpa_ops.core.sentry.probe_event import (
        TEST_MESSAGE,
        TEST_TAG,
        SentryTestError,
        TestEventResult,
        send_test_event,
    )
    from cpa_ops.core.sentry.transport import DeliveryRecordingTransport

__all__ = [
    "RELEASE",
    "TEST_MESSAGE",
    "TEST_TAG",
    "WITHHELD",
    "Delivery",
    "DeliveryRecordingTransport",
    "SentryTestError",
    "TestEventResult",
    "Verdict",
    "allow_exception_messages",
    "init_sentry",
    "scrub_event",
    "scrub_record",
    "send_test_event",
    "sentry_options",
]

_PROBE_EVENT = frozenset(
    {"TEST_MESSAGE", "TEST_TAG", "SentryTestError", "TestEventResult", "send_test_event"}
)

if not TYPE_CHECKING:  # mypy sees the imports above; at run time these load on first use

    def __getattr__(name: str) -> Any:
        if name in _PROBE_EVENT:
            from cpa_ops.core.sentry import probe_event

            value = getattr(probe_event, name)
        elif name == "DeliveryRecordingTransport":
            from cpa_ops.core.sentry.transport import DeliveryRecordingTransport

            value = DeliveryRecordingTransport
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        globals()[name] = value  # the next look-up is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
