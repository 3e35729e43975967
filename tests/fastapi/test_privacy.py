"""No client data from a real web service: examples/returns_api under real uvicorn, in
production, against a real redis-server and the real envelope endpoint, driven over HTTP.

PII is planted in the path, the query, headers (a custom one, X-Forwarded-For), cookies, JSON
bodies, Redis keys, exception messages, HTTPException details, validation errors and log fields.
Then every envelope item (events, transactions, spans, breadcrumbs, tags, request) and every
line uvicorn wrote is searched for every planted value in every spelling: raw, percent-encoded,
JSON- and repr-escaped, casefolded, NFC/NFD/NFKC. The service runs once for the module (one
uvicorn start); each test checks one property of what it sent and wrote.
"""

# ruff: noqa: RUF001 - full-width letters are planted on purpose
from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest

from cpa_ops.core.free_text import WITHHELD
from cpa_ops.core.sentry.web import ALLOWED_HEADERS, HEALTH_PATHS, UNMATCHED
from tests.servers.redis_faults import redis_server
from tests.servers.sentry_ingest import Mode, ReceivedEnvelope, SentryIngest
from tests.servers.uvicorn_app import uvicorn_app

pytestmark = pytest.mark.timeout(180)

NAME = "Marisol Q. Oyelaran"
NAME_UNICODE = "Zoë Ångström-Oyelaran"  # NFC; sent NFD as well
NAME_FULLWIDTH = "Ｍａｒｉｓｏｌ Ｏｙｅｌａｒａｎ"
SSN = "123-45-6789"
EIN = "12-3456789"
EMAIL = "marisol.oyelaran@example.com"
ACCOUNT = "000123456789"
CARD = "4111 1111 1111 1111"
CLIENT_IP = "203.0.113.77"
PLANTED = (NAME, NAME_UNICODE, NAME_FULLWIDTH, SSN, EIN, EMAIL, ACCOUNT, CARD, CLIENT_IP)
# parts of the names that must not appear on their own either
NAME_PARTS = ("Marisol", "Oyelaran", "Ångström", "Ｏｙｅｌａｒａｎ")
IDS = {"X-Task-Id": "task-7", "X-Client-Id": "client-42", "X-Agent": "intake"}
EXPECTED_EVENTS = 7  # boom, invalid, log, crash-logged (2), quota, slow


def spellings(value: str) -> set[str]:
    """Every spelling a value could take on its way into an envelope or a log line."""
    forms = set()
    for form in {value, *(unicodedata.normalize(n, value) for n in ("NFC", "NFD", "NFKC"))}:
        for text in (form, form.casefold()):
            forms |= {
                text,
                quote(text),
                quote(text).lower(),
                quote_plus(text),
                quote(text, safe=""),
                json.dumps(text)[1:-1],
                json.dumps(json.dumps(text))[1:-1][2:-2],  # JSON inside JSON
                repr(text)[1:-1],
                text.encode("unicode_escape").decode(),
            }
    return {f for f in forms if f}


FORBIDDEN = {form: value for value in (*PLANTED, *NAME_PARTS) for form in spellings(value)}


@dataclass
class Run:
    """What the service sent and wrote while driven once."""

    envelopes: list[ReceivedEnvelope]
    stdout: str
    stderr: str
    statuses: dict[str, int]

    def items(self, kind: str) -> list[dict[str, Any]]:
        return [p for e in self.envelopes for p in e.payloads(kind)]

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.items("event")

    @property
    def transactions(self) -> list[dict[str, Any]]:
        return self.items("transaction")

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def event_of(self, transaction: str, logger: str | None = None) -> dict[str, Any]:
        found = [
            e
            for e in self.events
            if e.get("transaction") == transaction and (logger is None or e.get("logger") == logger)
        ]
        assert len(found) == 1, [(e.get("transaction"), e.get("logger")) for e in self.events]
        return found[0]


