"""cpa_ops.core.sentry in-process: init_sentry, scrubbing, delivery, against a real ingest server.

The SDK sends over HTTP to :class:`tests.servers.sentry_ingest.SentryIngest` on 127.0.0.1; each
test decodes the envelopes it received. ``sentry_sdk.flush`` is the test-only wait.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
import trustme
from hypothesis import HealthCheck, given, settings

from cpa_ops.core.redact import MARKER_PREFIX
from cpa_ops.core.sentry import (
    RELEASE,
    Verdict,
    init_sentry,
    scrub_event,
    scrub_record,
    send_test_event,
    sentry_options,
)
from cpa_ops.core.sentry import scrub as sentry_scrub
from cpa_ops.core.settings import ConfigError, Settings, load_settings
from tests.servers.sentry_fixtures import StartSentryIngest, assert_no_pii, planted_pii
from tests.servers.sentry_ingest import PUBLIC_KEY, Mode, ReceivedEnvelope, SentryIngest, dead_port

# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def no_sentry() -> Iterator[None]:
    """No global Sentry client before or after the test."""
    sentry_sdk.get_client().close(timeout=0)
    sentry_sdk.get_global_scope().set_client(None)
    yield
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def service_sentry(sentry_ingest_per_module: SentryIngest, no_sentry: None) -> None:
    """The global SDK as a service would init it, plus local variables (to prove their scrub).

    In development: these tests prove the pattern layer, which staging and production run after
    the free-text policy has withheld messages and free-text values (tests/core/test_sentry_web.py,
    tests/fastapi/test_privacy.py)."""
    init_sentry(
        _settings(sentry_ingest_per_module, environment="development"),
        include_local_variables=True,
    )


def _settings(ingest: SentryIngest, **values: Any) -> Settings:
    return load_settings(**{"sentry_dsn": ingest.dsn, "environment": "staging", **values})


def _received_after(ingest: SentryIngest, send: Callable[[], object]) -> ReceivedEnvelope:
    """Run ``send`` (one capture), flush the SDK, and return the one envelope it produced."""
    before = len(ingest.received)
    with sentry_sdk.isolation_scope():
        send()
    sentry_sdk.flush(timeout=5)
    received = ingest.wait_for(before + 1)
    return received[-1]


# ---------------------------------------------------------------------------------------------


class TestInitSentry:
    def test_does_nothing_without_dsn(self, no_sentry: None) -> None:
        """No SENTRY_DSN: init_sentry returns False and no client is active."""
        assert init_sentry(load_settings()) is False
        assert not sentry_sdk.get_client().is_active()

    def test_environment_release_and_sample_rate_come_from_settings(
        self, sentry_ingest_per_module: SentryIngest, no_sentry: None
    ) -> None:
        """The event carries ENVIRONMENT and the package release; the rate is the setting's."""
        assert (
            init_sentry(_settings(sentry_ingest_per_module, sentry_traces_sample_rate=0.25)) is True
        )
        options = sentry_sdk.get_client().options
        assert options["traces_sample_rate"] == 0.25
        assert options["send_default_pii"] is False
        assert options["include_local_variables"] is False
        collected = options["data_collection"]  # what the SDK derives from the PII switch
        assert collected["user_info"] is False and collected["stack_frame_variables"] is False
        assert collected["gen_ai"] == {"inputs": False, "outputs": False}
        envelope = _received_after(
            sentry_ingest_per_module, lambda: sentry_sdk.capture_message("hello")
        )
        event = envelope.event
        assert (event["environment"], event["release"]) == ("staging", RELEASE)
        assert envelope.path == "/api/4242/envelope/"
        assert envelope.auth["sentry_key"] == PUBLIC_KEY
        assert envelope.content_encoding in ("br", "gzip")

    @pytest.mark.parametrize(
        ("experiments", "encoding"),
        [
            ({"transport_compression_algo": "br"}, "br"),
            ({"transport_compression_algo": "gzip"}, "gzip"),
            ({"transport_compression_level": 0}, None),
        ],
    )
    def test_ingest_decodes_every_body_encoding(
        self,
        sentry_ingest_per_module: SentryIngest,
        no_sentry: None,
        experiments: dict[str, Any],
        encoding: str | None,
    ) -> None:
        """br, gzip and plain bodies all arrive decoded, whatever the SDK is told to send."""
        init_sentry(_settings(sentry_ingest_per_module), _experiments=experiments)
        envelope = _received_after(
            sentry_ingest_per_module, lambda: sentry_sdk.capture_message(f"via {encoding}")
        )
        assert envelope.content_encoding == encoding
        assert envelope.event["message"] == f"via {encoding}"

    def test_traces_sample_rate_defaults_to_a_tenth(
        self, sentry_ingest_per_module: SentryIngest
    ) -> None:
        """SENTRY_TRACES_SAMPLE_RATE unset: 0.1."""
        assert sentry_options(_settings(sentry_ingest_per_module))["traces_sample_rate"] == 0.1

    def test_send_default_pii_cannot_be_turned_on(
        self, sentry_ingest_per_module: SentryIngest
    ) -> None:
        """An override asking for default PII (or a data_collection) is refused, not applied."""
        with pytest.raises(ValueError, match="send_default_pii"):
            sentry_options(_settings(sentry_ingest_per_module), send_default_pii=True)
        with pytest.raises(ValueError, match="data_collection"):
            sentry_options(_settings(sentry_ingest_per_module), data_collection={"user_info": True})

    def test_dsn_the_sdk_rejects_is_a_config_error(self) -> None:
        """A DSN the SDK cannot parse is refused when the settings load (one validator):
        ConfigError naming SENTRY_DSN, never its key."""
        with pytest.raises(ConfigError) as caught:
            load_settings(sentry_dsn="https://f00dfeedf00dfeed@sentry.invalid/notanumber")
        [line] = caught.value.problems
        assert line.startswith("SENTRY_DSN is malformed")
        assert "project id" in line and "f00dfeed" not in line

    def test_fastapi_integration_is_active_exactly_when_installed(
        self, sentry_ingest_per_module: SentryIngest, no_sentry: None
    ) -> None:
        """Services keep the SDK's auto-enabling: FastAPI is instrumented wherever installed."""
        init_sentry(_settings(sentry_ingest_per_module))
        client = sentry_sdk.get_client()
        assert client.options["auto_enabling_integrations"] is True
        installed = importlib.util.find_spec("fastapi") is not None
        assert ("fastapi" in client.integrations) == installed
        assert "logging" in client.integrations

    def test_caller_hook_runs_before_scrubbing(
        self, sentry_ingest_per_module: SentryIngest, no_sentry: None
    ) -> None:
        """A before_send override cannot bypass scrubbing: what it adds is scrubbed too."""

        def add_extra(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
            event.setdefault("extra", {})["contact"] = "reach jane.doe@example.com"
            return event

        # development: in staging the free-text policy would withhold the whole value first
        init_sentry(
            _settings(sentry_ingest_per_module, environment="development"), before_send=add_extra
        )
        envelope = _received_after(
            sentry_ingest_per_module, lambda: sentry_sdk.capture_message("hook")
        )
        assert envelope.event["extra"]["contact"] == f"reach {MARKER_PREFIX}email]"


class TestScrubbingEndToEnd:
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(pii=planted_pii)
    def test_planted_pii_never_reaches_ingest(
        self,
        sentry_ingest_per_module: SentryIngest,
        service_sentry: None,
        pii: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """PII in message, logentry, exception, locals, extra, tags, user, crumbs, argv: gone."""
        monkeypatch.setattr(sys, "argv", ["svc", "--client-ssn", pii, f"--note=call {pii}"])

        def message() -> None:
            sentry_sdk.set_tag("client", pii)
            sentry_sdk.set_extra("note", f"client {pii} called")
            sentry_sdk.set_user({"id": "c-1", "email": pii, "ip_address": "10.1.2.3"})
            sentry_sdk.set_context("client", {"contact": pii})
            sentry_sdk.add_breadcrumb(message=f"looked up {pii}", data={"value": pii})
            sentry_sdk.capture_message(f"client {pii} failed")

        def exception() -> None:
            client_record = {"note": f"contact {pii}"}  # a local variable holding PII
            try:
                raise ValueError(f"bad record {pii} for {client_record['note']}")
            except ValueError as error:
                sentry_sdk.capture_exception(error)

        def log_entry() -> None:
            logging.getLogger("cpa.tests").error("client %s rejected", pii)

        events = {}
        for send in (message, exception, log_entry):
            envelope = _received_after(sentry_ingest_per_module, send)
            assert_no_pii(envelope, pii)
            assert "trace" not in envelope.headers  # the DSC would carry the DSN key
            events[send.__name__] = event = envelope.event
            assert "ip_address" not in event.get("user", {})
            assert event["sdk"]["settings"]["infer_ip"] == "never"
            assert MARKER_PREFIX in str(event["extra"]["sys.argv"])
        # every planted place arrived, redacted (so the checks above looked at real PII)
        planted = events["message"]
        for place in (
            planted["message"],
            planted["tags"]["client"],
            planted["extra"]["note"],
            planted["user"]["email"],
            planted["contexts"]["client"]["contact"],
            planted["breadcrumbs"]["values"][-1]["message"],
        ):
            assert MARKER_PREFIX in place
        [error] = events["exception"]["exception"]["values"]
        assert MARKER_PREFIX in error["value"]
        assert MARKER_PREFIX in error["stacktrace"]["frames"][-1]["vars"]["client_record"]["note"]
        logentry = events["log_entry"]["logentry"]
        assert MARKER_PREFIX in logentry["formatted"] and MARKER_PREFIX in logentry["params"][0]

    def test_software_names_stay_and_a_persons_name_goes(
        self, sentry_ingest_per_module: SentryIngest, service_sentry: None
    ) -> None:
        """The SDK's and the runtime's names arrive as they are (Sentry groups by them); a
        name-like key the service sets is redacted, in the same event."""

        def message() -> None:
            sentry_sdk.set_context("client", {"full_name": "Jane Q. Taxpayer"})
            sentry_sdk.set_extra("name", "Jane Q. Taxpayer")
            sentry_sdk.capture_message("client record rejected")

        event = _received_after(sentry_ingest_per_module, message).event
        # the SDK names itself after a framework it instruments (sentry.python.fastapi where the
        # fastapi extra is installed): whichever, it arrives unredacted
        assert re.fullmatch(r"sentry\.python(\.[a-z]+)?", event["sdk"]["name"]), event["sdk"]
        assert {p["name"] for p in event["sdk"]["packages"]} == {"pypi:sentry-sdk"}
        assert event["contexts"]["runtime"]["name"] == "CPython"
        assert "Jane" not in json.dumps(event)
        assert MARKER_PREFIX in event["extra"]["name"]
        assert MARKER_PREFIX in event["contexts"]["client"]["full_name"]

    def test_frame_variables_are_scrubbed_not_just_dropped(
        self, sentry_ingest_per_module: SentryIngest, service_sentry: None
    ) -> None:
        """With locals turned on, the frame's variables arrive, with PII redacted."""

        def fail() -> None:
            client_ssn = "123-45-6789"  # noqa: F841 - a local the frame must carry, redacted
            raise RuntimeError("boom")

        def send() -> None:
            try:
                fail()
            except RuntimeError as error:
                sentry_sdk.capture_exception(error)

        envelope = _received_after(sentry_ingest_per_module, send)
        frames = envelope.event["exception"]["values"][0]["stacktrace"]["frames"]
        assert frames[-1]["vars"]["client_ssn"] == f"{MARKER_PREFIX}ssn]"
        assert_no_pii(envelope, "123-45-6789")

    def test_locals_are_off_by_default(
        self, sentry_ingest_per_module: SentryIngest, no_sentry: None
    ) -> None:
        """Without an override, frames carry no variables at all."""
        init_sentry(_settings(sentry_ingest_per_module))

        def send() -> None:
            try:
                raise RuntimeError("boom")
            except RuntimeError as error:
                sentry_sdk.capture_exception(error)

        envelope = _received_after(sentry_ingest_per_module, send)
        frames = envelope.event["exception"]["values"][0]["stacktrace"]["frames"]
        assert all("vars" not in frame for frame in frames)

    def test_transaction_and_spans_are_scrubbed(
        self, sentry_ingest_per_module: SentryIngest, no_sentry: None
    ) -> None:
        """Transaction names and span descriptions/data go through before_send_transaction."""
        init_sentry(_settings(sentry_ingest_per_module, sentry_traces_sample_rate=1.0))

        def send() -> None:
            with sentry_sdk.start_transaction(name="lookup 123-45-6789", op="task") as txn:
                with txn.start_child(op="db", name="SELECT * WHERE email='a.b@c.org'"):
                    sentry_sdk.set_tag("ein", "12-3456789")
                with txn.start_child(op="http") as span:
                    span.set_data("phone", "(555) 123-4567")

        envelope = _received_after(sentry_ingest_per_module, send)
        [transaction] = envelope.payloads("transaction")
        assert len(transaction["spans"]) == 2
        assert_no_pii(envelope, "123-45-6789", "a.b@c.org", "12-3456789", "123-4567")

    def test_sentry_logs_are_scrubbed_when_enabled(
        self, sentry_ingest_per_module: SentryIngest, no_sentry: None
    ) -> None:
        """A service that turns on Sentry logs gets them through the same redaction."""
        init_sentry(_settings(sentry_ingest_per_module), enable_logs=True)
        before = len(sentry_ingest_per_module.received)
        sentry_sdk.logger.warning("client {email} called", email="jane.roe@example.com")
        sentry_sdk.logger.info("ssn 123-45-6789 on file")
        sentry_sdk.flush(timeout=5)
        envelopes = sentry_ingest_per_module.wait_for(before + 1)[before:]
        logs = [log for e in envelopes for batch in e.payloads("log") for log in batch["items"]]
        assert len(logs) == 2
        for envelope in envelopes:
            assert_no_pii(envelope, "jane.roe@example.com", "123-45-6789")
        assert MARKER_PREFIX in logs[0]["body"] and MARKER_PREFIX in logs[1]["body"]

    def test_scrubbing_failure_drops_the_event(
        self,
        sentry_ingest_per_module: SentryIngest,
        no_sentry: None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """If redaction raises, the event is dropped (fail closed), and so is a breadcrumb."""
        init_sentry(_settings(sentry_ingest_per_module))

        def broken(value: object) -> object:
            raise RuntimeError("redaction broke")

        def events() -> list[ReceivedEnvelope]:
            return [
                e for e in sentry_ingest_per_module.received if e.payloads("event")
            ]  # not client reports

        before = len(events())
        with sentry_sdk.isolation_scope():
            with monkeypatch.context() as patch:
                patch.setattr(sentry_scrub, "redact", broken)
                sentry_sdk.add_breadcrumb(message="crumb while broken 123-45-6789")
                assert sentry_sdk.capture_message("client 123-45-6789") is None
                sentry_sdk.flush(timeout=5)
                time.sleep(0.2)
                assert len(events()) == before
            sentry_sdk.capture_message("after repair")
        sentry_sdk.flush(timeout=5)
        deadline = time.monotonic() + 5
        while len(events()) == before and time.monotonic() < deadline:
            time.sleep(0.02)
        [envelope] = events()[before:]
        crumbs = envelope.event["breadcrumbs"]["values"]
        assert not [c for c in crumbs if "while broken" in str(c)]
        assert "123-45-6789" not in envelope.text


class TestScrubHooks:
    def test_query_strings_are_decoded_before_redaction(self) -> None:
        """``a%40b.com`` in a URL or query string is seen (and redacted) as an email."""
        event = {
            "request": {
                "url": "https://app.example/clients/j.doe%40mail.com?acct=1&email=x%40y.org",
                "query_string": "email=x%40y.org&password=hunter2&page=2",
            }
        }
        scrubbed = scrub_event(event, {})
        assert scrubbed is not None
        request = scrubbed["request"]
        assert "mail.com" not in request["url"] and "y.org" not in request["url"]
        assert request["query_string"] == (
            f"email={MARKER_PREFIX}email]&password={MARKER_PREFIX}password]&page=2"
        )

    def test_argv_values_of_sensitive_flags_are_hidden(self) -> None:
        """``--password hunter2`` and ``--ssn=...`` lose their values; other args stay."""
        argv = ["svc", "--password", "hunter2", "--ssn=123456789", "--port", "8080", "run"]
        scrubbed = scrub_event({"extra": {"sys.argv": argv}}, {})
        assert scrubbed is not None
        assert scrubbed["extra"]["sys.argv"] == [
            "svc",
            "--password",
            f"{MARKER_PREFIX}password]",
            f"--ssn={MARKER_PREFIX}ssn]",
            "--port",
            "8080",
            "run",
        ]

    def test_hooks_never_mutate_their_input(self) -> None:
        """The SDK's event and breadcrumb dicts are left as they were."""
        event = {"message": "a@b.com", "user": {"ip_address": "{{auto}}"}, "sdk": {"name": "x"}}
        crumb = {"message": "123-45-6789", "data": {"email": "a@b.com"}}
        scrubbed = scrub_event(event, {})
        assert scrubbed is not None and "user" not in scrubbed
        assert scrub_record(crumb, {}) == {
            "message": f"{MARKER_PREFIX}ssn]",
            "data": {"email": f"{MARKER_PREFIX}email]"},
        }
        assert event["user"] == {"ip_address": "{{auto}}"}
        assert crumb["data"] == {"email": "a@b.com"}

    def test_breadcrumb_that_cannot_be_scrubbed_is_dropped(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """scrub_record returns None when redaction raises."""
        monkeypatch.setattr(sentry_scrub, "redact", lambda value: 1 / 0)
        assert scrub_record({"message": "x"}, {}) is None
        assert scrub_event({"message": "x"}, {}) is None


class TestSendTestEvent:
    @pytest.mark.timeout(20)
    @pytest.mark.parametrize(
        ("mode", "verdict"),
        [
            (Mode.OK, Verdict.DELIVERED),
            (Mode.UNAUTHORIZED, Verdict.AUTH_REJECTED),
            (Mode.FORBIDDEN, Verdict.AUTH_REJECTED),
            (Mode.TOO_LARGE, Verdict.TOO_LARGE),
            (Mode.RATE_LIMITED, Verdict.RATE_LIMITED),
            (Mode.SERVER_ERROR, Verdict.SERVER_ERROR),
            (Mode.UNAVAILABLE, Verdict.SERVER_ERROR),
            (Mode.CLOSE, Verdict.CONNECTION_CLOSED),
            (Mode.SILENT, Verdict.TIMEOUT),
        ],
    )
    def test_verdict_is_how_the_endpoint_answered(
        self, start_sentry_ingest: StartSentryIngest, mode: Mode, verdict: Verdict
    ) -> None:
        """The transport records the status the SDK's own request got (or why it got none)."""
        server = start_sentry_ingest(mode)
        result = send_test_event(_settings(server), deadline=time.monotonic() + 0.5)
        assert result.delivery.verdict is verdict
        assert result.host == f"127.0.0.1:{server.port}"
        [envelope] = server.wait_for(1)
        assert envelope.headers["event_id"] == result.event_id
        status = int(mode.value) if mode.value.isdigit() else None
        assert result.delivery.status == status
        assert result.delivery.retry_after == (37.0 if mode is Mode.RATE_LIMITED else None)
        assert result.elapsed < (0.9 if mode is Mode.SILENT else 0.5)

    def test_untrusted_certificate_is_a_tls_error(
        self,
        start_sentry_ingest: StartSentryIngest,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """HTTPS with a certificate the SDK does not trust: tls_error; trusted, it delivers."""
        authority = trustme.CA()
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1").configure_cert(server_context)
        server = start_sentry_ingest(Mode.OK, tls=server_context)
        result = send_test_event(_settings(server), deadline=time.monotonic() + 2)
        assert result.delivery.verdict is Verdict.TLS_ERROR
        assert server.received == []
        ca_file = tmp_path / "ca.pem"
        authority.cert_pem.write_to_path(str(ca_file))
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # how the SDK is told of a CA
        trusted = send_test_event(_settings(server), deadline=time.monotonic() + 2)
        assert trusted.delivery.verdict is Verdict.DELIVERED
        assert len(server.wait_for(1)) == 1

    def test_refused_connection(self) -> None:
        """Nothing listening: connection_refused, at once."""
        settings = load_settings(sentry_dsn=f"http://{PUBLIC_KEY}@127.0.0.1:{dead_port()}/1")
        result = send_test_event(settings, deadline=time.monotonic() + 2)
        assert result.delivery.verdict is Verdict.CONNECTION_REFUSED
        assert result.elapsed < 1

    def test_unset_dsn_is_a_config_error(self) -> None:
        """Without SENTRY_DSN there is nothing to test: ConfigError naming it."""
        with pytest.raises(ConfigError, match="SENTRY_DSN is not set"):
            send_test_event(load_settings(), deadline=time.monotonic() + 1)

    def test_global_client_is_left_alone(
        self, sentry_ingest_per_module: SentryIngest, no_sentry: None
    ) -> None:
        """A service calling send_test_event keeps its own global client."""
        init_sentry(_settings(sentry_ingest_per_module))
        before = sentry_sdk.get_client()
        send_test_event(_settings(sentry_ingest_per_module), deadline=time.monotonic() + 2)
        assert sentry_sdk.get_client() is before
