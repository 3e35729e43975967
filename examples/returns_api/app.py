"""An example service on the kit: ``uvicorn examples.returns_api.app:app`` from the repo root.

The first five statements are the whole kit; the routes below exercise what it must keep out
of logs and Sentry (names in Redis keys, exception messages, HTTPException details, validation
errors' input values, log fields) and a route that holds a pooled Redis connection.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel

from cpa_ops.core.logging import get_logger
from cpa_ops.core.sentry import allow_exception_messages
from cpa_ops.fastapi import CorrelationMiddleware, health_router, lifespan

app = FastAPI(lifespan=lifespan(service="returns-api", version="1.4.2"))
app.add_middleware(CorrelationMiddleware)
app.include_router(health_router())

log = get_logger("returns_api")


class ReturnIn(BaseModel):
    taxpayer_name: str
    ssn: str
    year: int


@app.get("/clients/{client_ref}/returns")
async def returns(client_ref: str, request: Request, name: str = "") -> dict[str, object]:
    redis = request.app.state.redis  # the service's client, owned by the lifespan
    key = f"return-by-name:{name or client_ref}"
    await redis.set(key, client_ref, ex=60)
    return {"client_ref_len": len(client_ref), "stored": bool(await redis.get(key))}


@app.get("/clients/{client_ref}/boom")
async def boom(client_ref: str, name: str = "Jane Q. Taxpayer") -> None:
    raise RuntimeError(f"no return on file for {name}")


@app.get("/clients/{client_ref}/missing")
async def missing(client_ref: str, name: str = "Jane Q. Taxpayer") -> None:
    raise HTTPException(status_code=404, detail=f"no client named {name}")


@app.post("/returns")
async def file_return(body: ReturnIn) -> dict[str, int]:
    return {"year": body.year}


@app.get("/clients/{client_ref}/log")
async def log_fields(client_ref: str, name: str = "Jane Q. Taxpayer") -> dict[str, bool]:
    log.info("return looked up", taxpayer_name=name, note=f"for {name}")
    log.error("return lookup failed", taxpayer_name=name)
    return {"logged": True}


@app.get("/hold")
async def hold(request: Request, seconds: float = 1.0) -> dict[str, bool]:
    """Holds one pooled connection for ``seconds`` (BLPOP on an empty list) to saturate the pool."""
    await request.app.state.redis.blpop(["returns-api:never"], timeout=seconds)
    return {"held": True}


# --- routes for the privacy tests (tests/fastapi/test_privacy.py) ----------------------------


class QuotaExceeded(Exception):
    """A service error whose message never carries client data: registered as such."""


allow_exception_messages(QuotaExceeded)


@app.get("/clients/{client_ref}/unavailable")
async def unavailable(client_ref: str, name: str = "Jane Q. Taxpayer") -> None:
    raise HTTPException(status_code=503, detail=f"no filing service for {name}")


@app.get("/clients/{client_ref}/invalid")
async def invalid(client_ref: str, name: str = "Jane Q. Taxpayer") -> None:
    ReturnIn.model_validate({"taxpayer_name": name, "ssn": client_ref, "year": name})


@app.get("/clients/{client_ref}/crash-logged")
async def crash_logged(client_ref: str, name: str = "Jane Q. Taxpayer") -> dict[str, bool]:
    try:
        raise LookupError(f"no return for {name}")
    except LookupError:
        log.exception("return lookup crashed", client_ref=client_ref)
    logging.getLogger("returns_api.stdlib").warning("slow lookup for %s", name)
    try:
        raise KeyError(name)
    except KeyError:
        logging.getLogger("returns_api.stdlib").exception("stdlib lookup crashed for %s", name)
    return {"logged": True}


@app.get("/quota")
async def quota() -> None:
    raise QuotaExceeded("quota of 5 returns per minute exceeded")


@app.get("/slow")
async def slow() -> None:
    raise TimeoutError("redis answered in 5 s")  # allowed by ALLOWED_EXCEPTION_MESSAGES
