"""The benchmark's trivial route on the kit: lifespan, CorrelationMiddleware, health_router."""

from fastapi import FastAPI

from cpa_ops.fastapi import CorrelationMiddleware, health_router, lifespan

app = FastAPI(lifespan=lifespan(service="bench-kit", version="0.0.0"))
app.add_middleware(CorrelationMiddleware)
app.include_router(health_router())


@app.get("/items/{item}")
async def item(item: str) -> dict[str, str]:
    return {"item": item}
