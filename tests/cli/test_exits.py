"""``uninterrupted``: a signal arriving while a screen update is written waits for its end."""

from __future__ import annotations

import os
import signal

import pytest

from cpa_ops.cli.exits import uninterrupted


def test_ctrl_c_inside_is_raised_on_leaving() -> None:
    """SIGINT inside the block: the block runs to its end, then KeyboardInterrupt."""
    finished = False
    with pytest.raises(KeyboardInterrupt), uninterrupted():
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # bytecodes the interrupt would have landed between
            pass
        finished = True
    assert finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_handler_in_place_before_runs_once() -> None:
    """SIGTERM twice inside: the previous handler runs once, after the block."""
    calls: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: calls.append(signum))
    try:
        with uninterrupted():
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
            assert calls == []
        assert calls == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_no_signal_no_effect() -> None:
    with uninterrupted():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
