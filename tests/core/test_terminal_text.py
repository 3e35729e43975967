"""visible_controls: untrusted text made safe for a terminal."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cpa_ops.core.terminal import visible_controls


def test_escape_sequences_are_written_out() -> None:
    reply = "-ERR \x1b]0;title\x07\x1b[2J\u009b31m \u202egnp.exe"
    shown = visible_controls(reply)
    assert shown == "-ERR \\x1b]0;title\\x07\\x1b[2J\\x9b31m \\u202egnp.exe"


def test_lone_surrogates_are_written_out() -> None:
    """An undecodable byte of argv or the environment (surrogateescape) is not written raw: on
    stdout it would be a byte that is not UTF-8."""
    from cpa_ops.core.terminal import json_controls_escaped

    assert visible_controls("my\udcffmaster \ud800") == "my\\udcffmaster \\ud800"
    assert json_controls_escaped('{"k": "a\udcffb"}') == '{"k": "a\\udcffb"}'


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


@given(st.text())
def test_json_keeps_its_value_and_loses_every_control(text: str) -> None:
    import json

    from cpa_ops.core.terminal import json_controls_escaped

    for ensure_ascii in (False, True):
        shown = json_controls_escaped(json.dumps({"k": text}, ensure_ascii=ensure_ascii))
        assert json.loads(shown) == {"k": text}
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in shown)
        assert not any(c in shown for c in "\u2028\u2029\u202e\u2066")


def test_json_log_lines_write_c1_and_bidi_controls_out() -> None:
    import io
    import json

    from cpa_ops.core.logging import configure_logging, get_logger
    from cpa_ops.core.settings import load_settings

    stream = io.StringIO()
    configure_logging(load_settings(), stream=stream, log_format="json")
    get_logger("t").info("reply \u009b2J \u202eabc é", value="\x7f\u2028")
    line = stream.getvalue()
    assert "\u009b" not in line and "\u202e" not in line and "\x7f" not in line
    record = json.loads(line)
    assert (record["message"], record["value"]) == ("reply \u009b2J \u202eabc é", "\x7f\u2028")