def _drive(base: str) -> dict[str, int]:
    statuses: dict[str, int] = {}
    cookies = {"session": quote(NAME), "ssn": SSN}
    with httpx.Client(base_url=base, timeout=20, cookies=cookies) as http:

        def call(label: str, method: str, path: str, **kw: Any) -> None:
            headers = {
                "X-Request-Id": f"priv-{len(statuses)}",
                "X-Taxpayer": NAME,
                "X-Taxpayer-Unicode": quote(NAME_UNICODE),
                "X-Forwarded-For": f"{CLIENT_IP}, 10.0.0.1",
                "X-Real-IP": CLIENT_IP,
                "Referer": f"https://portal.example.org/clients?email={quote(EMAIL)}",
                **IDS,
            }
            statuses[label] = http.request(method, path, headers=headers, **kw).status_code

        query = f"name={quote(NAME)}&email={quote(EMAIL)}&card={quote_plus(CARD)}"
        call("returns", "GET", f"/clients/{SSN}/returns?{query}")
        nfd = unicodedata.normalize("NFD", NAME_UNICODE)
        call("returns-unicode", "GET", f"/clients/{ACCOUNT}/returns?name={quote(nfd)}")
        call("returns-fullwidth", "GET", f"/clients/{EIN}/returns?name={quote(NAME_FULLWIDTH)}")
        call("boom", "GET", f"/clients/{SSN}/boom?name={quote(NAME)}")
        call("missing", "GET", f"/clients/{SSN}/missing?name={quote(NAME)}")
        call("unavailable", "GET", f"/clients/{SSN}/unavailable?name={quote(NAME)}")
        call("invalid", "GET", f"/clients/{SSN}/invalid?name={quote(NAME_UNICODE)}")
        bad = {"taxpayer_name": NAME, "ssn": SSN, "year": f"{NAME} {EMAIL}"}
        call("post-invalid", "POST", "/returns", json=bad)
        call("post", "POST", "/returns", json={"taxpayer_name": NAME, "ssn": SSN, "year": 2025})
        call("log", "GET", f"/clients/{EIN}/log?name={quote(NAME)}")
        call("crash-logged", "GET", f"/clients/{SSN}/crash-logged?name={quote(NAME)}")
        call("quota", "GET", "/quota")
        call("slow", "GET", "/slow")
        call("unmatched", "GET", f"/nope/{SSN}/{quote(NAME)}?email={quote(EMAIL)}")
        for path in sorted(HEALTH_PATHS):
            call(path, "GET", path)
            call(f"HEAD {path}", "HEAD", path)
        for n in range(5):
            call(f"livez-{n}", "GET", "/livez")
    return statuses


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with (
        SentryIngest(Mode.OK) as ingest,
        redis_server(workdir=tmp_path_factory.mktemp("redis")) as redis,
    ):
        env = {
            "REDIS_URL": redis.url(),
            "ENVIRONMENT": "production",
            "SENTRY_DSN": ingest.dsn,
            "SENTRY_TRACES_SAMPLE_RATE": "1.0",  # every trace: so that none can hide PII
            "ALLOWED_EXCEPTION_MESSAGES": "TimeoutError",
        }
        workdir = tmp_path_factory.mktemp("uvicorn")
        with uvicorn_app("examples.returns_api.app:app", workdir=workdir, env=env) as server:
            statuses = _drive(server.url)
            server.terminate()  # SIGTERM: the lifespan flushes Sentry
            _wait_for_events(ingest, EXPECTED_EVENTS, timeout=20)
            time.sleep(0.3)  # a straggling envelope after the last event
            yield Run(list(ingest.received), server.stdout(), server.stderr(), statuses)


