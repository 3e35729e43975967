"""``CorrelationMiddleware``: a pure ASGI middleware binding the correlation ids of a request,
echoing X-Request-Id and writing one access line.

An unhandled exception is logged once (type and stack), sent to Sentry when it is initialised
(the SDK's own ASGI middleware sits outside and never sees it), answered with a 500 carrying
X-Request-Id when the response has not started, and not re-raised (uvicorn would log it again,
in plain text).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from typing import Any, Final

import structlog

from cpa_ops.core.logging import get_logger
from cpa_ops.core.logging.correlation import bind_correlation
from cpa_ops.core.redact import redact_text
from cpa_ops.core.sentry.web import HEALTH_PATHS, UNMATCHED

VALID_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
HEADERS: Final = {
    b"x-request-id": "request_id",
    b"x-task-id": "task_id",
    b"x-client-id": "client_id",
    b"x-agent": "agent",
}
_NOTHING_TO_BIND: Final = contextlib.nullcontext()
_access = get_logger("cpa_ops.access")
_errors = get_logger("cpa_ops.fastapi")


def valid_id(raw: bytes) -> str | None:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if VALID_ID.fullmatch(text) else None


def _others(ids: dict[str, str]) -> dict[str, str | None]:
    """bind_correlation's arguments: the ids other than the request id."""
    return {
        "task_id": ids.get("task_id"),
        "client_id": ids.get("client_id"),
        "agent": ids.get("agent"),
    }


def _sentry() -> Any:
    """sentry_sdk when a service initialised it, else None (never imported here)."""
    sentry_sdk = sys.modules.get("sentry_sdk")
    if sentry_sdk is None or not sentry_sdk.is_initialized():
        return None
    return sentry_sdk


def _tag(ids: dict[str, str]) -> None:
    if (sentry_sdk := _sentry()) is None:
        return
    scope = sentry_sdk.get_isolation_scope()
    for key, value in ids.items():
        scope.set_tag(key, value)


def _capture(error: BaseException) -> None:
    """The unhandled exception as a Sentry event: it goes no further than this middleware,
    so the SDK's ASGI middleware outside never sees it. Sentry started by cpa-ops already
    made one of the error line (``core.sentry.log_events``); only a Sentry the service started
    by itself needs it sent here."""
    from cpa_ops.core.logging.state import state

    if state.observer is None and (sentry_sdk := _sentry()) is not None:
        sentry_sdk.capture_exception(error)


class CorrelationMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ids: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            key = HEADERS.get(name.lower())
            if key is not None and key not in ids and (good := valid_id(value)):
                ids[key] = good
        request_id = ids.get("request_id")
        # one the logs would redact (an SSN, a card number) would be echoed but logged masked,
        # and so find no line: it is replaced, like an invalid one
        if request_id is None or redact_text(request_id) != request_id:
            request_id = ids["request_id"] = os.urandom(16).hex()  # as uuid4().hex, faster
        echoed = request_id.encode()
        started = time.perf_counter()
        status = {"code": 500, "started": False}

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", echoed)]}
            await send(message)

        # bind and reset by token: structlog's bound_contextvars() reads the whole context
        # first, and bind_correlation is skipped when there is nothing to bind (both per request)
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            with bind_correlation(**_others(ids)) if len(ids) > 1 else _NOTHING_TO_BIND:
                _tag(ids)
                try:
                    await self.app(scope, receive, send_with_id)
                except Exception as error:
                    _errors.exception("unhandled exception")
                    _capture(error)
                    if not status["started"]:
                        await _internal_error(send_with_id)
                _access_line(scope, status["code"], started)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)


async def _internal_error(send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"Internal Server Error"})


def _access_line(scope: dict[str, Any], status: int, started: float) -> None:
    """One line per request: the route template (never the raw path), no query, no client."""
    template = getattr(scope.get("route"), "path", None) or UNMATCHED
    write = _access.debug if template in HEALTH_PATHS else _access.info
    write(
        "request",
        method=scope.get("method"),
        route=template,
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
