"""Sweep of issue 12's input classes 2, 3, 6 and 7, across commands and formats.

2: a REDIS_URL or SENTRY_DSN whose password (key) hides in the host, path, query or fragment.
3: rejected values (options, positional arguments, sentinel entries, tags) that carry a secret
   or PII. 6: .env files that would hang or never end, host names IDNA cannot encode, malformed
   IPv6 sentinels. 7: one DSN validator, at least as strict as the SDK's.

Every case: exit 2 (nagios: 3, the UNKNOWN line on stdout) with exactly one line for a person,
no traceback, no internal error, no planted secret or PII, no raw control character. Most run
in-process (``cpa_ops.cli.run``); the FIFO and deadline cases run the installed ``cpa-ops``.
No case reaches a network: every value is rejected before a connection or a name lookup.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest

from cpa_ops.core.urls import validate_sentry_dsn
from tests.conftest import clean_env, run_cpa_ops
from tests.sweep.in_process import in_process

pytestmark = pytest.mark.slow

PW = "Zq7#Kx?9/Lm@Wd"  # a password made of every character that must be percent-encoded
KEY = "f00dfeedf00dfeed"  # a DSN public key
SSN = "123-45-6789"
EMAIL = "jane.doe@example.com"
PHONE = "+1 415 555 0134"
PLANTED = (PW, quote(PW, safe=""), "Zq7", "Kx?9", "Lm@Wd", KEY, SSN, EMAIL, PHONE, "hunter-pw")

# --------------------------------------------------------------------------------------------
# The values

#: class 2: URLs whose password hides in the host, path, query or fragment
HIDDEN_PASSWORD_URLS = [
    "redis://:Zq7#Kx?9/Lm@Wd@127.0.0.1:1/0",  # all of it unencoded
    "redis://:Zq7#Kx@127.0.0.1:1/0",  # fragment holds the rest and the host
    "redis://Zq7#Kx@127.0.0.1:1",  # a lone userinfo: the password would be the host
    "redis://user:1234#Zq7@127.0.0.1:1",  # 'user' would be the host, 1234 the port
    "redis://Zq7?Kx9@127.0.0.1:1",  # the query would hold the rest
    "redis://:Zq7?Kx=9@127.0.0.1:1/0",
    "redis://:Zq7/Kx9@127.0.0.1:1/0",  # the path would hold the rest
    "redis://user:1234/Lm@Wd@127.0.0.1:1",
    "redis://:Zq7@Kx9@127.0.0.1:1/0",  # more than one '@'
    "redis://u@Zq7:Kx9@127.0.0.1:1",
    "redis://:Zq7[Kx9@127.0.0.1:1",  # a '[' in the password
    "redis://:Zq7]Kx9@127.0.0.1:1",
    "redis://:Zq7Kx9Lm@",  # userinfo with no host
    "redis://:Zq7Kx9Lm@:6379/0",  # empty host
    "rediss://:Zq7#Kx9@127.0.0.1:1?ssl_cert_reqs=none",
    "unix://:Zq7Kx9Lm@",  # unix: userinfo, no path
    "unix://Zq7Kx9Lm/tmp/redis.sock",  # unix: a 'host' that is the password
    "redis://:Zq7 Kx9@127.0.0.1:1",  # a space
    "redis://127.0.0.1:1/0?client_name=Zq7@Kx9",  # '@' in the query
]
#: class 2 in cluster mode: a ',' in the password cuts the seed list
HIDDEN_PASSWORD_SEEDS = [
    "redis://:Zq7,Kx9@127.0.0.1:1,redis://127.0.0.1:2",
    "redis://127.0.0.1:1,redis://:Zq7#Kx9@127.0.0.1:2",
]
#: class 2/7: DSNs whose key hides, or that the SDK would reject
BAD_DSNS = [
    f"https://{KEY}#x@127.0.0.1/1",
    f"https://{KEY}?x@127.0.0.1/1",
    f"https://{KEY}/x@127.0.0.1/1",
    f"https://{KEY}@x@127.0.0.1/1",
    f"https://{KEY}@127.0.0.1/1#frag",
    f"https://{KEY}@127.0.0.1/abc",
    f"https://{KEY}@127.0.0.1/1 2",
    f"https://{KEY}@127.0.0.1/" + "1" * 100_000,
    f"https://{KEY}@127.0.0.1/1" + "0" * 30,
    f"https://{KEY}@127.0.0.1/",
    f"https://{KEY}@127.0.0.1/42/",
    f"https://{KEY}@127.0.0.1:99999/1",
    f"https://{KEY}@a..b/1",
    f"https://{KEY}@[zz::1]/1",
    f"https://{KEY}@127.0.0.1/\u0661",
    f"https://{KEY}@127.0.0.1/+1",
    f"ftp://{KEY}@127.0.0.1/1",
    "https://127.0.0.1/1",
    f"https://{KEY}@/1",
    f"https://{KEY}@127.0.0.1/1?x=1",
]
#: class 6: host names that fail IDNA or are not host names at all
BAD_HOSTS = [
    "a..b",
    ".a",
    "a" * 64 + ".example",
    "x" * 254,
    "\udcff.example",
    "ex\x01ample",
    "ex ample",
]
#: class 6: sentinel entries that are malformed (or carry credentials, class 3)
BAD_SENTINELS = [
    "[::1",
    "[zz::1]:26379",
    "::1:26379",
    "[::1]",
    "[::1]26379",
    "a..b:26379",
    "a" * 64 + ":26379",
    "\udcff:26379",
    f"user:{PW}@127.0.0.1:26379",
    f":{PW}@127.0.0.1:26379",
    "127.0.0.1:99999",
    f"{SSN}",
    f"{EMAIL}:26379",
]
#: class 3: what a careless user types where a number, a choice or nothing belongs
PLANTED_VALUES = [
    f"redis://:{PW}@127.0.0.1:1/0",
    f"redis://:{quote(PW, safe='')}@127.0.0.1:1/0",
    SSN,
    EMAIL,
    PHONE,
    "hunter-pw:" + "9" * 9,
    "\x1b]0;pwned\x07\x1b[2J",
    "9" * 40,
]


# --------------------------------------------------------------------------------------------
# Running and judging


def assert_rejected(
    code: int, out: str, err: str, argv: list[str], *, planted=PLANTED, usage: bool = False
) -> None:
    """Exit 2 with one line (under health --format nagios: exit 3, the UNKNOWN line, for an
    invalid configuration and a usage error alike), nothing planted shown."""
    both = out + err
    assert "Traceback" not in both and "internal error" not in both, both
    for secret in planted:
        assert secret not in both, f"{secret!r} shown: {both!r}"
    assert all(c.isprintable() or c == "\n" for c in both), f"raw control character: {both!r}"
    if "health" in argv and "nagios" in argv:
        assert code == 3, both
        assert err == "" and len(out.splitlines()) == 1, both
        kind = "usage error" if usage else "invalid configuration"
        assert out.startswith(f"CPA-OPS UNKNOWN - {kind}: "), out
        return
    assert code == 2, both
    assert len(err.splitlines()) == 1 and err.strip(), f"not one stderr line: {err!r}"
    if out:  # config check --format json: one object saying invalid
        assert json.loads(out)["valid"] is False, out


#: every command that loads the settings, in every format (no network is reached: the
#: configuration is always invalid)
SETTINGS_COMMANDS = [
    ["health"],
    ["health", "--format", "json"],
    ["health", "--format", "nagios"],
    ["ping", "-c", "1"],
    ["config", "show"],
    ["config", "check"],
    ["config", "check", "--format", "json"],
]
ALL_COMMANDS = [*SETTINGS_COMMANDS, ["sentry-test", "--dry-run"], ["log-test", "--count", "1"]]


def _url_id(value: str) -> str:
    return value.encode("unicode_escape").decode()[:40]


# --------------------------------------------------------------------------------------------
# Class 2: a password hidden by a broken URL


class TestHiddenPasswords:
    @pytest.mark.parametrize("argv", SETTINGS_COMMANDS, ids=" ".join)
    @pytest.mark.parametrize("url", HIDDEN_PASSWORD_URLS, ids=_url_id)
    def test_redis_url_in_the_environment(self, url: str, argv: list[str]) -> None:
        code, out, err = in_process(argv, {"REDIS_URL": url})
        assert_rejected(code, out, err, argv, planted=(*PLANTED, "Kx9", "Zq7Kx9Lm"))

    @pytest.mark.parametrize("url", HIDDEN_PASSWORD_URLS[:10], ids=_url_id)
    def test_redis_url_option_says_to_percent_encode(self, url: str) -> None:
        argv = ["config", "check", "--redis-url", url]
        code, out, err = in_process(argv, {})
        assert_rejected(code, out, err, argv, planted=(*PLANTED, "Kx9"))
        assert "percent-encode" in err and "%23" in err

    @pytest.mark.parametrize("argv", SETTINGS_COMMANDS, ids=" ".join)
    @pytest.mark.parametrize("url", HIDDEN_PASSWORD_SEEDS, ids=_url_id)
    def test_cluster_seeds(self, url: str, argv: list[str]) -> None:
        env = {"REDIS_URL": url, "REDIS_MODE": "cluster"}
        code, out, err = in_process(argv, env)
        assert_rejected(code, out, err, argv, planted=(*PLANTED, "Kx9"))

    @pytest.mark.parametrize("dsn", BAD_DSNS, ids=_url_id)
    def test_sentry_dsn_in_config_check_and_sentry_test(self, dsn: str) -> None:
        for argv in (
            ["config", "check"],
            ["sentry-test", "--dry-run"],
            ["health", "--format", "json"],
        ):
            code, out, err = in_process(argv, {"SENTRY_DSN": dsn})
            assert_rejected(code, out, err, argv)
            assert "SENTRY_DSN" in err


# --------------------------------------------------------------------------------------------
# Class 3: error lines that would repeat what was typed

VALUE_SLOTS = [
    ["health", "--timeout"],
    ["health", "--warn-ms"],
    ["health", "--wait"],
    ["health", "--format"],
    ["ping", "--count"],
    ["ping", "--interval"],
    ["ping", "--timeout"],
    ["ping", "--format"],
    ["sentry-test", "--level"],
    ["sentry-test", "--timeout"],
    ["sentry-test", "--tag"],
    ["config", "check", "--format"],
    ["log-test", "--count"],
]


class TestRejectedValues:
    @pytest.mark.parametrize("slot", VALUE_SLOTS, ids=" ".join)
    @pytest.mark.parametrize("value", PLANTED_VALUES, ids=_url_id)
    def test_option_values(self, slot: list[str], value: str) -> None:
        argv = [*slot, value]
        code, out, err = in_process(argv, {})
        assert_rejected(code, out, err, argv, planted=(*PLANTED, "pwned"), usage=True)
        assert "expected" in err or "is not one of" in err or "KEY=VALUE" in err, err

    @pytest.mark.parametrize("argv", ALL_COMMANDS, ids=" ".join)
    @pytest.mark.parametrize("value", PLANTED_VALUES[:5], ids=_url_id)
    def test_positional_arguments(self, argv: list[str], value: str) -> None:
        if argv[0] == "config":  # a positional after `config` is a subcommand name
            argv = argv[:1]
        full = [*argv, value]
        code, out, err = in_process(full, {})
        assert_rejected(code, out, err, full, usage=True)
        if "://" in value and argv[0] != "config":
            assert "--redis-url" in err + out  # nagios: on the UNKNOWN line

    @pytest.mark.parametrize("value", PLANTED_VALUES, ids=_url_id)
    def test_unknown_options_and_commands(self, value: str) -> None:
        for argv in ([value], ["health", f"--{value}"], ["ping", f"--x={value}"]):
            code, out, err = in_process(argv, {})
            assert "Traceback" not in out + err and code == 2
            for secret in PLANTED:
                assert secret not in out + err
            assert all(c.isprintable() or c == "\n" for c in err), err

    @pytest.mark.parametrize("entry", BAD_SENTINELS, ids=_url_id)
    def test_sentinel_entries(self, entry: str) -> None:
        env = {
            "REDIS_MODE": "sentinel",
            "REDIS_SENTINELS": f"127.0.0.1:26379,{entry}",
            "REDIS_SENTINEL_MASTER": "mymaster",
        }
        for argv in (["config", "check"], ["health", "--format", "nagios"], ["ping", "-c", "1"]):
            code, out, err = in_process(argv, env)
            assert_rejected(code, out, err, argv)
            assert "REDIS_SENTINELS entry 2" in out + err


# --------------------------------------------------------------------------------------------
# Class 6: inputs that hang or crash


class TestHangsAndCrashes:
    @pytest.mark.parametrize("argv", SETTINGS_COMMANDS[:6], ids=" ".join)
    @pytest.mark.parametrize("host", BAD_HOSTS, ids=_url_id)
    def test_hosts_idna_cannot_encode(self, host: str, argv: list[str]) -> None:
        code, out, err = in_process(argv, {"REDIS_URL": f"redis://{host}:6379/0"})
        assert_rejected(code, out, err, argv)
        assert "REDIS_URL" in out + err

    @pytest.mark.parametrize("kind", ["directory", "dev-zero", "too-large", "binary"])
    @pytest.mark.parametrize("argv", ALL_COMMANDS, ids=" ".join)
    def test_env_files_that_are_not_settings_files(
        self, kind: str, argv: list[str], tmp_path: Path
    ) -> None:
        path = {"directory": tmp_path, "dev-zero": Path("/dev/zero")}.get(kind)
        if kind == "too-large":
            path = tmp_path / "big.env"
            path.write_text("A=1\n" * (1 << 18) + "B=2\n")
        elif kind == "binary":
            path = tmp_path / "bin.env"
            path.write_bytes(b"REDIS_URL=\xff\xfe\n")
        full = ["--env-file", str(path), *argv]
        code, out, err = in_process(full, {})
        if "nagios" in argv:
            assert code == 3 and "--env-file" in out, out + err
            return
        assert_rejected(code, out, err, full)
        assert "--env-file" in err

    @pytest.mark.timeout(60)
    @pytest.mark.parametrize("argv", ALL_COMMANDS, ids=" ".join)
    def test_fifo_env_file_ends_within_the_deadline(self, argv: list[str], tmp_path: Path) -> None:
        """A FIFO with no writer: refused at once, never read (the process would block)."""
        fifo = tmp_path / "stuck.env"
        os.mkfifo(fifo)
        ran = run_cpa_ops("--env-file", str(fifo), *argv, env=clean_env(), timeout=30)
        assert ran.elapsed < 1.0 + 0.5 + 1.5, ran  # the default --timeout 1, slack for load
        expected = 3 if "nagios" in argv else 2
        assert ran.returncode == expected, ran
        shown = ran.stdout if expected == 3 else ran.stderr
        assert "is a FIFO, expected a regular file" in shown, ran
        assert len((ran.stdout + ran.stderr).splitlines()) == (
            1 if expected == 3 else 1 + ("json" in argv and "check" in argv)
        ), ran

    @pytest.mark.timeout(60)
    def test_fifo_as_dot_env_is_skipped(self, tmp_path: Path) -> None:
        """./.env that is not a regular file (a FIFO, a virtualenv directory) is not read."""
        os.mkfifo(tmp_path / ".env")
        ran = run_cpa_ops("config", "check", env=clean_env(), cwd=tmp_path, timeout=30)
        assert ran.returncode == 0 and ran.elapsed < 3, ran

    @pytest.mark.timeout(60)
    @pytest.mark.parametrize(
        "argv",
        [
            ["health"],
            ["health", "--format", "json"],
            ["health", "--format", "nagios"],
            ["sentry-test"],
            ["sentry-test", "--format", "json"],
        ],
        ids=" ".join,
    )
    def test_slow_settings_count_inside_the_deadline(self, argv: list[str], tmp_path: Path) -> None:
        """A .env just under 1 MiB takes seconds to parse: the watchdog, armed before the
        settings load, ends the command at --timeout with a verdict that names no target."""
        slow = tmp_path / "slow.env"
        slow.write_text("A=1\n" * ((1 << 18) - 16))
        ran = run_cpa_ops("--env-file", str(slow), *argv, "--timeout", "0.5", timeout=30)
        assert ran.elapsed < 0.5 + 0.5 + 1.5, ran
        assert "Traceback" not in ran.stderr
        if "nagios" in argv:
            assert ran.returncode == 3, ran
            assert ran.stdout.startswith("CPA-OPS UNKNOWN - the settings were not loaded"), ran
        else:
            assert ran.returncode == 1, ran
        if "json" in argv:
            document = json.loads(ran.stdout)
            assert isinstance(document, dict)
            assert "deadline" in ran.stdout or "timeout" in ran.stdout, ran


# --------------------------------------------------------------------------------------------
# Class 7: one DSN validator, at least as strict as the SDK's


def _dsn_mutations() -> list[str]:
    base = f"https://{KEY}@o1.ingest.example/42"
    inserts = ["#", "?", "/", "@", " ", "\t", "[", "]", ":", "%", "\u0661", "x", "0", "\x1b", ""]
    found = []
    for position in (8, 12, len(KEY) + 8, len(KEY) + 9, len(base) - 2, len(base)):
        for insert in inserts:
            found.append(base[:position] + insert + base[position:])
    return found


class TestOneDsnValidator:
    @pytest.mark.parametrize("dsn", [*BAD_DSNS, *_dsn_mutations()], ids=_url_id)
    def test_what_we_accept_the_sdk_accepts(self, dsn: str) -> None:
        from sentry_sdk.utils import BadDsn, Dsn

        try:
            validate_sentry_dsn(dsn)
        except ValueError as exc:
            assert KEY not in str(exc)
            return
        try:
            Dsn(dsn.strip())
        except (BadDsn, ValueError) as exc:
            pytest.fail(f"accepted a DSN the SDK rejects ({exc})")
