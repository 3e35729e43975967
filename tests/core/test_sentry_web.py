"""The web policy of Sentry (cpa_ops.core.sentry.web) and the free-text policy of events
(cpa_ops.core.sentry.withhold): helpers on their own, properties with hypothesis, the sampler
against the real SDK's sampling decision."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from hypothesis import given, settings
from hypothesis import strategies as st
from sentry_sdk.integrations.redis.utils import _get_safe_command

from cpa_ops.core.free_text import WITHHELD
from cpa_ops.core.sentry import init_sentry
from cpa_ops.core.sentry.web import (
    ALLOWED_HEADERS,
    HEALTH_PATHS,
    REDACTED_KEY,
    UNMATCHED,
    correlation_tags,
    is_health_path,
    redis_key_prefix,
    redis_text,
    route_name,
    safe_breadcrumb,
    safe_request,
    safe_span,
    safe_url,
    traces_sampler,
    web_event,
)
from cpa_ops.core.sentry.withhold import withheld_breadcrumb, withheld_event
from cpa_ops.core.settings import load_settings
from tests.servers.sentry_ingest import SentryIngest

NAME = "Jane Q. Taxpayer"
prefixes = st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True)
separators = st.sampled_from([":", "/", "|", "{", "#"])
rests = st.text(min_size=1, max_size=40).filter(lambda t: t.strip())
commands = st.sampled_from(["SET", "GET", "HSET", "EXPIRE", "CLIENT SETNAME", "ZADD"])


# ---------------------------------------------------------------------------------------------
# Redis


class TestRedis:
    def test_the_sdk_description_is_cut_to_command_and_prefix(self) -> None:
        """The SDK's own description of a SET keeps the command and the key's prefix."""
        description = _get_safe_command("SET", (f"return-by-name:{NAME}", "000123456789"))
        assert NAME in description  # what the SDK would send
        assert redis_text(description) == "SET return-by-name:<redacted>"

    @settings(max_examples=200, deadline=None)
    @given(command=commands, prefix=prefixes, sep=separators, rest=rests, as_bytes=st.booleans())
    def test_never_more_than_the_prefix(
        self, command: str, prefix: str, sep: str, rest: str, as_bytes: bool
    ) -> None:
        """Whatever the key holds after its first separator, none of it survives; the command
        and the prefix do; cutting twice changes nothing."""
        key: Any = f"{prefix}{sep}{rest}"
        if as_bytes:
            key = key.encode()
        description = _get_safe_command(command, (key, "value"))
        cut = redis_text(description)
        assert cut == f"{command} {prefix}{sep}{REDACTED_KEY}"
        assert redis_text(cut) == cut
        assert redis_key_prefix(key) == f"{prefix}{sep}{REDACTED_KEY}"

    @pytest.mark.parametrize(
        ("key", "shown"),
        [
            (NAME, REDACTED_KEY),  # no prefix: nothing of the key
            ("plainkey", REDACTED_KEY),
            (b"cache:\xff\xfe", "cache:<redacted>"),
            (["a:1", "b:2"], "a:<redacted>, b:<redacted>"),
            (None, REDACTED_KEY),
            (f"{'x' * 80}:rest", REDACTED_KEY),  # a "prefix" too long to be one
        ],
    )
    def test_key_prefixes(self, key: Any, shown: str) -> None:
        assert redis_key_prefix(key) == shown

    def test_a_description_without_a_command_says_nothing(self) -> None:
        assert redis_text(f"'{NAME}'") == REDACTED_KEY
        assert redis_text("PING") == "PING"

    def test_span_tags_data_and_pipeline_commands(self) -> None:
        """The span's description, redis.key tag, db.statement and pipeline commands are cut;
        the server's address stays, a client address goes."""
        span = {
            "op": "db.redis",
            "description": f"GET 'return-by-name:{NAME}'",
            "tags": {"redis.key": f"return-by-name:{NAME}", "redis.command": "GET"},
            "data": {
                "db.statement": f"GET 'return-by-name:{NAME}'",
                "redis.commands": {"count": 2, "first_ten": [f"SET 'k:{NAME}' [Filtered]"]},
                "server.address": "10.0.0.5",
                "client.address": "203.0.113.7",
            },
        }
        cut = safe_span(span)
        assert NAME not in repr(cut) and "203.0.113.7" not in repr(cut)
        assert cut["description"] == "GET return-by-name:<redacted>"
        assert cut["tags"] == {"redis.key": "return-by-name:<redacted>", "redis.command": "GET"}
        assert cut["data"]["redis.commands"]["first_ten"] == ["SET k:<redacted>"]
        assert cut["data"]["server.address"] == "10.0.0.5"

    def test_cache_spans_and_redis_breadcrumbs(self) -> None:
        cache = safe_span(
            {
                "op": "cache.get",
                "description": f"u:{NAME}, v:{NAME}",
                "data": {"cache.key": [f"u:{NAME}"]},
            }
        )
        assert cache["description"] == "u:<redacted>, v:<redacted>"
        assert cache["data"]["cache.key"] == "u:<redacted>"
        crumb = safe_breadcrumb(
            {
                "type": "redis",
                "category": "redis",
                "message": f"SET 'k:{NAME}' [Filtered]",
                "data": {"redis.key": f"k:{NAME}"},
            }
        )
        assert crumb is not None and NAME not in repr(crumb)


