"""``cpa-ops config``: what configuration this pod actually runs with, and whether it is valid."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cpa_ops.cli.options import FormatOption, OutputFormat, RedisUrlOption, group_option

if TYPE_CHECKING:
    from cpa_ops.cli.render.config import Row
    from cpa_ops.core.settings import Settings

EPILOG = """\
Examples:

  What this pod runs with, and where each value comes from (secrets masked):
    cpa-ops config

  Deploy gate (exit 2, one line per bad setting, when invalid):
    cpa-ops --env-file prod.env config check

  For a script:
    cpa-ops config show --format json
"""

config_app = typer.Typer(
    name="config",
    help="Show the effective settings and where each comes from (default), or check them.",
    epilog=EPILOG,
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config", rich_help_panel="Configuration")


@config_app.callback(invoke_without_command=True)
def config(
    ctx: typer.Context,
    output_format: FormatOption = OutputFormat.text,
    redis_url: RedisUrlOption = None,
) -> None:
    """Show the effective settings and where each comes from (default), or check them.

    Sources, highest precedence first: --option, environment, .env file, default.
    Secrets (the Redis and sentinel passwords, the Sentry DSN key) are masked. Options given
    here apply to the subcommand (``config --redis-url URL check``); given on both, the
    subcommand's win.
    """
    if ctx.invoked_subcommand is None:
        _show(ctx, output_format, redis_url)


@config_app.command("show")
def show(
    ctx: typer.Context,
    output_format: FormatOption = OutputFormat.text,
    redis_url: RedisUrlOption = None,
) -> None:
    """Every effective setting, its value (secrets masked) and its source; exit 2 if invalid."""
    _show(
        ctx,
        group_option(ctx, "output_format", output_format),
        group_option(ctx, "redis_url", redis_url),
    )


@config_app.command("check")
def check(
    ctx: typer.Context,
    output_format: FormatOption = OutputFormat.text,
    redis_url: RedisUrlOption = None,
) -> None:
    """Validate the configuration: exit 0 valid, 2 invalid with one line per bad field."""
    from cpa_ops.cli.console import fail_config
    from cpa_ops.cli.context import cli_context
    from cpa_ops.cli.render.json_text import json_text
    from cpa_ops.core.settings import ConfigError, load_settings
    from cpa_ops.core.terminal import visible_controls

    output_format = group_option(ctx, "output_format", output_format)
    redis_url = group_option(ctx, "redis_url", redis_url)
    context = cli_context(ctx)
    terminal = context.terminal
    try:
        settings = load_settings(context.env_file, redis_url=redis_url)
    except ConfigError as exc:
        if output_format is OutputFormat.json:
            terminal.out(json_text({"valid": False, "problems": exc.problems}))
        fail_config([visible_controls(problem) for problem in exc.problems], terminal)
    if output_format is OutputFormat.json:
        terminal.out(json_text({"valid": True, "problems": []}))
    else:
        terminal.out(
            f"configuration valid: {len(type(settings).model_fields)} settings, "
            f"ENVIRONMENT={settings.environment}, "
            f"REDIS_URL={visible_controls(settings.redis_url_masked)}"
        )


def _show(ctx: typer.Context, output_format: OutputFormat, redis_url: str | None) -> None:
    from cpa_ops.cli.context import cli_context
    from cpa_ops.cli.options import settings_or_exit
    from cpa_ops.cli.render.config import settings_json, settings_table

    context = cli_context(ctx)
    terminal = context.terminal
    settings = settings_or_exit(ctx, redis_url=redis_url)
    rows = _effective(settings, context.env_file, {"redis_url": redis_url})
    used_file = context.env_file if context.env_file is not None else Path(".env")
    shown_file = str(used_file) if used_file.is_file() else None
    if output_format is OutputFormat.json:
        terminal.out(settings_json(rows, shown_file))
        return
    for line in settings_table(rows, shown_file, terminal):
        terminal.out(line)


def _effective(settings: Settings, env_file: Path | None, overrides: dict[str, Any]) -> list[Row]:
    """(VARIABLE, displayed value, source) of every setting, secrets masked."""
    from pydantic import SecretStr

    from cpa_ops.core.known_secrets import MASK
    from cpa_ops.core.settings import mask_dsn, mask_url, setting_sources

    def whole(_secret: str) -> str:
        return MASK

    # a URL or DSN keeps what is not secret; a bare password (REDIS_SENTINEL_PASSWORD) is all
    maskers = {"redis_url": mask_url, "sentry_dsn": mask_dsn}
    sources = setting_sources(env_file)
    rows = []
    for field in type(settings).model_fields:
        value = getattr(settings, field)
        if isinstance(value, SecretStr):
            value = maskers.get(field, whole)(value.get_secret_value())
        source = sources[field]
        if overrides.get(field) is not None:
            source = f"--{field.replace('_', '-')} option"
        rows.append((field.upper(), value, source))
    return rows
