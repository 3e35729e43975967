"""A service built with the kit, for the tests (run by real uvicorn)."""

import asyncio

from fastapi import FastAPI, Request

from cpa_ops.core.logging import get_logger
from cpa_ops.fastapi import CorrelationMiddleware, health_router, lifespan

app = FastAPI(lifespan=lifespan(service="kit-test", version="9.9.9"))
app.add_middleware(CorrelationMiddleware)
app.include_router(health_router())
log = get_logger("kit_app")


@app.get("/items/{item}")
async def item(item: str, request: Request) -> dict[str, str]:
    await request.app.state.redis.set("kit:item", "x")
    await asyncio.sleep(0.01)
    log.info("inside")
    return {"ok": "yes"}


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("kaboom")