# ---------------------------------------------------------------------------------------------
# the request, the transaction name, breadcrumbs, tags

header_names = st.one_of(
    st.sampled_from(sorted(ALLOWED_HEADERS)),
    st.sampled_from(
        [
            "cookie",
            "x-forwarded-for",
            "x-real-ip",
            "authorization",
            "x-taxpayer",
            "forwarded",
            "referer",
            "host",
        ]
    ),
    st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True),
)


class TestRequest:
    @settings(max_examples=200, deadline=None)
    @given(
        headers=st.dictionaries(header_names, st.text(max_size=30), max_size=12),
        route=st.sampled_from(["/clients/{client_ref}/returns", "/returns", "/x/{a}/{b}"]),
    )
    def test_only_allowed_headers_and_the_route(self, headers: dict[str, str], route: str) -> None:
        """Any header outside the allowlist is absent (not "[Filtered]"); the URL's path is the
        route template; nothing but method, url and headers is left."""
        request = {
            "method": "GET",
            "url": "http://svc.local:8000/clients/123-45-6789/returns",
            "query_string": f"name={NAME}",
            "cookies": {"session": NAME},
            "headers": headers,
            "env": {"REMOTE_ADDR": "203.0.113.7"},
            "data": {"ssn": "123-45-6789"},
        }
        safe = safe_request(request, route)
        assert set(safe) <= {"method", "url", "headers"}
        assert safe["url"] == f"http://svc.local:8000{route}"
        kept = safe.get("headers", {})
        assert {k.lower() for k in kept} <= ALLOWED_HEADERS
        assert kept == {k: v for k, v in headers.items() if k.lower() in ALLOWED_HEADERS}

    @pytest.mark.parametrize(
        ("url", "route", "expected"),
        [
            ("http://127.0.0.1:9/nope/123-45-6789", UNMATCHED, UNMATCHED),
            (f"http://{NAME}/x", "/x", "/x"),  # a Host that is no host name: path only
            ("http://[::1]:8000/x?q=1", "/x", "http://[::1]:8000/x"),
            ("http://h/x", None, UNMATCHED),
            ("http://h/x", "returns_api.app.boom", UNMATCHED),  # endpoint style: no path
        ],
    )
    def test_urls(self, url: str, route: str | None, expected: str) -> None:
        assert safe_request({"url": url}, route)["url"] == expected

    def test_unmatched_transactions_get_the_fixed_name(self) -> None:
        raw = {"transaction": "http://h/nope/123-45-6789", "transaction_info": {"source": "url"}}
        assert route_name(raw) == UNMATCHED
        matched = {"transaction": "/a/{b}", "transaction_info": {"source": "route"}}
        assert route_name(matched) == "/a/{b}"
        assert route_name({}) is None

    def test_outgoing_urls_lose_query_fragment_and_userinfo(self) -> None:
        assert safe_url("https://u:pw@api.example.org/v1/x?email=a@b.c#f") == UNMATCHED
        assert (
            safe_url("https://api.example.org/v1/x?email=a%40b.c#f")
            == "https://api.example.org/v1/x"
        )
        crumb = safe_breadcrumb(
            {
                "type": "http",
                "data": {"url": "https://api.example.org/a?ssn=1", "http.query": "ssn=1"},
            }
        )
        assert crumb == {"type": "http", "data": {"url": "https://api.example.org/a"}}

    def test_uvicorn_access_breadcrumbs_are_dropped(self) -> None:
        crumb = {"type": "log", "category": "uvicorn.access", "message": '203.0.113.7 - "GET /"'}
        assert safe_breadcrumb(crumb) is None

    def test_web_event_whole(self) -> None:
        """One event: name, request, user address, meta, tags, spans and crumbs together."""
        event = {
            "transaction": "http://h/nope/x",
            "transaction_info": {"source": "url"},
            "request": {"url": "http://h/nope/x", "headers": {"x-taxpayer": NAME}},
            "user": {"ip_address": "203.0.113.7"},
            "_meta": {"request": {"headers": {"cookie": {"": {"rem": [["!config", "s"]]}}}}},
            "tags": {"asgi.type": "http"},
            "contexts": {"trace": {"data": {"client.address": "203.0.113.7"}}},
            "breadcrumbs": {"values": [{"category": "uvicorn.access", "message": NAME}]},
        }
        tags = correlation_tags([("request_id", "r-1"), ("task_id", "bad id!"), ("x", "y")])
        out = web_event(event, tags)
        assert out["transaction"] == UNMATCHED and out["request"] == {"url": UNMATCHED}
        assert "user" not in out and "_meta" not in out
        assert out["tags"] == {"asgi.type": "http", "request_id": "r-1"}
        assert out["contexts"]["trace"]["data"] == {}
        assert out["breadcrumbs"]["values"] == []


