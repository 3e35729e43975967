"""The TLS files REDIS_URL names, checked here before connecting (issue 14): a missing CA,
a directory given as a file, a key that does not match its certificate or a wrong passphrase
is this side's fault, named as such (``tls_config``), not the server's.

And after connecting: a server that demands a client certificate (``tls-auth-clients yes``)
rejects one that was not sent (TLS 1.3: a ``certificate required`` alert, or a reset, after
the handshake; TLS 1.2: a handshake failure alert) or not trusted: ``client_cert``.
"""

from __future__ import annotations

import os
import ssl
import stat
from collections.abc import Mapping
from typing import Any

from cpa_ops.core.redis.model import ProbeFailure

#: what each option accepts, as the verdict says it
ACCEPTED = {
    "ssl_ca_certs": "a readable PEM file of CA certificates; a directory goes in ssl_ca_path",
    "ssl_ca_path": "a readable directory of CA certificates; a single file goes in ssl_ca_certs",
    "ssl_certfile": "a readable PEM file holding the client certificate",
    "ssl_keyfile": "a readable PEM file holding the client certificate's private key",
}
_READ_LIMIT = 1 << 20
_CERT_MARK = b"-----BEGIN CERTIFICATE-----"
_KEY_MARK = b"PRIVATE KEY-----"
_ENCRYPTED_MARKS = (b"-----BEGIN ENCRYPTED PRIVATE KEY-----", b"Proc-Type: 4,ENCRYPTED")


class _NoPassphrase(Exception):
    """Raised by the passphrase callback: the key is encrypted and no ssl_password is set (and
    OpenSSL must never prompt on the terminal for one)."""


def _fault(option: str, path: str, what: str) -> ProbeFailure:
    return ProbeFailure("tls_config", f"{option}={path} {what}; expected {ACCEPTED[option]}")


def _file_fault(option: str, path: str, *, directory: bool = False) -> ProbeFailure | None:
    """The fault of ``path`` as ``option``'s file (or directory): missing, wrong kind, not
    readable; None when usable."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        parent = os.path.dirname(os.path.abspath(path))
        missing = "" if os.path.isdir(parent) else f" (nor does its directory {parent})"
        return _fault(option, path, f"does not exist{missing}")
    except PermissionError:
        return _fault(option, path, f"is not reachable by uid {os.geteuid()} (permission denied)")
    except OSError as exc:
        return _fault(option, path, exc.strerror or type(exc).__name__)
    if directory:
        if not stat.S_ISDIR(mode):
            return _fault(option, path, "is not a directory")
        if not os.access(path, os.R_OK | os.X_OK):
            return _fault(option, path, f"is not readable by uid {os.geteuid()}")
        return None
    if stat.S_ISDIR(mode):
        return _fault(option, path, "is a directory, not a file")
    if not stat.S_ISREG(mode):
        return _fault(option, path, "is not a regular file")
    try:
        with open(path, "rb"):
            pass
    except OSError:
        return _fault(option, path, f"is not readable by uid {os.geteuid()} (permission denied)")
    return None


def _head(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read(_READ_LIMIT)


def tls_file_failure(options: Mapping[str, Any]) -> ProbeFailure | None:
    """The ``tls_config`` fault of the TLS files in redis-py connection ``options``
    (``ssl_ca_certs``, ``ssl_ca_path``, ``ssl_certfile``, ``ssl_keyfile``, ``ssl_password``);
    None when they are usable. The passphrase is never part of the text."""
    ca_certs, ca_path = options.get("ssl_ca_certs"), options.get("ssl_ca_path")
    certfile, keyfile = options.get("ssl_certfile"), options.get("ssl_keyfile")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_certs:
        fault = _file_fault("ssl_ca_certs", ca_certs)
        if fault is not None:
            return fault
        try:
            context.load_verify_locations(cafile=ca_certs)
        except (ssl.SSLError, ValueError) as exc:
            return _fault("ssl_ca_certs", ca_certs, f"holds no PEM certificate ({_why(exc)})")
    if ca_path:
        fault = _file_fault("ssl_ca_path", ca_path, directory=True)
        if fault is not None:
            return fault
    if keyfile and not certfile:
        alone = "is set without ssl_certfile, the certificate it is for"
        return _fault("ssl_keyfile", keyfile, alone)
    if certfile:
        return _chain_fault(context, certfile, keyfile, options.get("ssl_password"))
    return None


def _chain_fault(
    context: ssl.SSLContext, certfile: str, keyfile: str | None, password: str | None
) -> ProbeFailure | None:
    for option, path in (("ssl_certfile", certfile), ("ssl_keyfile", keyfile)):
        fault = _file_fault(option, path) if path else None
        if fault is not None:
            return fault
    if _CERT_MARK not in _head(certfile):
        return _fault("ssl_certfile", certfile, "holds no PEM certificate")
    key_option, key_path = ("ssl_keyfile", keyfile) if keyfile else ("ssl_certfile", certfile)
    key = _head(key_path)
    if _KEY_MARK not in key:
        missing = "holds no PEM private key" + ("" if keyfile else ": set ssl_keyfile")
        return _fault(key_option, key_path, missing)
    encrypted = any(mark in key for mark in _ENCRYPTED_MARKS)

    def no_passphrase() -> str:
        raise _NoPassphrase

    try:
        context.load_cert_chain(certfile, keyfile, password=password or no_passphrase)
    except _NoPassphrase:
        return _fault(key_option, key_path, "is an encrypted key, and ssl_password is not set")
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            return _fault(key_option, key_path, f"is not the key of the certificate in {certfile}")
        if encrypted and password:
            return _fault(key_option, key_path, "cannot be decrypted with the ssl_password given")
        return _fault(key_option, key_path, f"cannot be loaded ({_why(exc)})")
    return None


def _why(exc: BaseException) -> str:
    """OpenSSL's words without the source position: ``[X509: ...] no certificate found``."""
    return str(exc).split(" (_ssl.c:")[0]


