"""Real Redis Cluster and Sentinel set-ups on loopback for the topology tests.

Every process is started on a free loopback port with its own directory and config, and stopped
by PID in :meth:`stop_all` (SIGKILL, also for SIGSTOPped nodes), however the test ended. The
nodes are spoken to with the harness's own RESP client (tests/servers/resp.py); redis-cli is
needed only for ``--cluster create``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers.net import LOOPBACK, free_port, wait_until
from tests.servers.redis_faults import TlsFiles, redis_server_path
from tests.servers.resp import RawRedis, command_text

MASTER_NAME = "mymaster"
#: how long a node may be silent before the cluster calls it failed (cluster-node-timeout)
CLUSTER_NODE_TIMEOUT_MS = 1000
#: how long a master may be silent before a sentinel calls it down (down-after-milliseconds)
SENTINEL_DOWN_AFTER_MS = 1000
# every data node runs with repl-diskless-sync-delay 0: a replica syncs at once, not after 5 s


@dataclass
class Node:
    """One redis-server (or sentinel) process we own, stopped by PID."""

    port: int
    directory: Path
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None
    frozen: bool = False
    #: its requirepass: the harness AUTHs with it (None: no password)
    password: str | None = None

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Node:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "stdout.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            self.proc = subprocess.Popen(
                [redis_server_path(), *self.args],
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        self.frozen = False
        wait_until(self._answers_ping, 10, f"redis on port {self.port} answers", interval=0.1)
        return self

    def _answers_ping(self) -> bool:
        if not self.running:
            raise RuntimeError(f"redis on port {self.port} exited: see {self.directory}")
        try:
            with RawRedis.connect(self.port, timeout=0.5, password=self.password) as conn:
                return bool(conn.call("PING") == "PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL by PID and reap; a no-op when not running."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.frozen = False

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, nothing answers."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.proc is not None and self.frozen and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def ask(self, *args: object) -> str:
        """One command's reply as text (:func:`command_text`), authenticated as it needs."""
        return command_text(self.port, *args, password=self.password)


