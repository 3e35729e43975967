"""Tests for cpa_ops.core.redact: PII in every spelling (Unicode digits, dashes, spaces, escapes),
the new kinds (IBAN, routing, account, +CC phones), name-like keys, and what must stay untouched."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpa_ops.core.redact import MARKER_PREFIX, marker, redact, redact_text, sensitive_key_kind
from tests.checksums import aba_complete, iban_of, luhn_complete

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------
# Spellings

#: the zero of each digit script a number may be written in (ASCII, Arabic-Indic, extended
#: Arabic-Indic, Devanagari, Bengali, full-width, mathematical bold)
DIGIT_ZEROS = ("0", "\u0660", "\u06f0", "\u0966", "\u09e6", "\uff10", "\U0001d7ce")
#: what may stand between the groups of an SSN, a phone or a card number
SEPARATORS = (
    "-",
    " ",
    ".",
    "  ",
    " - ",
    "\u2013",  # en dash
    "\u2014",  # em dash
    "\u2011",  # non-breaking hyphen
    "\u2212",  # minus sign
    "\uff0d",  # full-width hyphen-minus
    "\u00a0",  # no-break space
    "\u2009",  # thin space
    "\u202f",  # narrow no-break space
    "\u3000",  # ideographic space
    "\uff0e",  # full-width full stop
)
#: what may stand between the 2 and the 7 digits of an EIN (a dot would make it a decimal)
EIN_SEPARATORS = ("-", " ", "\u2013", "\u2014", "\u00a0", "\u2009", "\uff0d", " - ")
AT_SIGNS = ("@", "\uff20", "\ufe6b", "%40")


@st.composite
def written(draw: st.DrawFn, digits: str) -> str:
    """``digits`` with each digit in a script drawn for it."""
    zeros = draw(st.lists(st.sampled_from(DIGIT_ZEROS), min_size=len(digits), max_size=len(digits)))
    return "".join(chr(ord(zero) + int(d)) for zero, d in zip(zeros, digits, strict=True))


def _n_digits(count: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=string.digits, min_size=count, max_size=count)


@st.composite
def grouped(draw: st.DrawFn, groups: list[str], separators: tuple[str, ...] = SEPARATORS) -> str:
    parts = [draw(written(group)) for group in groups]
    text = parts[0]
    for part in parts[1:]:
        text += draw(st.sampled_from(separators)) + part
    return text


@st.composite
def ssns(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from("12345678")) + draw(_n_digits(2))  # 9xx is an ITIN
    return draw(grouped([first, draw(_n_digits(2)), draw(_n_digits(4))]))


@st.composite
def itins(draw: st.DrawFn) -> str:
    middle = draw(st.sampled_from(["70", "78", "88", "90", "94", "99", "50", "65"]))
    return draw(grouped(["9" + draw(_n_digits(2)), middle, draw(_n_digits(4))]))


@st.composite
def eins(draw: st.DrawFn) -> str:
    return draw(grouped([draw(_n_digits(2)), draw(_n_digits(7))], EIN_SEPARATORS))


@st.composite
def us_phones(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from("23456789")) + draw(_n_digits(2))
    exchange, line = draw(_n_digits(3)), draw(_n_digits(4))
    if draw(st.booleans()):
        space = draw(st.sampled_from(["", " ", "\u00a0"]))
        return f"({draw(written(area))}){space}" + draw(grouped([exchange, line]))
    return draw(grouped([area, exchange, line]))


@st.composite
def intl_phones(draw: st.DrawFn) -> str:
    """+CC and national groups, 9-15 digits in all: E.164 or grouped."""
    country = draw(st.sampled_from(["1", "44", "49", "33", "81", "91", "353", "61", "34", "86"]))
    national_length = draw(st.integers(max(9 - len(country), 6), 15 - len(country)))
    national = draw(st.sampled_from("123456789")) + draw(_n_digits(national_length - 1))
    plus = draw(st.sampled_from(["+", "\uff0b"]))
    if draw(st.booleans()):
        return plus + country + national
    cuts = sorted(draw(st.sets(st.integers(1, len(national) - 1), min_size=1, max_size=4)) | {0})
    groups = [national[a:b] for a, b in zip(cuts, [*cuts[1:], len(national)], strict=True)]
    return plus + country + draw(st.sampled_from([" ", "-", "\u00a0", "."])) + draw(grouped(groups))


@st.composite
def cards(draw: st.DrawFn) -> str:
    first = draw(st.sampled_from("2345"))
    digits = luhn_complete(first + draw(_n_digits(14)))
    if draw(st.booleans()):
        return draw(written(digits))
    return draw(grouped([digits[i : i + 4] for i in range(0, 16, 4)]))


IBAN_LAYOUTS = {"DE": "n18", "GB": "a4n14", "FR": "n23", "NL": "a4n10", "ES": "n20", "IT": "a1n22"}


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(sorted(IBAN_LAYOUTS)))
    layout = IBAN_LAYOUTS[country]
    letters = int(layout[1]) if layout[0] == "a" else 0
    numbers = int(layout.split("n")[1])
    bban = draw(
        st.text(alphabet=string.ascii_uppercase, min_size=letters, max_size=letters)
    ) + draw(_n_digits(numbers))
    iban = iban_of(country, bban)
    if draw(st.booleans()):
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


ROUTING_LABELS = ("routing", "Routing number:", "ABA", "RTN#", "routing_number=", "ABA routing")


@st.composite
def routings(draw: st.DrawFn) -> str:
    number = aba_complete(
        draw(st.sampled_from(["01", "02", "11", "21", "26", "31", "61"])) + draw(_n_digits(6))
    )
    label = draw(st.sampled_from([*ROUTING_LABELS, "bank", "wire to"]))
    return f"{label} {draw(written(number))}"


ACCOUNT_LABELS = (
    "account",
    "acct",
    "acct no.",
    "Acct #",
    "account_number=",
    "accountNumber:",
    "ACCOUNT NUMBER",
    "a/c",
)


@st.composite
def accounts(draw: st.DrawFn) -> str:
    length = draw(st.integers(9, 17)) if draw(st.booleans()) else draw(st.integers(4, 8))
    label = draw(st.sampled_from(ACCOUNT_LABELS if length >= 9 else ACCOUNT_LABELS[:-1]))
    return f"{label} {draw(written(draw(_n_digits(length))))}"


@st.composite
def labelled_ssns(draw: st.DrawFn) -> str:
    label = draw(
        st.sampled_from(["SSN", "ssn:", "SSN#", "social security number", "ITIN", "tax id"])
    )
    return f"{label} {draw(written(draw(_n_digits(9))))}"


NUMERIC_KINDS = {
    "ssn": ssns(),
    "itin": itins(),
    "ein": eins(),
    "us_phone": us_phones(),
    "intl_phone": intl_phones(),
    "card": cards(),
    "iban": ibans(),
    "routing": routings(),
    "account": accounts(),
    "labelled_ssn": labelled_ssns(),
}

_LOCAL_LETTERS = string.ascii_lowercase + "éüñøßжяσ中日"
_DOMAIN_LABELS = ("example", "bücher", "müller-co", "例え", "пример", "xn--bcher-kva", "mail")
_TLDS = ("com", "de", "co.uk", "рф", "xn--p1ai", "org", "jp")


@st.composite
def emails(draw: st.DrawFn) -> tuple[str, str]:
    """(an address, its local part: what must not survive)."""
    words = draw(
        st.lists(st.text(alphabet=_LOCAL_LETTERS, min_size=1, max_size=8), min_size=1, max_size=3)
    )
    # an unmistakable start, so "the local part is gone" cannot fail on a word that holds it
    local = "qz" + draw(st.sampled_from([".", "_", "+", "-"])).join(words)
    labels = draw(st.lists(st.sampled_from(_DOMAIN_LABELS), min_size=1, max_size=2))
    dot = draw(st.sampled_from([".", "\u3002"]))
    domain = dot.join([*labels, draw(st.sampled_from(_TLDS))])
    return local + draw(st.sampled_from(AT_SIGNS)) + domain, local


@st.composite
def planted(draw: st.DrawFn) -> tuple[str, str | None]:
    """(PII in one of its spellings, an email's local part or None for a number)."""
    kind = draw(st.sampled_from([*NUMERIC_KINDS, "email"]))
    if kind == "email":
        return draw(emails())
    return draw(NUMERIC_KINDS[kind]), None


#: words of the text around the PII: letters of several scripts, never a digit or an at sign
words = st.text(alphabet=string.ascii_letters + "éüßжσ中", min_size=1, max_size=9).filter(
    lambda w: w.lower() not in ("x", "xn")
)
gaps = st.sampled_from([" ", ", ", "; ", " \u2014 ", "\n", "\t", " (", ") ", ": "])


@st.composite
def text_with(draw: st.DrawFn, pii: str) -> str:
    before = draw(st.lists(words, max_size=4))
    after = draw(st.lists(words, max_size=4))
    pieces = [*before, pii, *after]
    text = pieces[0]
    for piece in pieces[1:]:
        text += draw(gaps) + piece
    return text


def assert_gone(shown: str, pii: str, local: str | None) -> None:
    assert pii not in shown
    assert MARKER_PREFIX in shown
    if local is None:  # a number: no digit of any script is left (the words hold none)
        assert not [c for c in shown if c.isdigit()], shown
    else:
        assert local not in shown, shown


# ---------------------------------------------------------------------------------------------


class TestSpellingsInText:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "SSN: \u0661\u0662\u0663-\u0664\u0665-\u0666\u0667\u0668\u0669",
                "SSN: [REDACTED:ssn]",
            ),
            (
                "\uff11\uff12\uff13\uff0d\uff14\uff15\uff0d\uff16\uff17\uff18\uff19 x",
                "[REDACTED:ssn] x",
            ),
            ("id 123\u201345\u20136789.", "id [REDACTED:ssn]."),
            ("id 123\u201445\u20146789", "id [REDACTED:ssn]"),
            ("id 123\u00a045\u00a06789", "id [REDACTED:ssn]"),
            ("id 123\u200945\u20096789", "id [REDACTED:ssn]"),
            ("id 123  45  6789", "id [REDACTED:ssn]"),
            ("id 123.45.6789", "id [REDACTED:ssn]"),
            ("id 123 - 45 - 6789", "id [REDACTED:ssn]"),
            ("id 12\u200b3-45-6789", "id [REDACTED:ssn]"),
            ("itin 912-78-1234", "itin [REDACTED:tin]"),
            ("912 78 1234", "[REDACTED:tin]"),
            ("EIN 87 6543217", "EIN [REDACTED:ein]"),
            ("firm 87 6543217 ok", "firm [REDACTED:ein] ok"),
            ("firm 87\u20136543217", "firm [REDACTED:ein]"),
            ("client_ssn=123456789", "client_ssn=[REDACTED:ssn]"),
            ("to jos\u00e9.garc\u00eda@b\u00fccher.de,", "to [REDACTED:email],"),
            ("to jane\uff20example.com", "to [REDACTED:email]"),
            ("to jane%40example.com&x=1", "to [REDACTED:email]&x=1"),
            ("to o'brien@example.com", "to [REDACTED:email]"),
            (
                "to \u0436\u0435\u043d\u044f@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
                "to [REDACTED:email]",
            ),
            ("to x@xn--bcher-kva.de", "to [REDACTED:email]"),
            ("jose\u0301@example.com", "[REDACTED:email]"),
            ("call +44 20 7946 0958 now", "call [REDACTED:phone] now"),
            ("call +44 (0)20 7946 0958", "call [REDACTED:phone]"),
            ("call +442079460958", "call [REDACTED:phone]"),
            ("call +81 3-1234-5678", "call [REDACTED:phone]"),
            ("call +33 1 23 45 67 89", "call [REDACTED:phone]"),
            ("call +91 98765 43210", "call [REDACTED:phone]"),
            (
                "call \uff0b\uff11 \uff15\uff15\uff15 \uff11\uff12\uff13 \uff14\uff15\uff16\uff17",
                "call [REDACTED:phone]",
            ),
            ("+44 20 7946 0958 123-45-6789", "[REDACTED:phone] [REDACTED:ssn]"),
            ("+44 20 7946 0958 2026-11-28", "[REDACTED:phone] 2026-11-28"),
            ("card 4111.1111.1111.1111", "card [REDACTED:card_number]"),
            ("card 4111 1111-1111.1111", "card [REDACTED:card_number]"),
            ("card 4111\u20131111\u20131111\u20131111", "card [REDACTED:card_number]"),
            ("iban GB82 WEST 1234 5698 7654 32.", "iban [REDACTED:iban]."),
            ("iban DE89370400440532013000", "iban [REDACTED:iban]"),
            ("iban NL91ABNA0417164300 ok", "iban [REDACTED:iban] ok"),
            ("routing 021000021", "routing [REDACTED:routing_number]"),
            ("ABA# 021000021", "ABA# [REDACTED:routing_number]"),
            ("Routing number: 011000015", "Routing number: [REDACTED:routing_number]"),
            ("bank 021000021", "bank [REDACTED:routing_number]"),
            ("acct 12345678", "acct [REDACTED:account_number]"),
            ("acct no. 12345678", "acct no. [REDACTED:account_number]"),
            ("Account # 1234-5678-90", "Account # [REDACTED:account_number]"),
            ("account_number=000123456789", "account_number=[REDACTED:account_number]"),
            ('{"accountNumber": "000123456789"}', '{"accountNumber": "[REDACTED:account_number]"}'),
            ("A/C 000123456789", "A/C [REDACTED:account_number]"),
            ("ssn%3A123-45-6789", "ssn%3A[REDACTED:ssn]"),
            ("\\u0031\\u0032\\u0033-45-6789", "[REDACTED:ssn]"),
            ("password=\uff48\uff55\uff4e\uff54\uff45\uff52 ok", "password=[REDACTED:password] ok"),
            ("redis://:p%40ss@cache:6379", "redis://:[REDACTED:password]@cache:6379"),
        ],
    )
    def test_each_spelling_becomes_its_marker(self, text: str, expected: str) -> None:
        """Every spelling of each kind is replaced by its marker; the text around is kept."""
        assert redact_text(text) == expected

    def test_text_around_a_match_keeps_its_own_spelling(self) -> None:
        """Only the PII is replaced: the non-ASCII text around it is not normalised."""
        arabic_indic_ssn = "\u0661\u0662\u0663-\u0664\u0665-\u0666\u0667\u0668\u0669"
        text = f"Caf\u00e9 \uff21\uff43\uff4d\uff45: {arabic_indic_ssn} \u2014 na\u0308ive"
        assert (
            redact_text(text)
            == "Caf\u00e9 \uff21\uff43\uff4d\uff45: [REDACTED:ssn] \u2014 na\u0308ive"
        )

    @pytest.mark.parametrize("kind", sorted(NUMERIC_KINDS))
    @FAST
    @given(data=st.data())
    def test_planted_numbers_never_survive(self, kind: str, data: st.DataObject) -> None:
        """A number of each kind, in any script and separators, planted in random text, is gone."""
        pii = data.draw(NUMERIC_KINDS[kind])
        assert_gone(redact_text(data.draw(text_with(pii))), pii, None)

    @FAST
    @given(data=st.data())
    def test_planted_emails_never_survive_whole_or_in_part(self, data: st.DataObject) -> None:
        """IDN domains, non-ASCII local parts, full-width and %40 at signs: the whole address."""
        address, local = data.draw(emails())
        assert_gone(redact_text(data.draw(text_with(address))), address, local)

    @FAST
    @given(pii=planted())
    def test_redaction_is_idempotent(self, pii: tuple[str, str | None]) -> None:
        """Redacting redacted text changes nothing (logging and Sentry both redact)."""
        once = redact_text(f"note {pii[0]} end")
        assert redact_text(once) == once


