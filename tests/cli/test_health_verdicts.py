"""Issue 14's verdicts through the installed ``cpa-ops health``, where exit codes and streams
matter: a least-privilege user is a warning (exit 0), not ``auth``; a server without HELLO
passes over RESP2; the write prefix is an option and a setting; bad values exit 2 on one line.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.test_health_faults import ROOMY_TIMEOUT, _shown
from tests.cli.test_health_golden import _compare
from tests.conftest import Ran, clean_env, run_cpa_ops
from tests.servers import redis_verdict_faults as vf
from tests.servers.redis_faults import RedisServer

pytestmark = pytest.mark.timeout(60)


def _health(*args: str, env: dict[str, str] | None = None) -> Ran:
    return run_cpa_ops("health", "--timeout", str(ROOMY_TIMEOUT), *args, env=env, timeout=20)


def _json(ran: Ran) -> Any:
    try:
        return json.loads(ran.stdout)
    except ValueError:
        pytest.fail(f"stdout is not one JSON object\n{_shown(ran)}")


def _no_secret(ran: Ran) -> None:
    assert vf.ACL_PASSWORD not in ran.stdout + ran.stderr, _shown(ran)


class TestLeastPrivilegeUser:
    def test_info_denied_is_a_warning_in_json(
        self, redis_acl_users_per_module: RedisServer
    ) -> None:
        url = vf.acl_url(redis_acl_users_per_module, "ping-only")
        ran = _health("--redis-url", url, "--format", "json")
        document = _json(ran)
        assert (ran.returncode, document["status"]) == (0, "warn"), _shown(ran)
        (info,) = document["checks"]["redis:info"]
        assert (info["status"], info["reason"]) == ("warn", "info_denied")
        assert "redis:memory" not in document["checks"]
        _no_secret(ran)
        _compare("warn-info-denied", document)

    def test_info_denied_in_text_and_nagios(self, redis_acl_users_per_module: RedisServer) -> None:
        url = vf.acl_url(redis_acl_users_per_module, "no-info")
        text = _health("--redis-url", url)
        assert text.returncode == 0 and "[info_denied]" in text.stdout, _shown(text)
        assert "ACL SETUSER no-info +info" in text.stdout + text.stderr, _shown(text)
        nagios = _health("--redis-url", url, "--format", "nagios")
        assert nagios.returncode == 1 and nagios.stdout.startswith("CPA-OPS WARNING - ")
        assert "info_denied" in nagios.stdout, _shown(nagios)

    def test_write_denied_names_the_rule(self, redis_acl_users_per_module: RedisServer) -> None:
        url = vf.acl_url(redis_acl_users_per_module, "app-keys")
        ran = _health("--redis-url", url, "--write")
        both = ran.stdout + ran.stderr
        assert ran.returncode == 1 and "[write_denied]" in ran.stdout, _shown(ran)
        assert "ACL SETUSER app-keys ~cpa-ops:health:* +set +del" in both, _shown(ran)
        assert "auth" not in both.lower().replace("authenticat", ""), _shown(ran)
        quiet = _health("--redis-url", url, "--write", "--quiet")
        assert (quiet.returncode, quiet.stdout) == (1, ""), _shown(quiet)
        assert len(quiet.stderr.splitlines()) == 1 and "write_denied" in quiet.stderr
        _no_secret(ran)

    @pytest.mark.parametrize("via", ["option", "env"])
    def test_the_write_prefix_by_option_or_setting(
        self, redis_acl_users_per_module: RedisServer, via: str
    ) -> None:
        server = redis_acl_users_per_module
        args = ["--redis-url", vf.acl_url(server, "app-keys"), "--write", "--format", "json"]
        if via == "option":
            ran = _health(*args, "--write-prefix", "app:health:")
        else:
            ran = _health(*args, env=clean_env(REDIS_HEALTH_KEY_PREFIX="app:health:"))
        document = _json(ran)
        assert (ran.returncode, document["checks"]["redis:write"][0]["status"]) == (0, "pass"), (
            _shown(ran)
        )
        assert vf.keys(server, "app:health:*") == []

    def test_the_option_wins_over_the_setting(
        self, redis_acl_users_per_module: RedisServer
    ) -> None:
        url = vf.acl_url(redis_acl_users_per_module, "app-keys")
        ran = _health(
            "--redis-url",
            url,
            "--write",
            "--write-prefix",
            "denied:",
            env=clean_env(REDIS_HEALTH_KEY_PREFIX="app:health:"),
        )
        assert ran.returncode == 1 and "~denied:* +set +del" in ran.stdout + ran.stderr


class TestBadValues:
    @pytest.mark.parametrize("prefix", ["with space:", "", "tab\there", "x" * 201])
    def test_a_bad_write_prefix_exits_2_on_one_line(self, prefix: str) -> None:
        ran = _health("--redis-url", "redis://127.0.0.1:1/0", "--write-prefix", prefix)
        assert (ran.returncode, ran.stdout) == (2, ""), _shown(ran)
        (line,) = ran.stderr.splitlines()
        assert "REDIS_HEALTH_KEY_PREFIX" in line and "Traceback" not in ran.stderr
        assert "\t" not in line

    def test_a_bad_write_prefix_is_unknown_to_nagios(self) -> None:
        ran = _health("--write-prefix", "a b", "--format", "nagios")
        assert ran.returncode == 3 and ran.stdout.startswith("CPA-OPS UNKNOWN"), _shown(ran)

    @pytest.mark.parametrize(
        "url", ["redis://127.0.0.1:1/2", "redis://127.0.0.1:1?db=3", "redis://127.0.0.1:1/3?db=3"]
    )
    def test_cluster_mode_with_a_db_exits_2(self, url: str) -> None:
        ran = _health("--mode", "cluster", "--redis-url", url)
        assert (ran.returncode, ran.stdout) == (2, ""), _shown(ran)
        (line,) = ran.stderr.splitlines()
        assert "only db 0" in line and "Traceback" not in ran.stderr

    def test_help_names_the_option(self) -> None:
        ran = run_cpa_ops("health", "--help", env=clean_env(COLUMNS="200"))
        assert ran.returncode == 0 and "--write-prefix" in ran.stdout


class TestResp2:
    def test_a_server_without_hello_passes_over_resp2(
        self, redis_hello_renamed_per_module: RedisServer
    ) -> None:
        ran = _health(
            "--redis-url", redis_hello_renamed_per_module.url(), "--write", "--format", "json"
        )
        document = _json(ran)
        assert (ran.returncode, document["status"]) == (0, "pass"), _shown(ran)
        (ping,) = document["checks"]["redis:ping"]
        assert ping["details"]["protocol"] == 2
        _compare("pass-resp2-fallback", document)
