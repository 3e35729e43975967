"""What ``cpa-ops config`` writes: the table of effective settings (or its JSON), secrets
already masked by the caller."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cpa_ops.cli.console import Terminal

#: (VARIABLE, displayed value, source) of one setting
Row = tuple[str, Any, str]


def settings_json(rows: list[Row], env_file: str | None) -> str:
    document = {
        "envFile": env_file,
        "settings": {name: {"value": value, "source": source} for name, value, source in rows},
    }
    return json.dumps(document, ensure_ascii=False)


def settings_table(rows: list[Row], env_file: str | None, terminal: Terminal) -> list[str]:
    """A SETTING / VALUE / SOURCE table, then which .env file was read."""
    shown = [(name, _shown(value), src) for name, value, src in rows]
    name_width = max(len("SETTING"), *(len(name) for name, _, _ in shown))
    value_width = max(len("VALUE"), *(len(value) for _, value, _ in shown))
    lines = [terminal.paint(f"{'SETTING':<{name_width}}  {'VALUE':<{value_width}}  SOURCE", "bold")]
    lines += [
        f"{name:<{name_width}}  {value:<{value_width}}  {source}" for name, value, source in shown
    ]
    lines.append(terminal.paint(f".env file: {env_file or '(none)'}", "dim"))
    return lines


def _shown(value: Any) -> str:
    if value is None or value == ():
        return "(unset)"
    # a list setting (REDIS_SENTINELS) as it is written in the environment
    return ",".join(value) if isinstance(value, tuple) else str(value)
