"""The PII sweep: PII in the spellings a careless user or a foreign system writes (any digit
script, dashes and spaces of every kind, escapes, IDN emails, +CC phones, IBANs, bank numbers,
name-like keys) through every way a service's text leaves: a JSON and a console log line, a
Sentry event through ``scrub_event``, a real envelope to the ingest server, and the installed
``cpa-ops sentry-test --dry-run`` / ``cpa-ops log-test``.

No planted value may survive in any spelling: as planted, with ASCII digits, or JSON-escaped.
"""

from __future__ import annotations

import io
import json
import logging
import random
import re
import string
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sentry_sdk
import structlog

from cpa_ops.core.free_text import WITHHELD
from cpa_ops.core.logging import bind_correlation, configure_logging, get_logger
from cpa_ops.core.redact import MARKER_PREFIX
from cpa_ops.core.sentry import init_sentry, scrub_event
from cpa_ops.core.settings import load_settings
from tests.checksums import aba_complete, iban_of, luhn_complete
from tests.conftest import clean_env, run_cpa_ops
from tests.servers.sentry_fixtures import sentry_ingest  # noqa: F401  (a fixture)
from tests.servers.sentry_ingest import SentryIngest

pytestmark = pytest.mark.slow

# ---------------------------------------------------------------------------------------------
# The cases: PII spelled many ways, generated once from a fixed seed

DIGIT_ZEROS = ("0", "\u0660", "\u06f0", "\u0966", "\u09e6", "\uff10", "\u0e50", "\U0001d7ce")
SEPARATORS: tuple[str, ...] = (
    *("-", " ", ".", "  ", " - ", "\u2013", "\u2014", "\u2011", "\u2212", "\uff0d"),
    *("\u00a0", "\u2009", "\u202f", "\u3000"),
)
EIN_SEPARATORS = ("-", " ", "\u2013", "\u2014", "\u00a0", "\u2009", "\uff0d")


@dataclass(frozen=True)
class Case:
    kind: str
    text: str  # the PII as planted
    fragments: tuple[str, ...]  # what must not appear anywhere: the spelling, its ASCII digits...

    @property
    def id(self) -> str:
        return f"{self.kind}-{zlib.crc32(self.text.encode()):08x}"


class Speller:
    """Writes numbers in random scripts and separators (seeded: the same cases every run)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def digits(self, count: int, first: str = string.digits) -> str:
        return self.rng.choice(first) + "".join(self.rng.choices(string.digits, k=count - 1))

    def script(self, digits: str) -> str:
        zero = self.rng.choice(DIGIT_ZEROS)
        if self.rng.random() < 0.3:  # a different script for each digit
            return "".join(chr(ord(self.rng.choice(DIGIT_ZEROS)) + int(d)) for d in digits)
        return "".join(chr(ord(zero) + int(d)) for d in digits)

    def grouped(self, groups: list[str], separators: tuple[str, ...] = SEPARATORS) -> str:
        sep = self.rng.choice(separators)
        mixed = self.rng.random() < 0.3
        parts = [self.script(group) for group in groups]
        text = parts[0]
        for part in parts[1:]:
            text += (self.rng.choice(separators) if mixed else sep) + part
        return text

    def case(self, kind: str, text: str, digits: str | None = None) -> Case:
        fragments = [text]
        if digits is not None:
            fragments.append(digits)
        ascii_form = _ascii_form(text)
        if ascii_form != text:
            fragments.append(ascii_form)
        return Case(kind, text, tuple(fragments))


def _ascii_form(text: str) -> str:
    """``text`` with every digit as 0-9 (the spelling a leak would most likely take)."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def _cases() -> list[Case]:
    s = Speller(12)
    cases: list[Case] = []
    for _ in range(8):
        d = s.digits(9, "12345678")
        cases.append(s.case("ssn", s.grouped([d[:3], d[3:5], d[5:]]), d))
    for _ in range(3):
        d = "9" + s.digits(2) + s.rng.choice(["70", "78", "88", "94"]) + s.digits(4)
        cases.append(s.case("itin", s.grouped([d[:3], d[3:5], d[5:]]), d))
    for _ in range(5):
        d = s.digits(9, "123456789")
        cases.append(s.case("ein", s.grouped([d[:2], d[2:]], EIN_SEPARATORS), d))
    for label in ("SSN", "ssn:", "social security number", "ITIN", "tax id", "EIN", "FEIN#"):
        d = s.digits(9, "12345678")
        cases.append(s.case("labelled", f"{label} {s.script(d)}", d))
    for _ in range(5):
        d = s.digits(10, "23456789")
        cases.append(s.case("us-phone", s.grouped([d[:3], d[3:6], d[6:]]), d))
    for country, groups in (
        ("44", [2, 4, 4]),
        ("49", [2, 7]),
        ("33", [1, 2, 2, 2, 2]),
        ("81", [1, 4, 4]),
        ("91", [5, 5]),
        ("353", [2, 3, 4]),
        ("61", [1, 4, 4]),
        ("1", [3, 3, 4]),
    ):
        national = s.digits(sum(groups), "123456789")
        cut, parts = 0, []
        for size in groups:
            parts.append(national[cut : cut + size])
            cut += size
        plus = s.rng.choice(["+", "\uff0b"])
        cases.append(s.case("intl-phone", f"{plus}{country} " + s.grouped(parts), national))
        cases.append(s.case("e164", f"+{country}{national}", country + national))
    for _ in range(6):
        d = luhn_complete(s.digits(15, "2345"))
        cases.append(s.case("card", s.grouped([d[i : i + 4] for i in range(0, 16, 4)]), d))
    for country, bban in (
        ("DE", s.digits(18)),
        ("GB", "WEST" + s.digits(14)),
        ("FR", s.digits(23)),
        ("NL", "ABNA" + s.digits(10)),
        ("ES", s.digits(20)),
    ):
        iban = iban_of(country, bban)
        spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        cases.append(Case("iban", spaced, (spaced, iban, iban[4:])))
        cases.append(Case("iban", iban, (iban, iban[4:])))
    for label in ("routing", "Routing number:", "ABA", "RTN#", "routing_number=", "bank"):
        d = aba_complete(s.rng.choice(["01", "02", "11", "21", "26", "31"]) + s.digits(6))
        cases.append(s.case("routing", f"{label} {s.script(d)}", d))
    for label in ("account", "acct", "acct no.", "Acct #", "account_number=", "accountNumber:"):
        d = s.digits(s.rng.choice([6, 8, 10, 12]))
        cases.append(s.case("account", f"{label} {s.script(d)}", d))
    for local, at, domain in (
        ("qzjos\u00e9.garc\u00eda", "@", "b\u00fccher.de"),
        ("qzjane.doe", "\uff20", "example.com"),
        ("qzjane.doe", "%40", "example.com"),
        ("qz\u0436\u0435\u043d\u044f", "@", "\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"),
        ("qzo'brien", "@", "example.co.uk"),
        ("qz\u7530\u4e2d", "@", "\u4f8b\u3048.jp"),
        ("qzm\u00fcller+tax", "@", "xn--bcher-kva.de"),
        ("qzanna_b", "\ufe6b", "mail.example.org"),
    ):
        address = local + at + domain
        cases.append(Case("email", address, (address, local, local.split(".")[0])))
    return cases


