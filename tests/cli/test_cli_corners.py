"""Issue 14, class 7: the CLI's corners, through the installed ``cpa-ops`` where exit codes and
streams matter. Options given on a group reach its subcommands; one set of spellings for a log
level (and any case for every choice); usage errors under ``--format nagios`` are UNKNOWN;
a closed or vanished stdout is never an internal error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from cpa_ops.cli import app
from cpa_ops.core.choices import LOG_LEVELS_ACCEPTED, parse_log_level
from tests.conftest import clean_env, run_cpa_ops

pytestmark = pytest.mark.timeout(60)
PASSWORD = "Grp-Pa55-914"


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    return lines[0]


# --------------------------------------------------------------------------------------------
# a) an option given on a group applies to its subcommand


class TestGroupOptions:
    def test_an_invalid_url_before_check_fails_the_check(self, tmp_path: Path) -> None:
        """The issue's example: it said "configuration valid"."""
        ran = run_cpa_ops("config", "--redis-url", f"http://:{PASSWORD}@x", "check", cwd=tmp_path)
        assert ran.returncode == 2, ran
        line = one_line(ran.stderr)
        assert "REDIS_URL has 'http://'" in line and PASSWORD not in ran.stdout + ran.stderr
        assert ran.stdout == ""

    def test_a_url_before_check_is_the_one_checked(self, tmp_path: Path) -> None:
        ran = run_cpa_ops("config", "--redis-url", "redis://cache:6380/2", "check", cwd=tmp_path)
        assert ran.returncode == 0, ran
        assert "REDIS_URL=redis://cache:6380/2" in ran.stdout

    @pytest.mark.parametrize("sub", ["check", "show"])
    def test_a_format_before_the_subcommand_applies(self, sub: str, tmp_path: Path) -> None:
        ran = run_cpa_ops("config", "--format", "json", sub, cwd=tmp_path)
        assert ran.returncode == 0, ran
        document = json.loads(ran.stdout)
        assert ("valid" in document) if sub == "check" else ("settings" in document)

    def test_both_options_before_show_name_their_source(self, tmp_path: Path) -> None:
        ran = run_cpa_ops(
            "config", "--format", "json", "--redis-url", "redis://cli:1/3", "show", cwd=tmp_path
        )
        assert ran.returncode == 0, ran
        shown = json.loads(ran.stdout)["settings"]["REDIS_URL"]
        assert shown == {"value": "redis://cli:1/3", "source": "--redis-url option"}

    def test_given_on_both_the_subcommand_wins(self, tmp_path: Path) -> None:
        ran = run_cpa_ops(
            "config", "--redis-url", "redis://a:1/0", "check", "--redis-url", "redis://b:2/0",
            cwd=tmp_path,
        )  # fmt: skip
        assert ran.returncode == 0 and "REDIS_URL=redis://b:2/0" in ran.stdout, ran

    def test_invalid_json_check_before_the_subcommand(self, tmp_path: Path) -> None:
        """--format json before check: the invalid document on stdout, one line, exit 2."""
        ran = run_cpa_ops(
            "config", "--format", "json", "check", env=clean_env(ENVIRONMENT="qa"), cwd=tmp_path
        )
        assert ran.returncode == 2, ran
        assert json.loads(ran.stdout)["valid"] is False
        assert "ENVIRONMENT 'qa'" in one_line(ran.stderr)

    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (["config", "--format", "yaml", "check"], "'yaml' is not one of"),
            (["config", "--bogus", "check"], "No such option: --bogus"),
            (["config", "--redis-url"], "requires an argument"),
        ],
    )
    def test_bad_group_options_are_usage(self, args: list[str], expected: str) -> None:
        ran = run_cpa_ops(*args)
        assert ran.returncode == 2, ran
        assert expected in one_line(ran.stderr) and ran.stdout == ""

    @pytest.mark.parametrize("option", ["--env-file", "--version"])
    def test_a_global_option_after_the_command_says_where_it_goes(self, option: str) -> None:
        args = [option, "x.env"] if option == "--env-file" else [option]
        ran = run_cpa_ops("config", "check", *args)
        assert ran.returncode == 2, ran
        line = one_line(ran.stderr)
        assert f"No such option: {option}" in line and "goes before the command" in line

    def test_every_group_option_is_an_option_of_each_subcommand(self) -> None:
        """What makes "never dropped" hold for groups added later: each option a group takes
        (the root's aside: they live in the context) is one every subcommand takes too."""
        root = typer.main.get_command(app)
        assert isinstance(root, typer.core.TyperGroup)
        groups = [c for c in root.commands.values() if isinstance(c, typer.core.TyperGroup)]
        assert groups, "no group found: the test checks nothing"
        for group in groups:
            names = {p.name for p in group.params if not p.name.startswith("help")}
            assert names, group.name
            for sub in group.commands.values():
                missing = names - {p.name for p in sub.params}
                assert not missing, f"{group.name} {sub.name} lacks {missing}"


