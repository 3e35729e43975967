"""``cpa-ops log-test``: write a fixed showcase of log lines to stdout, as the services would."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Annotated, cast

import typer

from cpa_ops.cli.options import LogFormatChoice, LogLevelOption, showcase_count

if TYPE_CHECKING:
    from cpa_ops.core.choices import LogFormat


EPILOG = """\
Examples:

  What a service's logs look like here (format by ENVIRONMENT, level LOG_LEVEL):
    cpa-ops log-test

  Check that the log pipeline parses every line and redacts the planted PII:
    cpa-ops log-test --format json | jq .

  Load a log shipper with 10,000 showcases:
    cpa-ops log-test --format json --count 10000 > /dev/null
"""


def register(app: typer.Typer) -> None:
    app.command("log-test", epilog=EPILOG, rich_help_panel="Observability")(log_test)


def log_test(
    ctx: typer.Context,
    log_format: Annotated[
        LogFormatChoice | None,
        typer.Option(
            "--format",
            case_sensitive=False,
            help="console or json (default: from ENVIRONMENT: development is console, "
            "staging and production are json).",
            show_default=False,
        ),
    ] = None,
    level: LogLevelOption = None,
    count: Annotated[
        int,
        typer.Option(
            "--count",
            parser=showcase_count,
            metavar="N",
            help="Repeat the showcase N times, to check a log pipeline under load.",
        ),
    ] = 1,
) -> None:
    """Write a showcase of log lines to stdout: levels, correlation ids, an exception with its
    traceback, planted PII (shown redacted) and a stdlib logging record."""
    import sys

    from cpa_ops.cli.options import settings_or_exit
    from cpa_ops.core.logging import configure_logging

    settings = settings_or_exit(ctx)
    stdout = _WatchedStream(sys.stdout)
    configure_logging(
        settings,
        stream=cast("IO[str]", stdout),  # write, flush and isatty are all logging uses
        log_format=cast("LogFormat", log_format.value) if log_format else None,
        level=level,
    )
    for round_number in range(1, count + 1):
        _showcase(round_number)
        if stdout.lost is not None:  # logging swallowed it: the exit code must not
            raise stdout.lost


class _WatchedStream:
    """stdout as logging sees it, remembering a failed write (logging never raises it) as the
    OutputLost that ends the run (the reader went away: exit 141; stdout full: exit 1)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.lost: Exception | None = None

    def write(self, text: str) -> int:
        if self.lost is not None:
            return len(text)  # the rest of this round, into nothing
        try:
            return self._stream.write(text)
        except (OSError, ValueError) as exc:
            self._lose(exc)
            return len(text)

    def flush(self) -> None:
        if self.lost is not None:
            return
        try:
            self._stream.flush()
        except (OSError, ValueError) as exc:
            self._lose(exc)

    def _lose(self, error: Exception) -> None:
        from cpa_ops.cli.exits import output_lost

        self.lost = output_lost(error, self._stream)

    def isatty(self) -> bool:
        return self._stream.isatty()


def _showcase(round_number: int) -> None:
    import logging

    from cpa_ops.core.logging import bind_correlation, get_logger

    log = get_logger("cpa_ops.log_test", showcase_round=round_number)
    log.debug("debug detail, hidden at INFO and above", cache_entries=12)
    log.info("log-test started", purpose="show the log format")
    with bind_correlation(task_id="task-0001-demo", client_id="client-demo-42", agent="intake"):
        log.info("task step finished", step=1, duration_ms=12.5)
        log.info("task step finished", step=2, duration_ms=30.25)
        log.warning("upstream slow, retrying", attempt=2, delay_seconds=0.5)
        log.error("document rejected", document_id="doc-2026-0042", reason="unreadable scan")
        try:
            _fail_on_purpose()
        except ValueError:
            log.exception("task step crashed", step=3)
        log.info(
            "client record received (planted PII, must show redacted)",
            ssn="123-45-6789",
            email="jane.doe@example.com",
            accountNumber="000123456789",
            note="call (555) 123-4567 or jane.doe@example.com; card 4111 1111 1111 1111",
            redis_url="redis://:s3cret-pass@127.0.0.1:6379/0",
        )
        logging.getLogger("cpa_ops.log_test.stdlib").warning(
            "a stdlib logging record, rendered like the rest (round %d)", round_number
        )


def _fail_on_purpose() -> None:
    password = "local-secret-never-logged"  # a local variable: must not appear in the traceback
    raise ValueError(f"demo failure (password length {len(password)})")