# ---------------------------------------------------------------------------------------------
# the free-text policy on events


class TestWithheldEvent:
    def test_exception_values_are_withheld_unless_allowed(self) -> None:
        """An HTTPException's detail and a plain exception's message go; a library exception's
        stays; frames keep no variables."""
        from starlette.exceptions import HTTPException

        from cpa_ops.core.settings import ConfigError

        try:
            raise HTTPException(503, detail=f"no client named {NAME}")
        except HTTPException as exc:
            hint = {"exc_info": (type(exc), exc, exc.__traceback__)}
        event = {
            "exception": {
                "values": [
                    {
                        "type": "HTTPException",
                        "module": "starlette.exceptions",
                        "value": f"503: no client named {NAME}",
                        "stacktrace": {"frames": [{"function": "f", "vars": {"name": NAME}}]},
                    },
                    {
                        "type": "ConfigError",
                        "module": "cpa_ops.core.settings",
                        "value": "REDIS_URL is invalid",
                    },
                ]
            },
            "extra": {"note": f"for {NAME}", "count": 3, "route": "/a b"},
            "contexts": {
                "client": {"who": NAME},
                "runtime": {"name": "CPython", "build": "3.11 x"},
            },
            "user": {"id": "client-42", "username": NAME},
            "tags": {"client": NAME, "http.status_code": "503"},
            "logentry": {
                "message": "lookup for %s",
                "params": [NAME],
                "formatted": f"lookup for {NAME}",
            },
        }
        assert ConfigError  # the library's own types keep their messages
        out = withheld_event(event, hint)
        assert NAME not in repr(out)
        first, second = out["exception"]["values"]
        assert first["value"] == WITHHELD and "vars" not in first["stacktrace"]["frames"][0]
        assert second["value"] == "REDIS_URL is invalid"
        assert out["extra"] == {"note": WITHHELD, "count": 3, "route": "/a b"}
        assert out["tags"] == {"client": WITHHELD, "http.status_code": "503"}
        assert out["contexts"] == {
            "client": {"who": WITHHELD},
            "runtime": {"name": "CPython", "build": "3.11 x"},
        }
        assert out["user"] == {"id": "client-42", "username": WITHHELD}
        assert out["logentry"] == {
            "message": "lookup for %s",
            "formatted": f"lookup for {WITHHELD}",
            "params": [WITHHELD],
        }

    def test_a_log_record_hint_rebuilds_the_breadcrumb(self) -> None:
        import logging

        record = logging.LogRecord(
            "svc", logging.INFO, __file__, 1, "slow for %s after %d s", (NAME, 5), None
        )
        crumb = {"type": "log", "message": record.getMessage(), "data": {"who": NAME, "n": 1}}
        out = withheld_breadcrumb(crumb, {"log_record": record})
        assert out == {
            "type": "log",
            "message": f"slow for {WITHHELD} after 5 s",
            "data": {"who": WITHHELD, "n": 1},
        }


