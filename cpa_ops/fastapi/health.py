"""``health_router()``: /livez, /readyz and /healthz."""

from __future__ import annotations

import time
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cpa_ops.core.health import Status
from cpa_ops.core.sentry.web import HEALTH_PATHS  # no trace sampled, access lines at debug only

__all__ = ["HEALTH_PATHS", "health_router"]

NO_STORE: Final = {"Cache-Control": "no-store"}
READY_BUDGET: Final = 1.0


def health_router() -> APIRouter:
    router = APIRouter()

    @router.api_route("/livez", methods=["GET", "HEAD"], include_in_schema=False)
    async def livez() -> Response:
        return Response("ok\n", media_type="text/plain", headers=NO_STORE)

    @router.api_route("/readyz", methods=["GET", "HEAD"], include_in_schema=False)
    async def readyz(request: Request) -> Response:
        from cpa_ops.core.redis import diagnose

        settings = request.app.state.settings
        diagnosis = await diagnose(
            settings.redis_target, deadline=time.monotonic() + READY_BUDGET * 0.9
        )
        ok = diagnosis.healthy
        return Response(
            "ok\n" if ok else "unavailable\n",
            status_code=200 if ok else 503,
            media_type="text/plain",
            headers=NO_STORE,
        )

    @router.api_route("/healthz", methods=["GET", "HEAD"], include_in_schema=False)
    async def healthz(request: Request) -> Response:
        from cpa_ops.core.report import health_document, health_report

        state: Any = request.app.state
        report = await health_report(state.settings, deadline=time.monotonic() + READY_BUDGET)
        document = health_document(
            report,
            description=f"{state.cpa_service} health",
            service_id=state.cpa_service,
            release=state.cpa_version,
        )
        status = 503 if report.status is Status.FAIL else 200
        return JSONResponse(
            document, status_code=status, media_type="application/health+json", headers=NO_STORE
        )

    return router
