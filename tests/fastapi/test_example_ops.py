"""The example service (examples/returns_api) in operation: real uvicorn in production mode,
its own real redis-server, the real Sentry envelope endpoint, driven over HTTP.

Deadlines asserted are the stated ones (/readyz 503 within 1.5 s of a frozen Redis); every
other wait is generous, for a loaded 2-core machine.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from math import comb

import httpx
import pytest

from cpa_ops.fastapi.lifespan import FLUSH_SECONDS
from tests.fastapi.conftest import EXAMPLE_SERVICE, ReturnsApi, StartReturnsApi
from tests.servers.net import LOOPBACK, wait_until
from tests.servers.resp import RawRedis
from tests.servers.sentry_ingest import Mode

POOL_LIMIT = 20  # REDIS_MAX_CONNECTIONS' default: the most connections the service may open
READY_DEADLINE = 1.5
HEALTH_PATHS = ("/livez", "/readyz", "/healthz")
HOLD_KEY = "returns-api:never"  # the list the example's /hold waits on


def binomial_bounds(n: int, p: float, confidence: float) -> tuple[int, int]:
    """The two-sided ``confidence`` interval [lo, hi] of Binomial(n, p): P(X < lo) and
    P(X > hi) are each at most (1 - confidence) / 2."""
    tail = (1 - confidence) / 2
    below, lo, hi = 0.0, None, None
    for k in range(n + 1):
        pk = comb(n, k) * p**k * (1 - p) ** (n - k)
        if lo is None and below + pk > tail:
            lo = k
        below += pk
        if hi is None and below >= 1 - tail:
            hi = k
    assert lo is not None and hi is not None
    return lo, hi


def test_binomial_bounds() -> None:
    # P(X <= 11) = 3.3e-5 and P(X <= 12) = 9.2e-5; P(X > 52) = 3.4e-5 (tails of 5e-5 each)
    assert binomial_bounds(300, 0.1, 0.9999) == (12, 52)
    assert binomial_bounds(10, 0.5, 0.9) == (2, 8)  # P(X < 2) = P(X > 8) = 0.0107


def _others(raw: RawRedis, own: int) -> list[dict[str, str]]:
    """The server's connections other than the test's own."""
    return [c for c in raw.client_list() if int(c["id"]) != own]


def _raw(api: ReturnsApi) -> tuple[RawRedis, int]:
    raw = api.redis.client(timeout=10)
    return raw, int(raw.check("CLIENT", "ID"))


async def _gather(api: ReturnsApi, requests: list[tuple[str, dict[str, str]]]) -> list:
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(base_url=api.url, timeout=60, limits=limits) as http:
        return await asyncio.gather(*(http.get(path, headers=h) for path, h in requests))


@pytest.mark.timeout(120)
def test_every_line_is_one_json_object(returns_api: ReturnsApi) -> None:
    api = returns_api
    with httpx.Client(base_url=api.url, timeout=30) as http:
        statuses = [
            http.get("/clients/c1/returns", params={"name": "Jane Q. Taxpayer"}).status_code,
            http.get("/clients/c1/boom").status_code,
            http.get("/clients/c1/missing").status_code,
            http.post("/returns", json={"taxpayer_name": "Jane", "ssn": 1}).status_code,
            http.post("/returns", content=b"{not json").status_code,
            http.get("/clients/c1/log").status_code,
            http.get("/no/such/route/123-45-6789").status_code,
            http.head("/livez").status_code,
            http.get("/readyz").status_code,
            http.get("/healthz").status_code,
        ]
    assert statuses == [200, 500, 404, 422, 422, 200, 404, 200, 200, 200]
    with socket.create_connection((LOOPBACK, api.server.port), timeout=10) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")  # uvicorn's "Invalid HTTP request" warning
        sock.recv(1024)
    assert api.server.terminate() in (0, -15)
    lines = api.lines()  # asserts every line of stdout and stderr is one JSON object
    messages = {line.get("message") for line in lines}
    # uvicorn's own lines are among them: start, the bad request, shutdown
    assert "Application startup complete." in messages
    assert "Invalid HTTP request received." in messages
    assert "Application shutdown complete." in messages
    assert sum(line.get("logger") == "cpa_ops.access" for line in lines) >= 7


@pytest.mark.timeout(120)
def test_fifty_concurrent_requests_no_bleed(returns_api: ReturnsApi) -> None:
    api = returns_api
    requests = []
    for i in range(50):  # half log in the handler, half await Redis twice before the access line
        path = f"/clients/c{i}/log" if i % 2 == 0 else f"/clients/c{i}/returns"
        requests.append((path, {"X-Request-Id": f"req-{i}", "X-Task-Id": f"task-{i}"}))
    replies = asyncio.run(_gather(api, requests))
    assert [r.status_code for r in replies] == [200] * 50
    assert [r.headers["x-request-id"] for r in replies] == [f"req-{i}" for i in range(50)]
    api.server.terminate()
    seen: dict[str, list[str]] = {}
    for line in api.lines():
        request_id = line.get("request_id", "")
        if request_id.startswith("req-"):
            assert line.get("task_id") == "task-" + request_id[4:], line  # its own ids only
            seen.setdefault(request_id, []).append(line["message"])
    expected = {}
    for i in range(50):
        inside = ["return looked up", "return lookup failed"] if i % 2 == 0 else []
        expected[f"req-{i}"] = sorted([*inside, "request"])
    assert {k: sorted(v) for k, v in seen.items()} == expected  # 100 lines, each where it belongs


@pytest.mark.timeout(180)
def test_traces_sampled_at_ten_percent(returns_api: ReturnsApi) -> None:
    api = returns_api
    n, rate = 300, 0.1  # SENTRY_TRACES_SAMPLE_RATE's default
    lo, hi = binomial_bounds(n, rate, 0.9999)

    async def drive() -> list[int]:
        async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
            statuses = []
            for start in range(0, n, 10):  # ten at a time
                batch = [http.get(f"/clients/c{i}/returns") for i in range(start, start + 10)]
                statuses += [r.status_code for r in await asyncio.gather(*batch)]
            return statuses

    assert asyncio.run(drive()) == [200] * n
    api.server.terminate()  # the shutdown flush delivers every queued transaction
    names = [t.get("transaction") for t in api.transactions()]
    assert set(names) <= {"/clients/{client_ref}/returns"}, names
    print(f"{len(names)} of {n} traced, bounds {lo}-{hi}")
    assert lo <= len(names) <= hi, f"{len(names)} of {n} sampled, expected {lo}-{hi}"


@pytest.mark.timeout(180)
def test_health_routes_sample_no_trace(returns_api: ReturnsApi) -> None:
    api = returns_api
    with httpx.Client(base_url=api.url, timeout=30) as http:
        for _ in range(100):
            for path in HEALTH_PATHS:
                assert http.get(path).status_code == 200
    api.server.terminate()
    names = [t.get("transaction") for t in api.transactions()]
    assert names == [], f"{len(names)} health transactions: {sorted(set(names))}"


@pytest.mark.timeout(180)
def test_two_hundred_concurrent_never_above_pool_limit(returns_api: ReturnsApi) -> None:
    api = returns_api
    raw, own = _raw(api)
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], len(_others(raw, own)))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        # half hold a connection 0.1 s (BLPOP), so the pool is full and the rest queue for it
        requests = [
            ("/hold?seconds=0.1", {}) if i % 2 else (f"/clients/c{i}/returns", {})
            for i in range(200)
        ]
        replies = asyncio.run(_gather(api, requests))
    finally:
        stop.set()
        watcher.join(10)
    print(f"peak {peak[0]} connections from the service")
    try:
        assert [r.status_code for r in replies] == [200] * 200
        assert peak[0] <= POOL_LIMIT, f"{peak[0]} connections from the service"
        assert peak[0] >= POOL_LIMIT // 2, f"only {peak[0]}: the burst did not fill the pool"
        names = {c.get("name") for c in _others(raw, own)}
        assert names <= {EXAMPLE_SERVICE}, names
    finally:
        raw.close()


@pytest.mark.timeout(120)
def test_readyz_when_redis_freezes_and_thaws(returns_api: ReturnsApi) -> None:
    api = returns_api
    with httpx.Client(base_url=api.url, timeout=30) as http:
        assert http.get("/readyz").status_code == 200
        api.redis.freeze()
        try:
            timings = []
            for _ in range(3):
                started = time.perf_counter()
                reply = http.get("/readyz")
                timings.append(time.perf_counter() - started)
                assert reply.status_code == 503
                assert reply.headers["cache-control"] == "no-store"
            assert http.get("/livez").status_code == 200  # liveness does no I/O
            started = time.perf_counter()
            health = http.get("/healthz")
            health_seconds = time.perf_counter() - started
        finally:
            api.redis.thaw()
        print("frozen /readyz 503 after", [round(t, 3) for t in timings], "s")
        print(f"frozen /healthz {health.status_code} after {health_seconds:.3f} s")
        assert max(timings) <= READY_DEADLINE, f"/readyz 503 after {timings} s"
        assert health.status_code == 503 and health.json()["status"] == "fail"
        assert health_seconds <= 5, f"/healthz answered after {health_seconds:.1f} s"  # no hang
        wait_until(lambda: http.get("/readyz").status_code == 200, 10, "/readyz 200 after SIGCONT")


@pytest.mark.timeout(120)
def test_readyz_with_a_saturated_pool(returns_api: ReturnsApi) -> None:
    api = returns_api
    raw, own = _raw(api)

    def blocked() -> bool:
        held = [c for c in _others(raw, own) if c.get("cmd") == "blpop"]
        return len(held) == POOL_LIMIT

    async def run() -> tuple[list[httpx.Response], list[tuple[int, float]]]:
        limits = httpx.Limits(max_connections=POOL_LIMIT + 5)
        async with httpx.AsyncClient(base_url=api.url, timeout=60, limits=limits) as http:
            holds = [
                # under the service's 5 s socket timeout; the RPUSH below ends them sooner
                asyncio.create_task(http.get("/hold", params={"seconds": 4.5}))
                for _ in range(POOL_LIMIT)
            ]
            try:
                await asyncio.to_thread(wait_until, blocked, 30, "every pooled connection held")
                probes = []
                for path in ("/readyz", "/healthz"):
                    started = time.perf_counter()
                    reply = await http.get(path)
                    probes.append((reply.status_code, time.perf_counter() - started))
            finally:  # one element for each BLPOP: the holds end now
                await asyncio.to_thread(raw.check, "RPUSH", HOLD_KEY, *range(POOL_LIMIT))
            return await asyncio.gather(*holds), probes

    try:
        held, probes = asyncio.run(run())
    finally:
        raw.close()
    assert [r.status_code for r in held] == [200] * POOL_LIMIT
    print("saturated pool: /readyz, /healthz", probes)
    assert [status for status, _ in probes] == [200, 200]
    assert all(seconds <= READY_DEADLINE for _, seconds in probes), probes


@pytest.mark.timeout(120)
def test_sigterm_closes_every_connection_before_exit(returns_api: ReturnsApi) -> None:
    api = returns_api
    raw, own = _raw(api)
    try:
        with httpx.Client(base_url=api.url, timeout=30) as http:
            assert http.get("/readyz").status_code == 200
            assert http.get("/clients/c0/returns").status_code == 200
            assert _others(raw, own), "the service holds a connection before SIGTERM"
            # an endpoint that never answers: the shutdown flush waits its whole bound, so the
            # process is still alive, flushing, when the lifespan has closed the client
            api.ingest.mode = Mode.SILENT
            assert http.get("/clients/c1/boom").status_code == 500
            api.ingest.wait_for(1, timeout=10)
        sent = time.monotonic()
        os.kill(api.server.pid, signal.SIGTERM)
        wait_until(lambda: not _others(raw, own), 10, "no connection of the service left")
        assert api.server.process.poll() is None, "connections closed by the exit, not the lifespan"
        api.server.process.wait(30)
        exited = time.monotonic() - sent
    finally:
        raw.close()
    assert api.server.process.returncode in (0, -15)  # uvicorn re-raises SIGTERM after shutdown
    # the flush is bounded (FLUSH_SECONDS = 2) even against an endpoint that never answers
    assert exited < FLUSH_SECONDS + 8, f"exited {exited:.1f} s after SIGTERM"
    assert "Application shutdown complete." in api.server.stdout()


@pytest.mark.timeout(120)
def test_sigterm_lets_a_request_in_flight_finish(returns_api: ReturnsApi) -> None:
    api = returns_api
    raw, own = _raw(api)
    replies: list[httpx.Response] = []

    def hold() -> None:
        with httpx.Client(base_url=api.url, timeout=30) as http:
            replies.append(http.get("/hold", params={"seconds": 1.5}))

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        wait_until(
            lambda: any(c.get("cmd") == "blpop" for c in _others(raw, own)),
            20,
            "the request holds its pooled connection",
        )
        os.kill(api.server.pid, signal.SIGTERM)
        holder.join(30)
        assert api.server.process.wait(30) in (0, -15)
        wait_until(lambda: not _others(raw, own), 10, "no connection of the service left")
    finally:
        holder.join(30)
        raw.close()
    assert [r.status_code for r in replies] == [200]  # answered, not cut off by the shutdown
    assert replies[0].json() == {"held": True}


@pytest.mark.timeout(120)
def test_sigterm_delivers_every_captured_error_event(returns_api: ReturnsApi) -> None:
    api = returns_api
    with httpx.Client(base_url=api.url, timeout=30) as http:
        assert http.get("/clients/c0/returns").status_code == 200
        before = len(api.events())
        # a slow endpoint (0.15 s an envelope): the events are still queued in the SDK when
        # SIGTERM arrives, and only the lifespan's flush sends them
        api.ingest.delay = 0.15
        ids = [f"boom-{i}" for i in range(5)]
        for request_id in ids:
            reply = http.get("/clients/c1/boom", headers={"X-Request-Id": request_id})
            assert reply.status_code == 500 and reply.headers["x-request-id"] == request_id
    assert api.server.terminate() in (0, -15)
    events = api.events()[before:]  # the process is gone: whatever arrived has arrived
    tagged = sorted(e.get("tags", {}).get("request_id", "") for e in events)
    assert tagged == ids, f"{len(events)} of {len(ids)} error events delivered"
    assert all(e["exception"]["values"][-1]["type"] == "RuntimeError" for e in events)


@pytest.mark.timeout(120)
def test_no_resource_warning_under_dev_mode(start_returns_api: StartReturnsApi) -> None:
    api = start_returns_api(python_args=("-X", "dev", "-W", "error::ResourceWarning"))
    with httpx.Client(base_url=api.url, timeout=30) as http:
        for path in ("/clients/c1/returns", "/readyz", "/healthz", "/clients/c1/boom"):
            http.get(path)
        assert http.get("/hold", params={"seconds": 0.1}).status_code == 200
    assert api.server.terminate() in (0, -15)
    output = api.server.output()
    assert "Application shutdown complete." in output  # the lifespan shutdown ran
    words = ("ResourceWarning", "unclosed", "Exception ignored")
    warned = [line for line in output.splitlines() if any(w in line for w in words)]
    assert warned == []
    assert api.lines()  # and under -X dev too, every line is one JSON object
