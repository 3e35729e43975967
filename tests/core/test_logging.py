"""Tests for cpa_ops.core.logging: JSON lines, console, correlation ids, stdlib, never raising."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import re
import string
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpa_ops.core.logging import (
    MAX_STRING_CHARS,
    agent_ctx,
    bind_correlation,
    client_id_ctx,
    configure_logging,
    get_logger,
    task_id_ctx,
)
from cpa_ops.core.redact import MARKER_PREFIX
from cpa_ops.core.settings import load_settings
from tests.core.test_redact import ordinary_payloads, planted_pii

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
HEAD = ["timestamp", "level", "logger", "message"]
STATIC = ["service", "environment", "version"]


class Captured:
    """The stream logging writes to, with helpers to read it back."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().splitlines()]

    def clear(self) -> None:
        self.stream.seek(0)
        self.stream.truncate()


def _configure(
    captured: Captured, fmt: str = "json", environment: str = "production", **kw: Any
) -> None:
    configure_logging(
        load_settings(environment=environment),
        stream=captured.stream,
        log_format=fmt,  # type: ignore[arg-type]
        version="9.9.9",
        service="test-service",
        **kw,
    )


@pytest.fixture
def captured() -> Iterator[Captured]:
    """JSON logging into a StringIO; stdlib and structlog are put back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    out = Captured()
    _configure(out)
    yield out
    root.handlers = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()


@pytest.fixture
def captured_development() -> Iterator[Captured]:
    """JSON logging in development: the pattern layer alone, no free-text policy before it."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    out = Captured()
    _configure(out, environment="development")
    yield out
    root.handlers = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()


class TestJsonLines:
    def test_fields_are_in_the_documented_order(self, captured: Captured) -> None:
        """timestamp, level, logger, message, correlation, service/env/version, then the event."""
        log = get_logger("svc.billing", bound_first=1)
        with bind_correlation(task_id="task-1", client_id="client-7", agent="intake"):
            log.info("invoice posted", zeta=1, alpha="a")
        (record,) = captured.records()
        assert list(record) == [
            *HEAD,
            "task_id",
            "client_id",
            "agent",
            *STATIC,
            "bound_first",
            "zeta",
            "alpha",
        ]
        assert RFC3339_UTC.match(record["timestamp"])
        assert record["level"] == "info"
        assert record["logger"] == "svc.billing"
        assert record["message"] == "invoice posted"
        assert (record["task_id"], record["client_id"], record["agent"]) == (
            "task-1",
            "client-7",
            "intake",
        )
        assert (record["service"], record["environment"], record["version"]) == (
            "test-service",
            "production",
            "9.9.9",
        )

    def test_levels_are_lowercase_and_filtered(self, captured: Captured) -> None:
        """debug is hidden at INFO; warn/fatal/exception map to warning/critical/error."""
        log = get_logger("lv")
        log.debug("hidden")
        log.info("i")
        log.warn("w")
        log.error("e")
        log.fatal("f")
        log.exception("x")
        log.log(logging.WARNING, "via log")
        log.log(25, "custom level between info and warning")
        log.log(5, "below debug: dropped")
        assert [r["level"] for r in captured.records()] == [
            "info",
            "warning",
            "error",
            "critical",
            "error",
            "warning",
            "info",
        ]

    def test_unbound_correlation_ids_are_omitted(self, captured: Captured) -> None:
        """Without bound ids the line has no task_id/client_id/agent keys."""
        get_logger("x").info("plain")
        assert list(captured.records()[0]) == [*HEAD, *STATIC]

    def test_clashing_keys_are_renamed_not_lost(self, captured: Captured) -> None:
        """An event key named like a head field is kept with a trailing underscore."""
        get_logger("x").info("m", level="custom", message="mine")
        record = captured.records()[0]
        assert record["level"] == "info" and record["level_"] == "custom"
        assert record["message_"] == "mine"

    def test_positional_interpolation(self, captured: Captured) -> None:
        """log.info("a %s", x) interpolates like stdlib; a bad format still logs a line."""
        log = get_logger("x")
        log.info("hello %s", "world")
        log.info("broken %d", "not a number")
        first, second = captured.records()
        assert first["message"] == "hello world"
        assert second["message"].startswith("broken %d")

    def test_reconfiguring_reaches_loggers_made_before(self, captured: Captured) -> None:
        """A logger obtained earlier follows a later configure_logging (new stream, level)."""
        log = get_logger("early")
        other = Captured()
        _configure(other, level="ERROR")
        log.info("dropped")
        log.error("kept")
        assert [r["message"] for r in other.records()] == ["kept"]
        assert captured.text() == ""

    def test_structlog_get_logger_uses_the_same_renderer(self, captured: Captured) -> None:
        """structlog.get_logger() (the services' habit) writes the same JSON lines."""
        structlog.get_logger("via.structlog").info("hi", n=1)
        record = captured.records()[0]
        assert record["logger"] == "via.structlog" and record["n"] == 1


