"""Fixtures for the example service (examples/returns_api) under real uvicorn, with its own
real redis-server and a real Sentry envelope endpoint, in production mode.

* ``returns_api``: the example running (ENVIRONMENT=production, SENTRY_DSN at the ingest
  server, default SENTRY_TRACES_SAMPLE_RATE), a :class:`ReturnsApi`.
* ``start_returns_api``: ``start(env={...}, python_args=(...))`` starts it with extra
  environment variables or interpreter options (``-X dev``); stopped after the test.

uvicorn is stopped (SIGTERM by PID) before the redis-server and the ingest server it uses.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.redis_faults import RedisServer
from tests.servers.sentry_ingest import SentryIngest
from tests.servers.uvicorn_app import UvicornServer, uvicorn_app

EXAMPLE_APP = "examples.returns_api.app:app"
#: the example's client name on its Redis connections (its service name)
EXAMPLE_SERVICE = "returns-api"


@dataclass
class ReturnsApi:
    """The running example and the servers it talks to."""

    server: UvicornServer
    redis: RedisServer
    ingest: SentryIngest

    @property
    def url(self) -> str:
        return self.server.url

    def lines(self) -> list[dict[str, Any]]:
        """Every line uvicorn and the app wrote (stdout, then stderr), parsed; an
        AssertionError names the first line that is not one JSON object."""
        parsed = []
        for stream, text in (("stdout", self.server.stdout()), ("stderr", self.server.stderr())):
            for number, line in enumerate(text.splitlines(), 1):
                try:
                    value = json.loads(line)
                except ValueError:
                    value = None
                assert isinstance(value, dict), f"{stream} line {number} is not JSON: {line!r}"
                parsed.append(value)
        return parsed

    def transactions(self) -> list[dict[str, Any]]:
        """Every transaction payload the ingest server received so far."""
        return [t for env in list(self.ingest.received) for t in env.payloads("transaction")]

    def events(self) -> list[dict[str, Any]]:
        """Every error event payload the ingest server received so far."""
        return [e for env in list(self.ingest.received) for e in env.payloads("event")]


StartReturnsApi = Callable[..., ReturnsApi]


@pytest.fixture
def start_returns_api(
    redis_server: RedisServer, sentry_ingest: SentryIngest, tmp_path: Path
) -> Iterator[StartReturnsApi]:
    with contextlib.ExitStack() as running:
        started = []

        def start(
            env: Mapping[str, str] | None = None, python_args: tuple[str, ...] = ()
        ) -> ReturnsApi:
            full_env = {
                "REDIS_URL": redis_server.url(),
                "SENTRY_DSN": sentry_ingest.dsn,
                "ENVIRONMENT": "production",
                **(env or {}),
            }
            server = running.enter_context(
                uvicorn_app(
                    EXAMPLE_APP,
                    workdir=tmp_path / f"uvicorn-{len(started)}",
                    env=full_env,
                    python_args=python_args,
                )
            )
            started.append(server)
            return ReturnsApi(server, redis_server, sentry_ingest)

        yield start


@pytest.fixture
def returns_api(start_returns_api: StartReturnsApi) -> ReturnsApi:
    return start_returns_api()
