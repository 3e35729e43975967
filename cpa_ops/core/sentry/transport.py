"""The SDK transports of a test event: one that records each delivery, one that keeps envelopes.

:class:`DeliveryRecordingTransport` sends through the SDK's own HTTP path and records a
:class:`~cpa_ops.core.sentry.delivery.Delivery` per event; :class:`EnvelopeKeepingTransport`
sends nothing (``--dry-run``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import urllib3
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import HttpTransport, Transport

from cpa_ops.core.sentry.delivery import Delivery, verdict_for_error, verdict_for_status

if TYPE_CHECKING:
    from sentry_sdk.consts import EndpointType


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
            self._record(envelope, Delivery(verdict_for_error(error)))
            raise

    def _handle_response(self, response: Any, envelope: Envelope | None) -> None:
        status = int(response.status)
        retry_after = None
        if status == 429:
            value = self._get_header_value(response, "Retry-After")
            retry_after = float(self._retry.parse_retry_after(value)) if value else None
        self._record(envelope, Delivery(verdict_for_status(status), status, retry_after))
        super()._handle_response(response, envelope)


class EnvelopeKeepingTransport(Transport):
    """Keeps the envelopes it is given and sends nothing: ``--dry-run``."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)
