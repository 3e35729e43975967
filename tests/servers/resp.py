"""The one way the tests talk to a test server: a minimal RESP2 client on the standard library.

Proving a fault is real, setting a server up and reading its state never depend on the client
library cpa-ops itself uses (redis-py).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from pathlib import Path
from typing import Any

from tests.servers.net import LOOPBACK


class ErrorReply(str):
    """An error reply (``-ERR ...``, ``-NOAUTH ...``) as Redis sent it, without the dash."""


class RawRedis:
    """One RESP2 connection made with the standard library only."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._reader = sock.makefile("rb")

    @classmethod
    def connect(
        cls,
        port: int,
        *,
        password: str | None = None,
        tls_ca: Path | None = None,
        timeout: float = 5.0,
        name: str | None = None,
        tls_cert: tuple[Path, Path] | None = None,
    ) -> RawRedis:
        """``tls_cert``: (certificate, key) presented when the server asks for one."""
        sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
        if tls_ca is not None:
            context = ssl.create_default_context(cafile=str(tls_ca))
            if tls_cert is not None:
                context.load_cert_chain(str(tls_cert[0]), str(tls_cert[1]))
            sock = context.wrap_socket(sock, server_hostname=LOOPBACK)
        conn = cls(sock)
        if password is not None:
            conn.check("AUTH", password)
        if name is not None:
            conn.check("CLIENT", "SETNAME", name)
        return conn

    def send(self, *args: Any) -> None:
        """Send one command without reading its reply."""
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(parts))

    def read(self) -> Any:
        """The next reply: str for simple/bulk strings, int, list, None, or ErrorReply."""
        line = self._reader.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return ErrorReply(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            return self._reader.read(size + 2)[:-2].decode(errors="replace")
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self.read() for _ in range(count)]
        raise ConnectionError(f"not a RESP reply: {line[:40]!r}")

    def call(self, *args: Any) -> Any:
        self.send(*args)
        return self.read()

    def check(self, *args: Any) -> Any:
        """Like :meth:`call`, but an error reply raises."""
        reply = self.call(*args)
        if isinstance(reply, ErrorReply):
            raise RuntimeError(f"{args[0]} failed: {reply}")
        return reply

    def info(self, section: str = "default") -> dict[str, str]:
        return parse_info(self.check("INFO", section))

    def client_list(self) -> list[dict[str, str]]:
        """CLIENT LIST, one ``{field: value}`` per connection (``id``, ``name``, ``addr``, ...)."""
        return parse_client_list(self.check("CLIENT", "LIST"))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._reader.close()
            self.sock.close()

    def __enter__(self) -> RawRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_info(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            key, _, value = line.partition(":")
            fields[key] = value
    return fields


def parse_client_list(text: str) -> list[dict[str, str]]:
    return [
        dict(field.split("=", 1) for field in line.split() if "=" in field)
        for line in text.splitlines()
    ]


def command_text(port: int, *args: Any, timeout: float = 2.0, password: str | None = None) -> str:
    """One command on a fresh connection (AUTH ``password`` first, when given); the reply as
    text, the way ``redis-cli`` prints it into a pipe (an array one element a line, an error as
    its text), or '' when the server does not answer (refused, frozen, hung up)."""
    try:
        with RawRedis.connect(port, timeout=timeout, password=password) as conn:
            return reply_text(conn.call(*args))
    except (OSError, ConnectionError):
        return ""


def reply_text(reply: Any) -> str:
    if reply is None:
        return ""
    if isinstance(reply, list):
        return "\n".join(reply_text(item) for item in reply)
    return str(reply)
