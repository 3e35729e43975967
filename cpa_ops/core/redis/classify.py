"""From an exception (redis-py's, or the socket's and TLS's below it) to a reason code."""

from __future__ import annotations

import socket
import ssl

from cpa_ops.core.redis.handshake import hello_unsupported
from cpa_ops.core.redis.model import ProbeFailure

_AUTH_PREFIXES = ("NOAUTH", "WRONGPASS", "INVALID PASSWORD", "INVALID USERNAME")
_TLS_MISMATCH = ("WRONG_VERSION_NUMBER", "RECORD_LAYER", "PACKET_LENGTH", "HTTP_REQUEST")
#: the reason codes an error reply (not a broken connection) is classified as
REPLY_REASONS = frozenset(
    {
        "auth",
        "loading",
        "max_clients",
        "misconf",
        "masterdown",
        "readonly",
        "oom",
        "error",
        # --- issue 14: ACL, mode, protocol, replies ---
        "denied",
        "write_denied",
        "busy",
        "noreplicas",
        "db_range",
        "resp3_unsupported",
        "protected_mode",
    }
)
#: error replies with a meaning of their own (issue 14): the code Redis sends -> reason
_REPLY_CODES = {"BUSY": "busy", "NOREPLICAS": "noreplicas", "DENIED": "protected_mode"}


def classify_failure(exc: BaseException, *, phase: str) -> ProbeFailure:
    """The reason ``exc`` stands for; ``phase`` is ``connect``, ``read`` or ``write``."""
    from redis import exceptions as rx

    text = one_line(str(exc))
    chain = causes(exc)
    if any(isinstance(e, ConnectionAbortedError) and "handshake" in str(e) for e in chain):
        return ProbeFailure("protocol", f"TLS handshake not answered: {text}")
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
        return ProbeFailure("tls", text)
    for e in chain:
        if isinstance(e, ssl.SSLError):
            if any(m in str(e).upper() for m in _TLS_MISMATCH):
                return ProbeFailure("protocol", text)
            return ProbeFailure("tls", text)
    if isinstance(exc, rx.TimeoutError | TimeoutError | socket.timeout):
        if phase == "connect" and "connecting" in text.lower():
            return ProbeFailure("timeout", text)
        return ProbeFailure("write_timeout" if phase == "write" else "read_timeout", text)
    by_type = (
        (rx.BusyLoadingError, "loading"),
        # NOPERM: the credentials were right, the user's ACL denies the command
        (rx.NoPermissionError, "write_denied" if phase == "write" else "denied"),
        (rx.AuthenticationError, "auth"),
        (rx.MasterDownError, "masterdown"),
        (rx.ReadOnlyError, "readonly"),
        (rx.OutOfMemoryError, "oom"),
    )
    for kind, reason in by_type:
        if isinstance(exc, kind):
            return ProbeFailure(reason, text)
    upper = text.upper()
    code = upper.split(" ", 1)[0]
    if code in _REPLY_CODES:
        return ProbeFailure(_REPLY_CODES[code], text)
    if "DB INDEX IS OUT OF RANGE" in upper:
        return ProbeFailure("db_range", text)
    if isinstance(exc, rx.ResponseError) and hello_unsupported(exc):
        return ProbeFailure("resp3_unsupported", text)
    if isinstance(exc, rx.MovedError | rx.AskError):
        # redis-py keeps only "<slot> <host:port>": name the reply as Redis sent it
        return ProbeFailure("error", f"{exc.status_code or 'MOVED'} {text}")
    if upper.startswith("NOPERM"):
        return ProbeFailure("write_denied" if phase == "write" else "denied", text)
    if "MAX NUMBER OF CLIENTS" in upper:
        return ProbeFailure("max_clients", text)
    if upper.startswith("MISCONF") or "MISCONF" in upper[:20]:
        return ProbeFailure("misconf", text)
    if upper.startswith(_AUTH_PREFIXES) or "CALLED WITHOUT ANY PASSWORD" in upper:
        return ProbeFailure("auth", text)
    for e in chain:
        if isinstance(e, ConnectionRefusedError | FileNotFoundError):
            return ProbeFailure("refused", text)
        if isinstance(e, socket.gaierror):
            return ProbeFailure("dns", text)
        if isinstance(e, OSError) and e.errno in (101, 113):  # ENETUNREACH, EHOSTUNREACH
            return ProbeFailure("unreachable", text)
        if isinstance(e, TimeoutError):
            return ProbeFailure("timeout" if phase == "connect" else "read_timeout", text)
    if "CONNECTION REFUSED" in upper or "ERROR 111 " in upper:
        return ProbeFailure("refused", text)
    if isinstance(exc, rx.InvalidResponse) or "PROTOCOL ERROR" in upper:
        return ProbeFailure("protocol", text)
    if isinstance(exc, rx.ConnectionError | ConnectionError | EOFError):
        if phase != "connect" and hung_up(exc):
            # after a handshake that worked: no mismatch, the peer dropped us (a proxy?)
            return ProbeFailure("closed", text)
        # the peer hung up mid-handshake: not Redis, or plain text into a TLS port
        return ProbeFailure("protocol", text)
    if isinstance(exc, rx.ResponseError):
        return ProbeFailure("error", text)
    return ProbeFailure("error", f"{type(exc).__name__}: {text}")


def classify_reply(text: str, *, phase: str = "read") -> ProbeFailure:
    """An error reply (``-ERR ...`` without its dash) read off the wire, classified as redis-py
    would have raised it, and named as Redis sent it."""
    from redis._parsers.base import BaseParser

    exc = BaseParser.parse_error(text)  # type: ignore[no-untyped-call]
    # classify_failure sees the text without its error code: name the reply as Redis sent it
    return ProbeFailure(classify_failure(exc, phase=phase).reason, text)


def hung_up(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the peer closing the connection."""
    for e in causes(exc):
        if isinstance(e, ConnectionResetError | BrokenPipeError | ssl.SSLEOFError | EOFError):
            return True
        if "closed by server" in str(e).lower() or "connection reset" in str(e).lower():
            return True
    return False


def causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it (``__cause__``, else ``__context__``), at most 10 deep."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def one_line(text: str) -> str:
    return " ".join(text.split())[:300]
