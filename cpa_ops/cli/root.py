"""The root ``cpa-ops`` app: global options, one module per command, and the one error
boundary (:func:`run`). The console script comes here from :mod:`cpa_ops.cli` once the deadline
is armed.

Only Typer is imported here; every command imports its heavy modules inside its body, so
``--help``, ``--version`` and each Tab press of shell completion stay fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from cpa_ops import __version__
from cpa_ops.cli import config, health, logs, ping, sentry
from cpa_ops.cli.exits import ExitCode
from cpa_ops.cli.helptext import PanelledGroup, use_plain_help

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
        typer.echo(f"cpa-ops {__version__}")
        raise typer.Exit(ExitCode.OK)


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

    from cpa_ops.cli.exits import Terminated

    def on_sigterm(signum: int, frame: object) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, on_sigterm)
    code = run(argv, process_mode=True)
    _flush_quietly()
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
    from cpa_ops.cli.exits import Terminated
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
    except NoArgsIsHelpError as exc:
        # bare `cpa-ops`: the help, on stdout like --help (exit 2: no command was given)
        sys.stdout.write(exc.format_message() + "\n")
        code = exc.exit_code
    except ClickException as exc:
        where = getattr(getattr(exc, "ctx", None), "command_path", prog)
        hint = f" (see '{where} --help')" if getattr(exc, "ctx", None) else ""
        message = _click_message(exc)
        if message:  # empty for "no arguments: show the help", which click already printed
            from cpa_ops.core.known_secrets import scrub_text

            sys.stderr.write(scrub_text(f"{where}: error: {message}{hint}") + "\n")
        code = exc.exit_code
    except (KeyboardInterrupt, Abort):
        sys.stderr.write("\ncpa-ops: interrupted\n")
        code = ExitCode.INTERRUPTED
    except Terminated:
        sys.stderr.write("\ncpa-ops: terminated\n")
        code = ExitCode.TERMINATED
    except BrokenPipeError:
        # the reader went away (| head): nothing left to say to anyone
        _silence_stdout()
        code = ExitCode.UNHEALTHY
    except Exception as exc:  # a bug: say so in one line, never a traceback with secrets in it
        if os.environ.get("CPA_OPS_DEBUG"):
            raise
        sys.stderr.write(
            f"cpa-ops: internal error ({type(exc).__name__}); "
            "set CPA_OPS_DEBUG=1 to see the traceback\n"
        )
        code = ExitCode.UNHEALTHY
    return int(code or 0)


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


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _silence_stdout()


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
