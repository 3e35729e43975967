"""Tests for cpa_ops.core.redact: sensitive keys, sensitive patterns, structures, never raising."""

from __future__ import annotations

import copy
import string
from collections import OrderedDict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpa_ops.core.redact import (
    CYCLE,
    MARKER_PREFIX,
    TOO_DEEP,
    marker,
    redact,
    redact_text,
    sensitive_key_kind,
)
from tests.checksums import luhn_complete

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# Strategies: planted PII and ordinary values


_digits = st.text(alphabet=string.digits, min_size=1, max_size=1).map(str)


def _n_digits(count: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=string.digits, min_size=count, max_size=count)


@st.composite
def ssns(draw: st.DrawFn) -> str:
    sep = draw(st.sampled_from(["-", " "]))
    return draw(_n_digits(3)) + sep + draw(_n_digits(2)) + sep + draw(_n_digits(4))


@st.composite
def eins(draw: st.DrawFn) -> str:
    return draw(_n_digits(2)) + "-" + draw(_n_digits(7))


@st.composite
def labelled_nine_digits(draw: st.DrawFn) -> str:
    label = draw(
        st.sampled_from(
            [
                "SSN",
                "ssn:",
                "SSN#",
                "social security number",
                "TIN",
                "ITIN",
                "EIN",
                "FEIN:",
                "tax id",
                "ssn is",
            ]
        )
    )
    return label + " " + draw(_n_digits(9))


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = draw(
        st.text(alphabet=string.ascii_letters + string.digits + "._+-", min_size=1, max_size=30)
    )
    labels = draw(
        st.lists(
            st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12),
            min_size=1,
            max_size=3,
        )
    )
    tld = draw(st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=6))
    return f"{local}@{'.'.join(labels)}.{tld}"


@st.composite
def phones(draw: st.DrawFn) -> str:
    area, exchange, line = draw(_n_digits(3)), draw(_n_digits(3)), draw(_n_digits(4))
    form = draw(st.sampled_from(["paren", "dash", "dot", "space", "plus1", "one-dash", "e164"]))
    return {
        "paren": f"({area}) {exchange}-{line}",
        "dash": f"{area}-{exchange}-{line}",
        "dot": f"{area}.{exchange}.{line}",
        "space": f"{area} {exchange} {line}",
        "plus1": f"+1 {area} {exchange} {line}",
        "one-dash": f"1-{area}-{exchange}-{line}",
        "e164": f"+1{area}{exchange}{line}",
    }[form]


@st.composite
def cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(13, 19))
    first = draw(st.sampled_from("23456"))
    digits = luhn_complete(first + draw(_n_digits(length - 2)))
    form = draw(st.sampled_from(["bare", " ", "-"]))
    if form == "bare":
        return digits
    return form.join(digits[i : i + 4] for i in range(0, len(digits), 4))


# Secrets carry an unmistakable prefix so "absent from the output" cannot pass by accident.
_secret_text = st.text(alphabet=string.ascii_letters + string.digits, min_size=6, max_size=20).map(
    lambda s: "Zq9" + s
)


@st.composite
def redis_urls(draw: st.DrawFn) -> tuple[str, str]:
    password = draw(_secret_text)
    user = draw(st.sampled_from(["", "default", "app"]))
    scheme = draw(st.sampled_from(["redis", "rediss"]))
    return f"{scheme}://{user}:{password}@127.0.0.1:6390/0", password


@st.composite
def dsns(draw: st.DrawFn) -> tuple[str, str]:
    key = draw(st.text(alphabet="0123456789abcdef", min_size=32, max_size=32))
    return f"https://{key}@o1.ingest.example.test/42", key


@st.composite
def planted_pii(draw: st.DrawFn) -> tuple[str, str]:
    """(text to plant, the part of it that must not survive)."""
    choice = draw(
        st.sampled_from(["ssn", "ein", "label", "email", "phone", "card", "redis", "dsn"])
    )
    if choice == "redis":
        return draw(redis_urls())
    if choice == "dsn":
        return draw(dsns())
    if choice == "label":
        text = draw(labelled_nine_digits())
        return text, text[-9:]
    strategy = {
        "ssn": ssns(),
        "ein": eins(),
        "email": emails(),
        "phone": phones(),
        "card": cards(),
    }[choice]
    text = draw(strategy)
    return text, text