# ---------------------------------------------------------------------------------------------
# Structures

#: sensitive keys in several spellings, with the kind they name
SENSITIVE_KEYS = {
    "routing": "routing_number",
    "Routing-Number": "routing_number",
    "account": "account_number",
    "ACCT": "account_number",
    "acct_no": "account_number",
    "iban": "account_number",
    "IBAN": "account_number",
    "taxpayer": "taxpayer",
    "Taxpayer": "taxpayer",
    "name": "name",
    "Name": "name",
    "first_name": "name",
    "lastName": "name",
    "Full-Name": "name",
    "taxpayer_name": "name",
    "spouseName": "name",
    "client_first_name": "name",
    "address": "address",
    "street": "address",
    "home_address": "address",
    "address_line_1": "address",
    "dob": "dob",
    "DOB": "dob",
}


class TestSensitiveKeys:
    @pytest.mark.parametrize(("key", "kind"), sorted(SENSITIVE_KEYS.items()))
    def test_new_sensitive_names(self, key: str, kind: str) -> None:
        """Bank, taxpayer, name and address keys are sensitive in any case or separator."""
        assert sensitive_key_kind(key) == kind

    @pytest.mark.parametrize(
        "key",
        [
            "client_id",
            "task_id",
            "request_id",
            "account_id",
            "accountId",
            "account_type",
            "routing_key",
            "server_name",
            "logger_name",
            "service_name",
            "file_name",
            "name_id",
            "ip_address",
            "bind_address",
            "master_address",
            "username",
            "timestamp",
            "version",
            "port",
        ],
    )
    def test_ids_and_names_of_things_are_not_sensitive(self, key: str) -> None:
        """Opaque ids and the names/addresses of servers, loggers and files are kept."""
        assert sensitive_key_kind(key) is None


