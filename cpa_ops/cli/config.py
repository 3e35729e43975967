"""``cpa-ops config``: what configuration this pod actually runs with, and whether it is valid."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cpa_ops.cli.options import OutputFormat

if TYPE_CHECKING:
    from cpa_ops.cli.console import Terminal
    from cpa_ops.core.settings import Settings

config_app = typer.Typer(
    name="config",
    help="Show the effective settings and where each comes from (default), or check them.",
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="text for people, json for machines.")
]
RedisUrlOption = Annotated[
    str | None,
    typer.Option(
        "--redis-url",
        metavar="URL",
        help="Use this REDIS_URL instead (shown with source '--redis-url option').",
        show_default=False,
    ),
]


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
    Secrets (the Redis password, the Sentry DSN key) are masked.
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
    _show(ctx, output_format, redis_url)


@config_app.command("check")
def check(
    ctx: typer.Context,
    output_format: FormatOption = OutputFormat.text,
    redis_url: RedisUrlOption = None,
) -> None:
    """Validate the configuration: exit 0 valid, 2 invalid with one line per bad field."""
    import json

    from cpa_ops.cli.console import Terminal, fail_config
    from cpa_ops.core.settings import ConfigError, load_settings

    terminal = Terminal()
    try:
        settings = load_settings(_env_file(ctx), redis_url=redis_url)
    except ConfigError as exc:
        if output_format is OutputFormat.json:
            terminal.out(json.dumps({"valid": False, "problems": exc.problems}))
        fail_config(exc.problems, terminal)
    if output_format is OutputFormat.json:
        terminal.out(json.dumps({"valid": True, "problems": []}))
    else:
        terminal.out(
            f"configuration valid: {len(type(settings).model_fields)} settings, "
            f"ENVIRONMENT={settings.environment}, REDIS_URL={settings.redis_url_masked}"
        )


def _env_file(ctx: typer.Context) -> Path | None:
    env_file: Path | None = (ctx.find_root().obj or {}).get("env_file")
    return env_file


def _show(ctx: typer.Context, output_format: OutputFormat, redis_url: str | None) -> None:
    import json

    from cpa_ops.cli.console import Terminal
    from cpa_ops.cli.options import settings_or_exit

    terminal = Terminal()
    settings = settings_or_exit(ctx, redis_url=redis_url)
    env_file = _env_file(ctx)
    rows = _effective(settings, env_file, {"redis_url": redis_url})
    used_file = env_file if env_file is not None else Path(".env")
    shown_file = str(used_file) if used_file.is_file() else None
    if output_format is OutputFormat.json:
        document = {
            "envFile": shown_file,
            "settings": {name: {"value": value, "source": source} for name, value, source in rows},
        }
        terminal.out(json.dumps(document, ensure_ascii=False))
        return
    _print_table(rows, shown_file, terminal)


def _effective(
    settings: Settings, env_file: Path | None, overrides: dict[str, Any]
) -> list[tuple[str, Any, str]]:
    """(VARIABLE, displayed value, source) of every setting, secrets masked."""
    from pydantic import SecretStr

    from cpa_ops.core.settings import mask_dsn, mask_url, setting_sources

    sources = setting_sources(env_file)
    rows = []
    for field in type(settings).model_fields:
        value = getattr(settings, field)
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            value = mask_dsn(secret) if field == "sentry_dsn" else mask_url(secret)
        source = sources[field]
        if overrides.get(field) is not None:
            source = f"--{field.replace('_', '-')} option"
        rows.append((field.upper(), value, source))
    return rows


def _print_table(
    rows: list[tuple[str, Any, str]], env_file: str | None, terminal: Terminal
) -> None:
    shown = [(name, _shown(value), src) for name, value, src in rows]
    name_width = max(len("SETTING"), *(len(name) for name, _, _ in shown))
    value_width = max(len("VALUE"), *(len(value) for _, value, _ in shown))
    terminal.out(
        terminal.paint(f"{'SETTING':<{name_width}}  {'VALUE':<{value_width}}  SOURCE", "bold")
    )
    for name, value, source in shown:
        terminal.out(f"{name:<{name_width}}  {value:<{value_width}}  {source}")
    terminal.out(terminal.paint(f".env file: {env_file or '(none)'}", "dim"))


def _shown(value: Any) -> str:
    if value is None or value == ():
        return "(unset)"
    # a list setting (REDIS_SENTINELS) as it is written in the environment
    return ",".join(value) if isinstance(value, tuple) else str(value)
