"""The benchmark's trivial route without the kit: plain FastAPI, uvicorn's own logging."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/items/{item}")
async def item(item: str) -> dict[str, str]:
    return {"item": item}


@app.get("/livez")
async def livez() -> str:
    return "ok"
