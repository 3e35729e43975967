"""The root ``cpa-ops`` app: global options, one module per command, and the one error
boundary (:func:`run`). The console script comes here from :mod:`cpa_ops.cli` once the deadline
is armed.

Only Typer is imported here; every command imports its heavy modules inside its body, so
``--help``, ``--version`` and each Tab press of shell completion stay fast.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from cpa_ops import __version__
from cpa_ops.cli import config, health, logs, ping, sentry
from cpa_ops.cli.exits import ExitCode, NagiosCode, nagios_wanted, write_line
from cpa_ops.cli.helptext import PanelledGroup, use_plain_help

if TYPE_CHECKING:
    from typer._click.exceptions import ClickException

ROOT_EPILOG = """\
Examples:

  cpa-ops health                      is Redis usable? (exit 0 yes, 1 no)
  cpa-ops ping -c 10                  ten round-trips and their statistics
  cpa-ops config check                are the settings valid? (exit 2 if not)
  cpa-ops log-test                    how the services' logs look here
  cpa-ops sentry-test                 does an event reach Sentry?
  cpa-ops --env-file prod.env health  settings from that file instead of ./.env
  cpa-ops health --help               a command's options and more examples
"""

app = typer.Typer(
    name="cpa-ops",
    cls=PanelledGroup,
    help="Operations tool for the CPA agent platform: Redis, logging and Sentry.",
    epilog=ROOT_EPILOG,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    # plain Click help (see cli/helptext.py): Rich's renderer alone costs ~55 ms a --help
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        # as every result line: a stdout that cannot take it is the exit code, not a crash
        raise typer.Exit(write_line(sys.stdout, f"cpa-ops {__version__}") or ExitCode.OK)


@app.callback()
def root(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            metavar="PATH",
            help="Read settings from this .env file (default: ./.env when present).",
            envvar="CPA_OPS_ENV_FILE",
            show_envvar=True,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Show the version and exit.",
        ),
    ] = False,
) -> None:
    """Operations tool for the CPA agent platform: Redis, logging and Sentry."""
    from cpa_ops.cli.context import cli_context

    cli_context(ctx).env_file = env_file


health.register(app)
ping.register(app)
logs.register(app)
sentry.register(app)
config.register(app)


def run_process(argv: list[str]) -> NoReturn:
    """The real process (``cpa_ops.cli.main``, its watchdog already armed): run, then exit with
    the verdict's code."""
    import signal

    from cpa_ops.cli.deadline import settle_process
    from cpa_ops.cli.exits import Terminated

    def on_sigterm(signum: int, frame: object) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, on_sigterm)
    code = run(argv, process_mode=True)
    code = _flush_quietly() or code
    settle_process(code)
    if "sentry_sdk" not in sys.modules:
        # Nothing left to flush: skip tearing down every imported module (~50 ms a run).
        # (Sentry's atexit hook delivers queued events, so a run that loaded it exits normally.)
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def run(argv: list[str], *, process_mode: bool = False) -> int:
    """Run the app on ``argv``; every error becomes one stderr line and an exit code.

    In-process callers (tests) get the code back; no watchdog, signal handler or exit.
    ``process_mode`` (``main`` only): this is the real process, its deadlines count from
    its start (cpa_ops.cli.startup.PROCESS_STARTED_AT) and a watchdog may end it.
    """
    # typer vendors click; its exception classes live in typer._click (pinned in the lock)
    import time

    from typer import Abort
    from typer._click.exceptions import ClickException, NoArgsIsHelpError

    from cpa_ops.cli.context import CliContext
    from cpa_ops.cli.exits import (
        OutputLost,
        Terminated,
        lost_output_code,
        output_lost,
        reader_gone_in_typer,
    )
    from cpa_ops.cli.startup import process_started_at

    use_plain_help(app)
    prog = "cpa-ops"
    # in-process, deadlines count from this call, not from when cpa_ops was first imported
    started_at = process_started_at() if process_mode else time.monotonic()
    context = CliContext(started_at=started_at, process_mode=process_mode)
    try:
        code = app(args=argv, prog_name=prog, standalone_mode=False, obj=context)
    except SystemExit as exc:
        # a shell-completion round answers, then exits through sys.exit: end it like any run
        code = ExitCode.OK if exc.code is None else exc.code
        code = code if isinstance(code, int) else ExitCode.UNHEALTHY
        code = reader_gone_in_typer() or code
    except NoArgsIsHelpError as exc:
        # bare `cpa-ops`: the help, on stdout like --help (exit 2: no command was given)
        code = write_line(sys.stdout, exc.format_message()) or exc.exit_code
    except ClickException as exc:
        code = _usage_error(exc, argv, prog)
    except (KeyboardInterrupt, Abort):
        write_line(sys.stderr, "\ncpa-ops: interrupted")
        code = ExitCode.INTERRUPTED
    except Terminated:
        write_line(sys.stderr, "\ncpa-ops: terminated")
        code = ExitCode.TERMINATED
    except OutputLost as exc:
        code = lost_output_code(exc, sys.stderr)
    except BrokenPipeError as exc:  # a write to stdout Typer did not catch
        code = lost_output_code(output_lost(exc, sys.stdout), sys.stderr)
    except Exception as exc:  # a bug: say so in one line, never a traceback with secrets in it
        if os.environ.get("CPA_OPS_DEBUG"):
            raise
        if isinstance(exc, OSError) and exc.errno in _OUTPUT_FULL:
            # Click's own echo (--help) into a full disk: cpa-ops writes no file but its output
            return lost_output_code(output_lost(exc, sys.stdout), sys.stderr)
        what = f"internal error ({type(exc).__name__})"
        if nagios_wanted(argv):  # Nagios: UNKNOWN, not WARNING (exit 1)
            code = write_line(sys.stdout, f"CPA-OPS UNKNOWN - {what}") or NagiosCode.UNKNOWN
        else:
            write_line(sys.stderr, f"cpa-ops: {what}; set CPA_OPS_DEBUG=1 to see the traceback")
            code = ExitCode.UNHEALTHY
    return int(code or 0)


