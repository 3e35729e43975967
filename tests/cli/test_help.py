"""Help that teaches: every option explained (with its environment variable where a setting
stands behind it), commands in their panels, examples in each command's help, and bare
``cpa-ops`` printing the help."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer
from typer._click import Command, Context
from typer.core import TyperOption as Option

from cpa_ops.cli import app
from cpa_ops.core.settings import Settings
from tests.conftest import clean_env, run_cpa_ops

pytestmark = pytest.mark.timeout(30)

ROOT = typer.main.get_command(app)
assert isinstance(ROOT, typer.core.TyperGroup)
COMMANDS: dict[str, Command] = {n: c for n, c in ROOT.commands.items() if not c.hidden}


def walk(command: Command, path: str) -> Iterator[tuple[str, Command]]:
    """(command path, command) for ``command`` and every subcommand under it."""
    yield path, command
    if isinstance(command, typer.core.TyperGroup):
        for name, sub in command.commands.items():
            if not sub.hidden:
                yield from walk(sub, f"{path} {name}")


EVERY_COMMAND = dict(walk(ROOT, "cpa-ops"))
# The panels the issue names; a command not listed here must still sit in one of them.
PANEL_OF = {
    "health": "Diagnostics",
    "ping": "Diagnostics",
    "log-test": "Observability",
    "sentry-test": "Observability",
    "config": "Configuration",
}
PANELS = ("Diagnostics", "Observability", "Configuration")


def options_of(command: Command) -> list[Option]:
    return [p for p in command.params if isinstance(p, Option) and not p.hidden]


def setting_behind(option: Option) -> str | None:
    """The environment variable of the setting an option overrides (--redis-url: REDIS_URL;
    the Redis topology options drop the prefix: --mode: REDIS_MODE)."""
    for opt in option.opts:
        name = opt.lstrip("-").replace("-", "_")
        for field in (name, f"redis_{name}"):
            if field in Settings.model_fields:
                return field.upper()
    return None


def help_record(command: Command, option: Option) -> str:
    with Context(command, info_name=command.name) as ctx:
        record = option.get_help_record(ctx)
    assert record is not None
    return record[1]


ALL_OPTIONS = [
    pytest.param(command, option, id=f"{path} {option.opts[0]}")
    for path, command in EVERY_COMMAND.items()
    for option in options_of(command)
]


class TestOptions:
    @pytest.mark.parametrize(("command", "option"), ALL_OPTIONS)
    def test_every_option_has_help(self, command: Command, option: Option) -> None:
        """Each option of each command says what it does."""
        assert option.help and option.help.strip()

    @pytest.mark.parametrize(("command", "option"), ALL_OPTIONS)
    def test_setting_options_show_their_environment_variable(
        self, command: Command, option: Option
    ) -> None:
        """An option that overrides a setting names the setting's variable in its help line;
        one with its own variable shows that."""
        shown = help_record(command, option)
        variable = setting_behind(option)
        if variable:
            assert variable in shown, shown
        if option.envvar:
            assert option.show_envvar, f"{option.opts[0]} reads {option.envvar} but hides it"

    def test_redis_url_shows_redis_url(self) -> None:
        """The issue's example: --redis-url of health names REDIS_URL in `health --help`."""
        ran = run_cpa_ops("health", "--help")
        line = ran.stdout[ran.stdout.index("--redis-url") :]
        assert "REDIS_URL" in line[: line.index("\n  -", 1)]


class TestPanels:
    @pytest.mark.parametrize("name", list(COMMANDS))
    def test_every_command_sits_in_its_panel(self, name: str) -> None:
        """Each command declares one of the three panels (the one the issue gives it)."""
        panel = getattr(COMMANDS[name], "rich_help_panel", None)
        assert panel == PANEL_OF.get(name, panel)
        assert panel in PANELS

    def test_root_help_lists_commands_under_panel_headings(self) -> None:
        """`cpa-ops --help` shows each panel as a heading with its commands under it."""
        ran = run_cpa_ops("--help")
        assert ran.returncode == 0
        sections = re.split(r"\n(?=\S[^\n]*:\n)", ran.stdout)
        for name, command in COMMANDS.items():
            heading = f"{command.rich_help_panel}:\n"  # type: ignore[attr-defined]
            section = next(s for s in sections if s.startswith(heading))
            assert re.search(rf"^  {re.escape(name)}\s", section, re.MULTILINE), section


class TestExamples:
    @pytest.mark.parametrize("name", list(COMMANDS))
    def test_every_command_shows_examples(self, name: str) -> None:
        """`cpa-ops CMD --help` ends with examples that run that command, kept line by line."""
        ran = run_cpa_ops(name, "--help")
        assert ran.returncode == 0
        examples = ran.stdout[ran.stdout.index("Examples:") :]
        assert re.search(rf"^\s+cpa-ops {re.escape(name)}\b", examples, re.MULTILINE), examples

    @pytest.mark.parametrize("path", list(EVERY_COMMAND))
    def test_help_fits_80_columns(self, path: str) -> None:
        """Every --help, examples included, fits an 80-column terminal."""
        ran = run_cpa_ops(*path.split()[1:], "--help", env=clean_env(COLUMNS="80"))
        wide = [line for line in ran.stdout.splitlines() if len(line) > 80]
        assert ran.returncode == 0 and not wide, wide

    def test_health_shows_a_probe_and_a_ci_example(self) -> None:
        """`cpa-ops health --help` has a Kubernetes probe and a CI example, each command on its
        own line as written."""
        examples = run_cpa_ops("health", "--help").stdout.split("Examples:")[1]
        assert "probe" in examples and "CI" in examples
        assert "\n    cpa-ops health --timeout 1 --quiet\n" in examples
        assert "\n    cpa-ops health --wait 60 --write --format json\n" in examples

    def test_root_examples_name_real_commands(self) -> None:
        """Each example in `cpa-ops --help` runs a command the app has."""
        examples = run_cpa_ops("--help").stdout.split("Examples:")[1]
        used = re.findall(r"^\s+cpa-ops (?:--env-file \S+ )?([a-z][\w-]*)", examples, re.MULTILINE)
        assert used and set(used) <= set(COMMANDS)


class TestBareCommand:
    def test_no_arguments_prints_the_help_on_stdout(self) -> None:
        """`cpa-ops` alone prints the same help as `cpa-ops --help`, on stdout, nothing on
        stderr, exit 2 (no command given)."""
        bare = run_cpa_ops()
        assert bare.stdout == run_cpa_ops("--help").stdout
        assert bare.stderr == ""
        assert bare.returncode == 2
