"""completions/: the committed scripts equal a fresh generation, and real bash, zsh and fish
shells loading them complete cpa-ops' commands and options."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
import typer

from cpa_ops.cli import app
from tests.conftest import BIN, clean_env

REPO = Path(__file__).resolve().parents[2]
COMPLETIONS = REPO / "completions"
pytestmark = pytest.mark.timeout(60)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_completions", REPO / "scripts" / "generate_completions.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shell_env() -> dict[str, str]:
    """A clean environment whose PATH finds the installed cpa-ops first, as a user's would."""
    env = clean_env()
    env["PATH"] = f"{BIN.parent}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


def run_shell(argv: list[str]) -> str:
    ran = subprocess.run(
        argv, env=shell_env(), capture_output=True, text=True, timeout=30, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    return ran.stdout


def registered_commands() -> list[str]:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return [name for name, command in group.commands.items() if not command.hidden]


def needs(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (.ci/run installs it)")


class TestGeneratedFiles:
    def test_committed_files_equal_a_fresh_generation(self) -> None:
        """Each file in completions/ is byte for byte what the generator writes today."""
        generator = load_generator()
        fresh = generator.fresh_completions()
        assert set(fresh) == {"cpa-ops.bash", "_cpa-ops", "cpa-ops.fish"}
        for name, text in fresh.items():
            committed = (COMPLETIONS / name).read_text()
            assert committed == text, f"completions/{name} is stale: run {generator.__file__}"

    def test_scripts_call_the_program_by_its_installed_name(self) -> None:
        """The scripts register for and call back `cpa-ops`, with its _CPA_OPS_COMPLETE variable."""
        for name in ("cpa-ops.bash", "_cpa-ops", "cpa-ops.fish"):
            text = (COMPLETIONS / name).read_text()
            assert "_CPA_OPS_COMPLETE=complete_" in text, name
            assert "cpa-ops" in text and "python" not in text.lower(), name


BASH_COMPLETE = r"""
source "$1"
function_name=$(complete -p cpa-ops | sed -E 's/.* -F ([^ ]+) .*/\1/')
shift
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
"$function_name" cpa-ops "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""


def bash_complete(*words: str) -> list[str]:
    """What a real bash that sourced completions/cpa-ops.bash offers for ``words`` at Tab."""
    needs("bash")
    out = run_shell(
        ["bash", "--norc", "--noprofile", "-c", BASH_COMPLETE, "bash",
         str(COMPLETIONS / "cpa-ops.bash"), *words]
    )  # fmt: skip
    return [line for line in out.splitlines() if line]


class TestBash:
    def test_command_name(self) -> None:
        """`cpa-ops he<Tab>` offers health."""
        assert bash_complete("cpa-ops", "he") == ["health"]

    def test_option_name(self) -> None:
        """`cpa-ops health --fo<Tab>` offers --format."""
        assert bash_complete("cpa-ops", "health", "--fo") == ["--format"]

    def test_option_value(self) -> None:
        """`cpa-ops health --format <Tab>` offers the accepted formats."""
        assert bash_complete("cpa-ops", "health", "--format", "") == ["text", "json", "nagios"]

    def test_log_level_values(self) -> None:
        """`cpa-ops log-test --level <Tab>` offers the levels LOG_LEVEL takes (a parsed option:
        it also takes WARN and FATAL)."""
        assert bash_complete("cpa-ops", "log-test", "--level", "") == [
            "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"
        ]  # fmt: skip
        assert bash_complete("cpa-ops", "log-test", "--level", "wa") == ["warning"]

    def test_every_registered_command_is_offered(self) -> None:
        """`cpa-ops <Tab>` offers exactly the commands the app has registered."""
        assert bash_complete("cpa-ops", "") == registered_commands()

    @pytest.mark.parametrize("command", registered_commands())
    def test_every_option_of_every_command_is_offered(self, command: str) -> None:
        """`cpa-ops CMD --<Tab>` offers each long option of that command."""
        click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
        expected = {
            opt
            for param in click_command.params
            for opt in param.opts
            if opt.startswith("--") and not getattr(param, "hidden", False)
        }
        assert expected <= set(bash_complete("cpa-ops", command, "--"))


ZSH_COMPLETE = r"""
fpath=("$1" $fpath)
autoload -Uz compinit && compinit -u -D
# zsh's completion engine needs a terminal: stand in for it where the script hands over its list
_arguments() { print -rl -- "$@" }
mode=$2; shift 2
words=("$@"); CURRENT=${#words}
if [[ $mode == sourced ]]; then
  source "$fpath[1]/_cpa-ops"
fi
print -r -- "completer=$_comps[cpa-ops]"
"$_comps[cpa-ops]"
"""


def zsh_complete(mode: str, *words: str) -> tuple[str, list[str]]:
    """(the function zsh calls at Tab, the candidates the script hands to _arguments)."""
    needs("zsh")
    out = run_shell(["zsh", "-f", "-c", ZSH_COMPLETE, "zsh", str(COMPLETIONS), mode, *words])
    lines = out.splitlines()
    completer = lines[0].removeprefix("completer=")
    spec = "\n".join(lines[1:])
    return completer, [part.split('"')[0] for part in spec.split('("')[1:]] if spec else []


class TestZsh:
    @pytest.mark.parametrize("mode", ["fpath", "sourced"])
    def test_command_name(self, mode: str) -> None:
        """`cpa-ops he<Tab>` offers health on the first Tab, from $fpath or sourced."""
        completer, offered = zsh_complete(mode, "cpa-ops", "he")
        assert completer == ("_cpa-ops" if mode == "fpath" else "_cpa_ops_completion")
        assert offered == ["health"]

    @pytest.mark.parametrize("mode", ["fpath", "sourced"])
    def test_option_name(self, mode: str) -> None:
        """`cpa-ops health --fo<Tab>` offers --format."""
        assert zsh_complete(mode, "cpa-ops", "health", "--fo")[1] == ["--format"]


def fish_complete(line: str) -> list[str]:
    """What a real fish that sourced completions/cpa-ops.fish offers for ``line`` at Tab."""
    needs("fish")
    script = f"source {COMPLETIONS / 'cpa-ops.fish'}; complete -C '{line}'"
    out = run_shell(["fish", "--no-config", "-c", script])
    return [entry.split("\t")[0] for entry in out.splitlines() if entry]


class TestFish:
    def test_command_name(self) -> None:
        """`cpa-ops he<Tab>` offers health."""
        assert fish_complete("cpa-ops he") == ["health"]

    def test_option_name(self) -> None:
        """`cpa-ops health --fo<Tab>` offers --format."""
        assert fish_complete("cpa-ops health --fo") == ["--format"]
