"""``cpa-ops health --watch`` through the installed console script, against real redis-servers:
one JSON object per line per round, plain text rounds into a pipe, a live table on a terminal,
each round bounded by --timeout, Ctrl-C exits 0 without a traceback."""

from __future__ import annotations

import itertools
import json
import signal
import time
from collections.abc import Callable
from datetime import datetime

import pytest

from tests.cli.conftest import Background, OnTerminal
from tests.conftest import run_cpa_ops
from tests.servers.redis_faults import RedisServer

pytestmark = pytest.mark.timeout(40)


def parse_time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class TestJsonRounds:
    def test_one_object_per_line_per_round_then_ctrl_c_exits_0(
        self, redis_server_per_module: RedisServer, background: Callable[..., Background]
    ) -> None:
        """--watch 0.2 --format json: a health+json object per line, rounds about 0.2 s apart;
        Ctrl-C ends it with exit 0 and nothing on stderr."""
        run = background(
            "health",
            "--watch",
            "0.2",
            "--format",
            "json",
            "--redis-url",
            redis_server_per_module.url(),
        )
        rounds = [json.loads(run.next_line()) for _ in range(4)]
        for document in rounds:
            assert document["status"] == "pass"
            assert document["checks"]["redis:ping"][0]["observedUnit"] == "ms"
        times = [parse_time(r["checks"]["redis:ping"][0]["time"]) for r in rounds]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # rounds start 0.2 s apart; the first round's probe also imported redis, so its
        # check time (taken after the probe) is late by the import: skip that first gap
        assert all(0.1 <= gap < 1.0 for gap in gaps[1:]), gaps
        code, rest, stderr = run.stop(signal.SIGINT)
        assert code == 0
        assert stderr == ""
        for line in rest.splitlines():
            json.loads(line)  # whole lines only: nothing half-written at the interrupt

    def test_rounds_follow_the_server_and_each_is_bounded(
        self,
        redis_server_factory: Callable[..., RedisServer],
        background: Callable[..., Background],
    ) -> None:
        """A frozen server: rounds keep coming, each failing read_timeout within --timeout;
        thawed, the next rounds pass (is it getting better?)."""
        server = redis_server_factory()
        server.freeze()
        run = background(
            "health",
            "--watch",
            "0.1",
            "--timeout",
            "1",  # 0.4 left a busy machine too little room: rounds ended at "deadline"
            "--format",
            "json",
            "--redis-url",
            server.url(),
        )
        started = time.monotonic()
        failing = [json.loads(run.next_line(timeout=5)) for _ in range(3)]
        took = time.monotonic() - started
        for document in failing:
            assert document["status"] == "fail"
            assert document["checks"]["redis:ping"][0]["reason"] == "read_timeout"
        assert took < 3 * 1.5 + 1.5  # three rounds within --timeout + 0.5 s, plus start-up
        server.thaw()
        recovered = run.wait_for(lambda line: json.loads(line)["status"] == "pass", timeout=5)
        assert json.loads(recovered)["checks"]["redis:ping"][0]["status"] == "pass"
        code, _, stderr = run.stop(signal.SIGINT)
        assert code == 0
        assert "Traceback" not in stderr

    def test_sigterm_exits_143(
        self, redis_server_per_module: RedisServer, background: Callable[..., Background]
    ) -> None:
        """SIGTERM (a pod shutting down) ends the watch with 143, no traceback."""
        run = background(
            "health",
            "--watch",
            "0.2",
            "--format",
            "json",
            "--redis-url",
            redis_server_per_module.url(),
        )
        run.next_line()
        code, _, stderr = run.stop(signal.SIGTERM)
        assert code == 143
        assert "Traceback" not in stderr


class TestTextRounds:
    def test_plain_rounds_into_a_pipe(
        self, redis_server_per_module: RedisServer, background: Callable[..., Background]
    ) -> None:
        """Into a pipe: a header line per round, then the plain report, no colour codes."""
        run = background("health", "--watch", "0.2", "--redis-url", redis_server_per_module.url())
        assert run.next_line().startswith("--- round 1 at ")
        run.wait_for(lambda line: line.startswith("--- round 2 at "))
        code, rest, stderr = run.stop(signal.SIGINT)
        assert code == 0
        assert "Traceback" not in stderr
        text = "\n".join(run.seen) + rest
        assert "PASS  redis:ping" in text
        assert "status: pass" in text
        assert "\x1b[" not in text

    def test_live_table_on_a_terminal(
        self, redis_server_per_module: RedisServer, on_terminal: Callable[..., OnTerminal]
    ) -> None:
        """On a terminal: one table redrawn in place each round; Ctrl-C exits 0, no traceback."""
        run = on_terminal("health", "--watch", "0.2", "--redis-url", redis_server_per_module.url())
        run.read_until(b"round 1 ")
        run.read_until(b"round 3 ")
        output = run.text
        assert "redis:ping" in output and "PASS" in output
        assert "\x1b[" in output  # cursor movement and colour: redrawn, not appended
        run.proc.send_signal(signal.SIGINT)
        assert run.finish() == 0
        assert "Traceback" not in run.text


class TestUsage:
    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (["--watch", "0"], "out of range"),
            (["--watch", "often"], "'often' is not a number of seconds"),
            (["--watch", "1", "--wait", "5"], "--watch and --wait cannot be combined"),
        ],
    )
    def test_bad_watch_usage(self, args: list[str], expected: str) -> None:
        """Bad --watch values and --watch with --wait: one line, exit 2."""
        ran = run_cpa_ops("health", "--redis-url", "redis://127.0.0.1:1/0", *args)
        assert ran.returncode == 2
        lines = ran.stderr.strip().splitlines()
        assert len(lines) == 1, ran.stderr
        assert expected in lines[0]
