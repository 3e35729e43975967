"""The correlation ids of the agent task a line belongs to: context variables and their binder."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, Final, ParamSpec, TypeVar, cast

# The names come from the platform's design.
task_id_ctx: ContextVar[str | None] = ContextVar("task_id", default=None)
client_id_ctx: ContextVar[str | None] = ContextVar("client_id", default=None)
agent_ctx: ContextVar[str | None] = ContextVar("agent", default=None)
CORRELATION: Final = (("task_id", task_id_ctx), ("client_id", client_id_ctx), ("agent", agent_ctx))
_Tokens = tuple[tuple[ContextVar[str | None], Token[str | None]], ...]
# The bindings entered and not yet exited in this context: (id of the binder, its tokens).
_open_bindings: ContextVar[tuple[tuple[int, _Tokens], ...]] = ContextVar(
    "cpa_ops_open_bindings", default=()
)
_P = ParamSpec("_P")
_R = TypeVar("_R")


class bind_correlation:
    """Bind correlation ids for a block: ``with``, ``async with``, or as a function decorator.

    Ids left as None keep their current value. Child asyncio tasks created inside the block
    inherit the ids (they copy the context); what a child binds never leaks back to its parent.
    As a decorator it binds afresh on every call, for ``def`` and ``async def`` alike.
    """

    def __init__(
        self, task_id: str | None = None, client_id: str | None = None, agent: str | None = None
    ) -> None:
        self._values = {"task_id": task_id, "client_id": client_id, "agent": agent}

    def __enter__(self) -> bind_correlation:
        tokens = []
        for name, var in CORRELATION:
            value = self._values[name]
            if value is not None:
                tokens.append((var, var.set(value)))
        # tokens live in the context that made them, so one instance shared by many tasks works
        _open_bindings.set((*_open_bindings.get(), (id(self), tuple(tokens))))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = _open_bindings.get()
        for index in range(len(stack) - 1, -1, -1):
            owner, tokens = stack[index]
            if owner == id(self):
                _open_bindings.set(stack[:index] + stack[index + 1 :])
                for var, token in reversed(tokens):
                    var.reset(token)
                return

    async def __aenter__(self) -> bind_correlation:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: Callable[_P, _R]) -> Callable[_P, _R]:
        values = self._values
        if inspect.iscoroutinefunction(func):
            async_func = cast(Callable[_P, Awaitable[Any]], func)

            @functools.wraps(func)
            async def bound_async(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                with bind_correlation(**values):
                    return await async_func(*args, **kwargs)

            return cast(Callable[_P, _R], bound_async)

        @functools.wraps(func)
        def bound(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with bind_correlation(**values):
                return func(*args, **kwargs)

        return bound


def correlation_ids() -> dict[str, str]:
    """The correlation ids bound in the current context."""
    return {name: value for name, var in CORRELATION if (value := var.get()) is not None}
