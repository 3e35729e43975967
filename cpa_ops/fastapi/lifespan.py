"""``lifespan(service=, version=)``: settings, logging (uvicorn's loggers taken over), Sentry,
``app.state.redis`` and ``app.state.settings``; on shutdown the client and its pool closed and
Sentry flushed within ``FLUSH_SECONDS`` (uvicorn runs this on SIGTERM too)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

FLUSH_SECONDS: Final = 2.0
UVICORN_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _drop_color_message(record: logging.LogRecord) -> bool:
    """uvicorn's ``color_message`` extra repeats the message with terminal escapes."""
    record.__dict__.pop("color_message", None)
    return True


def take_over_uvicorn_logging() -> None:
    """uvicorn's loggers lose their handlers and propagate into ours; its access log is
    silenced (the middleware writes the access line)."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = name != "uvicorn.access"
        if _drop_color_message not in logger.filters:
            logger.addFilter(_drop_color_message)
        if name == "uvicorn.access":
            logger.disabled = True


def lifespan(
    *, service: str, version: str
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    # uvicorn imports the app (and so calls this) after configuring its loggers and before its
    # first lines ("Started server process"): taking them over here keeps those out of plain text
    take_over_uvicorn_logging()

    @contextlib.asynccontextmanager
    async def run(app: Any) -> AsyncIterator[None]:
        from cpa_ops.core.logging import configure_logging
        from cpa_ops.core.redis import create_redis_client
        from cpa_ops.core.settings import load_settings
        from cpa_ops.fastapi.sentry import init_service_sentry

        settings = load_settings()
        configure_logging(settings, service=service, version=version)
        take_over_uvicorn_logging()
        sentry_on = init_service_sentry(settings, service=service, version=version)
        client = await create_redis_client(settings, client_name=service)
        app.state.settings, app.state.redis = settings, client
        app.state.cpa_service, app.state.cpa_version = service, version
        try:
            yield
        finally:
            await client.aclose()  # create_redis_client's client owns its pool: all closed
            if sentry_on:
                import sentry_sdk

                sentry_sdk.flush(timeout=FLUSH_SECONDS)

    return run
