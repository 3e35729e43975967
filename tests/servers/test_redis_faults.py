"""The fault harness itself: each fault is really there, seen with a raw RESP socket.

If one of these fails, the cpa-ops fault tests that use the same fixture prove nothing.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.servers import redis_faults as faults
from tests.servers.net import LOOPBACK, free_port, wait_until
from tests.servers.redis_faults import BlackHole, RedisServer, SilentListener, TlsFiles
from tests.servers.redis_fixtures import REDIS_PASSWORD
from tests.servers.redis_topology import Node
from tests.servers.resp import ErrorReply, RawRedis, command_text

pytestmark = pytest.mark.timeout(30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _state(pid: int) -> str:
    """The process state letter from /proc (R, S, T for stopped, ...)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0]


class TestLifecycle:
    def test_healthy_server_answers_and_is_stopped_by_pid(self, tmp_path: Path) -> None:
        """A started server answers PONG on its own port, never 6379, and is gone after exit."""
        with faults.redis_server(workdir=tmp_path) as server, server.client() as conn:
            pid = server.pid
            assert conn.call("PING") == "PONG"
            assert server.port != 6379
            assert server.url() == f"redis://127.0.0.1:{server.port}/0"
        assert not _alive(pid)

    def test_server_is_stopped_when_the_body_fails(self, tmp_path: Path) -> None:
        """An exception inside the context (a failing test) still stops a frozen server."""
        with pytest.raises(RuntimeError, match="test body failed"):  # noqa: SIM117
            with faults.frozen_redis(workdir=tmp_path) as server:
                pid = server.pid
                raise RuntimeError("test body failed")
        assert not _alive(pid)

    def test_server_that_cannot_start_fails_with_its_log(self, tmp_path: Path) -> None:
        """A bad option ends with an error quoting the server's log, within the bounded wait."""
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="did not become ready"):  # noqa: SIM117
            with faults.redis_server("--maxmemory-policy", "no-such-policy", workdir=tmp_path):
                pass
        assert time.monotonic() - started < faults.READY_TIMEOUT

    def test_log_is_written_in_the_tmp_dir(self, redis_server: RedisServer) -> None:
        """Each server logs into its own directory, not the system's."""
        assert "Ready to accept connections" in redis_server.log.read_text()


class TestNet:
    @pytest.mark.parametrize("with_bus", [False, True])
    def test_free_port_can_be_bound(self, with_bus: bool) -> None:
        """The port (and with ``with_bus`` port + 10000, a cluster bus) can be bound at once."""
        port = free_port(with_bus=with_bus)
        ports = [port, port + 10000] if with_bus else [port]
        for each in ports:
            with socket.socket() as probe:
                probe.bind((LOOPBACK, each))
        assert port != 6379

    def test_wait_until_returns_the_first_truthy_value(self) -> None:
        values = iter([None, 0, "", ["ready"]])
        assert wait_until(lambda: next(values), 5, "a value", interval=0) == ["ready"]

    def test_wait_until_names_what_it_waited_for(self) -> None:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"not within 0\.1 s: the moon"):
            wait_until(lambda: False, 0.1, "the moon")
        assert time.monotonic() - started < 2

    def test_wait_until_stops_at_an_exception(self) -> None:
        def broken() -> bool:
            raise RuntimeError("the process exited")

        with pytest.raises(RuntimeError, match="exited"):
            wait_until(broken, 10, "never")