@dataclass
class ClusterSetup:
    """Three masters (``redis-cli --cluster create``) and one replica of the first master;
    every node also gets ``server_args`` (``"--rename-command", "HELLO", ""``, a ``--user``).

    With ``tls``, every node also listens on a TLS port and speaks TLS on the cluster bus and
    for replication (``tls-cluster yes``, as managed clusters with in-transit encryption do):
    clients see the TLS ports (:attr:`seed_urls`, :meth:`client_address`) while the harness
    keeps using the plain ones (:attr:`Node.port`)."""

    base: Path
    server_args: tuple[str, ...] = ()
    tls: TlsFiles | None = None
    #: a node's plain port -> its TLS port (the one its cluster bus port derives from)
    tls_ports: dict[int, int] = field(default_factory=dict)
    masters: list[Node] = field(default_factory=list)
    replica: Node | None = None
    #: replicas added by :meth:`add_replica_waiting_for_sync` (stopped with the rest)
    unsynced: list[Node] = field(default_factory=list)

    @property
    def nodes(self) -> list[Node]:
        return [*self.masters, *([self.replica] if self.replica else []), *self.unsynced]

    @property
    def seed_urls(self) -> str:
        if self.tls is None:
            return ",".join(node.url for node in self.masters)
        ca = f"?ssl_ca_certs={self.tls.ca}"
        return ",".join(f"rediss://{self.client_address(n)}/0{ca}" for n in self.masters)

    def client_address(self, node: Node) -> str:
        """The address clients know ``node`` by (its TLS port in a TLS cluster)."""
        return f"{LOOPBACK}:{self.tls_ports.get(node.port, node.port)}"

    def _new_node(self) -> Node:
        """A node on free ports: the port the bus derives from (+10000) is kept free too."""
        if self.tls is None:
            return self._node(free_port(with_bus=True))
        plain, tls_port = free_port(), free_port(with_bus=True)
        self.tls_ports[plain] = tls_port
        node = self._node(plain)
        node.args += [
            "--tls-port", str(tls_port),
            "--tls-cert-file", str(self.tls.cert),
            "--tls-key-file", str(self.tls.key),
            "--tls-ca-cert-file", str(self.tls.ca),
            "--tls-auth-clients", "no",
            "--tls-cluster", "yes",
            "--tls-replication", "yes",
        ]  # fmt: skip
        return node

    def _node(self, port: int) -> Node:
        directory = self.base / f"node-{port}"
        return Node(
            port,
            directory,
            [
                "--port", str(port),
                "--bind", LOOPBACK,
                "--dir", str(directory),
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", str(CLUSTER_NODE_TIMEOUT_MS),
                "--save", "",
                "--appendonly", "no",
                "--repl-diskless-sync-delay", "0",
                "--protected-mode", "no",
                "--logfile", "redis.log",
                *self.server_args,
            ],
        )  # fmt: skip

    def start(self) -> ClusterSetup:
        # each node is recorded before it starts, so stop_all finds it if start-up fails
        for _ in range(3):
            self.masters.append(self._new_node())
            self.masters[-1].start()
        tls = ["--tls", "--cacert", str(self.tls.ca)] if self.tls else []
        created = subprocess.run(
            ["redis-cli", *tls, "--cluster", "create",
             *(self.client_address(n) for n in self.masters), "--cluster-yes"],
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout[-500:]}")
        self.replica = self._new_node()
        self.replica.start()
        first = self.masters[0]
        first_port = self.client_address(first).rpartition(":")[2]  # its bus is that + 10000
        command_text(self.replica.port, "CLUSTER", "MEET", LOOPBACK, first_port)
        first_id = command_text(first.port, "CLUSTER", "MYID")
        replica = self.replica
        wait_until(
            lambda: first_id in command_text(replica.port, "CLUSTER", "NODES"),
            10,
            "the replica learns the cluster",
            interval=0.1,
        )
        command_text(self.replica.port, "CLUSTER", "REPLICATE", first_id)
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 20) -> None:
        """Every node answers, says cluster_state:ok, and the replica's link is up.

        Every node also knows every other by gossip, connected and with no handshake or failure
        flag: a node that has not yet heard of the replica would name only three nodes to a
        probe, and the verdict would differ from run to run.
        """

        def settled_view(port: int) -> bool:
            lines = command_text(port, "CLUSTER", "NODES").splitlines()
            if len(lines) != len(self.nodes):
                return False
            for line in lines:
                parts = line.split()
                flags = set(parts[2].split(",")) if len(parts) > 7 else {"?"}
                if flags & {"handshake", "fail", "fail?", "noaddr", "?"} or parts[7] != "connected":
                    return False
            return True

        def healthy() -> bool:
            for node in self.nodes:
                if "cluster_state:ok" not in command_text(node.port, "CLUSTER", "INFO"):
                    return False
                if not settled_view(node.port):
                    return False
            replicas = [
                n for n in self.nodes if "role:slave" in command_text(n.port, "INFO", "replication")
            ]
            return len(replicas) == 1 and all(
                "master_link_status:up" in command_text(n.port, "INFO", "replication")
                for n in replicas
            )

        wait_until(healthy, timeout, "the cluster is healthy", interval=0.2)

    def restore(self) -> None:
        """Bring every killed or frozen node back and wait until the cluster is healthy."""
        for node in self.nodes:
            node.thaw()
            if not node.running:
                node.start()
        self.wait_healthy()

    def add_replica_waiting_for_sync(self, timeout: float = 20) -> Node:
        """A replica of the second master whose sync that master puts off for 60 s (diskless,
        repl-diskless-sync-delay 60, as SentinelSetup.add_replica_waiting_for_sync): no sync
        completed; returned once every node knows it, connected. Only for a set-up of its own:
        :meth:`wait_healthy` expects one replica."""
        master = self.masters[1]
        _hold_syncs_back(master.port)
        node = self._new_node()
        self.unsynced.append(node)  # recorded before it starts: stop_all finds it
        node.start()
        master_port = self.client_address(master).rpartition(":")[2]
        command_text(node.port, "CLUSTER", "MEET", LOOPBACK, master_port)
        master_id = command_text(master.port, "CLUSTER", "MYID")
        wait_until(
            lambda: master_id in command_text(node.port, "CLUSTER", "NODES"),
            10,
            "the new replica learns the cluster",
            interval=0.1,
        )
        command_text(node.port, "CLUSTER", "REPLICATE", master_id)
        _wait_sync_held_back(master.port, node.port)

        def known_everywhere() -> bool:
            return all(
                any(
                    line.split()[1].startswith(node.address) and "connected" in line
                    for line in command_text(n.port, "CLUSTER", "NODES").splitlines()
                )
                for n in self.nodes
            )

        wait_until(known_everywhere, timeout, "every node knows the new replica", interval=0.2)
        return node

    def master_without_replica(self) -> Node:
        """A master with no replica: killing it leaves slots unserved."""
        for node in self.nodes:
            info = command_text(node.port, "INFO", "replication")
            if "role:master" in info and "connected_slaves:0" in info:
                return node
        raise RuntimeError("every master has a replica")

    def stop_all(self) -> None:
        for node in self.nodes:
            node.kill()


