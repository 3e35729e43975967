"""Real redis-server processes and loopback listeners, each put into one fault.

Used by the tests (through tests/servers/redis_fixtures.py) and by benchmarks/bench_health.py.
Every server listens on a free 127.0.0.1 port, logs into its own directory, waits until ready
within a bounded time, and is stopped by PID when its context exits (SIGCONT first, SIGTERM,
then SIGKILL), whether or not the code inside failed. Nothing here touches port 6379.

The harness speaks RESP itself (:class:`tests.servers.resp.RawRedis`) so that proving a fault
is real never depends on the client library cpa-ops uses; the loopback address, free ports and
polling come from tests/servers/net.py.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers.net import LOOPBACK, free_port, wait_until
from tests.servers.resp import RawRedis

READY_TIMEOUT = 10.0
STOP_GRACE = 3.0


def redis_server_path() -> str:
    """The redis-server binary on PATH, or an error saying how to get it."""
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError("redis-server 7 is needed on PATH: 'sudo apt-get install redis-server'")
    return path


# --------------------------------------------------------------------------------------------
# TLS material made by the suite


@dataclass(frozen=True)
class TlsFiles:
    """A CA, a server certificate it signed for 127.0.0.1, and an unrelated second CA."""

    ca: Path  #: CA-1: signed the server certificate
    cert: Path
    key: Path
    other_ca: Path  #: CA-2: trusts nothing the server presents
    # issue 14: client certificates (for a server with tls-auth-clients yes)
    client_cert: Path | None = None  #: signed by CA-1
    client_key: Path | None = None
    client_key_encrypted: Path | None = None  #: client_key under CLIENT_KEY_PASSWORD
    other_client_cert: Path | None = None  #: signed by CA-2: the server does not trust it
    other_client_key: Path | None = None
    expired_client_cert: Path | None = None  #: signed by CA-1, expired yesterday
    expired_client_key: Path | None = None


#: the passphrase of TlsFiles.client_key_encrypted; asserted absent from all output
CLIENT_KEY_PASSWORD = "k3y-PASS-456"


def make_tls_files(directory: Path) -> TlsFiles:
    import datetime

    import trustme
    from cryptography.hazmat.primitives import serialization

    directory.mkdir(parents=True, exist_ok=True)
    ca, other_ca = trustme.CA(), trustme.CA()
    server = ca.issue_cert(LOOPBACK, "localhost")
    client, other_client = ca.issue_cert("cpa-ops-client"), other_ca.issue_cert("cpa-ops-client")
    files = TlsFiles(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
        directory / "other-ca.pem",
        directory / "client.pem",
        directory / "client.key",
        directory / "client-encrypted.key",
        directory / "other-client.pem",
        directory / "other-client.key",
        directory / "expired-client.pem",
        directory / "expired-client.key",
    )
    now = datetime.datetime.now(datetime.UTC)
    expired = ca.issue_cert(
        "cpa-ops-client",
        not_before=now - datetime.timedelta(days=10),
        not_after=now - datetime.timedelta(days=1),
    )
    expired.cert_chain_pems[0].write_to_path(str(files.expired_client_cert))
    expired.private_key_pem.write_to_path(str(files.expired_client_key))
    ca.cert_pem.write_to_path(str(files.ca))
    server.cert_chain_pems[0].write_to_path(str(files.cert))
    server.private_key_pem.write_to_path(str(files.key))
    other_ca.cert_pem.write_to_path(str(files.other_ca))
    client.cert_chain_pems[0].write_to_path(str(files.client_cert))
    client.private_key_pem.write_to_path(str(files.client_key))
    other_client.cert_chain_pems[0].write_to_path(str(files.other_client_cert))
    other_client.private_key_pem.write_to_path(str(files.other_client_key))
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), None)
    assert files.client_key_encrypted is not None
    files.client_key_encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(CLIENT_KEY_PASSWORD.encode()),
        )
    )
    return files


# --------------------------------------------------------------------------------------------
# redis-server processes


@dataclass
class RedisServer:
    """A running redis-server: where it listens, how to reach it, and its process."""

    port: int
    process: subprocess.Popen[bytes]
    base: Path  #: holds log/ (the log file) and data/ (the --dir)
    password: str | None = None
    tls: TlsFiles | None = None
    frozen: bool = False
    #: connections of ours kept open until the server stops (the DEBUG RELOAD that loads)
    held: list[RawRedis] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log(self) -> Path:
        return self.base / "log" / "redis.log"

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    def url(
        self,
        *,
        password: str | None = None,
        user: str = "",
        scheme: str | None = None,
        db: int = 0,
        ca: Path | None = None,
    ) -> str:
        """A URL to this server with ``user``/``password`` only when given; the scheme follows
        the server's TLS unless ``scheme`` says otherwise; ``ca`` becomes ssl_ca_certs."""
        scheme = scheme or ("rediss" if self.tls else "redis")
        auth = f"{user}:{password}@" if password is not None else ""
        url = f"{scheme}://{auth}{LOOPBACK}:{self.port}/{db}"
        return url + (f"?ssl_ca_certs={ca}" if ca is not None else "")

    def client(self, **kwargs: Any) -> RawRedis:
        """A side connection, authenticated and over TLS as the server needs."""
        tls_ca = self.tls.ca if self.tls else None
        cert = self.tls.client_cert if self.tls else None
        key = self.tls.client_key if self.tls else None
        # presented only when the server asks for one (tls-auth-clients)
        kwargs.setdefault("tls_cert", (cert, key) if cert and key else None)
        return RawRedis.connect(self.port, password=self.password, tls_ca=tls_ca, **kwargs)

    def info(self, section: str = "default") -> dict[str, str]:
        with self.client() as conn:
            return conn.info(section)

    def freeze(self) -> None:
        """SIGSTOP, and wait until the kernel reports the process stopped (signals are async)."""
        os.kill(self.pid, signal.SIGSTOP)
        self.frozen = True
        stat = Path(f"/proc/{self.pid}/stat")
        if stat.exists():
            wait_until(
                lambda: stat.read_text().rpartition(")")[2].split()[0] == "T",
                5,
                f"redis-server {self.pid} is stopped",
            )
        else:  # no /proc (macOS): give the signal a moment
            time.sleep(0.05)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)
        self.frozen = False

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start_loading(self, keys: int = 3000, delay_us: int = 1000, value_size: int = 100) -> None:
        """Put the server into LOADING for about ``keys * delay_us`` microseconds: DEBUG
        POPULATE, a per-key load delay, then DEBUG RELOAD, which answers only when loading is
        over (sent, never read). Needs ``--enable-debug-command local``."""
        with self.client() as conn:
            conn.check("CONFIG", "SET", "loading-process-events-interval-bytes", 1024)
            conn.check("DEBUG", "POPULATE", keys, "cpa-ops-test", value_size)
            conn.check("CONFIG", "SET", "key-load-delay", delay_us)
        reloader = self.client(timeout=120)
        self.held.append(reloader)
        reloader.send("DEBUG", "RELOAD")
        wait_until(self._answers_loading, 10, f"redis-server {self.pid} answers -LOADING")

    def _answers_loading(self) -> bool:
        with self.client() as probe:
            return str(probe.call("PING")).startswith("LOADING")

    def stop(self) -> None:
        """Stop the process by its PID: wake it, ask it, then force it."""
        for conn in self.held:
            conn.close()
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGCONT)
            os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.process.wait(STOP_GRACE)


