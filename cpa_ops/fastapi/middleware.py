"""``CorrelationMiddleware``: a pure ASGI middleware binding the correlation ids of a request,
echoing X-Request-Id and writing one access line.

An unhandled exception is logged once (type and stack), answered with a 500 carrying
X-Request-Id when the response has not started, and not re-raised (uvicorn would log it again,
in plain text).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Final

import structlog

from cpa_ops.core.logging import get_logger
from cpa_ops.core.logging.correlation import bind_correlation
from cpa_ops.core.sentry.web import HEALTH_PATHS, UNMATCHED

VALID_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
HEADERS: Final = {
    b"x-request-id": "request_id",
    b"x-task-id": "task_id",
    b"x-client-id": "client_id",
    b"x-agent": "agent",
}
_access = get_logger("cpa_ops.access")
_errors = get_logger("cpa_ops.fastapi")


def valid_id(raw: bytes) -> str | None:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if VALID_ID.fullmatch(text) else None


def _tag(ids: dict[str, str]) -> None:
    import sys

    sentry_sdk = sys.modules.get("sentry_sdk")
    if sentry_sdk is None or not sentry_sdk.is_initialized():
        return
    scope = sentry_sdk.get_isolation_scope()
    for key, value in ids.items():
        scope.set_tag(key, value)


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
        request_id = ids.setdefault("request_id", uuid.uuid4().hex)
        echoed = request_id.encode()
        started = time.perf_counter()
        status = {"code": 500, "started": False}

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", echoed)]}
            await send(message)

        with (
            structlog.contextvars.bound_contextvars(request_id=request_id),
            bind_correlation(ids.get("task_id"), ids.get("client_id"), ids.get("agent")),
        ):
            _tag(ids)
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                _errors.exception("unhandled exception")
                if not status["started"]:
                    await send_with_id(
                        {
                            "type": "http.response.start",
                            "status": 500,
                            "headers": [(b"content-type", b"text/plain")],
                        }
                    )
                    await send({"type": "http.response.body", "body": b"Internal Server Error"})
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            write = _access.debug if template in HEALTH_PATHS else _access.info
            write(
                "request",
                method=scope.get("method"),
                route=template,
                status=status["code"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
