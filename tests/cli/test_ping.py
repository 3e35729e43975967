"""``cpa-ops ping`` through the installed console script, against real redis-servers: counts and
statistics, errors counted by reason code, exit codes, Ctrl-C / SIGTERM with the summary so far,
plain lines into a pipe and live lines on a terminal."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Background, OnTerminal
from tests.conftest import clean_env, run_cpa_ops
from tests.servers.net import wait_until
from tests.servers.redis_faults import RedisServer

pytestmark = pytest.mark.timeout(40)
SECRET = "pa55-w0rd-xyz"
ANSI = re.compile(r"\x1b\[")


def ping_json(*args: str) -> tuple[int, dict[str, Any], str]:
    ran = run_cpa_ops("ping", "--format", "json", *args, timeout=20)
    assert "Traceback" not in ran.stderr
    return ran.returncode, json.loads(ran.stdout), ran.stderr


class TestHealthyServer:
    def test_text_lines_and_summary_into_a_pipe(self, redis_server_per_module: RedisServer) -> None:
        """-c 5 -i 0: a header, five plain sample lines (the first with its connect time), the
        summary; no colour into a pipe; exit 0."""
        ran = run_cpa_ops(
            "ping", "-c", "5", "-i", "0", "--redis-url", redis_server_per_module.url()
        )
        assert ran.returncode == 0, ran.stderr
        lines = ran.stdout.splitlines()
        assert lines[0].startswith(f"PING {redis_server_per_module.url()}: 5 samples")
        samples = [line for line in lines if line.startswith("seq=")]
        assert len(samples) == 5
        assert re.fullmatch(r"seq=1 connect=\d+\.\d{3} ms rtt=\d+\.\d{3} ms", samples[0])
        assert all(re.fullmatch(r"seq=\d rtt=\d+\.\d{3} ms", s) for s in samples[1:])
        assert "5 sent, 5 ok, 0 failed (0.0%)" in ran.stdout
        assert "connect: 1 connect, min/avg/max" in ran.stdout
        assert re.search(
            r"round-trip ms: min [\d.]+ avg [\d.]+ p50 [\d.]+ p90 [\d.]+ "
            r"p99 [\d.]+ max [\d.]+ stddev [\d.]+",
            ran.stdout,
        )
        assert not ANSI.search(ran.stdout + ran.stderr)
        assert ran.stderr == ""

    def test_json_summary(self, redis_server_per_module: RedisServer) -> None:
        """--format json: one object with sent/ok/errors, round-trip statistics over every
        sample and the one connect counted apart."""
        code, summary, _ = ping_json(
            "-c", "20", "-i", "0", "--redis-url", redis_server_per_module.url()
        )
        assert code == 0
        assert (summary["sent"], summary["ok"], summary["failed"]) == (20, 20, 0)
        assert summary["errors"] == {}
        assert summary["interrupted"] is False
        rtt = summary["roundTripMs"]
        assert rtt["count"] == 20
        assert 0 < rtt["min"] <= rtt["p50"] <= rtt["p90"] <= rtt["p99"] <= rtt["max"]
        assert rtt["min"] <= rtt["avg"] <= rtt["max"]
        assert summary["connectMs"]["count"] == 1

    def test_interval_spaces_the_samples(self, redis_server_per_module: RedisServer) -> None:
        """-c 4 -i 0.2: the samples start 0.2 s apart, so the run lasts about 0.6 s."""
        code, summary, _ = ping_json(
            "-c", "4", "-i", "0.2", "--redis-url", redis_server_per_module.url()
        )
        assert code == 0
        assert 0.55 <= summary["elapsedSeconds"] < 2.0

    def test_redis_url_from_the_environment(self, redis_server_per_module: RedisServer) -> None:
        """Without --redis-url, REDIS_URL is pinged."""
        ran = run_cpa_ops(
            "ping",
            "-c",
            "1",
            "--format",
            "json",
            env=clean_env(REDIS_URL=redis_server_per_module.url()),
        )
        assert ran.returncode == 0
        assert json.loads(ran.stdout)["url"] == redis_server_per_module.url()


class TestFaultyServers:
    def test_requirepass_without_password_counts_auth(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """A server with requirepass and no password given: every sample fails as auth, exit 1,
        a hint on stderr, no round-trip statistics."""
        server = redis_server_factory(password=SECRET)
        code, summary, stderr = ping_json("-c", "3", "-i", "0", "--redis-url", server.url())
        assert code == 1
        assert (summary["sent"], summary["ok"], summary["failed"]) == (3, 0, 3)
        assert summary["errors"] == {"auth": 3}
        assert summary["roundTripMs"] is None
        assert "cpa-ops ping: 3 of 3 samples failed [auth]: set the right password" in stderr

    def test_wrong_password_is_auth_and_never_echoed(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """A wrong password: auth errors; the password appears nowhere in the output."""
        server = redis_server_factory(password="the-right-one")
        url = f"redis://:{SECRET}@127.0.0.1:{server.port}/0"
        ran = run_cpa_ops("ping", "-c", "2", "-i", "0", "--redis-url", url)
        assert ran.returncode == 1
        assert "errors: auth 2" in ran.stdout
        assert "redis://:***@127.0.0.1" in ran.stdout
        assert SECRET not in ran.stdout + ran.stderr

    def test_right_password_passes(self, redis_server_factory: Callable[..., RedisServer]) -> None:
        """The same server with the right password in the URL: all ok."""
        server = redis_server_factory(password=SECRET)
        url = f"redis://:{SECRET}@127.0.0.1:{server.port}/0"
        code, summary, _ = ping_json("-c", "3", "-i", "0", "--redis-url", url)
        assert code == 0
        assert summary["ok"] == 3
        assert SECRET not in json.dumps(summary)

    def test_frozen_server_counts_read_timeouts_within_the_timeout(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """A SIGSTOPped server: each sample times out after --timeout (counted read_timeout),
        the run bounded by count x timeout."""
        server = redis_server_factory()
        server.freeze()
        started = time.monotonic()
        code, summary, _ = ping_json(
            "-c", "3", "-i", "0", "--timeout", "0.3", "--redis-url", server.url()
        )
        elapsed = time.monotonic() - started
        assert code == 1
        assert summary["errors"] == {"read_timeout": 3}
        assert summary["ok"] == 0
        assert elapsed < 0.9 + 1.5  # three 0.3 s samples plus process start-up

    def test_loading_server_counts_loading(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """A server loading its dataset answers LOADING: counted as loading errors, exit 1."""
        server = redis_server_factory("--enable-debug-command", "local")
        server.start_loading()
        code, summary, stderr = ping_json("-c", "3", "-i", "0.05", "--redis-url", server.url())
        assert code == 1
        assert summary["errors"] == {"loading": 3}
        assert "[loading]" in stderr

    def test_max_clients_counted(self, redis_server_factory: Callable[..., RedisServer]) -> None:
        """maxclients 1 with one client holding it: every sample fails as max_clients."""
        import socket

        server = redis_server_factory("--maxclients", "1")
        with socket.create_connection(("127.0.0.1", server.port)) as holder:
            holder.sendall(b"PING\r\n")
            assert holder.recv(16) == b"+PONG\r\n"
            code, summary, _ = ping_json("-c", "2", "-i", "0", "--redis-url", server.url())
        assert code == 1
        assert summary["errors"] == {"max_clients": 2}

    def test_tls_trusted_and_untrusted(
        self, redis_server_factory: Callable[..., RedisServer], tmp_path: Path
    ) -> None:
        """Over TLS (certificates made here): with the CA the PINGs pass on the TLS stream;
        without it every sample fails as tls."""
        import trustme

        from tests.servers.net import free_port

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
        cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
        tls_port = free_port()
        redis_server_factory(
            "--tls-port", str(tls_port),
            "--tls-cert-file", str(tmp_path / "cert.pem"),
            "--tls-key-file", str(tmp_path / "key.pem"),
            "--tls-ca-cert-file", str(tmp_path / "ca.pem"),
            "--tls-auth-clients", "no",
        )  # fmt: skip
        url = f"rediss://127.0.0.1:{tls_port}/0"
        code, summary, _ = ping_json(
            "-c", "3", "-i", "0", "--redis-url", f"{url}?ssl_ca_certs={tmp_path / 'ca.pem'}"
        )
        assert code == 0
        assert summary["ok"] == 3 and summary["connectMs"]["count"] == 1
        code, summary, _ = ping_json("-c", "2", "-i", "0", "--redis-url", url)
        assert code == 1
        assert summary["errors"] == {"tls": 2}

    def test_refused_port(self, refused_port: int) -> None:
        """Nothing listening: refused, exit 1."""
        url = f"redis://127.0.0.1:{refused_port}/0"
        code, summary, _ = ping_json("-c", "2", "-i", "0", "--redis-url", url)
        assert code == 1
        assert summary["errors"] == {"refused": 2}
        assert summary["connectMs"] is None


class TestSignals:
    def test_ctrl_c_prints_the_summary_so_far_and_exits_130(
        self,
        redis_server_factory: Callable[..., RedisServer],
        background: Callable[..., Background],
    ) -> None:
        """Until Ctrl-C: samples flow; freezing the server gives timeouts, thawing it a
        reconnect; SIGINT then prints the summary with both counted, exit 130, no traceback."""
        server = redis_server_factory()
        run = background(
            "ping", "-c", "0", "-i", "0.05", "--timeout", "0.25", "--redis-url", server.url()
        )
        run.wait_for(lambda line: line.startswith("seq=3 "))
        server.freeze()
        run.wait_for(lambda line: "[read_timeout]" in line)
        server.thaw()
        reconnected = run.wait_for(lambda line: "connect=" in line and "rtt=" in line)
        assert not reconnected.startswith("seq=1 ")
        code, rest, stderr = run.stop(signal.SIGINT)
        assert code == 130
        assert "Traceback" not in stderr
        assert "--- redis://127.0.0.1" in rest
        counts = re.search(r"(\d+) sent, (\d+) ok, (\d+) failed", rest)
        assert counts, rest
        sent, ok, failed = map(int, counts.groups())
        assert sent == ok + failed and ok >= 4 and failed >= 1
        assert re.search(r"errors: read_timeout \d+", rest)
        assert re.search(r"connect: [2-9]\d* connects", rest)

    def test_sigterm_prints_the_summary_and_exits_143(
        self, redis_server_per_module: RedisServer, background: Callable[..., Background]
    ) -> None:
        """SIGTERM: the JSON summary so far (interrupted) and exit 143, no traceback."""

        def pings_answered() -> int:
            with redis_server_per_module.client() as side:
                stats = side.info("commandstats").get("cmdstat_ping", "calls=0")
                return int(dict(kv.split("=", 1) for kv in stats.split(","))["calls"])

        before = pings_answered()
        run = background(
            "ping", "-i", "0.05", "--format", "json", "--redis-url", redis_server_per_module.url()
        )
        # JSON output shows nothing until the end: wait for the server to have answered pings
        # (on a busy machine the start-up alone can take longer than a fixed sleep)
        wait_until(lambda: pings_answered() >= before + 4, 10, "ping sampling")
        code, rest, stderr = run.stop(signal.SIGTERM)
        assert code == 143
        assert "Traceback" not in stderr
        summary = json.loads(rest)
        assert summary["interrupted"] is True
        assert summary["sent"] >= 2 and summary["ok"] == summary["sent"]


class TestTerminal:
    def test_live_coloured_lines_on_a_tty(
        self, redis_server_per_module: RedisServer, on_terminal: Callable[..., OnTerminal]
    ) -> None:
        """On a terminal each sample appears as a coloured line as it arrives, then the summary."""
        run = on_terminal(
            "ping", "-c", "3", "-i", "0.2", "--redis-url", redis_server_per_module.url()
        )
        early = run.read_until(b"seq=1 ")
        assert b"3 sent" not in early  # the line arrived before the run was over
        assert run.finish() == 0
        text = run.text
        assert ANSI.search(text)
        assert "seq=3 " in text
        assert "3 sent, 3 ok, 0 failed" in text

    def test_ctrl_c_on_a_tty_prints_the_summary(
        self, redis_server_per_module: RedisServer, on_terminal: Callable[..., OnTerminal]
    ) -> None:
        """Ctrl-C on a terminal: the live view is taken down, the summary so far printed,
        exit 130, no traceback."""
        run = on_terminal("ping", "-i", "0.1", "--redis-url", redis_server_per_module.url())
        run.read_until(b"seq=3 ")
        run.proc.send_signal(signal.SIGINT)
        assert run.finish() == 130
        text = run.text
        assert "ping statistics ---" in text
        assert re.search(r"\d+ sent, \d+ ok, 0 failed", text)
        assert "Traceback" not in text

    def test_no_color_is_obeyed_on_a_tty(
        self, redis_server_per_module: RedisServer, on_terminal: Callable[..., OnTerminal]
    ) -> None:
        """NO_COLOR: no colour codes in the sample lines, even on a terminal."""
        env = clean_env(TERM="xterm", NO_COLOR="1")
        run = on_terminal(
            "ping", "-c", "2", "-i", "0", "--redis-url", redis_server_per_module.url(), env=env
        )
        assert run.finish() == 0
        text = run.text
        assert "2 sent, 2 ok" in text
        assert not re.search(r"\x1b\[[0-9;]*m", text)


class TestUsage:
    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (["-c", "-1"], "'-1' is not a count of samples"),
            (["-c", "many"], "'many' is not a count of samples"),
            (["-c", "1.5"], "'1.5' is not a count of samples"),
            (["-i", "soon"], "'soon' is not accepted"),
            (["-i", "-1"], "'-1' is not accepted"),
            (["--timeout", "0"], "out of range"),
            (["--format", "xml"], "'xml' is not one of"),
            (["--redis-url", "http://x:6379"], "REDIS_URL has 'http://'"),
        ],
    )
    def test_bad_usage_is_one_line_exit_2(self, args: list[str], expected: str) -> None:
        """Each bad option: one stderr line naming it, exit 2, nothing on stdout."""
        ran = run_cpa_ops("ping", "-c", "1", *args)
        assert ran.returncode == 2
        lines = [line for line in ran.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, ran.stderr
        assert expected in lines[0]
        assert ran.stdout == ""