@dataclass
class SentinelSetup:
    """One master, one replica, three sentinels (quorum 2), each with its own config file.

    ``sentinel_password``: every sentinel's requirepass (and sentinel-pass, so they talk to each
    other); ``data_password``: the master's and replica's requirepass and masterauth (and the
    sentinels' auth-pass for the master). Bitnami's chart gives both the same password.

    With ``tls``, every process also listens on a TLS port and speaks TLS to the others
    (``tls-replication yes``: replica to master, sentinels to the data nodes and to each other):
    the sentinels monitor the master's TLS port, and the replica and the sentinels announce
    their TLS ports (Redis does so by itself under tls-replication), so what the sentinels name
    to clients (:attr:`sentinel_addresses`, :meth:`client_address`) is TLS throughout; the
    harness keeps using the plain ports (:attr:`Node.port`).
    """

    base: Path
    sentinel_password: str | None = None
    data_password: str | None = None
    tls: TlsFiles | None = None
    #: a process's plain port -> its TLS port
    tls_ports: dict[int, int] = field(default_factory=dict)
    master: Node | None = None
    replica: Node | None = None
    sentinels: list[Node] = field(default_factory=list)
    #: replicas added by :meth:`add_replica_waiting_for_sync` (stopped with the rest)
    unsynced: list[Node] = field(default_factory=list)

    @property
    def data_nodes(self) -> list[Node]:
        return [n for n in (self.master, self.replica, *self.unsynced) if n is not None]

    @property
    def sentinel_addresses(self) -> str:
        """The sentinels as clients know them (their TLS ports in a TLS set-up)."""
        return ",".join(self.client_address(s) for s in self.sentinels)

    def client_address(self, node: Node) -> str:
        """The address clients know ``node`` by (its TLS port in a TLS set-up)."""
        return f"{LOOPBACK}:{self.client_port(node.port)}"

    def client_port(self, port: int) -> int:
        return self.tls_ports.get(port, port)

    def _tls_settings(self, port: int) -> list[tuple[str, str]]:
        """The TLS settings of the process on plain ``port`` (none without ``tls``); its TLS
        port is recorded in :attr:`tls_ports`."""
        if self.tls is None:
            return []
        self.tls_ports[port] = free_port()
        return [
            ("tls-port", str(self.tls_ports[port])),
            ("tls-cert-file", str(self.tls.cert)),
            ("tls-key-file", str(self.tls.key)),
            ("tls-ca-cert-file", str(self.tls.ca)),
            ("tls-auth-clients", "no"),
            ("tls-replication", "yes"),
        ]

    def _data_node(self, port: int, *extra: str) -> Node:
        directory = self.base / f"redis-{port}"
        password = self.data_password
        auth = ("--requirepass", password, "--masterauth", password) if password else ()
        tls = [arg for name, value in self._tls_settings(port) for arg in (f"--{name}", value)]
        return Node(
            port,
            directory,
            ["--port", str(port), "--bind", LOOPBACK, "--dir", str(directory), "--save", "",
             "--appendonly", "no", "--protected-mode", "no", "--logfile", "redis.log",
             "--repl-diskless-sync-delay", "0", *auth, *tls, *extra],
            password=password,
        )  # fmt: skip

    def start(self) -> SentinelSetup:
        master_port = free_port()
        self.master = self._data_node(master_port)
        self.master.start()
        # the replica and the sentinels reach the master where they speak its protocol
        master_client_port = self.client_port(master_port)
        self.replica = self._data_node(
            free_port(), "--replicaof", LOOPBACK, str(master_client_port)
        )
        self.replica.start()
        for _ in range(3):
            port = free_port()
            directory = self.base / f"sentinel-{port}"
            directory.mkdir(parents=True)
            config = directory / "sentinel.conf"  # sentinel rewrites it: one writable file each
            tls = "".join(f"{name} {_quoted(value)}\n" for name, value in self._tls_settings(port))
            config.write_text(
                f"port {port}\nbind {LOOPBACK}\ndir {directory}\nlogfile sentinel.log\n"
                f"protected-mode no\n{tls}"
                f"sentinel monitor {MASTER_NAME} {LOOPBACK} {master_client_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {SENTINEL_DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n" + self._sentinel_auth_lines()
            )
            self.sentinels.append(
                Node(port, directory, [str(config), "--sentinel"], password=self.sentinel_password)
            )
            self.sentinels[-1].start()
        self.wait_settled()
        return self

    def _sentinel_auth_lines(self) -> str:
        """sentinel.conf lines for the passwords: the sentinels' own (requirepass, and
        sentinel-pass for talking to each other) and the master's (auth-pass)."""
        lines = ""
        if self.sentinel_password:
            lines += f"requirepass {_quoted(self.sentinel_password)}\n"
            lines += f"sentinel sentinel-pass {_quoted(self.sentinel_password)}\n"
        if self.data_password:
            lines += f"sentinel auth-pass {MASTER_NAME} {_quoted(self.data_password)}\n"
        return lines

    def wait_settled(self, timeout: float = 30) -> None:
        """Every sentinel sees the other two and the replica; CKQUORUM is OK; link up."""

        def settled() -> bool:
            for sentinel in self.sentinels:
                fields = sentinel.ask("SENTINEL", "MASTER", MASTER_NAME).splitlines()
                facts = dict(zip(fields[::2], fields[1::2], strict=False))
                if facts.get("num-other-sentinels") != "2" or facts.get("num-slaves") != "1":
                    return False
                if facts.get("flags") != "master":
                    return False
                if not sentinel.ask("SENTINEL", "CKQUORUM", MASTER_NAME).startswith("OK"):
                    return False
            return all(
                "master_link_status:up" in n.ask("INFO", "replication")
                for n in self.data_nodes
                if "role:slave" in n.ask("INFO", "replication")
            )

        wait_until(settled, timeout, "the sentinels settle", interval=0.2)

    def add_replica_waiting_for_sync(self, timeout: float = 30) -> Node:
        """A second replica whose sync the master puts off for 60 s (diskless,
        repl-diskless-sync-delay 60, as local_and_sync_faults.replica_waiting_for_sync): linked
        to nothing yet, no sync completed; returned once every sentinel lists it. Only for a
        set-up of its own: the sentinels never forget a replica."""
        assert self.master is not None
        master = self.master.port
        _hold_syncs_back(master)
        node = self._data_node(free_port(), "--replicaof", LOOPBACK, str(self.client_port(master)))
        self.unsynced.append(node)  # recorded before it starts: stop_all finds it
        node.start()
        # the master lists a replica by the port it announces (its TLS one under TLS)
        _wait_sync_held_back(master, self.client_port(node.port))
        address = self.client_address(node)

        def listed() -> bool:
            return all(
                address in s.ask("SENTINEL", "REPLICAS", MASTER_NAME) for s in self.sentinels
            )

        wait_until(listed, timeout, "every sentinel lists the new replica", interval=0.2)
        return node

    def master_as_sentinels_see_it(self) -> str:
        reply = self.sentinels[0].ask("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
        return ":".join(reply.splitlines())

    def node_at(self, address: str) -> Node:
        """The data node the sentinels name ``address`` (a TLS address in a TLS set-up)."""
        return next(n for n in self.data_nodes if self.client_address(n) == address)

    def stop_all(self) -> None:
        for node in (*self.sentinels, *self.data_nodes):
            node.kill()


def _quoted(value: str) -> str:
    """``value`` as one argument of a Redis config line (double quotes, escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _hold_syncs_back(master_port: int) -> None:
    """The master on ``master_port`` puts off every new replica's full sync for 60 s."""
    command_text(master_port, "CONFIG", "SET", "repl-diskless-sync", "yes")
    command_text(master_port, "CONFIG", "SET", "repl-diskless-sync-delay", "60")


def _wait_sync_held_back(master_port: int, replica_port: int) -> None:
    wait_until(
        lambda: (
            f"port={replica_port},state=wait_bgsave"
            in command_text(master_port, "INFO", "replication")
        ),
        10,
        "the master holds the new replica's sync back",
        interval=0.1,
    )


@contextlib.contextmanager
def running(setup: ClusterSetup | SentinelSetup) -> Iterator[None]:
    """Start ``setup``; stop every process it started by PID, even when start-up failed."""
    if shutil.which("redis-cli") is None:
        raise RuntimeError(
            "the cluster and sentinel tests need redis-cli on PATH (it comes with redis-server; "
            "Debian/Ubuntu: 'sudo apt-get install redis-tools')"
        )
    try:
        setup.start()
        yield
    finally:
        setup.stop_all()
