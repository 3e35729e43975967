"""Plain-text ``--help``: Click's formatter, commands grouped in their help panels, and each
command's examples (its epilog) printed line for line.

Typer's Rich help renderer imports rich.markdown, rich.traceback and pygments (~55 ms): every
``--help`` would then take ~1.9x ``import typer``, past the startup budget of 1.5x. Commands still
declare their panel the Typer way (``rich_help_panel=``), so Rich help is one switch away.
"""

from __future__ import annotations

import inspect

import typer
from typer import _completion_classes
from typer._click import Context, HelpFormatter
from typer.core import TyperCommand, TyperGroup

# The panels of the root help, in this order; a command without a panel goes under "Commands".
PANELS = ("Diagnostics", "Observability", "Configuration")


def _write_epilog(epilog: str | None, formatter: HelpFormatter) -> None:
    """The epilog as written: Click would re-wrap the example command lines into a paragraph."""
    if not epilog:
        return
    formatter.write_paragraph()
    with formatter.indentation():
        for line in inspect.cleandoc(epilog).splitlines():
            formatter.write(f"{'':>{formatter.current_indent}}{line}\n" if line else "\n")


class PanelledGroup(TyperGroup):
    """The root command: its subcommands listed under their help panels."""

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows_by_panel: dict[str, list[tuple[str, str]]] = {}
        commands = [
            (name, command)
            for name in self.list_commands(ctx)
            if (command := self.get_command(ctx, name)) is not None and not command.hidden
        ]
        if not commands:
            return
        width = max(len(name) for name, _ in commands)
        limit = formatter.width - 6 - width
        for name, command in commands:
            panel = getattr(command, "rich_help_panel", None) or "Commands"
            # padded to one width: the descriptions line up from panel to panel
            row = (name.ljust(width), command.get_short_help_str(limit))
            rows_by_panel.setdefault(panel, []).append(row)
        ordered = [p for p in PANELS if p in rows_by_panel]
        ordered += [p for p in rows_by_panel if p not in PANELS]
        for panel in ordered:
            with formatter.section(panel):
                formatter.write_dl(rows_by_panel[panel])

    def format_epilog(self, ctx: Context, formatter: HelpFormatter) -> None:
        _write_epilog(self.epilog, formatter)


class ExampleCommand(TyperCommand):
    """A command whose epilog (its examples) is printed as written."""

    def format_epilog(self, ctx: Context, formatter: HelpFormatter) -> None:
        _write_epilog(self.epilog, formatter)


def _as_written(text: str) -> str:
    return text


def use_plain_help(app: typer.Typer) -> None:
    """Give every registered command, and each sub-app's, the plain help above (call after all
    ``register(app)``)."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):  # Typer's default; a command's own class stays
            info.cls = ExampleCommand
    for group in app.registered_groups:
        if group.typer_instance is None:
            continue
        use_plain_help(group.typer_instance)
        if typer.main.solve_typer_info_defaults(group).cls in (None, TyperGroup):
            group.cls = PanelledGroup
    # zsh and fish show each option's help at Tab; Typer strips Rich markup from it by importing
    # its Rich help renderer (~60 ms a Tab). Plain help has no markup to strip.
    _completion_classes._sanitize_help_text = _as_written
