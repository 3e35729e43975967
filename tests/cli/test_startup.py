"""Startup: --help, --version and every Tab press of shell completion import none of the heavy
dependencies (they belong inside the command that needs them)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from cpa_ops.cli import app
from tests.conftest import BIN, clean_env

pytestmark = pytest.mark.timeout(60)

HEAVY = ("redis", "sentry_sdk", "structlog", "pydantic_settings", "pydantic")
# Typer's Rich help renderer costs ~55 ms; the plain help (cpa_ops/cli/helptext.py) needs none
NOT_FOR_HELP = (*HEAVY, "rich")


def commands() -> list[str]:
    return list(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def imported_modules(*args: str, **env: str) -> set[str]:
    """Every module the installed cpa-ops imports for ``args`` (from ``python -X importtime``)."""
    ran = subprocess.run(
        [sys.executable, "-X", "importtime", str(BIN), *args],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in ran.stderr
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in ran.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "typer" in modules, ran.stderr[-2000:]  # the probe itself works
    return modules


def heavy_among(modules: set[str], heavy: tuple[str, ...] = NOT_FOR_HELP) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in heavy)


RUNS = {
    "--help": (["--help"], {}),
    "--version": (["--version"], {}),
    "no arguments": ([], {}),
    "bash completion": (
        [],
        {"_CPA_OPS_COMPLETE": "complete_bash", "COMP_WORDS": "cpa-ops health --fo",
         "COMP_CWORD": "2"},
    ),
    "zsh completion": (
        [],
        {"_CPA_OPS_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "cpa-ops health --fo"},
    ),
    "fish completion": (
        [],
        {"_CPA_OPS_COMPLETE": "complete_fish", "_TYPER_COMPLETE_FISH_ACTION": "get-args",
         "_TYPER_COMPLETE_ARGS": "cpa-ops he"},
    ),
}  # fmt: skip


class TestLightStartup:
    @pytest.mark.parametrize("run", list(RUNS))
    def test_imports_nothing_heavy(self, run: str) -> None:
        """Help, version and a completion round import no redis, sentry_sdk, structlog, pydantic
        (settings) or rich."""
        args, env = RUNS[run]
        assert heavy_among(imported_modules(*args, **env)) == []

    @pytest.mark.parametrize("command", commands())
    def test_command_help_imports_nothing_heavy(self, command: str) -> None:
        """`cpa-ops CMD --help` stays light for every registered command."""
        assert heavy_among(imported_modules(command, "--help")) == []

    @pytest.mark.parametrize("command", commands())
    def test_completing_a_command_imports_nothing_heavy(self, command: str) -> None:
        """Tab after `cpa-ops CMD --` stays light for every registered command."""
        env = {
            "_CPA_OPS_COMPLETE": "complete_bash",
            "COMP_WORDS": f"cpa-ops {command} --",
            "COMP_CWORD": "2",
        }
        assert heavy_among(imported_modules(**env)) == []

    def test_the_probe_sees_a_heavy_import(self) -> None:
        """The importtime probe does report redis when a command really loads it."""
        # a roomy --timeout: -X importtime slows the start-up, which counts inside the budget
        modules = imported_modules(
            "health", "--redis-url", "redis://127.0.0.1:1/0", "--timeout", "10"
        )
        assert "redis" in heavy_among(modules, HEAVY)