def _wait_for_events(ingest: SentryIngest, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sum(len(e.payloads("event")) for e in list(ingest.received))
        if got >= count:
            return
        time.sleep(0.05)
    got = sum(len(e.payloads("event")) for e in list(ingest.received))
    raise AssertionError(f"expected {count} events within {timeout} s, got {got}")


# ---------------------------------------------------------------------------------------------


def test_the_requests_did_what_they_plant(run: Run) -> None:
    """The routes ran as planned (so the PII really went through them)."""
    expected = {
        "returns": 200,
        "returns-unicode": 200,
        "returns-fullwidth": 200,
        "boom": 500,
        "missing": 404,
        "unavailable": 503,
        "invalid": 500,
        "post-invalid": 422,
        "post": 200,
        "log": 200,
        "crash-logged": 200,
        "quota": 500,
        "slow": 500,
        "unmatched": 404,
    }
    assert {k: run.statuses[k] for k in expected} == expected
    assert all(run.statuses[p] == 200 for p in HEALTH_PATHS)


def test_no_planted_value_in_any_envelope_or_line(run: Run) -> None:
    """Not one spelling of one planted value in any envelope or any line uvicorn wrote."""
    assert len(run.events) == EXPECTED_EVENTS
    assert len(run.transactions) >= 14  # every non-health request, sampled at 1.0
    places = {f"envelope {i}": e.text for i, e in enumerate(run.envelopes)}
    places["stdout"], places["stderr"] = run.stdout, run.stderr
    leaks = [
        (place, value, _around(text, form))
        for place, text in places.items()
        for form, value in FORBIDDEN.items()
        if form in text or form in text.casefold()
    ]
    assert not leaks, leaks[:10]


def _around(text: str, form: str) -> str:
    at = max(text.find(form), text.casefold().find(form))
    return text[max(0, at - 150) : at + 60]


def test_every_line_is_json(run: Run) -> None:
    """stdout holds only JSON objects (uvicorn's own lines included); stderr is empty."""
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert len(lines) > 20
    for line in lines:
        assert isinstance(json.loads(line), dict), line
    assert run.stderr.strip() == ""


def test_requests_carry_only_the_route_and_allowed_headers(run: Run) -> None:
    """URL and name from the route template (<unmatched> otherwise); allowlisted headers only;
    no query string, cookies, body, env or user anywhere."""
    seen_names = set()
    for item in [*run.events, *run.transactions]:
        seen_names.add(item["transaction"])
        request = item["request"]
        assert set(request) <= {"method", "url", "headers"}, request
        assert set(request["headers"]) <= ALLOWED_HEADERS, request["headers"]
        assert "x-request-id" in request["headers"]
        path = request["url"].split("://", 1)[-1].partition("/")[2]
        assert f"/{path}" == item["transaction"] or request["url"] == UNMATCHED
        assert "user" not in item or "ip_address" not in item["user"]
        assert "_meta" not in item or "request" not in item["_meta"]
    assert {"/clients/{client_ref}/returns", "/returns", UNMATCHED} <= seen_names
    assert all("?" not in name for name in seen_names)


def test_health_routes_produce_no_transaction(run: Run) -> None:
    """Health routes are never sampled, even at a sample rate of 1.0."""
    names = [t["transaction"] for t in run.transactions]
    assert not [n for n in names if n in HEALTH_PATHS]
    assert "/clients/{client_ref}/log" in names  # sampling is on


def test_redis_spans_keep_command_and_key_prefix(run: Run) -> None:
    """Redis spans say ``SET return-by-name:<redacted>``: the command and the prefix only."""
    spans = [
        s
        for t in run.transactions
        if t["transaction"] == "/clients/{client_ref}/returns"
        for s in t["spans"]
        if s["op"] == "db.redis"
    ]
    assert len(spans) >= 6  # SET and GET in each of the three requests
    assert {s["description"] for s in spans} == {
        "SET return-by-name:<redacted>",
        "GET return-by-name:<redacted>",
    }
    assert {s["tags"]["redis.key"] for s in spans} == {"return-by-name:<redacted>"}


def test_events_keep_type_stack_and_correlation_tags(run: Run) -> None:
    """An unhandled exception: its type and frames, the message withheld, the ids as tags."""
    event = run.event_of("/clients/{client_ref}/boom")
    [value] = event["exception"]["values"]
    assert (value["type"], value["value"]) == ("RuntimeError", WITHHELD)
    functions = [f["function"] for f in value["stacktrace"]["frames"]]
    assert "boom" in functions
    assert all("vars" not in f for f in value["stacktrace"]["frames"])
    assert event["tags"]["request_id"].startswith("priv-")
    for header, tag in (
        ("X-Task-Id", "task_id"),
        ("X-Client-Id", "client_id"),
        ("X-Agent", "agent"),
    ):
        assert event["tags"][tag] == IDS[header]
    invalid = run.event_of("/clients/{client_ref}/invalid")
    [value] = invalid["exception"]["values"]
    assert (value["type"], value["value"]) == ("ValidationError", WITHHELD)
    for transaction in run.transactions:
        assert transaction["tags"]["task_id"] == "task-7"


def test_allowed_exception_types_keep_their_message(run: Run) -> None:
    """A registered type (allow_exception_messages) and one named in ALLOWED_EXCEPTION_MESSAGES
    keep their message, in Sentry and in the log line."""
    quota = run.event_of("/quota")["exception"]["values"][-1]
    assert (quota["type"], quota["value"]) == (
        "QuotaExceeded",
        "quota of 5 returns per minute exceeded",
    )
    slow = run.event_of("/slow")["exception"]["values"][-1]
    assert (slow["type"], slow["value"]) == ("TimeoutError", "redis answered in 5 s")
    errors = [line["error"] for line in run.lines() if "error" in line]
    assert {"kind": "TimeoutError", "message": "redis answered in 5 s"}.items() <= next(
        e for e in errors if e["kind"] == "TimeoutError"
    ).items()


def test_log_exception_in_a_route_reaches_sentry_with_its_stack(run: Run) -> None:
    """log.exception (structlog) and stdlib logging's .exception both become events with the
    stack; a warning before them is a breadcrumb, its argument withheld."""
    event = run.event_of("/clients/{client_ref}/crash-logged", logger="returns_api")
    [value] = event["exception"]["values"]
    assert (value["type"], value["value"]) == ("LookupError", WITHHELD)
    assert "crash_logged" in [f["function"] for f in value["stacktrace"]["frames"]]
    assert event["logentry"]["message"] == "return lookup crashed"
    assert event["tags"]["client_id"] == "client-42"
    stdlib = run.event_of("/clients/{client_ref}/crash-logged", logger="returns_api.stdlib")
    assert stdlib["exception"]["values"][0]["type"] == "KeyError"
    assert stdlib["logentry"]["formatted"] == f"stdlib lookup crashed for {WITHHELD}"
    crumbs = [c["message"] for c in stdlib["breadcrumbs"]["values"]]
    assert f"slow lookup for {WITHHELD}" in crumbs


def test_log_lines_become_events_and_breadcrumbs(run: Run) -> None:
    """log.error is an event, the log.info before it a breadcrumb, both with fields vetted;
    no uvicorn access breadcrumb anywhere."""
    event = run.event_of("/clients/{client_ref}/log")
    assert event["logentry"]["message"] == "return lookup failed"
    assert event["extra"]["taxpayer_name"].startswith("[REDACTED:")
    [crumb] = [c for c in event["breadcrumbs"]["values"] if c.get("category") == "returns_api"]
    assert crumb["message"] == "return looked up"
    assert crumb["data"]["note"] == WITHHELD
    for item in run.events:
        for c in item.get("breadcrumbs", {}).get("values", []):
            assert c.get("category") != "uvicorn.access"


def test_log_lines_withhold_free_text(run: Run) -> None:
    """The JSON lines: an unhandled exception keeps type and stack, not the message; free-text
    fields are withheld; access lines keep route, status and duration."""
    lines = run.lines()
    crashes = [line for line in lines if line.get("message") == "unhandled exception"]
    runtime = next(line for line in crashes if line["error"]["kind"] == "RuntimeError")
    assert runtime["error"]["message"] == WITHHELD
    assert "RuntimeError: " + WITHHELD in runtime["error"]["stack"]
    assert 'raise RuntimeError(f"no return on file for {name}")' in runtime["error"]["stack"]
    looked_up = next(line for line in lines if line.get("message") == "return looked up")
    assert looked_up["note"] == WITHHELD
    stdlib = [line for line in lines if line.get("logger") == "returns_api.stdlib"]
    assert [line["message"] for line in stdlib] == [
        f"slow lookup for {WITHHELD}",
        f"stdlib lookup crashed for {WITHHELD}",
    ]
    assert stdlib[1]["error"] == {**stdlib[1]["error"], "kind": "KeyError", "message": WITHHELD}
    access = [line for line in lines if line.get("logger") == "cpa_ops.access"]
    assert {"/clients/{client_ref}/returns", UNMATCHED} <= {a["route"] for a in access}
    assert all(isinstance(a["duration_ms"], float | int) for a in access)
    assert any(a["status"] == 503 for a in access)