_words = st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=10)
ordinary_strings = st.one_of(
    _words,
    st.integers(0, 10**6).map(lambda n: f"task-{n}"),
    st.uuids().map(str),
    st.uuids().map(lambda u: u.hex),
    st.tuples(st.integers(0, 10**9), st.integers(0, 99)).map(lambda t: f"{t[0]}.{t[1]:02d}"),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.integers(1, 65535).map(str),
    st.integers(0, 99_999_999).map(str),
    st.integers(1_000_000_000, 1_999_999_999).map(str),  # epoch seconds
    st.integers(1_000_000_000_000, 1_999_999_999_999).map(str),  # epoch milliseconds
    st.sampled_from(
        [
            "127.0.0.1",
            "::1",
            "127.0.0.1:6379",
            "10.20.30.40",
            "v1.2.3",
            "localhost:6379",
            "HTTP 200",
            "redis://127.0.0.1:6379/0",
            "agent.intake",
            "https://o1.ingest.example.test/42",
            "form 1040",
            "W-2",
            "1099-NEC",
        ]
    ),
)
ordinary_scalars = st.one_of(
    ordinary_strings,
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False),
    st.none(),
    st.booleans(),
)
ordinary_keys = st.sampled_from(
    [
        "task_id",
        "client_id",
        "agent",
        "amount",
        "due_date",
        "status",
        "count",
        "items",
        "name_id",
        "attempt",
        "port",
        "host",
        "form",
        "token_count",
        "password_reset_required",
        "ssn_last4",
        "timespan",
        "protein",
        "event",
        "message",
    ]
)
ordinary_payloads = st.recursive(
    ordinary_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(ordinary_keys, children, max_size=4),
    ),
    max_leaves=20,
)


def _plant_in_message(words: list[str], pii: str, position: int) -> str:
    words = list(words)
    words.insert(position % (len(words) + 1), pii)
    return " ".join(words)


# ---------------------------------------------------------------------------------------------


class TestSensitiveKeyKind:
    @pytest.mark.parametrize(
        ("key", "kind"),
        [
            ("SSN", "ssn"),
            ("client-ssn", "ssn"),
            ("clientSSN", "ssn"),
            ("clientssn", "ssn"),
            ("accountNumber", "account_number"),
            ("ACCOUNT_NUMBER", "account_number"),
            ("routing-number", "routing_number"),
            ("card_number", "card_number"),
            ("api_key", "api_key"),
            ("X-Api-Key", "api_key"),
            ("APIKey", "api_key"),
            ("Authorization", "authorization"),
            ("dsn", "dsn"),
            ("SENTRY_DSN", "dsn"),
            ("password", "password"),
            ("db_password", "password"),
            ("Password2", "password"),
            ("client_secret", "secret"),
            ("refresh_token", "token"),
            ("Cookie", "cookie"),
            ("date_of_birth", "dob"),
            ("DOB", "dob"),
            ("email_address", "email"),
            ("phone", "phone"),
            ("tax_id", "tin"),
            ("ITIN", "tin"),
            ("ein", "ein"),
            (b"password", "password"),
        ],
    )
    def test_sensitive_names_in_any_case_and_separator(self, key: object, kind: str) -> None:
        """Sensitive key names are recognised whatever their case, separators or prefix."""
        assert sensitive_key_kind(key) == kind

    @pytest.mark.parametrize(
        "key",
        [
            "client_id",
            "task_id",
            "agent",
            "token_count",
            "max_tokens",
            "password_reset_required",
            "ssn_last4",
            "timespan",
            "protein",
            "amount",
            "event",
            "",
            3,
            None,
            ("ssn",),
            1.5,
        ],
    )
    def test_ordinary_and_non_str_keys_are_not_sensitive(self, key: object) -> None:
        """Correlation ids, counters about secrets and non-str keys are not sensitive."""
        assert sensitive_key_kind(key) is None


