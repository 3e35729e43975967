"""The kit under real uvicorn with a real redis-server, driven over HTTP."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import redis

from tests.servers.net import wait_until
from tests.servers.uvicorn_app import uvicorn_app

APPS = Path(__file__).parent / "apps"


@pytest.fixture
def kit(redis_server, tmp_path):
    env = {"REDIS_URL": redis_server.url(), "ENVIRONMENT": "production"}
    with uvicorn_app("kit_app:app", workdir=tmp_path, env=env, pythonpath=APPS) as server:
        yield server, redis_server


def _lines(server):
    return [json.loads(line) for line in server.stdout().splitlines() if line.strip()]


def test_ids_echo_access_line_and_json_only(kit):
    server, _ = kit
    with httpx.Client(base_url=server.url, timeout=10) as http:
        ok = http.get(
            "/items/123-45-6789?email=a@b.c", headers={"X-Request-Id": "abc.1", "X-Task-Id": "t1"}
        )
        bad = http.get("/items/1", headers={"X-Request-Id": "x" * 65, "X-Client-Id": "bad id"})
        boom = http.get("/boom", headers={"X-Request-Id": "boom-1"})
        live = http.get("/livez")
        none = http.get("/nope/123-45-6789")
    assert ok.status_code == 200 and ok.headers["x-request-id"] == "abc.1"
    assert len(bad.headers["x-request-id"]) == 32
    assert boom.status_code == 500 and boom.headers["x-request-id"] == "boom-1"
    assert live.headers["cache-control"] == "no-store"
    assert none.status_code == 404
    server.terminate()
    out = server.stdout()
    assert (
        "123-45-6789" not in out
        and "a@b.c" not in out
        and "bad id" not in out
        and "x" * 65 not in out
    )
    lines = _lines(server)  # every line JSON
    access = [line for line in lines if line.get("logger") == "cpa_ops.access"]
    routes = [(a["route"], a["status"]) for a in access]
    assert ("/items/{item}", 200) in routes and ("/boom", 500) in routes
    assert ("<unmatched>", 404) in routes and all(r != "/livez" for r, _ in routes)
    assert any(a.get("request_id") == "abc.1" and a.get("task_id") == "t1" for a in access)
    inside = [line for line in lines if line.get("message") == "inside"]
    assert any(line.get("request_id") == "abc.1" for line in inside)
    assert any(
        line.get("request_id") == "boom-1" and line.get("level") == "error" for line in lines
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("planted", ["123-45-6789", "4111-1111-1111-1111", "12-3456789"])
def test_a_request_id_that_is_pii_is_replaced(kit, planted):
    """An X-Request-Id the logs would redact was echoed as sent while every line carried
    [REDACTED:...]: the id a caller quotes then finds nothing. It is replaced, as an invalid one
    is: the same generated id in the response and in the lines."""
    server, _ = kit
    with httpx.Client(base_url=server.url, timeout=10) as http:
        response = http.get("/items/1", headers={"X-Request-Id": planted})
    echoed = response.headers["x-request-id"]
    assert response.status_code == 200 and echoed != planted and len(echoed) == 32
    server.terminate()
    assert planted not in server.stdout()
    access = [line for line in _lines(server) if line.get("logger") == "cpa_ops.access"]
    assert [line["request_id"] for line in access] == [echoed]


def test_fifty_concurrent_no_bleed(kit):
    server, _ = kit

    async def run():
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            return await asyncio.gather(
                *(
                    http.get("/items/1", headers={"X-Request-Id": f"r{i}", "X-Task-Id": f"t{i}"})
                    for i in range(50)
                )
            )

    replies = asyncio.run(run())
    assert [r.headers["x-request-id"] for r in replies] == [f"r{i}" for i in range(50)]
    server.terminate()
    checked = 0
    for line in _lines(server):
        ours = line.get("message") == "inside" or line.get("logger") == "cpa_ops.access"
        if ours and line.get("request_id", "").startswith("r"):
            assert line["task_id"] == "t" + line["request_id"][1:]
            checked += 1
    assert checked == 100  # an inside line and an access line for each of the 50


def test_health_routes_and_no_connection_left(kit):
    server, redis_server = kit
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/readyz").status_code == 200
        health = http.get("/healthz")
        http.get("/items/1")
    assert health.status_code == 200 and health.json()["serviceId"] == "kit-test"
    assert health.json()["releaseId"] == "9.9.9"
    assert server.terminate() in (0, -15)  # uvicorn re-raises SIGTERM after lifespan shutdown
    raw = redis.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=5)

    def none_left() -> bool:
        return not [c for c in raw.client_list() if c.get("name") == "kit-test"]

    try:  # the server notices the closes asynchronously: give it time on a loaded machine
        wait_until(none_left, 5, "no kit-test connection left on the server")
    finally:
        raw.close()
