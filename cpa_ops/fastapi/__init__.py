"""The services' kit: a FastAPI lifespan, the correlation middleware and the health routes.

Imports fastapi/starlette; ``cpa_ops.core`` and the CLI never import this package. The names
are imported eagerly: the submodule ``lifespan`` would otherwise shadow the function.
"""

from __future__ import annotations

from cpa_ops.fastapi.health import health_router
from cpa_ops.fastapi.lifespan import lifespan
from cpa_ops.fastapi.middleware import CorrelationMiddleware

__all__ = ["CorrelationMiddleware", "health_router", "lifespan"]
