"""Host names and ``host:port`` addresses: checked without a resolver, split, and written.

REDIS_URL's host, the cluster seeds and REDIS_SENTINELS all go through here (cpa_ops.core.urls,
cpa_ops.core.target, cpa_ops.core.settings); nothing is ever looked up.
"""

from __future__ import annotations

import ipaddress

#: the longest host name DNS carries (RFC 1035)
MAX_HOST_LENGTH = 253


def check_host_name(host: str, *, bracketed: bool = False) -> None:
    """Raise ValueError, without repeating ``host``, unless it is an IP address or a name that
    IDNA can encode (no resolver is asked: nothing is looked up)."""
    if bracketed or ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError("has an invalid IPv6 address") from None
        if any(c.isspace() or not c.isprintable() for c in host):  # in a zone id (%25...)
            raise ValueError("has an invalid IPv6 zone id (a space or a control character)")
        return
    if len(host) > MAX_HOST_LENGTH:
        raise ValueError(f"has a host name longer than {MAX_HOST_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() or c in "/@,[]\\%" for c in host):
        raise ValueError("has a host name with a character a host name cannot hold")
    labels = host.removesuffix(".").split(".")
    if any(not label for label in labels):
        raise ValueError("has a host name with an empty label (as in a..b)")
    try:
        encoded = host.encode("idna")
    except UnicodeError:
        if any(len(label) > 63 for label in labels):
            raise ValueError("has a host name with a label over 63 characters") from None
        raise ValueError("has a host name that IDNA cannot encode") from None
    if any(len(label) > 63 for label in encoded.split(b".")):
        raise ValueError("has a host name with a label over 63 characters")


def check_host_port(address: str) -> tuple[str, int]:
    """A ``host:port`` (``[v6]:port``) someone typed, strictly: ValueError naming the fault
    without repeating the address (it may carry ``user:password@``)."""
    text = address.strip()
    if "@" in text:
        raise ValueError("holds an '@': expected host:port, with no credentials")
    if text.startswith("["):
        host, close, rest = text[1:].partition("]")
        if not close:
            raise ValueError("has an IPv6 address without its closing ']'")
        if not rest.startswith(":"):
            raise ValueError("is not [IPv6]:port")
        port_text = rest[1:]
        check_host_name(host, bracketed=True)
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon or not host:
            raise ValueError("is not host:port")
        if ":" in host:
            raise ValueError("is an IPv6 address without brackets (expected [v6]:port)")
        check_host_name(host)
    if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
        raise ValueError("has an invalid port (expected 1-65535)")
    return host, int(port_text)


def parse_host_port(address: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as a pair; ValueError naming the fault otherwise."""
    host, colon, port_text = address.strip().rpartition(":")
    host = host.strip("[]")
    if not colon or not host or any(c.isspace() or c in "/@," for c in host):
        raise ValueError("is not host:port")
    if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
        raise ValueError("has an invalid port (expected 1-65535)")
    return host, int(port_text)


def format_address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
