"""visible_controls: untrusted text made safe for a terminal."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cpa_ops.core.terminal import visible_controls


def test_escape_sequences_are_written_out() -> None:
    reply = "-ERR \x1b]0;title\x07\x1b[2J\u009b31m \u202egnp.exe"
    shown = visible_controls(reply)
    assert shown == "-ERR \\x1b]0;title\\x07\\x1b[2J\\x9b31m \\u202egnp.exe"


def test_plain_and_accented_text_is_kept() -> None:
    for text in ("redis://127.0.0.1:6379/0", "Zoë Çelik \u2013 7 µs", ""):
        assert visible_controls(text) == text


def test_newlines_only_when_asked() -> None:
    assert visible_controls("a\nb") == "a\\x0ab"
    assert visible_controls("a\nb\r", keep_newlines=True) == "a\nb\\x0d"


@given(st.text())
def test_nothing_a_terminal_acts_on_survives(text: str) -> None:
    shown = visible_controls(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in shown)
    assert not any(c in shown for c in "\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2069")