#: ordinary keys and values for random structures: letters only, so a digit left is a leak
_plain_keys = st.sampled_from(["status", "agent", "step", "items", "note", "kind", "form", "stage"])
_plain_values = st.one_of(words, st.none(), st.booleans())


@st.composite
def structures_with_pii(draw: st.DrawFn) -> tuple[Any, list[tuple[str, str | None]], list[str]]:
    """(a nested structure, the PII planted in its text and keys, the values under keys)."""
    plants = draw(st.lists(planted(), min_size=1, max_size=4))
    secrets = draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    [k for k in sorted(SENSITIVE_KEYS) if not any(c.isdigit() for c in k)]
                ),
                st.text(string.ascii_letters, min_size=4, max_size=12),
            ),
            max_size=3,
        )
    )
    root: dict[Any, Any] = {}
    node: Any = root
    for tag, (pii, _) in zip("abcd", plants, strict=False):
        where = draw(st.sampled_from(["value", "key", "list", "tuple", "set"]))
        text = draw(text_with(pii))
        if where == "key":
            node[text] = draw(_plain_values)
        elif where == "value":
            node[draw(_plain_keys) + tag] = text
        elif where == "list":
            node[f"items_{tag}"] = [draw(_plain_values), text]
        elif where == "tuple":
            node[f"pair_{tag}"] = (text, draw(_plain_values))
        else:
            node[f"set_{tag}"] = {text}
        child: dict[Any, Any] = {}
        node[f"child_{tag}"] = [child] if draw(st.booleans()) else child
        node = child
    values = []
    for key, value in secrets:
        value = "Qz" + value
        node[key] = value if draw(st.booleans()) else {"nested": [value]}
        values.append(value)
    return root, plants, values


