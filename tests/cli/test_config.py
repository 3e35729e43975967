"""``cpa-ops config`` (show, check) through the installed console script: every effective
setting with its source, secrets masked in text and JSON, and check's exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import clean_env, run_cpa_ops

pytestmark = pytest.mark.timeout(30)
PASSWORD = "Redis-Pa55-777"
DSN_KEY = "0123456789abcdef0123456789abcdef"
VARIABLES = [
    "REDIS_URL",
    "REDIS_SENTINEL_PASSWORD",
    "REDIS_SENTINEL_USERNAME",
    "REDIS_MAX_CONNECTIONS",
    "SENTRY_DSN",
    "SENTRY_TRACES_SAMPLE_RATE",
    "ENVIRONMENT",
    "LOG_LEVEL",
]


def show_json(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    ran = run_cpa_ops(*args, "--format", "json", env=env, cwd=cwd)
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


def table(stdout: str) -> dict[str, tuple[str, str]]:
    """VARIABLE -> (value, source) from the text table."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        parts = re.split(r"\s{2,}", line.strip())  # columns are padded, sources have spaces
        if len(parts) == 3 and parts[0] in VARIABLES:
            rows[parts[0]] = (parts[1], parts[2])
    return rows


class TestShow:
    def test_defaults(self, tmp_path: Path) -> None:
        """No environment, no .env: every setting listed with its default, source default."""
        ran = run_cpa_ops("config", cwd=tmp_path)
        assert ran.returncode == 0
        assert ran.stdout.splitlines()[0].split() == ["SETTING", "VALUE", "SOURCE"]
        rows = table(ran.stdout)
        assert list(rows) == VARIABLES
        assert rows["REDIS_URL"] == ("redis://localhost:6379/0", "default")
        assert rows["REDIS_MAX_CONNECTIONS"] == ("20", "default")
        assert rows["SENTRY_DSN"] == ("(unset)", "default")
        assert rows["ENVIRONMENT"] == ("development", "default")
        assert ".env file: (none)" in ran.stdout

    def test_show_is_the_default_subcommand(self, tmp_path: Path) -> None:
        """``config`` and ``config show`` print the same."""
        env = clean_env(LOG_LEVEL="debug")
        shown = run_cpa_ops("config", env=env, cwd=tmp_path).stdout
        assert table(shown)["LOG_LEVEL"] == ("DEBUG", "environment")
        assert shown == run_cpa_ops("config", "show", env=env, cwd=tmp_path).stdout

    def test_sources_environment_env_file_default_and_option(self, tmp_path: Path) -> None:
        """Each value names where it came from: the environment beats the .env file, an option
        beats both, the rest are defaults."""
        (tmp_path / ".env").write_text(
            "ENVIRONMENT=staging\nLOG_LEVEL=warning\nREDIS_MAX_CONNECTIONS=7\n"
        )
        env = clean_env(LOG_LEVEL="ERROR", REDIS_URL="redis://envhost:6379/1")
        document = show_json("config", "show", env=env, cwd=tmp_path)
        settings = document["settings"]
        assert document["envFile"] == ".env"
        assert settings["ENVIRONMENT"] == {"value": "staging", "source": ".env file"}
        assert settings["REDIS_MAX_CONNECTIONS"] == {"value": 7, "source": ".env file"}
        assert settings["LOG_LEVEL"] == {"value": "ERROR", "source": "environment"}
        assert settings["REDIS_URL"] == {"value": "redis://envhost:6379/1", "source": "environment"}
        assert settings["SENTRY_TRACES_SAMPLE_RATE"] == {"value": 0.1, "source": "default"}
        overridden = show_json(
            "config", "--redis-url", "redis://cli:6380/2", env=env, cwd=tmp_path
        )["settings"]["REDIS_URL"]
        assert overridden == {"value": "redis://cli:6380/2", "source": "--redis-url option"}

    def test_global_env_file_option(self, tmp_path: Path) -> None:
        """--env-file PATH: its values, with the file named as their source."""
        env_file = tmp_path / "prod.env"
        env_file.write_text("ENVIRONMENT=production\n")
        ran = run_cpa_ops("--env-file", str(env_file), "config", cwd=tmp_path)
        assert ran.returncode == 0
        assert table(ran.stdout)["ENVIRONMENT"] == ("production", f"{env_file} file")
        assert f".env file: {env_file}" in ran.stdout

    def test_secrets_masked_in_text_and_json(self, tmp_path: Path) -> None:
        """The Redis password and the Sentry DSN key never appear, masked as ***."""
        env = clean_env(
            REDIS_URL=f"redis://app:{PASSWORD}@cache:6379/0",
            SENTRY_DSN=f"https://{DSN_KEY}@o1.ingest.example/42",
        )
        text = run_cpa_ops("config", env=env, cwd=tmp_path)
        document = run_cpa_ops("config", "--format", "json", env=env, cwd=tmp_path)
        for ran in (text, document):
            assert ran.returncode == 0
            assert PASSWORD not in ran.stdout + ran.stderr
            assert DSN_KEY not in ran.stdout + ran.stderr
        settings = json.loads(document.stdout)["settings"]
        assert settings["REDIS_URL"]["value"] == "redis://app:***@cache:6379/0"
        assert settings["SENTRY_DSN"]["value"] == "https://***@o1.ingest.example/42"
        assert "redis://app:***@cache:6379/0" in text.stdout

    def test_sentinel_password_masked_whole(self, tmp_path: Path) -> None:
        """REDIS_SENTINEL_PASSWORD shows as *** (a bare password: nothing of it kept), the
        username as given."""
        env = clean_env(REDIS_SENTINEL_PASSWORD=PASSWORD, REDIS_SENTINEL_USERNAME="sentinel-user")
        text = run_cpa_ops("config", env=env, cwd=tmp_path)
        document = run_cpa_ops("config", "--format", "json", env=env, cwd=tmp_path)
        for ran in (text, document):
            assert ran.returncode == 0, ran.stderr
            assert PASSWORD not in ran.stdout + ran.stderr
        settings = json.loads(document.stdout)["settings"]
        assert settings["REDIS_SENTINEL_PASSWORD"] == {"value": "***", "source": "environment"}
        assert settings["REDIS_SENTINEL_USERNAME"]["value"] == "sentinel-user"
        assert table(text.stdout)["REDIS_SENTINEL_PASSWORD"] == ("***", "environment")

    def test_secret_in_env_file_masked(self, tmp_path: Path) -> None:
        """A password in the .env file is masked too."""
        (tmp_path / ".env").write_text(f"REDIS_URL=rediss://:{PASSWORD}@cache:6380/0\n")
        ran = run_cpa_ops("config", cwd=tmp_path)
        assert PASSWORD not in ran.stdout
        assert table(ran.stdout)["REDIS_URL"] == ("rediss://:***@cache:6380/0", ".env file")

    def test_show_of_invalid_configuration_exits_2(self, tmp_path: Path) -> None:
        """show cannot show an invalid configuration: one line per bad field, exit 2."""
        ran = run_cpa_ops("config", env=clean_env(LOG_LEVEL="loud"), cwd=tmp_path)
        assert ran.returncode == 2
        assert ran.stdout == ""
        assert ran.stderr.startswith("cpa-ops: invalid configuration: LOG_LEVEL 'LOUD'")