# --------------------------------------------------------------------------------------------
# e) one set of spellings for a log level; any case for every choice

SPELLINGS = {
    "warn": "WARNING",
    "WARN": "WARNING",
    "Warning": "WARNING",
    " warning ": "WARNING",
    "fatal": "CRITICAL",
    "Fatal": "CRITICAL",
    "critical": "CRITICAL",
    "debug": "DEBUG",
    "INFO": "INFO",
    "eRrOr": "ERROR",
}
REFUSED = ["loud", "trace", "warnings", "", "10", "notice"]


class TestLogLevelSpellings:
    def test_the_option_the_setting_and_the_parser_agree(self) -> None:
        """In-process, every spelling: LOG_LEVEL, --level's parser and the core agree."""
        from cpa_ops.cli.options import log_level
        from cpa_ops.core.settings import ConfigError, load_settings

        for text, level in SPELLINGS.items():
            assert parse_log_level(text) == level
            assert log_level(text) == level
            assert load_settings(log_level=text).log_level == level
        for text in REFUSED:
            with pytest.raises(ValueError, match="expected one of DEBUG"):
                parse_log_level(text)
            with pytest.raises(typer.BadParameter, match="in any case"):
                log_level(text)
            with pytest.raises(ConfigError):
                load_settings(log_level=text or "x")

    @pytest.mark.parametrize("text", ["warn", "WARN", "fatal", "Critical"])
    def test_log_test_level_option(self, text: str) -> None:
        """The issue's example: --level warn was refused."""
        ran = run_cpa_ops("log-test", "--format", "json", "--level", text)
        assert ran.returncode == 0, ran.stderr
        levels = {json.loads(line)["level"] for line in ran.stdout.splitlines()}
        floor = SPELLINGS.get(text, text.upper())
        expected = {"WARNING": {"warning", "error"}, "CRITICAL": set()}[floor]
        assert levels == expected

    @pytest.mark.parametrize("where", ["environment", ".env file"])
    @pytest.mark.parametrize("text", ["warn", "FATAL"])
    def test_log_level_setting(self, where: str, text: str, tmp_path: Path) -> None:
        env = clean_env(LOG_LEVEL=text) if where == "environment" else clean_env()
        if where == ".env file":
            (tmp_path / ".env").write_text(f"LOG_LEVEL={text}\n")
        ran = run_cpa_ops("config", "show", "--format", "json", env=env, cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        shown = json.loads(ran.stdout)["settings"]["LOG_LEVEL"]
        assert shown == {"value": SPELLINGS[text.lower()], "source": where}

    def test_the_refusals_list_the_same_values(self, tmp_path: Path) -> None:
        """--level and LOG_LEVEL (environment, .env) refuse with the same accepted list."""
        option = run_cpa_ops("log-test", "--level", "loud")
        env = run_cpa_ops("log-test", env=clean_env(LOG_LEVEL="loud"))
        (tmp_path / ".env").write_text("LOG_LEVEL=loud\n")
        file = run_cpa_ops("config", "check", cwd=tmp_path)
        for ran in (option, env, file):
            assert ran.returncode == 2, ran
            line = one_line(ran.stderr)
            assert LOG_LEVELS_ACCEPTED in line, line
        assert "--level" in option.stderr and "LOG_LEVEL" in env.stderr + file.stderr

    def test_configure_logging_takes_the_same_spellings(self) -> None:
        import io
        import logging

        import structlog

        from cpa_ops.core.logging import configure_logging
        from cpa_ops.core.logging.state import state
        from cpa_ops.core.settings import load_settings

        root = logging.getLogger()
        saved_handlers, saved_level = list(root.handlers), root.level
        try:
            for text, level in SPELLINGS.items():
                configure_logging(load_settings(), stream=io.StringIO(), level=text)
                assert state.min_level == logging.getLevelName(level), text
        finally:
            root.handlers = saved_handlers
            root.setLevel(saved_level)
            structlog.reset_defaults()

    @pytest.mark.parametrize(
        "args",
        [
            ["config", "check", "--format", "JSON"],
            ["config", "--format", "Json", "check"],
            ["sentry-test", "--dry-run", "--level", "ERROR"],
            ["log-test", "--format", "JSON", "--level", "Error"],
        ],
        ids=" ".join,
    )
    def test_every_choice_takes_any_case(self, args: list[str]) -> None:
        ran = run_cpa_ops(*args)
        assert ran.returncode == 0, ran.stderr

    def test_mode_option_takes_any_case_as_redis_mode_does(self) -> None:
        for args, env in (
            (["--mode", "STANDALONE"], clean_env()),
            ([], clean_env(REDIS_MODE="STANDALONE")),
        ):
            ran = run_cpa_ops(
                "ping", "-c", "1", "--redis-url", "redis://127.0.0.1:1/0", *args, env=env
            )
            assert ran.returncode == 1, ran  # got as far as a sample: refused
            assert "refused" in ran.stdout + ran.stderr


# --------------------------------------------------------------------------------------------
# d) unix socket URLs: an absolute path, percent-decoded as redis-py decodes it, or one line


class TestUnixSocketPaths:
    @pytest.mark.parametrize("command", [["health"], ["ping", "-c", "1"], ["config", "check"]])
    @pytest.mark.parametrize(
        "url", ["unix://relative/redis.sock", "unix:relative/redis.sock", "unix:///run/"]
    )
    def test_refused_with_one_line_naming_what_is_accepted(
        self, command: list[str], url: str
    ) -> None:
        """unix://relative/redis.sock was /redis.sock: redis-py drops the first part."""
        ran = run_cpa_ops(*command, "--redis-url", url)
        assert ran.returncode == 2, ran
        line = one_line(ran.stderr)
        assert line.startswith("cpa-ops: invalid configuration: REDIS_URL ")
        assert "unix:///absolute/path/to/socket" in line
        assert ran.stdout == ""

    @pytest.mark.timeout(60)
    def test_a_percent_encoded_path_reaches_the_socket(self, redis_server_bin: str) -> None:
        """A socket in a directory with a space, written %20, and the single-slash unix:/path:
        health passes, ping samples, config shows the URL as given."""
        import shutil
        import tempfile

        from tests.servers import redis_faults as faults

        # short: AF_UNIX paths end at 107 bytes, and pytest's tmp_path can be long
        root = Path(tempfile.mkdtemp(prefix="cpa-i14-"))
        try:
            socket_dir = root / "my sock"
            socket_dir.mkdir()
            path = socket_dir / "r.sock"
            encoded = str(path).replace(" ", "%20")
            with faults.redis_server("--unixsocket", str(path), workdir=root):
                url = f"unix://{encoded}"
                health = run_cpa_ops("health", "--format", "json", "--redis-url", url,
                                     "--timeout", "5")  # fmt: skip
                assert health.returncode == 0, health
                assert json.loads(health.stdout)["status"] in ("pass", "warn")
                ping = run_cpa_ops("ping", "-c", "1", "--redis-url", f"unix:{encoded}")
                assert ping.returncode == 0, ping
                assert "1 ok" in ping.stdout, ping.stdout
        finally:
            shutil.rmtree(root, ignore_errors=True)
