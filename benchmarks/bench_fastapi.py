"""Requests per second of a trivial FastAPI route with the kit against the same app without it.

Run: ``python benchmarks/bench_fastapi.py [SECONDS_PER_ROUND]`` (or ``./dev bench``). Starts its
own redis-server on a free loopback port (the kit's lifespan creates the service's client; the
route does not use it), then two real uvicorn processes with the same options
(tests/servers/uvicorn_app.py), each writing its lines to a file:

  kit   benchmarks/apps/kit_app.py: ``lifespan`` (production JSON logging, uvicorn's loggers
        taken over), ``CorrelationMiddleware`` (ids, X-Request-Id echoed, one JSON access line
        per request), ``health_router()``; ENVIRONMENT=production, no SENTRY_DSN
  bare  benchmarks/apps/bare_app.py: the same route on plain FastAPI, uvicorn's own logging
        (its plain-text access line per request)

A keep-alive HTTP/1.1 client on asyncio streams (CONCURRENCY connections, each sending its next
request when the last answer is read; every answer checked for 200) drives each app for
SECONDS_PER_ROUND, alternating kit and bare (ABBA order, so drift falls on both) for ROUNDS
rounds each. Prints the median requests per second of each and the ratio kit / bare; target
>= 0.8x; exits 1 when missed. Also prints each server's median CPU time per request (from
/proc) and the ratio it implies: on a machine shared with other work it moves less than the
wall-clock rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# the fault harness lives in the test tree: share it rather than copy it
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import redis_faults as faults
from tests.servers.net import LOOPBACK
from tests.servers.uvicorn_app import UvicornServer, uvicorn_app

APPS = Path(__file__).resolve().parent / "apps"
ROUNDS = 16
SECONDS = 0.75
WARM_UP = 0.5
CONCURRENCY = 8
TARGET = 0.8
PATH = "/items/abc-123"


async def _connection(port: int, until: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    request = f"GET {PATH} HTTP/1.1\r\nHost: {LOOPBACK}\r\nUser-Agent: bench\r\n\r\n".encode()
    try:
        while time.perf_counter() < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            if status != b"200":
                raise SystemExit(f"bench: {PATH} answered {head[:40]!r}")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            counts[0] += 1
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _drive(port: int, seconds: float) -> float:
    counts = [0]
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(_connection(port, until, counts) for _ in range(CONCURRENCY)))
    return counts[0] / (time.perf_counter() - started)


def _cpu_seconds(pid: int) -> float:
    """The user + system CPU time of a process so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(server: UvicornServer, seconds: float) -> tuple[float, float]:
    """Requests per second of one round, and the server's CPU microseconds per request."""
    cpu = _cpu_seconds(server.pid)
    started = time.perf_counter()
    rate = asyncio.run(_drive(server.port, seconds))
    count = rate * (time.perf_counter() - started)
    return rate, (_cpu_seconds(server.pid) - cpu) / max(count, 1) * 1e6


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(faults.redis_server())
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-fastapi-")))
        base = {"REDIS_URL": redis.url()}
        servers = {
            "kit": stack.enter_context(
                uvicorn_app("kit_app:app", workdir=work / "kit", pythonpath=APPS,
                            env={**base, "ENVIRONMENT": "production"})
            ),
            "bare": stack.enter_context(
                uvicorn_app("bare_app:app", workdir=work / "bare", pythonpath=APPS, env=base)
            ),
        }  # fmt: skip
        print(
            f"bench_fastapi: uvicorn (same options) on {LOOPBACK}, {CONCURRENCY} keep-alive "
            f"connections, {seconds:g} s a round, {ROUNDS} alternating rounds each, "
            f"{os.cpu_count()} CPUs\n"
        )
        for server in servers.values():  # warm up: imports done, code paths hot
            measure(server, WARM_UP)
        rates: dict[str, list[float]] = {"kit": [], "bare": []}
        cpu: dict[str, list[float]] = {"kit": [], "bare": []}
        for round_ in range(ROUNDS):
            order = ("kit", "bare") if round_ % 2 == 0 else ("bare", "kit")
            for name in order:
                rate, cpu_us = measure(servers[name], seconds)
                rates[name].append(rate)
                cpu[name].append(cpu_us)
        for server in servers.values():
            server.terminate()  # its lines flushed to the file
        kit_lines = sum(1 for _ in (work / "kit" / "uvicorn.out").open())
        bare_lines = sum(1 for _ in (work / "bare" / "uvicorn.out").open())
    medians = {name: statistics.median(values) for name, values in rates.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    for name, values in rates.items():
        print(
            f"  {name:<5} {medians[name]:8.0f} req/s median  "
            f"({min(values):.0f} - {max(values):.0f}), "
            f"server CPU {cpu_medians[name]:.0f} us/request"
        )
    ratio = medians["kit"] / medians["bare"]
    verdict = "ok" if ratio >= TARGET else "MISSED"
    print(f"  ratio kit / bare  {ratio:.2f}x  (target >= {TARGET}x: {verdict})")
    if cpu_medians["kit"] > 0:  # the same comparison by CPU, less disturbed by other load
        print(f"  by server CPU per request  {cpu_medians['bare'] / cpu_medians['kit']:.2f}x")
    print(f"  lines written: kit {kit_lines} (JSON), bare {bare_lines} (uvicorn's plain text)")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
