"""A real Sentry ingest server on 127.0.0.1 for the tests: it speaks the envelope endpoint.

``POST /api/<project>/envelope/`` with ``X-Sentry-Auth`` and a gzip, br or plain body is decoded,
recorded (see :class:`ReceivedEnvelope`) and answered, after ``delay`` seconds, as the current
:class:`Mode` says: a status (200, 401, 403, 413, 429 with Retry-After, 500, 503), a closed
connection, or no answer at all.
Given an ``ssl.SSLContext`` it serves HTTPS.

    with SentryIngest(Mode.OK) as ingest:
        env = clean_env(SENTRY_DSN=ingest.dsn)
        ...
        [envelope] = ingest.wait_for(1)
"""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import brotli

from tests.servers.net import LOOPBACK, free_port

PUBLIC_KEY = "0123456789abcdef0123456789abcdef"
PROJECT_ID = "4242"
RETRY_AFTER = "37"


class Mode(StrEnum):
    """How the server answers the next envelope."""

    OK = "200"
    UNAUTHORIZED = "401"
    FORBIDDEN = "403"
    TOO_LARGE = "413"
    RATE_LIMITED = "429"
    SERVER_ERROR = "500"
    UNAVAILABLE = "503"
    CLOSE = "close"  # read the request, then close the connection without a word
    SILENT = "silent"  # read the request, then never answer (until the server stops)


@dataclass
class ReceivedEnvelope:
    """One envelope as it arrived: the HTTP side and the decoded envelope."""

    path: str
    http_headers: dict[str, str]
    auth: dict[str, str]
    content_encoding: str | None
    body: bytes  # decompressed envelope bytes
    headers: dict[str, Any] = field(default_factory=dict)
    items: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The whole decoded envelope as text: for "this must appear nowhere" checks."""
        return self.body.decode("utf-8", "replace")

    def payloads(self, item_type: str) -> list[Any]:
        """The JSON payloads of every item of ``item_type`` (event, transaction, ...)."""
        return [
            json.loads(payload) for head, payload in self.items if head.get("type") == item_type
        ]

    @property
    def event(self) -> dict[str, Any]:
        """The one event (or transaction) this envelope carries."""
        events = self.payloads("event") + self.payloads("transaction")
        assert len(events) == 1, f"expected one event item, got {[h for h, _ in self.items]}"
        event: dict[str, Any] = events[0]
        return event


def parse_envelope(body: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """Split envelope bytes into its header and (item header, payload) pairs."""
    first, _, rest = body.partition(b"\n")
    headers = json.loads(first)
    items = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item_headers = json.loads(item_line)
        length = item_headers.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length:]
            rest = rest.removeprefix(b"\n")
        items.append((item_headers, payload))
    return headers, items


def decode_body(raw: bytes, encoding: str | None) -> bytes:
    """The envelope bytes of a request body sent with ``Content-Encoding: encoding``."""
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding == "br":
        return bytes(brotli.decompress(raw))
    if encoding in (None, "", "identity"):
        return raw
    raise ValueError(f"unknown Content-Encoding {encoding!r}")


def _parse_auth(header: str) -> dict[str, str]:
    # "Sentry sentry_key=..., sentry_version=7, sentry_client=sentry.python/2.75.0"
    pairs = header.removeprefix("Sentry ").split(",")
    return dict(p.strip().partition("=")[::2] for p in pairs if "=" in p)


class SentryIngest:
    """The ingest server; a context manager that starts and stops it."""

    def __init__(self, mode: Mode = Mode.OK, tls: ssl.SSLContext | None = None) -> None:
        self.mode = mode
        #: seconds each answer waits after the envelope is recorded (a slow endpoint)
        self.delay = 0.0
        self.received: list[ReceivedEnvelope] = []
        self._arrived = threading.Condition()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._server.daemon_threads = True
        self._scheme = "http"
        if tls is not None:  # HTTPS: handshakes happen on accept
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def dsn(self) -> str:
        """A DSN pointing at this server."""
        return f"{self._scheme}://{PUBLIC_KEY}@{LOOPBACK}:{self.port}/{PROJECT_ID}"

    def __enter__(self) -> SentryIngest:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # releases SILENT handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedEnvelope]:
        """The first ``count`` envelopes; fail if fewer arrive within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} envelope(s) within {timeout} s, got {len(self.received)}"
                    )
                self._arrived.wait(left)
            return list(self.received[:count])

    def _record(self, envelope: ReceivedEnvelope) -> None:
        with self._arrived:
            self.received.append(envelope)
            self._arrived.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        ingest = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = self.headers.get("Content-Encoding")
                body = decode_body(raw, encoding)
                headers, items = parse_envelope(body)
                envelope = ReceivedEnvelope(
                    path=self.path,
                    http_headers=dict(self.headers.items()),
                    auth=_parse_auth(self.headers.get("X-Sentry-Auth", "")),
                    content_encoding=encoding,
                    body=body,
                    headers=headers,
                    items=items,
                )
                ingest._record(envelope)
                if ingest.delay:
                    ingest._stopping.wait(ingest.delay)
                self._answer(ingest.mode, headers.get("event_id"))

            def _answer(self, mode: Mode, event_id: str | None) -> None:
                if mode is Mode.CLOSE:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if mode is Mode.SILENT:
                    ingest._stopping.wait()
                    self.close_connection = True
                    return
                if self.path != f"/api/{PROJECT_ID}/envelope/":
                    self._reply(404, {"detail": "not found"})
                elif mode is Mode.OK:
                    self._reply(200, {"id": event_id})
                elif mode is Mode.RATE_LIMITED:
                    self._reply(429, {"detail": "rate limited"}, {"Retry-After": RETRY_AFTER})
                else:
                    self._reply(int(mode.value), {"detail": f"mode {mode.value}"})

            def _reply(
                self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_port()