def _server_args(port: int, base: Path, tls: TlsFiles | None, password: str | None) -> list[str]:
    options = {
        "bind": LOOPBACK,
        "dir": str(base / "data"),
        "logfile": str(base / "log" / "redis.log"),
        "daemonize": "no",
        "protected-mode": "no",
        "save": "",
        "appendonly": "no",
        "port": str(port),
    }
    if tls is not None:
        options |= {
            "port": "0",
            "tls-port": str(port),
            "tls-cert-file": str(tls.cert),
            "tls-key-file": str(tls.key),
            "tls-ca-cert-file": str(tls.ca),
            "tls-auth-clients": "no",
        }
    if password is not None:
        options["requirepass"] = password
    return [arg for name, value in options.items() for arg in (f"--{name}", value)]


@contextlib.contextmanager
def redis_server(
    *extra_args: str,
    password: str | None = None,
    tls: TlsFiles | None = None,
    workdir: Path | None = None,
    ready_timeout: float = READY_TIMEOUT,
    port: int | None = None,
) -> Iterator[RedisServer]:
    """A redis-server on a free loopback port (or ``port``) with ``extra_args``
    (``"--maxclients", "1"``, ...).

    Ready means its log says so and a side connection gets a reply; stopped by PID on exit.
    """
    binary = redis_server_path()
    owned = workdir is None
    root = Path(tempfile.mkdtemp(prefix="cpa-ops-redis-")) if workdir is None else workdir
    try:
        attempts = 1 if port is not None else 3
        for attempt in range(attempts):  # a free port can be taken before redis-server binds it
            base = root / f"redis-{attempt}"
            (base / "log").mkdir(parents=True)
            (base / "data").mkdir()
            listen_port = port or free_port()
            args = [binary, *_server_args(listen_port, base, tls, password), *extra_args]
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            server = RedisServer(listen_port, process, base, password=password, tls=tls)
            try:
                if _wait_ready(server, ready_timeout):
                    yield server
                    return
            finally:
                server.stop()
            if port is not None or "Address already in use" not in server.log_tail(50):
                raise RuntimeError(
                    f"redis-server {' '.join(extra_args)} did not become ready in "
                    f"{ready_timeout} s; its log ends:\n{server.log_tail()}"
                )
        raise RuntimeError(f"redis-server found no free port in {attempts} attempts")
    finally:
        if owned:
            shutil.rmtree(root, ignore_errors=True)