CASES = _cases()
#: the CLI runs a sample (subprocesses are slow on a shared 2-core machine)
CLI_CASES = CASES[::4]
ENVELOPE_CASES = CASES[::15]
#: values under sensitive keys and tags: routing, account, acct, iban, taxpayer and name-like
SENSITIVE_FIELDS = {
    "routing": "qzRouting021000021",
    "account": "qzAccount000123",
    "acct": "qzAcct998877",
    "iban": "qzIbanDE89370400",
    "taxpayer": "qzTaxpayer Jane Roe",
    "name": "qzName Jane Roe",
    "first_name": "qzFirst Jane",
    "last_name": "qzLast Roe",
    "full_name": "qzFull Jane Roe",
    "taxpayer_name": "qzTaxpayerName Jane",
    "spouse_name": "qzSpouse John Roe",
    "address": "qzAddress 1 Main St",
    "street": "qzStreet Elm",
    "dob": "qzDob 1980-01-31",
}
#: the correlation ids a line carries: opaque, kept as they are
IDS = {"client_id": "cl-00421", "task_id": "task-7f3a9c1e", "request_id": "req-5d1e8f3a"}


def leaks(output: str, case: Case | None = None) -> list[str]:
    """Every planted value found in ``output``, also after decoding JSON in it."""
    forms = [output]
    for line in output.splitlines():
        try:
            forms.append(json.dumps(json.loads(line), ensure_ascii=False))
        except ValueError:
            continue
    wanted = [*(case.fragments if case else ()), *SENSITIVE_FIELDS.values()]
    return [value for value in wanted if any(value in form for form in forms)]


def _message(case: Case) -> str:
    return f"client record: {case.text}; please check"


# ---------------------------------------------------------------------------------------------
# Log lines, in-process


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    root.handlers = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()