class TestResp:
    def test_command_text_prints_replies_as_redis_cli_would(
        self, redis_server_per_module: RedisServer
    ) -> None:
        """A status and a bulk string as they are, an integer as digits, an array one element a
        line, a nil as nothing, an error as its text."""
        port = redis_server_per_module.port
        assert command_text(port, "PING") == "PONG"
        assert command_text(port, "SET", "harness:k", "v") == "OK"
        assert command_text(port, "GET", "harness:k") == "v"
        assert command_text(port, "DEL", "harness:k") == "1"
        assert command_text(port, "GET", "harness:k") == ""
        assert command_text(port, "CONFIG", "GET", "maxmemory-policy") == (
            "maxmemory-policy\nnoeviction"
        )
        assert command_text(port, "NO-SUCH-COMMAND").startswith("ERR unknown command")
        assert "redis_version:" in command_text(port, "INFO", "server")

    def test_command_text_is_empty_when_nobody_answers(
        self, refused_port: int, silent_listener: SilentListener
    ) -> None:
        """Refused, or accepted and never answered (bounded by ``timeout``): ''."""
        assert command_text(refused_port, "PING") == ""
        started = time.monotonic()
        assert command_text(silent_listener.port, "PING", timeout=0.3) == ""
        assert time.monotonic() - started < 2

    def test_client_list_names_each_connection(self, redis_server_per_module: RedisServer) -> None:
        with (
            RawRedis.connect(redis_server_per_module.port, name="harness-a") as conn,
            RawRedis.connect(redis_server_per_module.port, name="harness-b"),
        ):
            clients = conn.client_list()
            names = [c["name"] for c in clients]
            assert {"harness-a", "harness-b"} <= set(names)
            assert all(c["id"].isdigit() and c["addr"].startswith(LOOPBACK) for c in clients)

    def test_factory_servers_start_loading_on_demand(
        self, redis_server_factory: Callable[..., RedisServer]
    ) -> None:
        """start_loading: -LOADING at once; the DEBUG RELOAD connection is closed at stop."""
        server = redis_server_factory("--enable-debug-command", "local", password=REDIS_PASSWORD)
        server.start_loading(keys=2000, delay_us=1000)
        with server.client() as conn:
            assert conn.call("PING").startswith("LOADING")
        (reloader,) = server.held
        server.stop()
        assert reloader.sock.fileno() == -1
        assert server.process.poll() is not None

    def test_topology_node_starts_answers_and_is_killed(self, tmp_path: Path) -> None:
        """A cluster/sentinel Node is reached with the same RESP client, and stopped by PID."""
        port = free_port()
        args = ["--port", str(port), "--bind", LOOPBACK, "--save", "", "--dir", str(tmp_path)]
        node = Node(port, tmp_path / "node", args).start()
        try:
            assert command_text(node.port, "PING") == "PONG"
            assert node.proc is not None
            pid = node.proc.pid
        finally:
            node.kill()
        assert not _alive(pid)
        assert command_text(port, "PING") == ""


class TestListenerFaults:
    def test_refused_port_refuses(self, refused_port: int) -> None:
        """Nothing listens: a connect is refused at once."""
        started = time.monotonic()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((LOOPBACK, refused_port), timeout=2)
        assert time.monotonic() - started < 0.5

    def test_black_hole_connect_hangs(self, syn_black_hole: BlackHole) -> None:
        """The accept queue is full: a further connect neither completes nor is refused."""
        assert syn_black_hole.fillers, "the queue was filled by connections of ours"
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            socket.create_connection((LOOPBACK, syn_black_hole.port), timeout=0.7)
        assert time.monotonic() - started >= 0.65

    def test_silent_listener_accepts_and_never_answers(
        self, silent_listener: SilentListener
    ) -> None:
        """The connect succeeds and is accepted; PING gets no reply."""
        with (
            RawRedis.connect(silent_listener.port, timeout=0.5) as conn,
            pytest.raises(TimeoutError),
        ):
            conn.call("PING")
        assert silent_listener.accepted >= 1

    def test_http_listener_answers_http_not_resp(self, http_listener: int) -> None:
        """Not Redis: PING draws an HTTP status line, then the connection closes."""
        with RawRedis.connect(http_listener, timeout=2) as conn:
            conn.send("PING")
            assert conn.sock.recv(64).startswith(b"HTTP/1.1 400")


