"""What became of one envelope: :class:`Verdict` and :class:`Delivery`, from a status or an error.

Plain values, no SDK: the CLI renders them without importing sentry_sdk.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    """How the ingest endpoint answered one envelope (or why it never did)."""

    DELIVERED = "delivered"  #: 2xx
    CONNECTION_REFUSED = "connection_refused"
    UNREACHABLE = "unreachable"  #: no route, name does not resolve, ...
    TLS_ERROR = "tls_error"
    TIMEOUT = "timeout"  #: no answer within the deadline
    CONNECTION_CLOSED = "connection_closed"  #: closed without an HTTP answer
    AUTH_REJECTED = "auth_rejected"  #: 401 or 403: bad key or project
    TOO_LARGE = "too_large"  #: 413
    RATE_LIMITED = "rate_limited"  #: 429
    SERVER_ERROR = "server_error"  #: 5xx
    UNEXPECTED_STATUS = "unexpected_status"  #: any other status
    DROPPED = "dropped"  #: never sent: scrubbing failed, so the event was dropped
    DRY_RUN = "dry_run"  #: not sent on purpose


@dataclass(frozen=True)
class Delivery:
    """What became of one envelope: the verdict, the HTTP status, Retry-After (seconds)."""

    verdict: Verdict
    status: int | None = None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        """The endpoint answered 2xx."""
        return self.verdict is Verdict.DELIVERED


def verdict_for_status(status: int) -> Verdict:
    """The verdict of an HTTP answer with ``status``."""
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status in (401, 403):
        return Verdict.AUTH_REJECTED
    if status == 413:
        return Verdict.TOO_LARGE
    if status == 429:
        return Verdict.RATE_LIMITED
    if 500 <= status < 600:
        return Verdict.SERVER_ERROR
    return Verdict.UNEXPECTED_STATUS


def verdict_for_error(error: BaseException) -> Verdict:
    """The verdict of a request that got no HTTP answer because of ``error`` (urllib3's)."""
    from urllib3 import exceptions

    if isinstance(error, exceptions.NewConnectionError):  # before TimeoutError: it subclasses it
        refused = isinstance(error.__cause__, ConnectionRefusedError)
        return Verdict.CONNECTION_REFUSED if refused else Verdict.UNREACHABLE
    if isinstance(error, exceptions.TimeoutError | TimeoutError):
        return Verdict.TIMEOUT
    if isinstance(error, exceptions.SSLError):
        return Verdict.TLS_ERROR
    if isinstance(error, exceptions.ProtocolError | ConnectionError):
        return Verdict.CONNECTION_CLOSED
    return Verdict.UNREACHABLE