# ---------------------------------------------------------------------------------------------
# sampling


class TestSampler:
    @pytest.mark.parametrize(
        "path", [*sorted(HEALTH_PATHS), "/livez/", "/svc/readyz", "http://h/healthz"]
    )
    @pytest.mark.parametrize("parent", [None, True, False])
    def test_health_routes_are_never_sampled(self, path: str, parent: bool | None) -> None:
        sample = traces_sampler(1.0)
        assert sample({"asgi_scope": {"type": "http", "path": path}, "parent_sampled": parent}) == 0
        assert sample({"transaction_context": {"name": path}, "parent_sampled": parent}) == 0
        assert is_health_path(path)

    def test_parent_decision_then_rate(self) -> None:
        sample = traces_sampler(0.1)
        scope = {"type": "http", "path": "/clients/x/returns"}
        assert sample({"asgi_scope": scope, "parent_sampled": True}) == 1.0
        assert sample({"asgi_scope": scope, "parent_sampled": False}) == 0.0
        assert sample({"asgi_scope": scope, "parent_sampled": None}) == 0.1
        assert sample({}) == 0.1


@pytest.fixture
def sdk_at_ten_percent() -> Iterator[None]:
    with SentryIngest() as ingest:
        sentry_sdk.get_client().close(timeout=0)
        init_sentry(
            load_settings(
                sentry_dsn=ingest.dsn, environment="production", sentry_traces_sample_rate=0.1
            ),
            default_integrations=False,
            auto_enabling_integrations=False,
        )
        try:
            yield
        finally:
            sentry_sdk.get_client().close(timeout=0)
            sentry_sdk.get_global_scope().set_client(None)


@pytest.mark.timeout(60)
def test_the_sdk_samples_ten_percent_and_never_health(sdk_at_ten_percent: None) -> None:
    """The real SDK's decisions with init_sentry's sampler: 300 request transactions at 10%
    within binomial bounds (mean 30, 4 standard deviations: 9..51), 100 health ones never."""

    def sampled(path: str) -> bool:
        transaction = sentry_sdk.start_transaction(
            name=path,
            op="http.server",
            custom_sampling_context={"asgi_scope": {"type": "http", "path": path}},
        )
        return bool(transaction.sampled)

    count = sum(sampled(f"/clients/{n}/returns") for n in range(300))
    sd = math.sqrt(300 * 0.1 * 0.9)
    assert 30 - 4 * sd <= count <= 30 + 4 * sd, count
    assert not any(sampled(path) for path in sorted(HEALTH_PATHS) for _ in range(34))


def test_the_sampler_follows_the_rate_option_and_yields_to_the_callers() -> None:
    """sentry_options: the sampler uses SENTRY_TRACES_SAMPLE_RATE or an overriding rate; a
    caller's own traces_sampler wins; no rate, no sampler (tracing off)."""
    from cpa_ops.core.sentry import sentry_options

    base = load_settings(environment="production", sentry_traces_sample_rate=0.25)
    assert sentry_options(base)["traces_sampler"]({}) == 0.25
    assert sentry_options(base, traces_sample_rate=0.5)["traces_sampler"]({}) == 0.5
    own = lambda context: 0.75  # noqa: E731
    assert sentry_options(base, traces_sampler=own)["traces_sampler"] is own
    assert "traces_sampler" not in sentry_options(base, traces_sample_rate=None)