class TestExceptions:
    def test_exception_has_kind_message_stack_and_no_locals(self, captured: Captured) -> None:
        """error.kind/message/stack are present; a local variable's value is not."""

        def fail() -> None:
            secret_local = "hunter2-local-value"
            raise KeyError(f"missing for {len(secret_local)}")

        try:
            fail()
        except KeyError:
            get_logger("x").exception("failed", step=3)
        line = captured.text()
        record = json.loads(line)
        assert record["error"]["kind"] == "KeyError"
        # production: the message is free text, withheld in the message and in the stack
        assert record["error"]["message"] == "[withheld: free text]"
        assert "Traceback (most recent call last)" in record["error"]["stack"]
        assert 'raise KeyError(f"missing for {len(secret_local)}")' in record["error"]["stack"]
        assert "KeyError: [withheld: free text]" in record["error"]["stack"]
        assert "missing for 19" not in line and "hunter2-local-value" not in line
        assert list(record)[-1] == "error"

    def test_development_keeps_the_exception_message(self) -> None:
        """In development the message stays (pattern-redacted), in message and stack."""
        out = Captured()
        _configure(out, environment="development")
        try:
            raise KeyError("missing for 19")
        except KeyError:
            get_logger("x").exception("failed")
        record = json.loads(out.text())
        assert record["error"]["message"] == "'missing for 19'"
        assert "KeyError: 'missing for 19'" in record["error"]["stack"]

    def test_exception_message_and_stack_are_redacted(self) -> None:
        """PII in an exception message is redacted in both error.message and error.stack (the
        pattern layer, seen in development where messages are not withheld)."""
        captured = Captured()
        _configure(captured, environment="development")
        try:
            raise ValueError("no account for jane@example.com ssn 123-45-6789")
        except ValueError as exc:
            get_logger("x").error("lookup failed", exc_info=exc)
        line = captured.text()
        assert "jane@example.com" not in line and "123-45-6789" not in line
        record = json.loads(line)
        assert record["error"]["message"] == "no account for [REDACTED:email] ssn [REDACTED:ssn]"

    def test_exc_info_outside_an_exception_adds_nothing(self, captured: Captured) -> None:
        """exc_info=True with no exception being handled logs the line without an error."""
        get_logger("x").info("no error", exc_info=True)
        assert "error" not in captured.records()[0]

    def test_console_traceback_is_readable_without_locals(self) -> None:
        """The console shows a plain traceback, not Rich's locals panel."""
        out = Captured()
        _configure(out, fmt="console", environment="development", environ={})
        try:
            token_local = "do-not-print-this-local"
            raise RuntimeError(f"len {len(token_local)}")
        except RuntimeError:
            get_logger("x").exception("crashed")
        text = out.text()
        assert "Traceback (most recent call last)" in text
        assert "RuntimeError: len 23" in text
        assert "do-not-print-this-local" not in text


