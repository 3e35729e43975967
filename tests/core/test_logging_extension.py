"""Tests for the extension point of cpa_ops.core.logging: processors, extra_fields and
structlog's own contextvars, on JSON, console and stdlib-bridge lines."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
import structlog
from structlog.contextvars import (
    bind_contextvars,
    bound_contextvars,
    clear_contextvars,
    unbind_contextvars,
)

from cpa_ops.core.logging import bind_correlation, configure_logging, get_logger
from cpa_ops.core.settings import load_settings
from tests.core.test_logging import HEAD, STATIC, Captured, _configure

EventDict = MutableMapping[str, Any]


@pytest.fixture
def restore() -> Iterator[None]:
    """stdlib, structlog and structlog's contextvars are put back after the test."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    clear_contextvars()
    yield
    clear_contextvars()
    root.handlers = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()


def _add_region(logger: Any, method_name: str, event: EventDict) -> EventDict:
    event["region"] = "eu-1"
    return event


def _json(restore: None, **kw: Any) -> Captured:
    out = Captured()
    _configure(out, **kw)
    return out


def _console(**kw: Any) -> Captured:
    out = Captured()
    _configure(out, fmt="console", environ={}, **kw)
    return out


class TestProcessors:
    def test_a_field_added_shows_in_json_and_console(self, restore: None) -> None:
        """A processor's field is written after the event's own keys, in both formats."""
        out = _json(restore, processors=[_add_region])
        get_logger("svc", bound=1).info("posted", n=2)
        (record,) = out.records()
        assert list(record) == [*HEAD, *STATIC, "bound", "n", "region"]
        assert record["region"] == "eu-1"
        console = _console(processors=[_add_region])
        get_logger("svc").info("posted")
        assert "region=eu-1" in console.text() and "posted" in console.text()

    def test_processors_run_in_order_and_see_the_whole_event(self, restore: None) -> None:
        """Each gets (logger, method name, event dict with "event"); it may change or drop keys."""
        seen: list[tuple[str, str, dict[str, Any]]] = []

        def record_it(logger: Any, method_name: str, event: EventDict) -> EventDict:
            seen.append((logger.name, method_name, dict(event)))
            return event

        def rewrite(logger: Any, method_name: str, event: EventDict) -> EventDict:
            event["event"] = event["event"].upper()
            del event["drop_me"]
            event["seen_region"] = event.get("region")
            return event

        out = _json(restore, processors=[record_it, _add_region, rewrite])
        get_logger("svc", bound="b").warning("posted", drop_me="x", n=1)
        assert seen == [
            ("svc", "warning", {"bound": "b", "drop_me": "x", "n": 1, "event": "posted"})
        ]
        (record,) = out.records()
        assert record["message"] == "POSTED" and record["level"] == "warning"
        assert "drop_me" not in record and record["seen_region"] == "eu-1"

    def test_what_a_processor_adds_is_redacted(self, restore: None) -> None:
        """A processor cannot put PII or secrets past redaction: keys and patterns both count."""

        def leak(logger: Any, method_name: str, event: EventDict) -> EventDict:
            event.update(password="hunter2-pw", note="mail jane@example.com", level="mine")
            event["event"] = "ssn 123-45-6789"
            return event

        out = _json(restore, processors=[leak])
        get_logger("svc").info("fine")
        text = out.text()
        assert "hunter2-pw" not in text and "jane@example.com" not in text
        assert "123-45-6789" not in text
        (record,) = out.records()
        assert record["password"] == "[REDACTED:password]"
        assert record["level"] == "info" and record["level_"] == "mine"  # a head key: renamed

    def test_a_raising_processor_still_yields_a_line_and_never_raises(self, restore: None) -> None:
        """The line says which processor failed; the unprocessed event is not written."""

        def broken(logger: Any, method_name: str, event: EventDict) -> EventDict:
            raise ValueError("boom")

        out = _json(restore, processors=[broken])
        get_logger("svc").error("secret-ish payload", detail="should not appear")
        logging.getLogger("lib").warning("stdlib too")
        first, second = out.records()
        assert first["level"] == "error" and first["logger"] == "svc"
        assert "processed by" in first["message"] and "broken" in first["message"]
        assert "ValueError" in first["message"] and "detail" not in first
        assert second["logger"] == "lib" and "broken" in second["message"]
        console = _console(processors=[broken])
        get_logger("svc").info("x")
        assert "could not be processed by" in console.text()

    def test_a_processor_returning_no_dict_gives_the_fallback_line(self, restore: None) -> None:
        """structlog renderers return str; here the renderer is ours, so that is a failure."""
        out = _json(restore, processors=[lambda logger, name, event: "not a dict"])
        get_logger("svc").info("x")
        (record,) = out.records()
        assert "could not be processed" in record["message"]

    def test_drop_event_drops_the_line(self, restore: None) -> None:
        """structlog.DropEvent drops a line, from get_logger and from stdlib alike."""

        def drop_health(logger: Any, method_name: str, event: EventDict) -> EventDict:
            if event.get("path") == "/health" or event["event"] == "noisy":
                raise structlog.DropEvent
            return event

        out = _json(restore, processors=[drop_health])
        log = get_logger("svc")
        log.info("request", path="/health")
        log.info("request", path="/invoices")
        logging.getLogger("lib").info("noisy")
        logging.getLogger("lib").warning("kept")
        assert [(r["message"], r.get("path")) for r in out.records()] == [
            ("request", "/invoices"),
            ("kept", None),
        ]

    def test_stdlib_records_go_through_the_processors(self, restore: None) -> None:
        """A library's record gets the processor's field; the method name is its level."""
        names: list[str] = []

        def note(logger: Any, method_name: str, event: EventDict) -> EventDict:
            names.append(f"{logger.name}:{method_name}")
            return _add_region(logger, method_name, event)

        out = _json(restore, processors=[note])
        logging.getLogger("redis.connection").warning("retry %d", 2, extra={"attempt": 2})
        (record,) = out.records()
        assert record["message"] == "retry 2" and record["attempt"] == 2
        assert record["region"] == "eu-1" and names == ["redis.connection:warning"]