class TestStructures:
    @FAST
    @given(case=structures_with_pii())
    def test_planted_pii_never_survives_in_a_structure(
        self, case: tuple[Any, list[tuple[str, str | None]], list[str]]
    ) -> None:
        """PII in keys, values, lists, tuples and sets at any depth, and values under sensitive
        keys, are all gone from what redact returns."""
        structure, plants, values = case
        shown = repr(redact(structure))
        for pii, local in plants:
            assert pii not in shown
            if local is not None:
                assert local not in shown
        if all(local is None for _, local in plants):  # only numbers planted: no digit is left
            assert not [c for c in shown if c.isdigit()], shown
        for value in values:
            assert value not in shown

    def test_values_under_name_keys_become_markers(self) -> None:
        """A client record's names, address and bank fields are replaced; its ids are kept."""
        record = {
            "client_id": "cl-00421",
            "request_id": "req-5d1e",
            "name": "Jane Roe",
            "spouse_name": "John Roe",
            "address": {"street": "1 Main St", "city": "Springfield"},
            "routing": "021000021",
            "acct": 12345678,
            "taxpayer": "Jane Roe",
            "server_name": "web-1",
        }
        assert redact(record) == {
            "client_id": "cl-00421",
            "request_id": "req-5d1e",
            "name": marker("name"),
            "spouse_name": marker("name"),
            "address": marker("address"),
            "routing": marker("routing_number"),
            "acct": marker("account_number"),
            "taxpayer": marker("taxpayer"),
            "server_name": "web-1",
        }