def _wait_ready(server: RedisServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if "Ready to accept connections" in server.log.read_text(errors="replace"):
                with server.client(timeout=1.0) as conn:
                    # a stale replica answers -MASTERDOWN: ready all the same
                    if not str(conn.call("PING")).startswith("LOADING"):
                        return True
        except (OSError, ConnectionError, ssl.SSLError):
            pass
        time.sleep(0.02)
    return False


# --------------------------------------------------------------------------------------------
# Faults without a Redis behind them


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A port that refuses connections: bound but not listening, so nobody else can take it."""
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        yield int(holder.getsockname()[1])


@dataclass
class BlackHole:
    """A listener whose accept queue is full: new SYNs are dropped, so connects hang."""

    port: int
    listener: socket.socket
    fillers: list[socket.socket] = field(default_factory=list)


@contextlib.contextmanager
def syn_black_hole() -> Iterator[BlackHole]:
    """A listener with ``listen(0)`` that is never accepted from, its queue filled first."""
    listener = socket.socket()
    hole = BlackHole(0, listener)
    try:
        listener.bind((LOOPBACK, 0))
        listener.listen(0)
        hole.port = int(listener.getsockname()[1])
        for _ in range(16):  # Linux queues backlog+1 connections; the rest hang
            filler = socket.socket()
            filler.settimeout(0.3)
            try:
                filler.connect((LOOPBACK, hole.port))
            except TimeoutError:
                filler.close()
                break
            hole.fillers.append(filler)
        else:
            raise RuntimeError("the accept queue never filled: connects are not dropped here")
        yield hole
    finally:
        for filler in hole.fillers:
            filler.close()
        listener.close()


@dataclass
class SilentListener:
    """Accepts every connection and never sends a byte."""

    port: int
    accepted: int = 0


@contextlib.contextmanager
def silent_listener() -> Iterator[SilentListener]:
    """A thread accepts connections and holds them open without answering."""
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(64)
    listener.setblocking(False)
    silent = SilentListener(int(listener.getsockname()[1]))
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept_forever() -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            while not stop.is_set():
                for _ in selector.select(timeout=0.05):
                    with contextlib.suppress(BlockingIOError):
                        conn, _ = listener.accept()
                        held.append(conn)
                        silent.accepted += 1

    thread = threading.Thread(target=accept_forever, name="silent-listener", daemon=True)
    thread.start()
    try:
        yield silent
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


@contextlib.contextmanager
def http_listener() -> Iterator[int]:
    """Not Redis: answers whatever it is sent with an HTTP 400 and hangs up."""
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(16)
    listener.settimeout(0.05)
    stop = threading.Event()

    def answer_forever() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(1)
                with contextlib.suppress(OSError):
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_forever, name="http-listener", daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        listener.close()


# --------------------------------------------------------------------------------------------
# Faults of a real redis-server


@contextlib.contextmanager
def frozen_redis(**kwargs: Any) -> Iterator[RedisServer]:
    """A redis-server stopped with SIGSTOP: the kernel still accepts, nobody answers."""
    with redis_server(**kwargs) as server:
        server.freeze()
        try:
            yield server
        finally:
            server.thaw()


#: an ACL user who may log in but run nothing
LIMITED_USER = "cpa-ops-limited"


@contextlib.contextmanager
def acl_limited_redis(password: str, **kwargs: Any) -> Iterator[RedisServer]:
    """A server with user ``cpa-ops-limited`` (``password``) allowed no command: -NOPERM."""
    with redis_server(**kwargs) as server:
        with server.client() as conn:
            conn.check("ACL", "SETUSER", LIMITED_USER, "on", f">{password}", "-@all", "~*")
        yield server


@contextlib.contextmanager
def max_clients_redis(**kwargs: Any) -> Iterator[RedisServer]:
    """``maxclients 1`` with that one slot held by a connection of ours."""
    with redis_server("--maxclients", "1", **kwargs) as server:
        # the readiness check's own connection may not be freed yet: retry until the slot is ours
        holder = wait_until(lambda: _slot_holder(server), 5, "one connection holds the only slot")
        try:
            yield server
        finally:
            holder.close()


def _slot_holder(server: RedisServer) -> RawRedis | None:
    conn = server.client()
    try:
        if conn.call("CLIENT", "SETNAME", "slot-holder") == "OK":
            return conn
    except OSError:
        pass
    conn.close()
    return None


@contextlib.contextmanager
def crowded_redis(maxclients: int = 10, held: int = 8, **kwargs: Any) -> Iterator[RedisServer]:
    """``held`` of ``maxclients`` slots taken by idle connections of ours."""
    with redis_server("--maxclients", str(maxclients), **kwargs) as server:
        holders = [server.client() for _ in range(held)]
        try:
            wait_until(
                lambda: holders[0].info("clients").get("connected_clients") == str(held),
                5,
                f"exactly {held} clients are connected",
            )
            yield server
        finally:
            for holder in holders:
                holder.close()


@contextlib.contextmanager
def loading_redis(
    keys: int = 20_000, load_delay_us: int = 400, **kwargs: Any
) -> Iterator[RedisServer]:
    """A redis-server busy loading its dataset (answers -LOADING) for several seconds.

    DEBUG RELOAD saves then reloads ``keys`` keys, sleeping ``load_delay_us`` per key, and
    serves clients every 1024 bytes loaded; ~8 s with the defaults.
    """
    with redis_server(
        "--enable-debug-command",
        "local",
        "--loading-process-events-interval-bytes",
        "1024",
        **kwargs,
    ) as server:
        server.start_loading(keys, load_delay_us, value_size=16)
        yield server


@contextlib.contextmanager
def misconf_redis(**kwargs: Any) -> Iterator[RedisServer]:
    """Save points configured and the last BGSAVE failed (its --dir was removed): MISCONF."""
    with failed_bgsave_redis(stop_writes=True, **kwargs) as server:
        yield server


@contextlib.contextmanager
def failed_bgsave_redis(*, stop_writes: bool, **kwargs: Any) -> Iterator[RedisServer]:
    """The last BGSAVE failed (its --dir was removed); with ``stop_writes``
    (stop-writes-on-bgsave-error) Redis then refuses writes (MISCONF), without it it goes on.

    Works as root: nobody can create a file in a directory that no longer exists.
    """
    stop = "yes" if stop_writes else "no"
    with redis_server(
        "--save", "3600 1", "--stop-writes-on-bgsave-error", stop, **kwargs
    ) as server:
        shutil.rmtree(server.data_dir)
        with server.client() as conn:
            conn.check("BGSAVE")
            wait_until(
                lambda: (
                    conn.info("persistence").get("rdb_last_bgsave_status") == "err"
                    and conn.info("persistence").get("rdb_bgsave_in_progress") == "0"
                ),
                5,
                "the BGSAVE failed",
            )
        try:
            yield server
        finally:
            # with save points a SIGTERM'd server insists on saving first, and cannot
            with contextlib.suppress(OSError, ConnectionError), server.client(timeout=2) as conn:
                conn.call("CONFIG", "SET", "save", "")


@contextlib.contextmanager
def oom_redis(**kwargs: Any) -> Iterator[RedisServer]:
    """Used memory well over ``maxmemory`` under ``noeviction``: writes answer -OOM."""
    with redis_server("--maxmemory-policy", "noeviction", **kwargs) as server:
        with server.client() as conn:
            conn.check("SET", "cpa-ops-test:ballast", b"x" * (4 << 20))
            conn.check("CONFIG", "SET", "maxmemory", 2 << 20)
        yield server


@contextlib.contextmanager
def readonly_replica(**kwargs: Any) -> Iterator[RedisServer]:
    """A replica of another test server, its link up: writes answer -READONLY."""
    # without the delay the primary waits 5 s for more replicas before a diskless sync
    with (
        redis_server("--repl-diskless-sync-delay", "0") as primary,
        redis_server("--replicaof", LOOPBACK, str(primary.port), **kwargs) as replica,
    ):
        wait_until(
            lambda: replica.info("replication").get("master_link_status") == "up",
            10,
            "the replica's link to its master is up",
        )
        yield replica


@contextlib.contextmanager
def stale_replica(serve_stale: bool, **kwargs: Any) -> Iterator[RedisServer]:
    """A replica whose master port refuses: link down; ``serve_stale`` no answers -MASTERDOWN."""
    with (
        refused_port() as dead,
        redis_server(
            "--replicaof",
            LOOPBACK,
            str(dead),
            "--replica-serve-stale-data",
            "yes" if serve_stale else "no",
            **kwargs,
        ) as replica,
    ):
        yield replica


@contextlib.contextmanager
def write_paused_redis(pause_ms: int = 120_000, **kwargs: Any) -> Iterator[RedisServer]:
    """``CLIENT PAUSE <ms> WRITE``: reads answer, writes block."""
    with redis_server(**kwargs) as server:
        with server.client() as conn:
            conn.check("CLIENT", "PAUSE", pause_ms, "WRITE")
        try:
            yield server
        finally:
            with contextlib.suppress(OSError, ConnectionError), server.client(timeout=2) as conn:
                conn.call("CLIENT", "UNPAUSE")


# --------------------------------------------------------------------------------------------
# A resolver patched inside a Python subprocess

FAKE_DOMAIN = ".invalid-test"

_SITECUSTOMIZE = '''\
"""Test resolver: names ending in {domain} {effect}; every other name resolves as usual."""
import socket
import time

_real_getaddrinfo = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else (host or "")
    if name.rstrip(".").endswith("{domain}"):
        {action}
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo
'''


def patched_resolver_dir(directory: Path, mode: str) -> Path:
    """A directory holding a ``sitecustomize.py`` to put on PYTHONPATH of a Python subprocess.

    ``mode`` "fail": lookups of ``*.invalid-test`` raise socket.gaierror (EAI_NONAME);
    "hang": they never return. No real name is ever looked up because of it.
    """
    actions = {
        "fail": ("fail", 'raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")'),
        "hang": ("never return", "while True:\n            time.sleep(3600)"),
    }
    effect, action = actions[mode]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(
        _SITECUSTOMIZE.format(domain=FAKE_DOMAIN, effect=effect, action=action)
    )
    return directory


@contextlib.contextmanager
def hello_renamed_redis(**kwargs: Any) -> Iterator[RedisServer]:
    """A server with HELLO renamed away, as Redis 5 and older are to redis-py 8: the handshake
    gets ``unknown command 'HELLO', with args beginning with: '3' 'AUTH' '<user>' '<password>'``
    whatever the password, echoing it (the password need not be the server's)."""
    with redis_server("--rename-command", "HELLO", "", **kwargs) as server:
        yield server