class TestServerFaults:
    def test_frozen_server_accepts_but_never_answers(self, redis_frozen: RedisServer) -> None:
        """SIGSTOP: the process is stopped (state T); the kernel accepts, PING times out."""
        assert _state(redis_frozen.pid) == "T"
        with RawRedis.connect(redis_frozen.port, timeout=0.5) as conn, pytest.raises(TimeoutError):
            conn.call("PING")

    def test_password_server_says_noauth_and_wrongpass(
        self, redis_with_password: RedisServer
    ) -> None:
        """No password: NOAUTH on PING; a wrong one: WRONGPASS; the right one: PONG."""
        with RawRedis.connect(redis_with_password.port) as conn:
            assert conn.call("PING").startswith("NOAUTH")
            assert conn.call("AUTH", "not-the-password").startswith("WRONGPASS")
            assert conn.call("AUTH", REDIS_PASSWORD) == "OK"
            assert conn.call("PING") == "PONG"

    def test_acl_limited_user_gets_noperm(self, redis_acl_limited: RedisServer) -> None:
        """The limited user logs in, and PING answers -NOPERM."""
        with RawRedis.connect(redis_acl_limited.port) as conn:
            assert conn.call("AUTH", faults.LIMITED_USER, REDIS_PASSWORD) == "OK"
            assert conn.call("PING").startswith("NOPERM")

    def test_max_clients_refuses_a_second_client(self, redis_max_clients: RedisServer) -> None:
        """maxclients 1, held by us: a new connection is told so and closed."""
        with RawRedis.connect(redis_max_clients.port) as conn:
            reply = conn.read()
            assert isinstance(reply, ErrorReply)
            assert "max number of clients reached" in reply

    def test_crowded_server_has_8_of_10_clients(self, redis_crowded: RedisServer) -> None:
        """maxclients 10 with 8 idle connections of ours, plus this one: 9 connected."""
        with redis_crowded.client() as conn:
            info = conn.info("clients")
            assert (info["connected_clients"], info["maxclients"]) == ("9", "10")

    def test_loading_server_answers_loading_for_seconds(self, redis_loading: RedisServer) -> None:
        """PING answers -LOADING; INFO shows progress and an ETA, still loading 2 s later."""
        with redis_loading.client() as conn:
            assert conn.call("PING").startswith("LOADING")
            info = conn.info("persistence")
            assert info["loading"] == "1"
            assert 0 <= float(info["loading_loaded_perc"]) < 100
            assert "loading_eta_seconds" in info
            time.sleep(2)
            assert conn.call("PING").startswith("LOADING")

    def test_misconf_server_refuses_ping_and_writes(self, redis_misconf: RedisServer) -> None:
        """The last BGSAVE failed with save points set: PING and SET answer -MISCONF."""
        with redis_misconf.client() as conn:
            assert conn.info("persistence")["rdb_last_bgsave_status"] == "err"
            assert conn.call("PING").startswith("MISCONF")
            assert conn.call("SET", "k", "v").startswith("MISCONF")

    def test_oom_server_pongs_but_refuses_writes(self, redis_oom: RedisServer) -> None:
        """Used memory over maxmemory with noeviction: PING passes, SET answers -OOM."""
        with redis_oom.client() as conn:
            memory = conn.info("memory")
            assert memory["maxmemory_policy"] == "noeviction"
            assert int(memory["used_memory"]) > int(memory["maxmemory"]) > 0
            assert conn.call("PING") == "PONG"
            assert conn.call("SET", "k", "v").startswith("OOM")

    def test_readonly_replica_refuses_writes(self, redis_readonly_replica: RedisServer) -> None:
        """A replica with its link up: PING passes, SET answers -READONLY."""
        with redis_readonly_replica.client() as conn:
            info = conn.info("replication")
            assert (info["role"], info["master_link_status"]) == ("slave", "up")
            assert conn.call("PING") == "PONG"
            assert conn.call("SET", "k", "v").startswith("READONLY")

    def test_masterdown_replica_refuses_ping(self, redis_masterdown_replica: RedisServer) -> None:
        """Link down and replica-serve-stale-data no: PING answers -MASTERDOWN."""
        with redis_masterdown_replica.client() as conn:
            assert conn.info("replication")["master_link_status"] == "down"
            assert conn.call("PING").startswith("MASTERDOWN")

    def test_stale_replica_still_serves(self, redis_stale_replica: RedisServer) -> None:
        """Link down and replica-serve-stale-data yes: PING passes on stale data."""
        with redis_stale_replica.client() as conn:
            assert conn.info("replication")["master_link_status"] == "down"
            assert conn.call("PING") == "PONG"

    def test_write_paused_server_blocks_writes_only(self, redis_write_paused: RedisServer) -> None:
        """CLIENT PAUSE WRITE: PING passes, SET gets no reply."""
        with redis_write_paused.client(timeout=0.5) as conn:
            assert conn.call("PING") == "PONG"
            with pytest.raises(TimeoutError):
                conn.call("SET", "k", "v")