# ---------------------------------------------------------------------------------------------
# What must stay untouched

REDIS_INFO = """# Server
redis_version:7.2.4
redis_git_sha1:00000000
redis_mode:standalone
os:Linux 6.8.0-45-generic x86_64
process_id:123456
run_id:5d1e8f3a9c1e4b2d8f3a9c1e4b2d8f3a9c1e4b2d
tcp_port:6379
uptime_in_seconds:1234567
# Memory
used_memory:1048576000
used_memory_human:1000.00M
used_memory_peak:2147483648
maxmemory:4294967296
mem_fragmentation_ratio:1.23
# Stats
total_connections_received:987654321
total_commands_processed:123456789012
instantaneous_ops_per_sec:4567
total_net_input_bytes:5551234567
keyspace_hits:100200300
expired_keys:45
db0:keys=123456789,expires=12,avg_ttl=6789000
"""


class TestOrdinaryTextIsUntouched:
    @pytest.mark.parametrize(
        "text",
        [
            "550e8400-e29b-41d4-a716-446655440000",
            "550E8400-E29B-41D4-A716-446655440000",
            "2026-11-28T12:00:00.123456Z",
            "2026-11-28T12:00:00+05:30",
            "2026-11-28 12:00:00,123",
            "v1.2.3",
            "redis 7.2.4 (00000000/0) 64 bit",
            "python 3.11.9, sentry-sdk 2.19.2",
            "127.0.0.1:6379",
            "[::1]:26379",
            "listening on 0.0.0.0:8000",
            "took 1234.567 ms",
            "duration_ms=12.5 elapsed 0.123456789s",
            "retry in 1500ms (attempt 3 of 5)",
            "task-0001-demo cl-00421 doc-2026-0042 inv-000123",
            "req_01HZX3K5Q8 trace 4bf92f3577b34da6a3ce929d0e0e4736",
            "form 1040, W-2, 1099-NEC, schedule C",
            "account_id=12345 account 3 of 5 accounts: 7",
            "bank holiday 2026-12-25",
            "routing key agent.intake.v2",
            "ITIN pending",
            "epoch 1764331200 ms 1764331200123",
            "Caf\u00e9 M\u00fcller, Z\u00fcrich \u2014 na\u00efve r\u00e9sum\u00e9",
            "\u65e5\u672c\u8a9e \U0001f389 \u0645\u0631\u062d\u0628\u0627",
            "\u00bd cup, 2\u00b3 = 8, page \u2460",
            "50% done, 100%",
            "C:\\Users\\agent\\file.txt",
            "ABCD1234EFGH5678",
            REDIS_INFO,
        ],
    )
    def test_ids_times_versions_ports_durations_and_info_are_untouched(self, text: str) -> None:
        """UUIDs, timestamps, versions, ports, durations, Redis INFO and prose pass unchanged."""
        assert redact_text(text) == text

    @FAST
    @given(
        text=st.one_of(
            st.uuids().map(str),
            st.uuids().map(lambda u: str(u).upper()),
            st.datetimes().map(lambda d: d.isoformat()),
            st.datetimes().map(lambda d: d.isoformat(sep=" ", timespec="milliseconds") + "Z"),
            st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 999)).map(
                lambda v: "v{}.{}.{}".format(*v)
            ),
            st.integers(1, 65535).map(lambda p: f"127.0.0.1:{p}"),
            st.floats(0, 10**6, allow_nan=False).map(lambda f: f"{f:.3f}ms"),
            st.integers(0, 10**11).map(lambda n: f"used_memory:{n}"),
            st.integers(0, 10**11).map(lambda n: f"keyspace_hits:{n}\r\nexpired_keys:{n // 7}"),
            st.text(
                alphabet=st.characters(
                    whitelist_categories=("Lu", "Ll", "Lo", "Zs", "Po", "So"),
                    blacklist_characters="@%\\\uff20\ufe6b",
                ),
                max_size=40,
            ),
        )
    )
    def test_ordinary_values_are_untouched(self, text: str) -> None:
        """Generated ids, timestamps, versions, ports, durations, INFO lines and letters pass."""
        assert redact_text(text) == text