class TestCorrelation:
    def test_sync_binding_is_undone_on_exit(self, captured: Captured) -> None:
        """Ids bound in a with block are gone after it; nested blocks restore the outer ids."""
        log = get_logger("x")
        with bind_correlation(task_id="outer", agent="a1"):
            with bind_correlation(task_id="inner"):
                log.info("nested")
            log.info("outer again")
        log.info("after")
        nested, outer, after = captured.records()
        assert (nested["task_id"], nested["agent"]) == ("inner", "a1")
        assert (outer["task_id"], outer["agent"]) == ("outer", "a1")
        assert "task_id" not in after and task_id_ctx.get() is None

    def test_async_children_inherit_without_leaking_back(self, captured: Captured) -> None:
        """A child task sees the parent's ids; what it binds never reaches the parent."""
        log = get_logger("x")
        seen: dict[str, Any] = {}

        async def child(name: str) -> None:
            seen[f"{name}-inherited"] = task_id_ctx.get()
            async with bind_correlation(task_id=f"task-{name}", client_id=f"client-{name}"):
                await asyncio.sleep(0)
                log.info("in child", child=name)
            seen[f"{name}-after"] = task_id_ctx.get()

        async def parent() -> None:
            async with bind_correlation(task_id="task-parent", agent="planner"):
                await asyncio.gather(child("a"), child("b"))
                seen["parent-after-children"] = task_id_ctx.get()
                seen["parent-client"] = client_id_ctx.get()
                log.info("in parent")
            seen["parent-after-block"] = task_id_ctx.get()

        asyncio.run(parent())
        assert seen == {
            "a-inherited": "task-parent",
            "b-inherited": "task-parent",
            "a-after": "task-parent",
            "b-after": "task-parent",
            "parent-after-children": "task-parent",
            "parent-client": None,
            "parent-after-block": None,
        }
        by_child = {r.get("child"): r for r in captured.records()}
        assert by_child["a"]["task_id"] == "task-a" and by_child["a"]["agent"] == "planner"
        assert by_child["b"]["client_id"] == "client-b"
        assert by_child[None]["task_id"] == "task-parent" and "client_id" not in by_child[None]

    def test_one_binder_shared_by_concurrent_tasks(self, captured: Captured) -> None:
        """A single bind_correlation object entered by overlapping tasks unwinds each cleanly."""
        shared = bind_correlation(agent="shared-agent")

        async def worker(task_id: str, delay: float) -> str | None:
            async with shared, bind_correlation(task_id=task_id):
                await asyncio.sleep(delay)
                get_logger("x").info("working")
            return agent_ctx.get()

        async def main() -> list[str | None]:
            return list(await asyncio.gather(worker("t1", 0.02), worker("t2", 0.0)))

        assert asyncio.run(main()) == [None, None]
        records = captured.records()
        assert sorted(r["task_id"] for r in records) == ["t1", "t2"]
        assert {r["agent"] for r in records} == {"shared-agent"}

    def test_decorator_binds_in_async_and_sync_functions(self, captured: Captured) -> None:
        """As a decorator it really binds for async def (structlog's own decorator does not)."""

        @bind_correlation(task_id="task-async", agent="worker")
        async def work_async() -> str | None:
            get_logger("x").info("async work")
            return agent_ctx.get()

        @bind_correlation(task_id="task-sync")
        def work_sync() -> str | None:
            get_logger("x").info("sync work")
            return task_id_ctx.get()

        assert asyncio.run(work_async()) == "worker"
        assert work_sync() == "task-sync"
        assert [r["task_id"] for r in captured.records()] == ["task-async", "task-sync"]
        assert task_id_ctx.get() is None

    def test_client_id_is_kept_unless_it_looks_like_pii(self, captured: Captured) -> None:
        """client_id is an opaque id, not redacted as a key; an email bound there is masked."""
        with bind_correlation(client_id="client-000123"):
            get_logger("x").info("opaque")
        with bind_correlation(client_id="jane@example.com"):
            get_logger("x").info("misused")
        opaque, misused = captured.records()
        assert opaque["client_id"] == "client-000123"
        assert misused["client_id"] == "[REDACTED:email]"


class TestStdlib:
    def test_stdlib_records_become_the_same_json_lines(self) -> None:
        """A stdlib record (a library's) is one JSON line with our fields, extras and ids (in
        development, where its %-argument is kept and redacted; production withholds it as
        free text: tests/core/test_free_text.py)."""
        captured = Captured()
        _configure(captured, environment="development")
        with bind_correlation(task_id="task-9"):
            logging.getLogger("redis.connection").warning(
                "reconnecting to %s", "redis://:pw-secret@127.0.0.1:1/0", extra={"attempt": 2}
            )
        (record,) = captured.records()
        assert list(record)[:5] == [*HEAD, "task_id"]
        assert record["logger"] == "redis.connection"
        assert record["level"] == "warning"
        assert record["message"] == "reconnecting to redis://:[REDACTED:password]@127.0.0.1:1/0"
        assert record["attempt"] == 2

    def test_stdlib_exception_and_level_filter(self, captured: Captured) -> None:
        """stdlib exc_info gives the same error object; records below the level are dropped."""
        std = logging.getLogger("svc.own")
        std.debug("hidden")
        try:
            raise OSError("disk")
        except OSError:
            std.exception("write failed")
        (record,) = captured.records()
        assert record["level"] == "error"
        assert record["error"]["kind"] == "OSError"

    def test_bad_stdlib_record_still_writes_a_line(self, captured: Captured) -> None:
        """A stdlib call with wrong %-args writes a line instead of a '--- Logging error ---'."""
        root = logging.getLogger()
        pytest_handlers = [h for h in root.handlers if type(h).__name__ != "StdlibHandler"]
        for handler in pytest_handlers:  # pytest's capture handler re-raises on bad records
            root.removeHandler(handler)
        try:
            logging.getLogger("lib").error("value %d", "not-a-number")
        finally:
            for handler in pytest_handlers:
                root.addHandler(handler)
        (record,) = captured.records()
        assert record["logger"] == "lib" and record["level"] == "error"


