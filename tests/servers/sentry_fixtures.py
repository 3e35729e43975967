"""Pytest fixtures around :class:`tests.servers.sentry_ingest.SentryIngest`, and planted PII.

* ``sentry_ingest``: a fresh server answering 200, for one test (it has received nothing).
* ``sentry_ingest_per_module``: one server answering 200, shared by a test module; a test counts
  what arrived before it (``len(server.received)``).
* ``start_sentry_ingest``: starts a server in a given :class:`Mode` (optionally HTTPS) for one
  test; every server it started is stopped after the test.

``planted_pii`` draws the values the redaction must catch, and :func:`assert_no_pii` checks that
none (and no DSN key) reached the server.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from hypothesis import strategies as st

from tests.checksums import luhn_complete
from tests.servers.sentry_ingest import PUBLIC_KEY, Mode, ReceivedEnvelope, SentryIngest

StartSentryIngest = Callable[..., SentryIngest]


@pytest.fixture
def sentry_ingest() -> Iterator[SentryIngest]:
    with SentryIngest(Mode.OK) as server:
        yield server


@pytest.fixture(scope="module")
def sentry_ingest_per_module() -> Iterator[SentryIngest]:
    with SentryIngest(Mode.OK) as server:
        yield server


@pytest.fixture
def start_sentry_ingest() -> Iterator[StartSentryIngest]:
    with ExitStack() as running:

        def start(mode: Mode = Mode.OK, tls: ssl.SSLContext | None = None) -> SentryIngest:
            return running.enter_context(SentryIngest(mode, tls=tls))

        yield start


# ---------------------------------------------------------------------------------------------
# Planted PII: values the redaction must catch wherever they hide


def _card(prefix: str, length: int, digits: str, grouped: str) -> str:
    number = luhn_complete((prefix + digits)[: length - 1])
    if grouped and length == 16:
        return grouped.join(number[i : i + 4] for i in range(0, 16, 4))
    return number


ssns = st.builds(
    "{:03d}-{:02d}-{:04d}".format,
    st.integers(1, 899).filter(lambda n: n != 666),
    st.integers(1, 99),
    st.integers(1, 9999),
)
eins = st.builds("{:02d}-{:07d}".format, st.integers(10, 99), st.integers(0, 9_999_999))
emails = st.builds(
    "{}{}@{}.{}".format,
    st.sampled_from("abcjmz"),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789._", max_size=15),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12),
    st.sampled_from(["com", "org", "net", "io", "co.uk", "accountants"]),
)
phones = st.builds(
    lambda fmt, area, exchange, line: fmt.format(area, exchange, line),
    st.sampled_from(["({}) {}-{}", "{}-{}-{}", "{}.{}.{}", "+1 {} {} {}", "1-{}-{}-{}"]),
    st.integers(200, 999),
    st.integers(200, 999),
    st.integers(0, 9999).map("{:04d}".format),
)
_digits = st.text("0123456789", min_size=18, max_size=18)
cards = st.builds(
    _card,
    st.sampled_from(["4", "51", "55", "6011", "2221"]),
    st.just(16),
    _digits,
    st.sampled_from(["", " ", "-"]),
) | st.builds(_card, st.just("37"), st.just(15), _digits, st.just(""))
planted_pii = st.one_of(ssns, eins, emails, phones, cards)


def assert_no_pii(envelope: ReceivedEnvelope, *planted: str) -> None:
    """Neither a planted value nor the DSN key appears anywhere in the envelope."""
    for value in planted:
        assert value not in envelope.text, f"{value!r} reached Sentry"
    assert PUBLIC_KEY not in envelope.body.decode()