def _log_once(
    stream: io.StringIO, log_format: str, case: Case, environment: str = "development"
) -> str:
    """One line with the case planted everywhere. In development by default: the pattern layer
    alone (production withholds free-text values before it: test_json_log_line_in_production)."""
    configure_logging(
        load_settings(environment=environment),
        stream=stream,
        log_format=log_format,  # type: ignore[arg-type]
        service="sweep",
        version="1.0.0",
    )
    log = get_logger("sweep.pii")
    with bind_correlation(task_id=IDS["task_id"], client_id=IDS["client_id"], agent="intake"):
        log.info(
            _message(case),
            note=case.text,
            nested={"items": [case.text, {"why": case.text}], case.text: 1},
            request_id=IDS["request_id"],
            **SENSITIVE_FIELDS,
        )
    return stream.getvalue()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_json_log_line(log_stream: io.StringIO, case: Case) -> None:
    """A JSON line carries no planted value in any spelling, and keeps the opaque ids."""
    output = _log_once(log_stream, "json", case)
    assert not leaks(output, case), output
    record = json.loads(output)
    assert MARKER_PREFIX in record["message"] and MARKER_PREFIX in record["note"]
    assert {key: record[key] for key in IDS} == IDS


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_json_log_line_in_production(log_stream: io.StringIO, case: Case) -> None:
    """Production: the free-text policy first (a value that is no token is withheld), the
    patterns after (a token-like one is redacted); no planted value, the opaque ids kept."""
    output = _log_once(log_stream, "json", case, environment="production")
    assert not leaks(output, case), output
    record = json.loads(output)
    assert record["note"] == WITHHELD or MARKER_PREFIX in record["note"], record["note"]
    assert {key: record[key] for key in IDS} == IDS


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_console_log_line(log_stream: io.StringIO, case: Case) -> None:
    """A console line carries no planted value in any spelling."""
    output = _log_once(log_stream, "console", case)
    assert not leaks(output, case), output
    assert MARKER_PREFIX in output and "cl-00421" in output


# ---------------------------------------------------------------------------------------------
# Sentry


def _event(case: Case) -> dict[str, Any]:
    return {
        "message": _message(case),
        "logentry": {"message": "record %s", "params": [case.text]},
        "exception": {"values": [{"type": "ValueError", "value": f"bad {case.text}"}]},
        "tags": {"note": case.text, **SENSITIVE_FIELDS},
        "extra": {"payload": {"items": [case.text]}, case.text: "key"},
        "user": {"email": case.text, "ip_address": "10.0.0.1"},
        "breadcrumbs": {"values": [{"message": case.text, "data": SENSITIVE_FIELDS}]},
        "contexts": {"client": IDS},
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_sentry_event_scrubbed(case: Case) -> None:
    """scrub_event leaves no planted value in the event, and keeps the opaque ids."""
    event = scrub_event(_event(case), {})
    assert event is not None
    shown = json.dumps(event, ensure_ascii=False)
    assert not leaks(shown, case), shown
    assert event["contexts"]["client"] == IDS


@pytest.fixture
def no_sentry() -> Iterator[None]:
    sentry_sdk.get_client().close(timeout=0)
    sentry_sdk.get_global_scope().set_client(None)
    yield
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)


@pytest.mark.parametrize("case", ENVELOPE_CASES, ids=lambda c: c.id)
def test_sentry_envelope(sentry_ingest: SentryIngest, no_sentry: None, case: Case) -> None:  # noqa: F811
    """An envelope the SDK really sends (init_sentry, capture_message) carries no planted value."""
    init_sentry(load_settings(sentry_dsn=sentry_ingest.dsn, environment="staging"))
    with sentry_sdk.isolation_scope() as scope:
        for key, value in {"note": case.text, **SENSITIVE_FIELDS}.items():
            scope.set_tag(key, value)
        scope.set_extra("payload", {"items": [case.text]})
        sentry_sdk.capture_message(_message(case))
    sentry_sdk.flush(timeout=5)
    [envelope] = sentry_ingest.wait_for(1)
    assert not leaks(envelope.text, case)
    assert not leaks(json.dumps(envelope.event, ensure_ascii=False), case)


# ---------------------------------------------------------------------------------------------
# The installed CLI

_TRACEBACK = re.compile(r"Traceback \(most recent call last\)")


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.id)
def test_sentry_test_dry_run(case: Case) -> None:
    """``sentry-test --dry-run --message ... --tag ...`` prints a scrubbed envelope, exit 0."""
    tags = [
        ("note", case.text),
        ("routing", "qzRouting021000021"),
        ("taxpayer", "qzTaxpayer Jane Roe"),
    ]
    args = ["sentry-test", "--dry-run", "--message", _message(case)]
    for key, value in tags:
        args += ["--tag", f"{key}={value}"]
    env = clean_env(SENTRY_DSN="https://0123456789abcdef0123456789abcdef@127.0.0.1:9/1")
    ran = run_cpa_ops(*args, env=env)
    assert ran.returncode == 0, ran.stderr
    assert not leaks(ran.stdout + ran.stderr, case), ran.stdout
    assert not _TRACEBACK.search(ran.stderr)
    assert MARKER_PREFIX in ran.stdout


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_log_test_showcase(log_format: str) -> None:
    """``log-test`` (its planted client record) shows nothing of the PII, in both formats."""
    ran = run_cpa_ops("log-test", "--format", log_format, env=clean_env())
    assert ran.returncode == 0, ran.stderr
    for planted in ("123-45-6789", "jane.doe@example.com", "000123456789", "4111 1111 1111 1111"):
        assert planted not in ran.stdout + ran.stderr
    assert not _TRACEBACK.search(ran.stderr)


def test_the_sweep_is_big_enough() -> None:
    """At least 150 cases per run across the paths above."""
    total = 3 * len(CASES) + len(ENVELOPE_CASES) + len(CLI_CASES) + 2
    assert total >= 150, total