class TestRedactText:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("ssn 123-45-6789 ok", "ssn [REDACTED:ssn] ok"),
            ("id 123 45 6789", "id [REDACTED:ssn]"),
            ("SSN: 123456789", "SSN: [REDACTED:ssn]"),
            ("SSN-123-45-6789", "SSN-[REDACTED:ssn]"),
            ("social security number is 123456789", "social security number is [REDACTED:ssn]"),
            ("ITIN 912345678", "ITIN [REDACTED:tin]"),
            ("EIN 12-3456789", "EIN [REDACTED:ein]"),
            ("firm 12-3456789.", "firm [REDACTED:ein]."),
            ("to bob.smith+tax@example.co.uk,", "to [REDACTED:email],"),
            ("(555) 123-4567", "[REDACTED:phone]"),
            ("call +1 555 123 4567 now", "call [REDACTED:phone] now"),
            ("555.123.4567", "[REDACTED:phone]"),
            ("+15551234567", "[REDACTED:phone]"),
            ("4111 1111 1111 1111", "[REDACTED:card_number]"),
            ("4111-1111-1111-1111", "[REDACTED:card_number]"),
            ("card=4111111111111111;", "card=[REDACTED:card_number];"),
            ("3782 822463 10005", "[REDACTED:card_number]"),
            ("redis://:hunter2@127.0.0.1:6379/0", "redis://:[REDACTED:password]@127.0.0.1:6379/0"),
            ("rediss://app:p@ss@h:6380", "rediss://app:[REDACTED:password]@h:6380"),
            ("redis://hunter2@h", "redis://[REDACTED:password]@h"),
            (
                "https://0123456789abcdef0123456789abcdef@o1.ingest.example.test/1",
                "https://[REDACTED:dsn_key]@o1.ingest.example.test/1",
            ),
            ("password=hunter2 x", "password=[REDACTED:password] x"),
            ("Authorization: Bearer eyJhbGciOi.x", "Authorization: Bearer [REDACTED:token]"),
        ],
    )
    def test_patterns_become_markers_naming_the_kind(self, text: str, expected: str) -> None:
        """Each sensitive pattern is replaced by [REDACTED:<kind>], the rest kept."""
        assert redact_text(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "task-123",
            "550e8400-e29b-41d4-a716-446655440000",
            "12345678-1234-1234-1234-123456789012",
            "1234.56",
            "2026-11-28",
            "2026-11-28T12:00:00.123456Z",
            "127.0.0.1:6379",
            "1764331200",
            "1764331200123",
            "4111111111111112",  # fails Luhn
            "abc-123-45-6789",
            "max_tokens=5 token_count: 3",
            "redis://127.0.0.1:6379/0",
            "",
        ],
    )
    def test_ordinary_text_is_untouched(self, text: str) -> None:
        """Ids, amounts, dates, timestamps, ports, digit runs failing Luhn are left alone."""
        assert redact_text(text) == text

    def test_redaction_is_idempotent(self) -> None:
        """Redacting already redacted text changes nothing (logging and Sentry both redact)."""
        once = redact_text(
            "redis://u:pw@h https://0123456789abcdef0123456789abcdef@h/1 password=x 123-45-6789"
        )
        assert redact_text(once) == once

    @FAST
    @given(pii=planted_pii(), words=st.lists(_words, max_size=6), position=st.integers(0, 10))
    def test_planted_pii_never_survives_in_a_message(
        self, pii: tuple[str, str], words: list[str], position: int
    ) -> None:
        """PII planted anywhere in a message is gone and a marker stands in its place."""
        text, secret = pii
        redacted = redact_text(_plant_in_message(words, text, position))
        assert secret not in redacted
        assert MARKER_PREFIX in redacted

    @FAST
    @given(text=ordinary_strings)
    def test_ordinary_values_are_untouched(self, text: str) -> None:
        """Ids, amounts, dates, timestamps, ports and loopback addresses pass unchanged."""
        assert redact_text(text) == text

    @pytest.mark.timeout(10)
    def test_huge_and_hostile_strings_are_fast(self) -> None:
        """Long inputs built to make regexes backtrack are still handled quickly."""
        for text in (
            "a@" + "a." * 200_000,
            "1-" * 200_000,
            "x" * 1_000_000 + "@",
            "redis://" + ":" * 100_000,
            "1 " * 200_000,
        ):
            assert isinstance(redact_text(text), str)


