"""Bad input through the installed ``cpa-ops``: one clear stderr line, exit 2, no traceback,
no secret echoed; and the root command's --version / no-argument behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpa_ops import __version__
from tests.conftest import clean_env, run_cpa_ops

SECRET = "s3cr3t-PW-xyz"
pytestmark = pytest.mark.timeout(30)


def assert_one_clean_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


class TestRoot:
    def test_version(self) -> None:
        """--version prints the version on stdout and exits 0."""
        ran = run_cpa_ops("--version")
        assert ran.returncode == 0
        assert ran.stdout.strip() == f"cpa-ops {__version__}"

    def test_no_arguments_prints_the_help(self) -> None:
        """Bare ``cpa-ops`` shows the help listing the commands, without an error line."""
        ran = run_cpa_ops()
        assert "health" in ran.stdout
        assert "Usage" in ran.stdout
        assert "error" not in ran.stderr.lower()

    def test_unknown_command(self) -> None:
        """An unknown command is one line naming it, exit 2."""
        ran = run_cpa_ops("helth")
        assert ran.returncode == 2
        line = assert_one_clean_line(ran.stderr)
        assert "helth" in line


class TestHealthOptions:
    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (["--timeout", "abc"], "'abc' is not a number of seconds"),
            (["--timeout", "0"], "out of range"),
            (["--timeout", "-1"], "out of range"),
            (["--timeout", "nan"], "out of range"),
            (["--timeout", "inf"], "out of range"),
            (["--wait", "1e9"], "out of range"),
            (["--warn-ms", "fast"], "not a number of milliseconds"),
            (["--format", "xml"], "'xml' is not one of"),
            (["--bogus"], "No such option: --bogus"),
        ],
    )
    def test_bad_option_values(self, args: list[str], expected: str) -> None:
        """Each bad option value: one line naming the option and what it accepts, exit 2."""
        ran = run_cpa_ops("health", *args)
        assert ran.returncode == 2
        line = assert_one_clean_line(ran.stderr)
        assert expected in line
        assert ran.stdout == ""

    def test_bad_redis_url_option_never_echoes_the_password(self) -> None:
        """--redis-url with a bad scheme: exit 2, one line, the password absent."""
        ran = run_cpa_ops("health", "--redis-url", f"http://:{SECRET}@cache:6379/0")
        assert ran.returncode == 2
        line = assert_one_clean_line(ran.stderr)
        assert "REDIS_URL has 'http://'" in line
        assert SECRET not in ran.stderr + ran.stdout

    @pytest.mark.parametrize("command", [["health"], ["ping", "-c", "1"], ["config", "check"]])
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("ssl_ca_certs=/ca.pem", "TLS option ssl_ca_certs on redis://"),
            ("socket_timeout=abc", "sets socket_timeout, which cpa-ops sets itself"),
            ("foo=bar", "query option cpa-ops does not accept"),
        ],
    )
    def test_redis_url_query_options_redis_py_would_choke_on(
        self, command: list[str], query: str, expected: str
    ) -> None:
        """Found by the fuzzer: redis-py passes query options to the connection as keyword
        arguments, so these were an internal TypeError/ValueError at connect time."""
        url = f"redis://:{SECRET}@127.0.0.1:1/0?{query}"
        ran = run_cpa_ops(*command, env=clean_env(REDIS_URL=url))
        assert ran.returncode == 2, ran.stderr
        line = assert_one_clean_line(ran.stderr)
        assert expected in line and "internal error" not in line
        assert SECRET not in ran.stderr + ran.stdout


class TestConfiguration:
    def test_invalid_environment_lines_per_field(self) -> None:
        """Two bad variables give two lines, each naming its variable; exit 2."""
        ran = run_cpa_ops(
            "health",
            env=clean_env(
                ENVIRONMENT="prod",
                SENTRY_DSN=f"https://{SECRET}@",
                REDIS_URL="redis://127.0.0.1:1/0",
            ),
        )
        assert ran.returncode == 2
        lines = ran.stderr.strip().splitlines()
        assert len(lines) == 2, ran.stderr
        assert any("ENVIRONMENT 'prod'" in line for line in lines)
        assert any("SENTRY_DSN is malformed" in line for line in lines)
        assert SECRET not in ran.stderr + ran.stdout
        assert "Traceback" not in ran.stderr

    def test_nagios_format_reports_invalid_configuration_as_unknown(self) -> None:
        """With --format nagios, invalid configuration is UNKNOWN (3) on stdout."""
        ran = run_cpa_ops("health", "--format", "nagios", env=clean_env(ENVIRONMENT="qa"))
        assert ran.returncode == 3
        assert ran.stdout.startswith("CPA-OPS UNKNOWN - invalid configuration: ENVIRONMENT")

    def test_missing_env_file(self, tmp_path: Path) -> None:
        """--env-file naming a missing file: exit 2, one line naming it."""
        ran = run_cpa_ops("--env-file", str(tmp_path / "nope.env"), "health")
        assert ran.returncode == 2
        line = assert_one_clean_line(ran.stderr)
        assert "nope.env: no such file" in line

    def test_bad_env_file_line(self, tmp_path: Path) -> None:
        """A .env line that is not KEY=VALUE: exit 2, its line number named."""
        env_file = tmp_path / "bad.env"
        env_file.write_text("REDIS_URL=redis://127.0.0.1:1/0\n'unterminated\n")
        ran = run_cpa_ops("--env-file", str(env_file), "health")
        assert ran.returncode == 2
        line = assert_one_clean_line(ran.stderr)
        assert "line 2 is not KEY=VALUE" in line

    def test_env_file_values_are_used(self, tmp_path: Path) -> None:
        """Settings from --env-file reach the check (a refused port named in the output)."""
        env_file = tmp_path / "custom.env"
        env_file.write_text("REDIS_URL=redis://127.0.0.1:1/0\n")
        ran = run_cpa_ops("--env-file", str(env_file), "health", "--format", "json")
        assert ran.returncode == 1
        assert "127.0.0.1:1" in ran.stdout


class TestIssue12RejectedValues:
    @pytest.mark.parametrize(
        ("args", "expected"),
        [
            (["ping", f"redis://:{SECRET}@h:1"], "a Redis URL goes after --redis-url"),
            (["health", "--timeout", f"redis://:{SECRET}@h"], "a URL of"),
            (["ping", "--count", "123-45-6789"], "a value of 11 characters"),
            (["health", "--format", f"x{SECRET}:"], "is not one of 'text', 'json', 'nagios'"),
            (["sentry-test", "--level", SECRET + "@"], "is not one of"),
            (["sentry-test", "--tag", f"pw:{SECRET}"], "--tag (a value of"),
            (["health", "--format", "xml"], "'xml' is not one of"),
        ],
    )
    def test_a_value_is_shown_only_when_harmless(self, args: list[str], expected: str) -> None:
        ran = run_cpa_ops(*args)
        assert ran.returncode == 2
        line = assert_one_clean_line(ran.stderr)
        assert expected in line and SECRET not in line and "6789" not in line

    @pytest.mark.parametrize(
        "value", ["4111111111111111", "9" * 5000, "0" * 4400 + "2000000000", "1e3", "-1"]
    )
    @pytest.mark.parametrize("command", ["log-test", "ping"])
    def test_counts_never_echo_a_card_number_and_say_what_is_accepted(
        self, command: str, value: str
    ) -> None:
        """log-test's --count repeated a rejected number in full (Click's range message) and
        ping's -c named no range for a number past Python's int digit limit."""
        ran = run_cpa_ops(command, "--count", value)
        assert ran.returncode == 2, ran
        line = assert_one_clean_line(ran.stderr)
        assert "expected a whole number from" in line, line
        assert "4111111111111111" not in line and "99999999" not in line, line

    def test_hidden_password_url_says_to_percent_encode(self) -> None:
        ran = run_cpa_ops("health", "--redis-url", "redis://:ab#cd@127.0.0.1:1/0")
        assert ran.returncode == 2
        line = assert_one_clean_line(ran.stderr)
        assert "percent-encode" in line and "%23" in line and "ab#cd" not in line


class TestUndecodableBytes:
    """argv and environment values holding bytes that are not UTF-8 (Python sees lone
    surrogates): refused with one line naming the variable, or shown written out; stdout
    stays UTF-8 (a raw 0xff byte makes a JSON document unreadable to jq and friends)."""

    PASSWORD = "pw\udcffrest-of-it"

    @pytest.mark.parametrize(
        ("env", "args", "variable"),
        [
            ({"REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:1/0"}, ["config", "check"], "REDIS_URL"),
            ({}, ["health", "--redis-url", f"redis://:{PASSWORD}@127.0.0.1:1/0"], "REDIS_URL"),
            ({"SENTRY_DSN": f"https://{PASSWORD}@127.0.0.1/1"}, ["sentry-test"], "SENTRY_DSN"),
            (
                {
                    "REDIS_MODE": "sentinel",
                    "REDIS_SENTINELS": "127.0.0.1:1",
                    "REDIS_SENTINEL_MASTER": "my\udcffmaster",
                },
                ["config", "check"],
                "REDIS_SENTINEL_MASTER",
            ),
            (
                {"REDIS_SENTINEL_PASSWORD": PASSWORD},
                [
                    "health",
                    "--mode",
                    "sentinel",
                    "--sentinels",
                    "127.0.0.1:1",
                    "--sentinel-master",
                    "m",
                ],
                "REDIS_SENTINEL_PASSWORD",
            ),
        ],
        ids=[
            "REDIS_URL",
            "--redis-url",
            "SENTRY_DSN",
            "REDIS_SENTINEL_MASTER",
            "REDIS_SENTINEL_PASSWORD",
        ],
    )
    def test_refused_naming_the_variable(
        self, env: dict[str, str], args: list[str], variable: str
    ) -> None:
        ran = run_cpa_ops(*args, env=clean_env(**env))
        assert ran.returncode == 2, ran
        line = assert_one_clean_line(ran.stderr)
        assert line.startswith(f"cpa-ops: invalid configuration: {variable} "), line
        assert "codec" not in line and "surrogate" not in line, line
        assert "rest-of-it" not in ran.stdout + ran.stderr

    @pytest.mark.parametrize("option", ["--message", "--tag"])
    def test_dry_run_envelope_stays_utf8_json(self, option: str) -> None:
        import json
        import subprocess

        from tests.conftest import BIN

        value = "hello\udcffworld" if option == "--message" else "k=v\udcff"
        dsn = "https://f00dfeedf00dfeed@127.0.0.1:1/1"
        proc = subprocess.run(
            [str(BIN), "sentry-test", "--dry-run", "--format", "json", option, value],
            env=clean_env(SENTRY_DSN=dsn),
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, proc
        document = json.loads(proc.stdout.decode("utf-8"))  # strict: no raw 0xff byte
        assert "\\udcff" in json.dumps(document), document