class _Unrepresentable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


class TestNeverRaises:
    @pytest.mark.parametrize(
        "fields",
        [
            {"nested": {1: "int key", None: "none key", (1, 2): "tuple key", b"k": "bytes key"}},
            {"raw": b"\xff\xfe binary", "text": bytearray(b"ssn 123-45-6789")},
            {"obj": _Unrepresentable(), "cls": object, "func": print},
            {"big": 2**80, "neg": -(2**70), "nan": float("nan"), "inf": float("inf")},
            {"set": {"b@example.com", 1}, "frozen": frozenset({2})},
            {
                "deep": [
                    [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
                ]
            },
        ],
    )
    def test_odd_values_render_as_one_json_line(
        self, captured: Captured, fields: dict[str, Any]
    ) -> None:
        """Values orjson refuses or that misbehave still give exactly one parseable line."""
        get_logger("x").info("odd", **fields)
        records = captured.records()
        assert len(records) == 1 and records[0]["message"] == "odd"

    def test_an_undecodable_byte_keeps_the_line(self, captured_development: Captured) -> None:
        """A lone surrogate (a file name or header decoded with surrogateescape), which orjson
        refuses, anywhere in the event: the line keeps its message and fields, the surrogate
        written out, the PII beside it still redacted."""
        get_logger("x").info(
            "upload \udcff.pdf from 123-45-6789", path="/in/\udcff.pdf", **{"k\udcff": 1}
        )
        [record] = captured_development.records()
        assert record["message"] == "upload \\udcff.pdf from [REDACTED:ssn]", record
        assert record["path"] == "/in/\\udcff.pdf" and record["k\\udcff"] == 1, record

    def test_objects_with_fields_are_redacted_by_key(self, captured: Captured) -> None:
        """Dataclasses, pydantic models and other Mappings are rendered as redacted dicts."""
        from types import MappingProxyType

        from pydantic import BaseModel

        @dataclasses.dataclass
        class Client:
            name: str
            account_number: str
            parent: Any = None

        class Contact(BaseModel):
            email: str
            visits: int

        looped = Client("loop", "000123456789")
        looped.parent = looped
        get_logger("x").info(
            "objects",
            client=Client("Jane", "000123456789"),
            contact=Contact(email="jane@example.com", visits=3),
            headers=MappingProxyType({"Authorization": "Bearer abcdefgh12345678"}),
            looped=looped,
        )
        line = captured.text()
        assert "000123456789" not in line and "jane@example.com" not in line
        assert "abcdefgh12345678" not in line
        record = json.loads(line)
        assert record["client"]["account_number"] == "[REDACTED:account_number]"
        assert record["contact"] == {"email": "[REDACTED:email]", "visits": 3}
        assert record["headers"] == {"Authorization": "[REDACTED:authorization]"}

    def test_cycles_and_huge_strings(self) -> None:
        """A cycle becomes a placeholder; a huge string is redacted first, then cut (in
        development: in production free text is withheld before)."""
        captured = Captured()
        _configure(captured, environment="development")
        looped: dict[str, Any] = {"label": "loop"}
        looped["self"] = looped
        huge = "x" * 200_000 + " ssn 123-45-6789"
        get_logger("x").info("big", looped=looped, huge=huge)
        line = captured.text()
        record = json.loads(line)
        assert record["looped"] == {"label": "loop", "self": "<cycle>"}
        assert len(record["huge"]) < MAX_STRING_CHARS + 100
        assert "truncated" in record["huge"]
        assert len(line) < 70_000

    def test_non_str_message_and_no_message(self, captured: Captured) -> None:
        """A dict or None as the message is rendered as text, never an error."""
        log = get_logger("x")
        log.info({"ssn": "123-45-6789"})
        log.info()
        first, second = captured.records()
        assert "123-45-6789" not in first["message"]
        assert second["message"] == "None"

    def test_closed_stream_does_not_raise(self) -> None:
        """Writing to a closed stream is swallowed: logging must never crash its caller."""
        out = Captured()
        _configure(out)
        out.stream.close()
        get_logger("x").info("into the void")
        logging.getLogger("lib").warning("also into the void")

    def test_async_methods(self, captured: Captured) -> None:
        """await log.ainfo(...) and friends write the same lines, in the caller's context."""

        async def main() -> None:
            log = get_logger("x")
            async with bind_correlation(task_id="t-async"):
                await log.ainfo("a-info")
                await log.awarning("a-warn")

        asyncio.run(main())
        assert [(r["message"], r["task_id"]) for r in captured.records()] == [
            ("a-info", "t-async"),
            ("a-warn", "t-async"),
        ]


class TestConsole:
    def test_console_has_no_ansi_without_a_tty(self) -> None:
        """Into a StringIO (not a TTY) and without FORCE_COLOR the console has no ANSI codes."""
        out = Captured()
        _configure(out, fmt="console", environ={})
        get_logger("x").warning("plain", ssn="123-45-6789")
        assert "\x1b[" not in out.text()
        assert "[REDACTED:ssn]" in out.text() and "123-45-6789" not in out.text()

    def test_console_colour_follows_force_and_no_color(self) -> None:
        """FORCE_COLOR turns colour on; NO_COLOR wins over it."""
        forced, vetoed = Captured(), Captured()
        _configure(forced, fmt="console", environ={"FORCE_COLOR": "1"})
        get_logger("x").warning("coloured")
        _configure(vetoed, fmt="console", environ={"FORCE_COLOR": "1", "NO_COLOR": "1"})
        get_logger("x").warning("plain")
        assert "\x1b[" in forced.text()
        assert "\x1b[" not in vetoed.text()

    def test_development_selects_console_and_production_json(self) -> None:
        """Without an explicit format, ENVIRONMENT decides."""
        dev, prod = Captured(), Captured()
        configure_logging(load_settings(environment="development"), stream=dev.stream, environ={})
        get_logger("x").info("hello")
        configure_logging(load_settings(environment="staging"), stream=prod.stream)
        get_logger("x").info("hello")
        assert not dev.text().startswith("{")
        assert json.loads(prod.text())["environment"] == "staging"


_words = st.text(alphabet=string.ascii_letters + " .,-", max_size=12)


class TestNoPiiSurvives:
    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        planted=st.lists(st.tuples(planted_pii(), _words, _words), min_size=1, max_size=4),
        payload=ordinary_payloads,
        multiline=st.booleans(),
    )
    def test_planted_pii_never_reaches_a_line(
        self,
        captured_development: Captured,
        planted: list[tuple[tuple[str, str], str, str]],
        payload: Any,
        multiline: bool,
    ) -> None:
        """PII in the message, in values, nested and in stdlib records never appears (the
        pattern layer: ordinary values stay untouched in development; production withholds
        free text before, tests/core/test_free_text.py)."""
        captured = captured_development
        captured.clear()
        glue = "\n" if multiline else " "
        texts = [f"{before}{glue}{text}{glue}{after}" for (text, _), before, after in planted]
        secrets = [secret for (_, secret), _, _ in planted]
        log = get_logger("prop")
        log.info(texts[0], payload=payload, notes=texts[1:], nested={"deep": [{"t": texts[-1]}]})
        logging.getLogger("prop.std").warning("%s", texts[-1])
        lines = captured.text().splitlines()
        assert len(lines) == 2
        shown = [json.loads(line) for line in lines]
        assert shown[0]["payload"] == orjson.loads(orjson.dumps(payload))  # ordinary: untouched
        for secret in secrets:
            assert secret not in json.dumps(shown[0]["message"] + json.dumps(shown[0]["notes"]))
            assert (
                secret not in json.dumps(shown[0]["nested"]) and secret not in shown[1]["message"]
            )
        assert MARKER_PREFIX in lines[0]
