"""The free-text policy (cpa_ops.core.free_text): the rules, the JSON lines of production, the
ALLOWED_EXCEPTION_MESSAGES setting, and the library logger's lines reaching Sentry (events and
breadcrumbs, against the real envelope endpoint)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from cpa_ops.core import free_text
from cpa_ops.core.free_text import (
    WITHHELD,
    allow_exception_messages,
    is_token,
    message_allowed,
    vetted,
    withheld_format,
    withheld_traceback,
)
from cpa_ops.core.logging import bind_correlation, configure_logging, get_logger
from cpa_ops.core.sentry import init_sentry, log_events
from cpa_ops.core.settings import ConfigError, load_settings
from tests.conftest import clean_env, run_cpa_ops
from tests.servers.sentry_ingest import SentryIngest

NAME = "Jane Q. Taxpayer"


class _ServiceError(Exception):
    pass


class _ChildError(_ServiceError):
    pass


class TestRules:
    @pytest.mark.parametrize(
        "text", ["GET", "ok", "eu-1", "form-1040", "42", "/clients/{ref}", "a.b:c", "pending"]
    )
    def test_tokens(self, text: str) -> None:
        assert is_token(text) and vetted(text) == text

    @pytest.mark.parametrize(
        "text", [NAME, "Jane", "O'Neil", "Smith-Jones", "José", "a b", "x" * 65, "a@b.c", ""]
    )
    def test_free_text(self, text: str) -> None:
        assert not is_token(text) and vetted(text) == WITHHELD

    def test_vetted_keeps_numbers_safe_keys_and_structure(self) -> None:
        value = {"n": 3, "ok": True, "none": None, "route": "/a b", "who": NAME, "xs": [1, NAME]}
        assert vetted(value) == {
            "n": 3,
            "ok": True,
            "none": None,
            "route": "/a b",
            "who": WITHHELD,
            "xs": [1, WITHHELD],
        }
        looped: dict[str, Any] = {"label": "loop"}
        looped["self"] = looped
        assert vetted(looped) == {"label": "loop", "self": "<cycle>"}
        assert vetted(object()) == WITHHELD

    @settings(max_examples=200, deadline=None)
    @given(st.text(min_size=1, max_size=30))
    def test_vetted_text_is_itself_or_withheld(self, text: str) -> None:
        assert vetted(text) in (text, WITHHELD)
        assert vetted(vetted(text)) == vetted(text)

    def test_withheld_format(self) -> None:
        assert withheld_format("for %s after %d s", (NAME, 5)) == f"for {WITHHELD} after 5 s"
        assert withheld_format("%(who)s", {"who": NAME}) == WITHHELD
        assert withheld_format("n=%d", (NAME,)) == f"n=%d {WITHHELD}"
        assert withheld_format("plain", ()) == "plain"

    def test_which_messages_are_allowed(self) -> None:
        """Library types, registered types and their subclasses, named types; never a
        validation error, even under an allowed name."""
        from pydantic import BaseModel, ValidationError

        class Model(BaseModel):
            year: int

        assert message_allowed(ConfigError)
        assert not message_allowed(_ChildError)
        allow_exception_messages(_ServiceError)
        assert message_allowed(_ChildError) and not message_allowed(RuntimeError)
        free_text.allow_exception_names(["ValueError"])
        try:
            assert message_allowed(ValueError)
            with pytest.raises(ValidationError) as caught:
                Model.model_validate({"year": NAME})
            assert not message_allowed(type(caught.value))
        finally:
            free_text._allowed_names.discard("ValueError")
            free_text._allowed_types.discard(_ServiceError)
        with pytest.raises(TypeError):
            allow_exception_messages("RuntimeError")  # type: ignore[arg-type]

    def test_traceback_withholds_every_message_of_the_chain(self) -> None:
        try:
            try:
                raise KeyError(NAME)
            except KeyError as inner:
                raise RuntimeError(f"for {NAME}") from inner
        except RuntimeError as exc:
            text = withheld_traceback(exc)
        assert NAME not in text
        assert f"KeyError: {WITHHELD}" in text and f"RuntimeError: {WITHHELD}" in text
        assert "direct cause" in text and "raise KeyError(NAME)" in text


# ---------------------------------------------------------------------------------------------
# the JSON lines of production


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    out = io.StringIO()
    configure_logging(load_settings(environment="production"), stream=out, service="svc")
    yield out
    root.handlers, _ = saved[0], root.setLevel(saved[1])
    structlog.reset_defaults()


def _records(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


class TestProductionLines:
    def test_fields_arguments_and_exceptions(self, lines: io.StringIO) -> None:
        """Field strings that are free text, %-arguments of structlog and stdlib lines, and
        exception messages are withheld; numbers, tokens, safe keys and the literal stay."""
        log = get_logger("svc")
        log.info("looked up", note=f"for {NAME}", form="1040", n=2, route="/a/{b}", ms=1.5)
        log.info("lookup for %s took %d ms", NAME, 12)
        logging.getLogger("lib").warning("slow for %s (%s)", NAME, "eu-1")
        try:
            raise LookupError(f"no return for {NAME}")
        except LookupError:
            log.exception("crashed", step=3)
            logging.getLogger("lib").exception("crashed for %s", NAME)
        text = lines.getvalue()
        assert NAME not in text
        first, second, third, fourth, fifth = _records(lines)
        assert (first["note"], first["form"], first["n"], first["route"], first["ms"]) == (
            WITHHELD,
            "1040",
            2,
            "/a/{b}",
            1.5,
        )
        assert second["message"] == f"lookup for {WITHHELD} took 12 ms"
        assert third["message"] == f"slow for {WITHHELD} (eu-1)"
        for record in (fourth, fifth):
            assert record["error"]["kind"] == "LookupError"
            assert record["error"]["message"] == WITHHELD
            assert f"LookupError: {WITHHELD}" in record["error"]["stack"]
        assert fourth["message"] == "crashed" and fourth["step"] == 3
        assert fifth["message"] == f"crashed for {WITHHELD}"

    def test_an_allowed_type_keeps_its_message(self, lines: io.StringIO) -> None:
        allow_exception_messages(_ServiceError)
        try:
            try:
                raise _ChildError("quota of 5 exceeded")
            except _ChildError:
                get_logger("svc").exception("refused")
        finally:
            free_text._allowed_types.discard(_ServiceError)
        [record] = _records(lines)
        assert record["error"]["message"] == "quota of 5 exceeded"
        assert "_ChildError: quota of 5 exceeded" in record["error"]["stack"]

    def test_a_console_in_staging_withholds_too(self) -> None:
        """The policy follows ENVIRONMENT, not the format: a console forced in staging withholds
        the same; development keeps the message."""
        root = logging.getLogger()
        saved = list(root.handlers), root.level
        try:
            for environment, shown in (("staging", WITHHELD), ("development", "no return")):
                out = io.StringIO()
                configure_logging(
                    load_settings(environment=environment), stream=out, log_format="console"
                )
                try:
                    raise LookupError("no return")
                except LookupError:
                    get_logger("svc").exception("crashed", note=f"for {NAME}")
                text = out.getvalue()
                assert f"LookupError: {shown}" in text, text
                assert (NAME in text) is (environment == "development")  # note= free text
        finally:
            root.handlers, _ = saved[0], root.setLevel(saved[1])
            structlog.reset_defaults()


# ---------------------------------------------------------------------------------------------
# the setting


class TestSetting:
    def test_names_are_parsed_and_applied(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ALLOWED_EXCEPTION_MESSAGES", " myservice.errors.Quota , TimeoutError,")
        assert load_settings().allowed_exception_messages == (
            "myservice.errors.Quota",
            "TimeoutError",
        )

    @pytest.mark.parametrize("value", ["a b", "1abc", "x.", "Quota;rm", f"{NAME}"])
    def test_a_bad_name_is_one_line(self, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ALLOWED_EXCEPTION_MESSAGES", f"ok.Name,{value}")
        with pytest.raises(ConfigError) as caught:
            load_settings()
        [line] = caught.value.problems
        assert line.startswith("ALLOWED_EXCEPTION_MESSAGES entry 2 ")
        assert "expected a comma-separated list of exception classes" in line
        assert NAME not in line

    @pytest.mark.timeout(30)
    def test_the_cli_exits_2_with_one_line(self) -> None:
        ran = run_cpa_ops("config", env=clean_env(ALLOWED_EXCEPTION_MESSAGES="good.One,bad one"))
        assert ran.returncode == 2
        assert len(ran.stderr.splitlines()) == 1 and "ALLOWED_EXCEPTION_MESSAGES" in ran.stderr
        assert "Traceback" not in ran.stderr


# ---------------------------------------------------------------------------------------------
# the library logger's lines in Sentry


@pytest.fixture
def service(lines: io.StringIO) -> Iterator[SentryIngest]:
    with SentryIngest() as ingest:
        sentry_sdk.get_client().close(timeout=0)
        init_sentry(load_settings(sentry_dsn=ingest.dsn, environment="production"))
        try:
            yield ingest
        finally:
            log_events.uninstall()
            sentry_sdk.get_client().close(timeout=2)
            sentry_sdk.get_global_scope().set_client(None)


@pytest.mark.timeout(60)
def test_error_lines_are_events_and_info_lines_breadcrumbs(service: SentryIngest) -> None:
    """log.exception reaches Sentry with its stack and the correlation ids as tags (read from
    the context: no middleware here); info and warning lines before it are its breadcrumbs;
    debug lines are not; the message is withheld, the free-text field too."""
    log = get_logger("svc")
    with (
        sentry_sdk.isolation_scope(),
        structlog.contextvars.bound_contextvars(request_id="req-9"),
        bind_correlation(task_id="task-1", client_id="client-2", agent="intake"),
    ):
        log.debug("not a breadcrumb")
        log.info("step done", step=1, note=f"for {NAME}")
        log.warning("slow", ms=900)
        try:
            raise LookupError(f"no return for {NAME}")
        except LookupError:
            log.exception("lookup crashed", client_ref="ref-1")
        log.error("plain error", count=2)
    sentry_sdk.flush(timeout=5)
    envelopes = service.wait_for(2, timeout=10)
    assert all(NAME not in e.text for e in envelopes)
    crashed, plain = (e.event for e in envelopes)
    [value] = crashed["exception"]["values"]
    assert (value["type"], value["value"]) == ("LookupError", WITHHELD)
    assert value["stacktrace"]["frames"][-1]["function"].startswith("test_error_lines")
    assert crashed["logentry"]["message"] == "lookup crashed"
    assert crashed["logger"] == "svc" and crashed["level"] == "error"
    assert crashed["extra"]["client_ref"] == "ref-1"
    assert {k: crashed["tags"][k] for k in ("request_id", "task_id", "client_id", "agent")} == {
        "request_id": "req-9",
        "task_id": "task-1",
        "client_id": "client-2",
        "agent": "intake",
    }
    crumbs = [(c["message"], c.get("data")) for c in crashed["breadcrumbs"]["values"]]
    assert crumbs == [("step done", {"step": 1, "note": WITHHELD}), ("slow", {"ms": 900})]
    assert plain["logentry"]["message"] == "plain error" and "exception" not in plain