def _usage_error(exc: ClickException, argv: list[str], prog: str) -> int:
    """One line naming the usage error (its values shown only as the one rule allows) on
    stderr, exit 2; under ``health --format nagios``, the UNKNOWN status line on stdout, exit 3
    (a Nagios exit 2 is CRITICAL: a typo in a check command must not page about Redis)."""
    from cpa_ops.cli.console import CommandUsageError
    from cpa_ops.core.known_secrets import scrub_text

    ctx = getattr(exc, "ctx", None)
    where = getattr(ctx, "command_path", prog)
    hint = f" (see '{where} --help')" if ctx else ""
    message = exc.format_message() if isinstance(exc, CommandUsageError) else _click_message(exc)
    if nagios_wanted(argv):
        line = scrub_text(f"usage error: {message or 'no command given'}{hint}")
        # '|' would start perfdata in a Nagios status line
        return write_line(sys.stdout, f"CPA-OPS UNKNOWN - {line.replace('|', '/')}") or (
            NagiosCode.UNKNOWN
        )
    if message:  # empty for "no arguments: show the help", which click already printed
        write_line(sys.stderr, scrub_text(f"{where}: error: {message}{hint}"))
    return exc.exit_code


#: the errno of a write to a full or failing file (stdout redirected to one)
_OUTPUT_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})

#: the root's options, as given before a command
_ROOT_OPTIONS = {
    "--env-file": "cpa-ops --env-file PATH {command}",
    "--version": "cpa-ops --version",
}


def _click_message(exc: Exception) -> str:
    """Click's message for ``exc`` with every value the user typed shown only as the one rule
    allows (:func:`cpa_ops.core.urls.shown_value`: short and harmless, else its kind and
    length): a URL typed without --redis-url, or a password given to --timeout, is never echoed.
    """
    import ast
    import re

    from typer._click.exceptions import ClickException, NoSuchOption

    from cpa_ops.core.terminal import visible_controls
    from cpa_ops.core.urls import shown_value

    def shown(value: str) -> str:
        text = shown_value(value)
        return text if text.startswith("'") else f"({text})"

    assert isinstance(exc, ClickException)
    message = exc.format_message().replace("\n", " ").strip()
    prefix = "Got unexpected extra argument(s) ("
    if message.startswith(prefix):
        extra = message.removeprefix(prefix).removesuffix(")")
        hint = "; a Redis URL goes after --redis-url" if "://" in extra else ""
        return f"unexpected argument {shown(extra)}: this command takes only options{hint}"
    if isinstance(exc, NoSuchOption):
        name = exc.option_name
        named = name if shown_value(name) == f"'{name}'" else shown(name)
        known = ", ".join(sorted(exc.possibilities or ()))
        if name in _ROOT_OPTIONS and exc.ctx is not None and exc.ctx.parent is not None:
            # a root option after the command: refused, saying where it goes
            command = exc.ctx.command_path.partition(" ")[2]
            example = _ROOT_OPTIONS[name].format(command=command)
            return (
                f"No such option: {named} (a global option: it goes before the command: {example})"
            )
        return f"No such option: {named}" + (f" (Possible options: {known})" if known else "")

    def literal(match: re.Match[str]) -> str:
        try:
            value = str(ast.literal_eval(match.group()))
        except (ValueError, SyntaxError):
            value = match.group()[1:-1]
        return shown(value)

    # Click quotes a rejected value as Python does (repr); option names and choices pass the rule
    message = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", literal, message)
    message = re.sub(r"\S{41,}", lambda m: shown(m.group()), message)
    return visible_controls(message)


def _flush_quietly() -> int:
    """Flush what is left in stdout: 0, or the exit code of a stdout that cannot take it."""
    return write_line(sys.stdout, "", newline=False)