class TestRedact:
    def test_values_under_sensitive_keys_become_markers(self) -> None:
        """Any value (nested ones too) under a sensitive key is replaced; None/bool are kept."""
        payload = {
            "client": {"SSN": 123456789, "accountNumber": ["1", "2"], "name_id": "c-1"},
            "headers": [{"X-Api-Key": "k"}, {"Authorization": {"scheme": "Bearer"}}],
            "password": None,
            "email": True,
        }
        assert redact(payload) == {
            "client": {
                "SSN": marker("ssn"),
                "accountNumber": marker("account_number"),
                "name_id": "c-1",
            },
            "headers": [
                {"X-Api-Key": marker("api_key")},
                {"Authorization": marker("authorization")},
            ],
            "password": None,
            "email": True,
        }

    def test_strings_everywhere_are_scanned(self) -> None:
        """Strings in lists, tuples, sets and keys have their patterns replaced."""
        payload = {"notes": ("ssn 123-45-6789", {"bob@example.com"}), "555-123-4567": 1}
        assert redact(payload) == {
            "notes": ("ssn [REDACTED:ssn]", {marker("email")}),
            marker("phone"): 1,
        }

    def test_input_is_never_mutated(self) -> None:
        """redact returns a new structure and leaves its argument exactly as it was."""
        payload = {"ssn": "123-45-6789", "nested": [{"email": "a@b.cd"}, "555-123-4567"]}
        before = copy.deepcopy(payload)
        result = redact(payload)
        assert payload == before
        assert result is not payload and result["nested"] is not payload["nested"]

    def test_cycles_and_deep_nesting_are_survived(self) -> None:
        """A self-referencing structure and a very deep one come back with placeholders."""
        looped: dict[str, Any] = {"ssn": "1"}
        looped["self"] = looped
        assert redact(looped) == {"ssn": marker("ssn"), "self": CYCLE}
        deep: list[Any] = []
        node = deep
        for _ in range(5000):
            node.append([])
            node = node[0]
        result = redact(deep)
        while result != TOO_DEEP:
            result = result[0]

    def test_odd_types_never_raise(self) -> None:
        """Non-str keys, bytes, card-number ints, subclasses and hostile objects are handled."""

        class Hostile:
            def __hash__(self) -> int:
                raise RuntimeError("no hash")

            def __repr__(self) -> str:
                raise RuntimeError("no repr")

        class Text(str):
            pass

        payload = OrderedDict(
            [
                (1, b"ssn 123-45-6789"),
                (None, b"\xff plain"),
                (("t", 2), 4111111111111111),
                ("obj", Hostile()),
                ("text", Text("call 555-123-4567")),
            ]
        )
        result = redact(payload)
        assert type(result) is dict
        assert result[1] == "ssn [REDACTED:ssn]"
        assert result[None] == b"\xff plain"
        assert result[("t", 2)] == marker("card_number")
        assert isinstance(result["obj"], Hostile)
        assert result["text"] == "call [REDACTED:phone]" and type(result["text"]) is str

    @FAST
    @given(payload=ordinary_payloads)
    def test_ordinary_payloads_are_untouched(self, payload: Any) -> None:
        """A random nested payload of ordinary values comes back equal."""
        assert redact(payload) == payload

    @FAST
    @given(
        payload=ordinary_payloads,
        planted=st.lists(
            st.tuples(planted_pii(), st.lists(_words, max_size=3), st.integers(0, 5)),
            min_size=1,
            max_size=4,
        ),
        sensitive=st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "ssn",
                        "Client-SSN",
                        "accountNumber",
                        "X-Api-Key",
                        "password",
                        "dsn",
                        "routing_number",
                        "DOB",
                    ]
                ),
                _secret_text,
            ),
            max_size=3,
        ),
    )
    def test_planted_pii_never_survives_in_a_payload(
        self,
        payload: Any,
        planted: list[tuple[tuple[str, str], list[str], int]],
        sensitive: list[tuple[str, str]],
    ) -> None:
        """PII planted in messages and under sensitive keys at random depths is all gone."""
        container: dict[str, Any] = {"payload": payload}
        secrets = []
        node = container
        for index, ((text, secret), words, position) in enumerate(planted):
            node[f"note{index}"] = [_plant_in_message(words, text, position)]
            node[f"child{index}"] = {}
            node = node[f"child{index}"]
            secrets.append(secret)
        for key, value in sensitive:
            node[key] = {"value": value}
            secrets.append(value)
        result = redact(container)
        # the ordinary part is checked apart: its digits may equal a planted number by chance
        assert result.pop("payload") == payload
        shown = repr(result)
        for secret in secrets:
            assert secret not in shown
