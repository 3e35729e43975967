"""The one way the CLI runs a coroutine: on a fresh event loop, closed without waiting for
executor threads (a lookup stuck in one must not hold the verdict), optionally stopped by a
signal."""

from __future__ import annotations

import signal
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio

_T = TypeVar("_T")


def run(coro: Coroutine[Any, Any, _T], *, fast_loop: bool = False) -> _T:
    """Run ``coro`` to its end on a fresh loop (uvloop's with ``fast_loop``, where installed)."""
    loop = _new_event_loop(fast_loop)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def run_until_signal(
    coro: Coroutine[Any, Any, None], *, fast_loop: bool = False
) -> signal.Signals | None:
    """Run ``coro`` like :func:`run`; SIGINT/SIGTERM cancel it (the step in flight is dropped
    cleanly). The signal that stopped it, if any; the previous handlers are restored."""
    import asyncio
    import contextlib

    from cpa_ops.cli.exits import EXIT_ON_SIGNAL

    loop = _new_event_loop(fast_loop)
    task = loop.create_task(coro)
    stopped_by: list[signal.Signals] = []

    def stop(signum: signal.Signals) -> None:
        stopped_by.append(signum)
        task.cancel()

    saved = {sig: signal.getsignal(sig) for sig in EXIT_ON_SIGNAL}
    for sig in EXIT_ON_SIGNAL:
        loop.add_signal_handler(sig, stop, sig)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)
    finally:
        for sig, handler in saved.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)
        loop.close()
    return stopped_by[0] if stopped_by else None


def _new_event_loop(fast: bool) -> asyncio.AbstractEventLoop:
    """uvloop's loop when ``fast`` and installed (not on Windows): it wakes a task waiting for a
    reply in about two thirds of asyncio's time, and every round-trip ping reports includes one
    such wake-up (benchmarks/bench_ping.py). Health keeps asyncio's: importing uvloop (~7 ms)
    costs its start-up more than one round-trip gains, and its golden verdicts are asyncio's."""
    import asyncio

    if fast:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()