class TestExtraFields:
    def test_extra_fields_follow_the_service_fields_on_every_line(self, restore: None) -> None:
        """Static fields go after service/environment/version, redacted; the event's own win."""
        extra = {"region": "eu-1", "api_key": "sk-live-123456", "version": "clash"}
        out = _json(restore, extra_fields=extra)
        get_logger("svc").info("a", n=1)
        logging.getLogger("lib").warning("b")
        get_logger("svc").info("c", region="us-2")
        first, second, third = out.records()
        assert list(first) == [*HEAD, *STATIC, "region", "api_key", "version_", "n"]
        assert first["api_key"] == "[REDACTED:api_key]" and first["version_"] == "clash"
        assert second["region"] == "eu-1" and third["region"] == "us-2"
        console = _console(extra_fields={"region": "eu-1"})
        get_logger("svc").info("a")
        assert "region=eu-1" in console.text()

    def test_special_keys_are_refused(self, restore: None) -> None:
        """exc_info and friends are instructions, not fields: configure_logging says so."""
        with pytest.raises(ValueError, match="exc_info"):
            configure_logging(load_settings(), extra_fields={"exc_info": True})


class TestStructlogContextvars:
    def test_bound_contextvars_appear_in_json_console_and_stdlib(self, restore: None) -> None:
        """bind_contextvars fields come before bound context; the call's keys win over them."""
        out = _json(restore)
        bind_contextvars(request_id="req-1", tenant="t-9")
        with bind_correlation(task_id="task-1"):
            get_logger("svc", bound=1).info("a", tenant="call-wins")
        logging.getLogger("lib").warning("b")
        structlog.get_logger("via.structlog").info("c")
        first, second, third = out.records()
        assert list(first) == [*HEAD, "task_id", *STATIC, "request_id", "tenant", "bound"]
        assert first["tenant"] == "call-wins"
        assert second["logger"] == "lib" and second["request_id"] == "req-1"
        assert third["request_id"] == "req-1" and third["tenant"] == "t-9"
        console = _console()
        get_logger("svc").info("a")
        assert "request_id=req-1" in console.text()

    def test_pii_and_secrets_in_contextvars_are_redacted(self, restore: None) -> None:
        """Sensitive keys become markers, PII patterns are masked, head keys are renamed (the
        pattern layer, in development: production withholds free text before it)."""
        out = _json(restore, environment="development")
        bind_contextvars(
            password="pw-hunter2", who="jane@example.com", level="mine", nested={"ssn": "x"}
        )
        get_logger("svc").info("a")
        logging.getLogger("lib").warning("b")
        console = _console(environment="development")
        get_logger("svc").info("c")
        for text in (out.text(), console.text()):
            assert "pw-hunter2" not in text and "jane@example.com" not in text
        first, second = out.records()
        for record in (first, second):
            assert record["password"] == "[REDACTED:password]"
            assert record["who"] == "[REDACTED:email]"
            assert record["level_"] == "mine" and record["nested"] == {"ssn": "[REDACTED:ssn]"}

    def test_clear_and_unbind_remove_them(self, restore: None) -> None:
        """After clear_contextvars / unbind_contextvars / bound_contextvars the keys are gone."""
        out = _json(restore)
        log = get_logger("svc")
        bind_contextvars(a=1, b=2)
        log.info("both")
        unbind_contextvars("a")
        log.info("b only")
        clear_contextvars()
        log.info("none")
        with bound_contextvars(c=3):
            log.info("c")
        log.info("none again")
        keys = [sorted(set(r) - {*HEAD, *STATIC}) for r in out.records()]
        assert keys == [["a", "b"], ["b"], [], ["c"], []]

    def test_contextvars_do_not_leak_between_asyncio_tasks(self, restore: None) -> None:
        """Each task's lines carry its own request_id; the parent never sees a child's."""
        out = _json(restore)
        log = get_logger("svc")

        async def handle(request_id: str, delay: float) -> None:
            bind_contextvars(request_id=request_id)
            await asyncio.sleep(delay)
            log.info("handled", child=request_id)

        async def main() -> None:
            bind_contextvars(server="s1")
            await asyncio.gather(handle("r1", 0.02), handle("r2", 0.0))
            log.info("parent")

        asyncio.run(main())
        by_child = {r.get("child"): r for r in out.records()}
        assert by_child["r1"]["request_id"] == "r1" and by_child["r2"]["request_id"] == "r2"
        assert by_child["r1"]["server"] == "s1"
        assert "request_id" not in by_child[None] and by_child[None]["server"] == "s1"

    def test_contextvars_reach_the_processors(self, restore: None) -> None:
        """A processor sees (and may drop) the contextvars like any other key."""

        def hide_tenant(logger: Any, method_name: str, event: EventDict) -> EventDict:
            event.pop("tenant", None)
            return event

        out = _json(restore, processors=[hide_tenant])
        bind_contextvars(tenant="t-9", request_id="req-1")
        get_logger("svc").info("a")
        (record,) = out.records()
        assert "tenant" not in record and record["request_id"] == "req-1"