# --------------------------------------------------------------------------------------------
# A server that demands a client certificate

#: the alerts a server sends about the client certificate it was given
_REJECTED_CERT = (
    "UNKNOWN_CA",
    "BAD_CERTIFICATE",
    "CERTIFICATE_UNKNOWN",
    "UNSUPPORTED_CERTIFICATE",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_REVOKED",
)


_HANDSHAKE = 22  # TLS content type
_CERTIFICATE_REQUEST = 13  # TLS handshake message type
_REQUESTED = "_cpa_ops_certificate_requested"


def watch_certificate_request(conn: object, context: Any) -> None:
    """Have ``context`` (an ssl.SSLContext about to shake hands for ``conn``) note on ``conn``
    whether the server sends a CertificateRequest: what tells "the server demands a client
    certificate" from a peer that merely hangs up. Uses the SSLContext's message callback
    (CPython's debugging hook, ``_msg_callback``); where it is missing nothing is noted, and
    :func:`client_cert_failure` falls back on the failure's words."""
    if not isinstance(context, ssl.SSLContext) or not hasattr(context, "_msg_callback"):
        return
    setattr(conn, _REQUESTED, False)

    def noted(
        _sock: Any, direction: str, _version: Any, content_type: Any, msg_type: Any, _data: Any
    ) -> None:
        if (direction, content_type, msg_type) == ("read", _HANDSHAKE, _CERTIFICATE_REQUEST):
            setattr(conn, _REQUESTED, True)

    context._msg_callback = noted


def certificate_requested(conn: object) -> bool | None:
    """Whether the server asked ``conn`` for a client certificate; None when not watched."""
    value = getattr(conn, _REQUESTED, None)
    return value if isinstance(value, bool) else None


def client_cert_failure(
    exc: BaseException,
    chain: list[BaseException],
    options: Mapping[str, Any],
    requested: bool | None = None,
) -> ProbeFailure | None:
    """``client_cert`` when a TLS connection's failure (``exc`` and its ``chain`` of causes) is
    the server ending it over the client certificate: none sent, or not accepted.
    ``requested``: whether the handshake carried a CertificateRequest (None: not known; the
    failure's words then decide alone)."""
    if not options.get("ssl"):
        return None
    upper = " ".join(str(e) for e in chain).upper()
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
        return None  # we refused the server's certificate: ``tls``
    alert = "ALERT" in upper and any(isinstance(e, ssl.SSLError) for e in chain)
    hung_up = any(
        isinstance(e, ConnectionResetError | BrokenPipeError | ssl.SSLEOFError) for e in chain
    )
    hung_up = hung_up or "CONNECTION RESET" in upper or "CLOSED BY SERVER" in upper
    if not (alert or hung_up):
        return None  # a reply (AUTH, HELLO), a timeout...: the server did not end it over TLS
    if requested is False and "CERTIFICATE_REQUIRED" not in upper:
        return None  # it asked for no certificate: the reason lies elsewhere
    # the handshake completed on our side (TLS 1.3), then the server hung up
    after_handshake = "ERROR WHILE READING" in upper or "CLOSED BY SERVER" in upper
    if options.get("ssl_certfile"):
        rejected = alert and any(name in upper for name in _REJECTED_CERT)
        if rejected or (hung_up and (requested or after_handshake)):
            # an alert, or (TLS 1.3, a race) the reset that follows it: the same words
            return ProbeFailure(
                "client_cert",
                "the server rejected our client certificate (ssl_certfile) during or right "
                "after the TLS handshake: is it signed by a CA in its tls-ca-cert-file, and "
                "still valid (not expired)?",
            )
        return None
    if requested or "CERTIFICATE_REQUIRED" in upper:
        return ProbeFailure(
            "client_cert",
            "the server asked for a client certificate in the TLS handshake, none was sent "
            "(ssl_certfile is not set), and it ended the connection",
        )
    if "ALERT_HANDSHAKE_FAILURE" in upper:
        # TLS 1.2: the server ends the handshake when no certificate comes (or no cipher fits)
        return ProbeFailure(
            "client_cert",
            "handshake failure alert, and no client certificate was sent (ssl_certfile is "
            f"not set; or no common cipher/protocol): {' '.join(str(exc).split())[:300]}",
        )
    if hung_up and after_handshake:
        return ProbeFailure(
            "client_cert",
            "no client certificate was sent (ssl_certfile is not set) and the server ended the "
            "connection right after the TLS handshake, as a TLS 1.3 server with "
            "tls-auth-clients yes does",
        )
    return None
