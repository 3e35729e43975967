"""A fake Redis on loopback whose replies try to drive the terminal that shows them.

It speaks just enough RESP for redis-py's handshake (HELLO 3, CLIENT SETNAME/SETINFO, SELECT),
PING, INFO and the sentinel and cluster commands the probe sends; which of them answer with an
error reply or a value full of escape sequences is the scenario's choice. Threads, one per
connection, stopped (and joined) when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.servers.net import LOOPBACK

#: one of each: an OSC window title ended by BEL, a CSI clear-screen and cursor-home, a C1 CSI
#: (U+009B, two bytes in UTF-8) colouring red, a bare BEL, a right-to-left override, a NUL
EVIL = "\x1b]0;pwned\x07\x1b[2J\x1b[H\u009b31mred\x07\u202etxt.exe\x00end"
#: the raw characters a person's terminal must never receive from the reply text above
RAW_CONTROLS = ("\x1b", "\x07", "\u009b", "\u202e", "\x00")

#: a command (its first word or two, upper case) -> its reply (RESP bytes)
Script = dict[str, bytes]
Reply = Callable[[list[bytes]], bytes]


def error(text: str, prefix: str = "ERR") -> bytes:
    """A RESP error reply (``-ERR text``); CR and LF would end it early, so they go."""
    line = f"{prefix} {text}".replace("\r", " ").replace("\n", " ")
    return f"-{line}\r\n".encode()


def bulk(text: str) -> bytes:
    data = text.encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


def array(*items: bytes) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(items)


OK = b"+OK\r\n"
#: a script's "reply" that closes the connection instead (a proxy dropping a command)
HANG_UP = b""
PONG = b"+PONG\r\n"
HELLO_3 = b"%1\r\n$5\r\nproto\r\n:3\r\n"  # enough of a RESP3 HELLO map for redis-py
HANDSHAKE: Script = {"HELLO": HELLO_3, "CLIENT SETNAME": OK, "CLIENT SETINFO": OK, "SELECT": OK}


def info_reply(text: str = EVIL) -> bytes:
    """An INFO whose free-text fields carry ``text``; the numbers stay numbers."""
    return bulk(
        "# Server\r\n"
        f"redis_version:7.2.4{text}\r\n"
        "# Clients\r\nconnected_clients:1\r\nmaxclients:10000\r\n"
        "# Memory\r\nused_memory:1048576\r\nmaxmemory:0\r\n"
        f"maxmemory_policy:noeviction{text}\r\n"
        f"# Replication\r\nrole:master{text}\r\n"
    )


def scenarios(text: str = EVIL) -> dict[str, Script]:
    """Where the escape sequences come from, by name (every command not named: ``-ERR text``)."""
    return {
        # a Redis 5 answering redis-py's HELLO: the handshake itself fails
        "hello": {"HELLO": error(f"unknown command 'HELLO', with args beginning with: {text}")},
        "ping": {**HANDSHAKE, "PING": error(text)},
        "loading": {**HANDSHAKE, "PING": error(text, "LOADING"), "INFO": info_reply(text)},
        "noauth": {**HANDSHAKE, "PING": error(text, "NOAUTH")},
        "info": {**HANDSHAKE, "PING": PONG, "INFO": info_reply(text)},
        # sentinel and cluster commands are all refused with the text
        "topology": {**HANDSHAKE, "PING": PONG, "INFO": info_reply(text)},
        # a proxy that hangs up on INFO, or on SET (after PING and INFO answered)
        "drops-info": {**HANDSHAKE, "PING": PONG, "INFO": HANG_UP},
        "drops-set": {**HANDSHAKE, "PING": PONG, "INFO": info_reply(""), "SET": HANG_UP},
        # a Redis 5: no HELLO (its error as Redis 5 words it), RESP2 only; SET and DEL work
        "redis5": {
            "HELLO": b"-ERR unknown command `HELLO`, with args beginning with: `3`, \r\n",
            "CLIENT SETNAME": OK,
            "SELECT": OK,
            "PING": PONG,
            "INFO": bulk(
                "# Server\r\nredis_version:5.0.14\r\nredis_mode:standalone\r\n"
                "# Clients\r\nconnected_clients:1\r\nmaxclients:10000\r\n"
                "# Memory\r\nused_memory:1048576\r\nmaxmemory:0\r\n"
                "maxmemory_policy:noeviction\r\n# Replication\r\nrole:master\r\n"
            ),
            "SET": OK,
            "DEL": b":1\r\n",
        },
    }


def script_reply(script: Script, text: str = EVIL) -> Reply:
    def reply(command: list[bytes]) -> bytes:
        words = [part.decode(errors="replace").upper() for part in command[:2]]
        for key in (" ".join(words), words[0] if words else ""):
            if key in script:
                return script[key]
        return error(text)

    return reply


@dataclass
class EvilRedis:
    port: int
    commands: list[list[bytes]]

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"


def _read_command(reader: Any) -> list[bytes] | None:
    """One command: a RESP array of bulk strings, or an inline line; None at EOF."""
    line = reader.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        return line.split()
    parts = []
    for _ in range(int(line[1:])):
        size = int(reader.readline()[1:])
        parts.append(reader.read(size + 2)[:-2])
    return parts


@contextlib.contextmanager
def evil_redis(scenario: str = "ping", *, text: str = EVIL) -> Iterator[EvilRedis]:
    """A fake Redis on a free loopback port answering as ``scenario`` (see :func:`scenarios`)."""
    reply = script_reply(scenarios(text)[scenario], text)
    seen: list[list[bytes]] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(30)
            with contextlib.suppress(OSError, ValueError):
                while (command := _read_command(self.rfile)) is not None:
                    seen.append(command)
                    answer = reply(command)
                    if answer == HANG_UP:
                        return  # the connection closes, no reply
                    self.wfile.write(answer)
                    self.wfile.flush()

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
        block_on_close = False

    server = Server((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="evil-redis")
    thread.daemon = True
    thread.start()
    try:
        yield EvilRedis(int(server.server_address[1]), seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


#: our own SGR colour codes, allowed where colour is on
SGR = r"\x1b\[[0-9;]*m"
#: what Rich's live views move the cursor with: hide/show it, up a line, erase the line, CR
RICH_CURSOR = r"\x1b\[\?25[lh]|\x1b\[[0-9]*[ABK]|\x1b\[[0-9]*G|\r"
_BIDI = {0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def raw_controls(text: str, *allowed: str) -> list[str]:
    """The raw control characters in ``text`` that a terminal would act on, once the sequences
    matching the ``allowed`` patterns (SGR, RICH_CURSOR) are taken out; a newline is allowed."""
    import re

    for pattern in allowed:
        text = re.sub(pattern, "", text)
    return [
        char
        for char in text
        if char != "\n" and (ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 or ord(char) in _BIDI)
    ]
