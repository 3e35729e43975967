"""The services' pool (at most 20 connections) under 2000 concurrent health checks while the
server is SIGSTOPped for a moment and resumed: every caller is answered within its deadline,
no connection is leaked, and memory comes back to where it started."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cpa_ops.core.redis import check_redis_health, create_redis_pool
from cpa_ops.core.settings import load_settings
from tests.servers import redis_faults as faults
from tests.servers.net import wait_until
from tests.servers.redis_faults import RedisServer
from tests.servers.redis_fixtures import REDIS_PASSWORD

#: `./dev test -m "not slow"` skips the sweep (the quick loop); `./dev test` runs it as well
pytestmark = pytest.mark.slow

POOL_NAME = "cpa-ops-pool-load"
CALLERS = 2000
CHECK_TIMEOUT = 1.0
#: an event loop running 2000 coroutines on a busy 2-core machine may be late to wake a caller
SLACK = 0.8
#: callers start in waves this far apart, so that some start before, during and after the stop
WAVES = 40
WAVE_GAP = 0.1
FROZEN_FOR = 2.5
#: Python memory blocks that may be held past the cycle: the pool's 20 connections, reopened
#: after the stop, and interpreter caches. A leak of one object per abandoned check (~700)
#: would be several thousand blocks (checked by planting one: a task kept per abandoned check).
MEMORY_TOLERANCE = 1000


@dataclass
class Answer:
    healthy: bool
    started: float
    took: float


def pool_clients(server: RedisServer) -> int:
    """How many connections the pool under test has open on the server (CLIENT LIST)."""
    with server.client() as admin:
        listing = str(admin.check("CLIENT", "LIST"))
    return sum(1 for line in listing.splitlines() if f" name={POOL_NAME} " in line)


def assert_answered(answers: list[Answer], when: str) -> None:
    """Against a live server every check is True, except one that ran out its own timeout on a
    starved machine (an honest False at the deadline): never an error before the deadline (an
    exhausted pool, a broken connection handed out), and not more than a few timeouts."""
    assert answers, f"no callers {when}"
    failed = [a for a in answers if not a.healthy]
    early = [a for a in failed if a.took < CHECK_TIMEOUT * 0.9]
    assert not early, f"{len(early)} callers {when} failed after {early[0].took:.3f} s"
    assert len(failed) <= len(answers) // 20, f"{len(failed)}/{len(answers)} timed out {when}"


@pytest.fixture
def protected_redis() -> Iterator[RedisServer]:
    with faults.redis_server(password=REDIS_PASSWORD) as server:
        yield server


@pytest.mark.timeout(60)
def test_2000_checks_through_a_stop_and_resume(protected_redis: RedisServer) -> None:
    """2000 callers in waves across a 2.5 s SIGSTOP: each answered within its timeout (+ slack),
    False while frozen and True again after; at most 20 connections; none left afterwards;
    Python memory blocks back to their level after the warm-up."""
    server = protected_redis
    settings = load_settings(redis_url=server.url(password=REDIS_PASSWORD))
    assert settings.redis_max_connections == 20
    assert pool_clients(server) == 0
    peak_clients = 0

    async def check() -> Answer:
        started = time.monotonic()
        healthy = await check_redis_health(pool, timeout=CHECK_TIMEOUT)
        return Answer(healthy, started, time.monotonic() - started)

    async def waves() -> list[Answer]:
        tasks = []
        for _ in range(WAVES):
            tasks += [asyncio.create_task(check()) for _ in range(CALLERS // WAVES)]
            await asyncio.sleep(WAVE_GAP)
        return list(await asyncio.gather(*tasks))

    async def stop_and_resume() -> tuple[float, float]:
        await asyncio.sleep(WAVES * WAVE_GAP * 0.25)
        await asyncio.to_thread(server.freeze)
        frozen_at = time.monotonic()
        await asyncio.sleep(FROZEN_FOR)
        server.thaw()
        return frozen_at, time.monotonic()

    async def settle() -> None:
        """Let go of the last awaited future (this task holds it until its next step), then
        collect: what is left is what something really keeps."""
        await asyncio.sleep(0)
        gc.collect()

    async def main() -> tuple[list[Answer], tuple[float, float], int, int]:
        nonlocal pool, peak_clients
        pool = await create_redis_pool(settings, client_name=POOL_NAME)
        try:
            # the same load once without the stop: the event loop and pool reach their full size
            warm = await waves()
            assert_answered(warm, "in the warm-up")
            # memory blocks counted, not traced (tracemalloc slows Python severalfold and would
            # starve the event loop): the baseline without the warm-up's 2000 answers, and what
            # they cost, to take off the end count where the cycle's 2000 answers are alive
            await settle()
            with_warm = sys.getallocatedblocks()
            del warm
            await settle()
            baseline = sys.getallocatedblocks()
            answers_cost = with_warm - baseline
            answers, window = await asyncio.gather(waves(), stop_and_resume())
            peak_clients = await asyncio.to_thread(pool_clients, server)
            recovered = await asyncio.gather(*(check() for _ in range(200)))
            assert_answered(recovered, "once resumed")
            del recovered
            # checks abandoned at their deadline end in the background within the pool's own
            # timeouts (5 s): none may linger after that
            lingering = time.monotonic() + 8
            while len(asyncio.all_tasks()) > 1 and time.monotonic() < lingering:
                await asyncio.sleep(0.1)
            left = asyncio.all_tasks() - {asyncio.current_task()}
            assert not left, f"{len(left)} abandoned checks still running"
            await settle()
            return answers, window, baseline, sys.getallocatedblocks() - answers_cost
        finally:
            await pool.disconnect()

    pool = None
    answers, (frozen_at, thawed_at), memory_before, memory_after = asyncio.run(main())

    assert len(answers) == CALLERS
    latest = max(answer.took for answer in answers)
    assert latest <= CHECK_TIMEOUT + SLACK, f"a caller waited {latest:.2f} s"
    before = [a for a in answers if a.started + a.took < frozen_at]
    during = [a for a in answers if frozen_at + 0.1 < a.started < thawed_at - CHECK_TIMEOUT]
    after = [a for a in answers if a.started > thawed_at + 0.2]
    assert_answered(before, "before the stop")
    answered_frozen = [a for a in during if a.healthy]
    assert during and not answered_frozen, f"{len(answered_frozen)} answered while frozen"
    assert_answered(after, "after the resume")
    assert peak_clients <= 20
    wait_until(lambda: pool_clients(server) == 0, 5, "the pool's connections are closed")
    grew = memory_after - memory_before
    assert grew < MEMORY_TOLERANCE, f"{grew} more memory blocks allocated than before"
    print(
        f"pool load: {CALLERS} callers, slowest {latest:.3f} s, {len(during)} during the stop, "
        f"memory {grew:+d} blocks"
    )