class TestCheck:
    def test_valid_configuration_exits_0(self, tmp_path: Path) -> None:
        """A valid configuration: exit 0, one line on stdout, nothing on stderr."""
        ran = run_cpa_ops("config", "check", cwd=tmp_path)
        assert ran.returncode == 0
        assert ran.stdout.startswith("configuration valid")
        assert ran.stderr == ""

    def test_one_line_per_bad_field_exit_2(self, tmp_path: Path) -> None:
        """Three bad fields: three stderr lines, each naming its variable and what it accepts;
        no secret echoed; no traceback."""
        env = clean_env(
            REDIS_URL=f"http://:{PASSWORD}@cache:6379/0",
            SENTRY_TRACES_SAMPLE_RATE="2",
            ENVIRONMENT="prod",
            LOG_LEVEL="INFO",
        )
        ran = run_cpa_ops("config", "check", env=env, cwd=tmp_path)
        assert ran.returncode == 2
        lines = ran.stderr.strip().splitlines()
        assert len(lines) == 3, ran.stderr
        assert sorted(line.split()[3] for line in lines) == [
            "ENVIRONMENT",
            "REDIS_URL",
            "SENTRY_TRACES_SAMPLE_RATE",
        ]
        assert all("expected" in line for line in lines)
        assert PASSWORD not in ran.stdout + ran.stderr
        assert "Traceback" not in ran.stderr

    def test_bad_env_file_value(self, tmp_path: Path) -> None:
        """A bad value in the .env file fails the check just as from the environment."""
        (tmp_path / ".env").write_text("REDIS_MAX_CONNECTIONS=0\n")
        ran = run_cpa_ops("config", "check", cwd=tmp_path)
        assert ran.returncode == 2
        assert "REDIS_MAX_CONNECTIONS" in ran.stderr

    def test_json_check(self, tmp_path: Path) -> None:
        """--format json: {"valid", "problems"} on stdout, the exit code as in text."""
        good = run_cpa_ops("config", "check", "--format", "json", cwd=tmp_path)
        assert good.returncode == 0
        assert json.loads(good.stdout) == {"valid": True, "problems": []}
        bad = run_cpa_ops(
            "config", "check", "--format", "json", env=clean_env(ENVIRONMENT="qa"), cwd=tmp_path
        )
        assert bad.returncode == 2
        document = json.loads(bad.stdout)
        assert document["valid"] is False
        assert len(document["problems"]) == 1
        assert document["problems"][0].startswith("ENVIRONMENT 'qa'")

    def test_check_of_a_redis_url_option(self, tmp_path: Path) -> None:
        """--redis-url is validated like REDIS_URL, never echoed when invalid."""
        ran = run_cpa_ops(
            "config", "check", "--redis-url", f"redis://:{PASSWORD}@host:99999/0", cwd=tmp_path
        )
        assert ran.returncode == 2
        assert "REDIS_URL has an invalid port" in ran.stderr
        assert PASSWORD not in ran.stderr

    def test_bad_format_is_usage(self, tmp_path: Path) -> None:
        """--format yaml: one line, exit 2."""
        ran = run_cpa_ops("config", "check", "--format", "yaml", cwd=tmp_path)
        assert ran.returncode == 2
        assert len(ran.stderr.strip().splitlines()) == 1
        assert "'yaml' is not one of" in ran.stderr


class TestIssue12:
    @pytest.mark.parametrize("fmt", ["text", "json"])
    def test_show_and_check_of_a_url_hiding_its_password(self, fmt: str, tmp_path: Path) -> None:
        env = clean_env(REDIS_URL="redis://secretpw#x@127.0.0.1:1")
        for sub in ("show", "check"):
            ran = run_cpa_ops("config", sub, "--format", fmt, env=env, cwd=tmp_path)
            assert ran.returncode == 2
            assert "secretpw" not in ran.stdout + ran.stderr
            assert "percent-encode" in ran.stderr
