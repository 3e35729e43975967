"""Issue 14, class 7: the CLI's corners, through the installed ``cpa-ops`` where exit codes and
streams matter. Options given on a group reach its subcommands; one set of spellings for a log
level (and any case for every choice); usage errors under ``--format nagios`` are UNKNOWN;
a closed or vanished stdout is never an internal error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    # health: a roomy --timeout, or a loaded machine's slow settings load is a deadline verdict
    @pytest.mark.parametrize(
        "command", [["health", "--timeout", "10"], ["ping", "-c", "1"], ["config", "check"]]
    )
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


# --------------------------------------------------------------------------------------------
# b) usage errors under --format nagios: UNKNOWN (3) with a status line, never CRITICAL (2)

NAGIOS_USAGE_ERRORS = {
    "bad value": (["--timeout", "abc"], "is not a number of seconds"),
    "bad value before the format": (["--warn-ms", "fast"], "not a number of milliseconds"),
    "unknown option": (["--bogus"], "No such option: --bogus"),
    "missing value": (["--timeout"], "requires an argument"),
    "extra argument": ([f"redis://:{PASSWORD}@h:1"], "a Redis URL goes after --redis-url"),
    "a secret where a number goes": (["--timeout", f"redis://:{PASSWORD}@h"], "a URL of"),
    "watch with wait": (["--watch", "1", "--wait", "2"], "--watch and --wait cannot be combined"),
    "bad mode": (["--mode", "ring"], "is not one of"),
}


def assert_nagios_unknown(ran: object, expected: str) -> str:
    from tests.conftest import Ran

    assert isinstance(ran, Ran)
    assert ran.returncode == 3, ran
    lines = ran.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("CPA-OPS UNKNOWN - "), ran
    assert expected in lines[0], lines[0]
    assert "|" not in lines[0]  # no perfdata: nothing was measured
    assert ran.stderr == "", ran.stderr
    assert PASSWORD not in ran.stdout and "Traceback" not in ran.stdout
    return lines[0]


class TestNagiosUsageErrors:
    @pytest.mark.parametrize("case", list(NAGIOS_USAGE_ERRORS))
    def test_usage_errors_are_unknown(self, case: str) -> None:
        args, expected = NAGIOS_USAGE_ERRORS[case]
        ran = run_cpa_ops("health", "--format", "nagios", *args)
        line = assert_nagios_unknown(ran, expected)
        assert line.startswith("CPA-OPS UNKNOWN - usage error: ")

    @pytest.mark.parametrize(
        "spelling",
        [["--format=nagios"], ["--format", "NAGIOS"], ["--format", "json", "--format", "nagios"]],
        ids=" ".join,
    )
    def test_every_spelling_of_the_format(self, spelling: list[str]) -> None:
        """Click has parsed nothing when it refuses a value: the words decide, as Click would."""
        ran = run_cpa_ops("health", "--timeout", "abc", *spelling)
        assert_nagios_unknown(ran, "is not a number of seconds")

    def test_a_bad_global_option_before_health(self) -> None:
        ran = run_cpa_ops("--bogus", "health", "--format", "nagios")
        assert_nagios_unknown(ran, "No such option: --bogus")

    @pytest.mark.parametrize(
        ("env", "expected"),
        [
            ({"ENVIRONMENT": "qa"}, "invalid configuration: ENVIRONMENT 'qa'"),
            ({"LOG_LEVEL": "loud"}, "invalid configuration: LOG_LEVEL 'LOUD'"),
            ({"REDIS_URL": "unix://relative/x.sock"}, "invalid configuration: REDIS_URL has"),
            ({"CPA_OPS_ENV_FILE": "/nonexistent/cpa.env"}, "no such file"),
        ],
    )
    def test_bad_environment_is_unknown(self, env: dict[str, str], expected: str) -> None:
        # a roomy --timeout: on a loaded machine the settings can take past the default 1 s
        ran = run_cpa_ops("health", "--format", "nagios", "--timeout", "10", env=clean_env(**env))
        assert_nagios_unknown(ran, expected)

    @pytest.mark.parametrize(
        ("content", "expected"),
        [("REDIS_URL=http://x\n", "REDIS_URL has 'http://'"), ("'unterminated\n", "line 1")],
    )
    def test_bad_env_file_is_unknown(self, content: str, expected: str, tmp_path: Path) -> None:
        env_file = tmp_path / "bad.env"
        env_file.write_text(content)
        ran = run_cpa_ops(
            "--env-file", str(env_file), "health", "--format", "nagios", "--timeout", "10"
        )
        assert_nagios_unknown(ran, expected)

    @pytest.mark.parametrize("fmt", ["text", "json"])
    def test_other_formats_keep_exit_2_and_one_stderr_line(self, fmt: str) -> None:
        """text and json: a usage error is one stderr line, exit 2, and no document on stdout
        (the JSON a command prints is its result: a usage error leaves it no result)."""
        ran = run_cpa_ops("health", "--format", fmt, "--timeout", "abc")
        assert ran.returncode == 2 and ran.stdout == "", ran
        assert "is not a number of seconds" in one_line(ran.stderr)

    def test_a_later_format_that_is_not_nagios_is_not_nagios(self) -> None:
        ran = run_cpa_ops("health", "--format", "nagios", "--format", "text", "--bogus")
        assert ran.returncode == 2 and ran.stdout == "", ran
        one_line(ran.stderr)

    def test_other_commands_are_untouched(self) -> None:
        """Only health has a Nagios format: a 'nagios' elsewhere is a refused value, exit 2."""
        ran = run_cpa_ops("ping", "--format", "nagios")
        assert ran.returncode == 2 and "is not one of" in one_line(ran.stderr), ran


# --------------------------------------------------------------------------------------------
# c) a stdout that is closed, whose reader went away, or that is full: never an internal error


@dataclass(frozen=True)
class Streamed:
    returncode: int
    stdout: str
    stderr: str


def run_with_stdout(how: str, args: list[str], env: dict[str, str]) -> Streamed:
    """The installed cpa-ops with stdout ``closed`` (>&-), a pipe whose reader is ``gone``
    (EPIPE on the first write, every time), ``full`` (/dev/full), ``null`` (/dev/null: the
    reference), or with stderr closed (``stderr-closed``)."""
    import os
    import subprocess

    from tests.conftest import BIN

    command = [str(BIN), *args]
    options: dict[str, object] = {"env": env, "stdin": subprocess.DEVNULL, "timeout": 60}
    if how == "closed":
        command = ["sh", "-c", 'exec "$@" >&-', "sh", *command]
        proc = subprocess.run(command, stderr=subprocess.PIPE, **options)  # type: ignore[call-overload]
    elif how == "stderr-closed":
        command = ["sh", "-c", 'exec "$@" 2>&-', "sh", *command]
        proc = subprocess.run(command, stdout=subprocess.PIPE, **options)  # type: ignore[call-overload]
    elif how == "gone":
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            proc = subprocess.run(command, stdout=write_end, stderr=subprocess.PIPE, **options)  # type: ignore[call-overload]
        finally:
            os.close(write_end)
    else:
        target = {"full": "/dev/full", "null": os.devnull}[how]
        with open(target, "w") as stdout:
            proc = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, **options)  # type: ignore[call-overload]
    out = (proc.stdout or b"").decode(errors="replace")
    err = (proc.stderr or b"").decode(errors="replace")
    return Streamed(proc.returncode, out, err)


#: every command, each as it writes to stdout (a roomy --timeout: a loaded machine must not
#: turn a verdict into a deadline; that path is the watchdog's)
STREAM_COMMANDS = {
    "health": ["health", "--timeout", "10"],
    "health json": ["health", "--format", "json", "--timeout", "10"],
    "health nagios": ["health", "--format", "nagios", "--timeout", "10"],
    "health failing": ["health", "--redis-url", "redis://127.0.0.1:1/0", "--timeout", "10"],
    "health --watch": ["health", "--watch", "0.2", "--timeout", "10"],
    "ping": ["ping", "-c", "2", "-i", "0", "-W", "10"],
    "ping json": ["ping", "-c", "2", "-i", "0", "-W", "10", "--format", "json"],
    "config": ["config"],
    "config check": ["config", "check"],
    "log-test": ["log-test", "--count", "3"],
    "sentry-test --dry-run": ["sentry-test", "--dry-run"],
    "--version": ["--version"],
    "--help": ["--help"],
    "health --help": ["health", "--help"],
    "no command": [],
}


@pytest.fixture(scope="module")
def stream_env(redis_server_per_module: Any) -> dict[str, str]:
    return clean_env(REDIS_URL=redis_server_per_module.url())


def no_crash(ran: Streamed) -> None:
    both = ran.stdout + ran.stderr
    assert "Traceback" not in both and "internal error" not in both, ran
    assert ran.returncode >= 0, f"killed by signal {-ran.returncode}: {ran}"


class TestStdoutCannotBeWritten:
    @pytest.mark.parametrize("name", [n for n in STREAM_COMMANDS if n != "health --watch"])
    def test_closed_stdout_is_dev_null(self, name: str, stream_env: dict[str, str]) -> None:
        """>&-: the command's own exit code, as with >/dev/null, and its stderr as there."""
        args = STREAM_COMMANDS[name]
        reference = run_with_stdout("null", args, stream_env)
        ran = run_with_stdout("closed", args, stream_env)
        no_crash(ran)
        assert ran.returncode == reference.returncode, (ran, reference)
        assert ran.stderr == reference.stderr or name.startswith("ping"), (ran, reference)

    @pytest.mark.parametrize("name", list(STREAM_COMMANDS))
    def test_reader_gone_exits_141_quietly(self, name: str, stream_env: dict[str, str]) -> None:
        """EPIPE on the first write: exit 141 (128 + SIGPIPE), nothing on stderr."""
        ran = run_with_stdout("gone", STREAM_COMMANDS[name], stream_env)
        no_crash(ran)
        assert ran.returncode == 141, ran
        assert ran.stderr == "", ran

    @pytest.mark.parametrize("name", list(STREAM_COMMANDS))
    def test_full_stdout_is_one_line_exit_1(self, name: str, stream_env: dict[str, str]) -> None:
        if not Path("/dev/full").exists():
            pytest.skip("no /dev/full here")
        ran = run_with_stdout("full", STREAM_COMMANDS[name], stream_env)
        no_crash(ran)
        assert ran.returncode == 1, ran
        line = one_line(ran.stderr) if name != "health failing" else ran.stderr.splitlines()[-1]
        assert line == "cpa-ops: error: stdout could not be written (No space left on device)"

    @pytest.mark.parametrize("name", [n for n in STREAM_COMMANDS if n != "health --watch"])
    def test_closed_stderr_changes_nothing(self, name: str, stream_env: dict[str, str]) -> None:
        """2>&-: stdout and the exit code as with stderr open (ping aborted: a socket had
        taken descriptor 2, and its error lines went into it)."""
        args = STREAM_COMMANDS[name]
        reference = run_with_stdout("null", args, stream_env)
        ran = run_with_stdout("stderr-closed", args, stream_env)
        assert ran.returncode == reference.returncode, (ran, reference)
        if name != "log-test":  # its showcase logs a traceback on purpose
            assert "Traceback" not in ran.stdout
        if ran.returncode == 0:
            assert ran.stdout.strip(), ran

    @pytest.mark.parametrize(
        "args", [["health", "--bogus"], ["health", "--timeout", "x"], ["config", "--bogus"]]
    )
    def test_usage_errors_write_no_stdout_and_keep_exit_2(
        self, args: list[str], stream_env: dict[str, str]
    ) -> None:
        for how in ("gone", "closed", "full"):
            ran = run_with_stdout(how, args, stream_env)
            no_crash(ran)
            assert ran.returncode == 2, (how, ran)
            assert "error:" in one_line(ran.stderr)

    def test_a_reader_leaving_midway_stops_a_stream_with_141(
        self, stream_env: dict[str, str]
    ) -> None:
        """ping until Ctrl-C, read for two lines, then the reader leaves: exit 141 soon."""
        import subprocess

        from tests.conftest import BIN

        proc = subprocess.Popen(
            [str(BIN), "ping", "-i", "0.01", "-W", "10"],
            env=stream_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        try:
            proc.stdout.readline()
            proc.stdout.readline()
            proc.stdout.close()
            proc.wait(timeout=20)
        finally:
            proc.kill()
            proc.wait()
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.returncode == 141, stderr
        assert "Traceback" not in stderr and "internal error" not in stderr


class TestRichBrokenPipe:
    def test_a_live_view_s_broken_pipe_is_output_lost(self) -> None:
        """Rich would SystemExit(1) on a broken pipe: the Terminal's consoles raise
        OutputLost (stdout) or drop the text (stderr) instead."""
        import errno

        from cpa_ops.cli.console import Terminal
        from cpa_ops.cli.exits import OutputLost

        class Gone:
            def write(self, text: str) -> int:
                raise BrokenPipeError(errno.EPIPE, "Broken pipe")

            def flush(self) -> None:
                raise BrokenPipeError(errno.EPIPE, "Broken pipe")

            def isatty(self) -> bool:
                return False

            def fileno(self) -> int:
                raise OSError("no descriptor")

        terminal = Terminal(stdout=Gone(), stderr=Gone(), environ={})  # type: ignore[arg-type]
        with pytest.raises(OutputLost) as lost:
            terminal.rich().print("a line")
        assert lost.value.reader_gone
        terminal.rich(stderr=True).print("a diagnostic")  # lost, nothing raised
        terminal.err("a diagnostic")
        with pytest.raises(OutputLost):
            terminal.out("a result")