class TestTls:
    def test_trusted_ca_gets_pong(self, redis_tls: RedisServer, tls_files: TlsFiles) -> None:
        """The CA that signed the server certificate verifies it; PING over TLS passes."""
        with RawRedis.connect(redis_tls.port, tls_ca=tls_files.ca) as conn:
            assert conn.call("PING") == "PONG"
        assert redis_tls.url(ca=tls_files.ca).startswith("rediss://127.0.0.1:")

    @pytest.mark.parametrize("trust", ["other-ca", "system"])
    def test_untrusted_ca_fails_verification(
        self, redis_tls: RedisServer, tls_files: TlsFiles, trust: str
    ) -> None:
        """CA-2 or the system's trust store cannot verify a certificate signed by CA-1."""
        context = ssl.create_default_context(
            cafile=str(tls_files.other_ca) if trust == "other-ca" else None
        )
        with (
            socket.create_connection((LOOPBACK, redis_tls.port), timeout=2) as sock,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            context.wrap_socket(sock, server_hostname=LOOPBACK)

    def test_plain_client_on_tls_port_gets_no_reply(self, redis_tls: RedisServer) -> None:
        """Plain RESP to the TLS port: the connection is dropped without a Redis reply."""
        with RawRedis.connect(redis_tls.port, timeout=2) as conn, pytest.raises(ConnectionError):
            conn.call("PING")

    def test_tls_client_on_plain_port_fails_handshake(
        self, redis_server: RedisServer, tls_files: TlsFiles
    ) -> None:
        """A TLS hello to a plain Redis port never completes a handshake.

        Redis takes the hello for the start of an inline command and waits for the rest, so
        the handshake hangs (seen 48 times of 48); a reply would fail it instead.
        """
        with pytest.raises((ssl.SSLError, ConnectionError, TimeoutError)):
            RawRedis.connect(redis_server.port, tls_ca=tls_files.ca, timeout=1)


class TestResolver:
    def _lookup(
        self, resolver_dir: Path, host: str, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        code = (
            "import socket, sys\n"
            f"try:\n    print(socket.getaddrinfo({host!r}, 6379)[0][4][0])\n"
            "except socket.gaierror as exc:\n    print('gaierror', exc.errno); sys.exit(3)\n"
        )
        env = {**os.environ, "PYTHONPATH": str(resolver_dir)}
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout
        )

    def test_failing_resolver_raises_gaierror_for_test_names(
        self, failing_resolver_pythonpath: Path
    ) -> None:
        """``*.invalid-test`` raises gaierror; an address literal still resolves."""
        failed = self._lookup(failing_resolver_pythonpath, "redis.invalid-test", 10)
        assert (failed.returncode, failed.stdout.split()[0]) == (3, "gaierror"), failed.stderr
        passed = self._lookup(failing_resolver_pythonpath, "127.0.0.1", 10)
        assert (passed.returncode, passed.stdout.strip()) == (0, "127.0.0.1"), passed.stderr

    def test_hanging_resolver_never_returns_for_test_names(
        self, hanging_resolver_pythonpath: Path
    ) -> None:
        """``*.invalid-test`` hangs (the lookup is killed after 1.5 s); literals resolve."""
        with pytest.raises(subprocess.TimeoutExpired):
            self._lookup(hanging_resolver_pythonpath, "redis.invalid-test", 1.5)
        passed = self._lookup(hanging_resolver_pythonpath, "127.0.0.1", 10)
        assert (passed.returncode, passed.stdout.strip()) == (0, "127.0.0.1"), passed.stderr
