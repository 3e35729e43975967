"""The exit-code contract of cpa-ops, in one place (documented in README.md)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What ``cpa-ops`` exits with."""

    OK = 0  #: every check passed or warned; the command did its job
    UNHEALTHY = 1  #: a check failed, a sample failed, delivery failed, --wait ran out
    USAGE = 2  #: bad arguments, environment, .env file or configuration
    INTERRUPTED = 130  #: SIGINT (Ctrl-C)
    TERMINATED = 143  #: SIGTERM


class NagiosCode(IntEnum):
    """Exit codes of ``--format nagios`` (Nagios plugin guidelines)."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class Terminated(BaseException):
    """Raised in the main thread on SIGTERM (a BaseException, like KeyboardInterrupt, so that
    ``except Exception`` does not swallow it); ``cpa_ops.cli.main`` exits 143."""
