"""What ``cpa-ops config`` writes: the table of effective settings (or its JSON), secrets
already masked by the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpa_ops.cli.render.json_text import json_text
from cpa_ops.core.terminal import visible_controls

if TYPE_CHECKING:
    from cpa_ops.cli.console import Terminal

#: (VARIABLE, displayed value, source) of one setting
Row = tuple[str, Any, str]


def settings_json(rows: list[Row], env_file: str | None) -> str:
    document = {
        "envFile": env_file,
        "settings": {name: {"value": value, "source": source} for name, value, source in rows},
    }
    return json_text(document)


def settings_table(rows: list[Row], env_file: str | None, terminal: Terminal) -> list[str]:
    """A SETTING / VALUE / SOURCE table, then which .env file was read; values and paths as
    typed (a sentinel name, a unix socket path, an --env-file path) made terminal-safe."""
    shown = [
        (name, visible_controls(_shown(value)), visible_controls(src)) for name, value, src in rows
    ]
    name_width = max(len("SETTING"), *(len(name) for name, _, _ in shown))
    value_width = max(len("VALUE"), *(len(value) for _, value, _ in shown))
    lines = [terminal.paint(f"{'SETTING':<{name_width}}  {'VALUE':<{value_width}}  SOURCE", "bold")]
    lines += [
        f"{name:<{name_width}}  {value:<{value_width}}  {source}" for name, value, source in shown
    ]
    lines.append(terminal.paint(f".env file: {visible_controls(env_file or '(none)')}", "dim"))
    return lines


def _shown(value: Any) -> str:
    if value is None or value == ():
        return "(unset)"
    # a list setting (REDIS_SENTINELS) as it is written in the environment
    return ",".join(value) if isinstance(value, tuple) else str(value)
