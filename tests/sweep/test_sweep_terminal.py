"""Terminal injection, swept: every class of control character in every untrusted field, through
the commands and formats that show it.

Fields: a Redis reply's text (the escape-sequence server), a host name, a unix socket path, a
sentinel master name, an --env-file path, sentry-test's --message and a tag value, and logged
values. Text for people must carry no raw control character (newlines aside); JSON must carry
none either and still parse. Exit codes stay in the documented set, no traceback, no internal
error. Most cases run in-process; a few dozen through the installed ``cpa-ops``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import TtyText, clean_env, console_logs_on_a_tty, run_cpa_ops
from tests.servers import redis_faults as faults
from tests.servers.evil_redis import SGR, EvilRedis, evil_redis, raw_controls
from tests.sweep.in_process import Outcome, in_process

pytestmark = pytest.mark.slow

#: one of each class a terminal acts on, each inside ordinary text
CONTROLS = {
    "CSI clear-screen": "\x1b[2J\x1b[H",
    "OSC title + BEL": "\x1b]0;pwned\x07",
    "OSC 8 hyperlink": "\x1b]8;;http://evil.invalid\x1b\\click\x1b]8;;\x1b\\",
    "NUL": "\x00",
    "BS + CR overwrite": "good\b\b\b\bbad\rfake",
    "DEL": "\x7f",
    "C1 CSI (U+009B)": "\u009b31m",
    "C1 OSC (U+009D)": "\u009d0;t\u009c",
    "line separator": "\u2028forged\u2029",
    "bidi override": "\u202etxt.exe\u202c",
    "bidi isolate": "\u2066x\u2069\u061c",
}
CLASSES = list(CONTROLS)
DOCUMENTED = {0, 1, 2, 3}


def judge(outcome: Outcome, *, json_out: bool = False, colour: bool = False) -> None:
    """The contract for every case: nothing raw reaches a person, JSON parses, exits documented."""
    context = (
        f"-> {outcome.code}, stdout={outcome.stdout[-600:]!r}, stderr={outcome.stderr[-600:]!r}"
    )
    assert outcome.code in DOCUMENTED, context
    shown = outcome.stdout + outcome.stderr
    assert "Traceback" not in shown, context
    assert "internal error" not in outcome.stderr, context
    allowed = (SGR,) if colour else ()
    assert raw_controls(shown, *allowed) == [], context
    if json_out and outcome.stdout.strip():
        json.loads(outcome.stdout)  # one document (a dry run's text one is indented)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, EvilRedis]]:
    """One escape-sequence Redis per control class (PING refused with that text)."""
    with contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(evil_redis("ping", text=f"boom {text} end"))
               for name, text in CONTROLS.items()}  # fmt: skip


@pytest.fixture(scope="module")
def info_servers() -> Iterator[dict[str, EvilRedis]]:
    """One per class whose INFO values (version, role, policy) carry that text."""
    with contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(evil_redis("info", text=text))
               for name, text in CONTROLS.items()}  # fmt: skip


@pytest.fixture(scope="module")
def refused() -> Iterator[int]:
    with faults.refused_port() as port:
        yield port


# ---- a Redis reply's text, in every format of health and ping (in-process) ----------------

HEALTH_FORMATS = ["text", "json", "nagios"]


@pytest.mark.parametrize("fmt", HEALTH_FORMATS)
@pytest.mark.parametrize("name", CLASSES)
def test_error_reply_in_health(name: str, fmt: str, servers: dict[str, EvilRedis]) -> None:
    outcome = in_process(["health", "--redis-url", servers[name].url, "--format", fmt,
                         "--timeout", "2"])  # fmt: skip
    judge(outcome, json_out=fmt == "json")
    assert outcome.code in (1, 2)


@pytest.mark.parametrize("fmt", HEALTH_FORMATS)
@pytest.mark.parametrize("name", CLASSES)
def test_info_values_in_health(name: str, fmt: str, info_servers: dict[str, EvilRedis]) -> None:
    outcome = in_process(["health", "--redis-url", info_servers[name].url, "--format", fmt,
                         "--timeout", "2"])  # fmt: skip
    judge(outcome, json_out=fmt == "json")


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("name", CLASSES)
def test_error_reply_in_ping(name: str, fmt: str, servers: dict[str, EvilRedis]) -> None:
    outcome = in_process(["ping", "--redis-url", servers[name].url, "-c", "2", "-i", "0",
                         "--format", fmt])  # fmt: skip
    judge(outcome, json_out=fmt == "json")
    assert outcome.code == 1


@pytest.mark.parametrize("name", CLASSES)
def test_error_reply_in_health_quiet(name: str, servers: dict[str, EvilRedis]) -> None:
    outcome = in_process(["health", "--redis-url", servers[name].url, "--quiet", "--timeout", "2"])
    judge(outcome)


# ---- what the user typed: hosts, unix paths, sentinel names, --env-file paths ---------------


@pytest.mark.parametrize("command", ["health", "health json", "config", "config check"])
@pytest.mark.parametrize("name", CLASSES)
def test_unix_socket_path(name: str, command: str, tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/re{CONTROLS[name]}dis.sock"
    args = command.split()
    if args[-1] == "json":
        args[-1:] = ["--format", "json"]
    extra = ["--timeout", "1"] if args[0] == "health" else []
    judge(in_process([*args, "--redis-url", url, *extra]), json_out="json" in command)


@pytest.mark.parametrize("command", ["health", "ping", "config"])
@pytest.mark.parametrize("name", CLASSES)
def test_percent_encoded_host(name: str, command: str) -> None:
    """A host that decodes to control characters (never resolvable: exit 1 or 2)."""
    from urllib.parse import quote

    url = f"redis://{quote('cache' + CONTROLS[name], safe='')}.invalid:6379/0"
    extra = {"health": ["--timeout", "1"], "ping": ["-c", "1", "--timeout", "0.5"]}
    judge(in_process([command, "--redis-url", url, *extra.get(command, [])]))


@pytest.mark.parametrize("command", ["health", "health json", "ping", "config"])
@pytest.mark.parametrize("name", CLASSES)
def test_sentinel_master_name(name: str, command: str, refused: int) -> None:
    args = command.split()
    if args[-1] == "json":
        args[-1:] = ["--format", "json"]
    extra = {"health": ["--timeout", "1"], "ping": ["-c", "1", "--timeout", "0.5"]}
    judge(
        in_process([*args, "--mode", "sentinel", "--sentinels", f"127.0.0.1:{refused}",
                   "--sentinel-master", f"mymaster{CONTROLS[name]}", *extra.get(args[0], [])]),
        json_out="json" in command,
    )  # fmt: skip


@pytest.mark.parametrize("name", [n for n in CLASSES if "\x00" not in CONTROLS[n]])
def test_env_file_path(name: str, tmp_path: Path) -> None:
    """config show names the .env file it read: its path as typed, spelled out."""
    env_file = tmp_path / f"prod{CONTROLS[name].replace('/', '_')}.env"
    env_file.write_text("ENVIRONMENT=staging\n")
    outcome = in_process(["--env-file", str(env_file), "config"])
    judge(outcome)
    assert outcome.code == 0, outcome


# ---- sentry-test's --message and tag values, as a dry run's envelope ------------------------


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("field", ["message", "tag"])
@pytest.mark.parametrize("name", CLASSES)
def test_sentry_test_dry_run(name: str, field: str, fmt: str) -> None:
    text = f"hello {CONTROLS[name]} world"
    if field == "tag" and ("\r" in text or "\n" in text):
        text = text.replace("\r", "").replace("\n", "")
    given = ["--message", text] if field == "message" else ["--tag", f"note={text}"]
    outcome = in_process(["sentry-test", "--dry-run", "--format", fmt, *given])
    judge(outcome, json_out=True)  # a dry run prints the envelope as JSON either way


# ---- logged values on a colour console -------------------------------------------------------


@pytest.fixture(scope="module")
def console() -> Iterator[TtyText]:
    with console_logs_on_a_tty() as stream:
        yield stream


@pytest.mark.parametrize("where", ["message", "value", "quoted value", "key", "stdlib", "error"])
@pytest.mark.parametrize("name", CLASSES)
def test_console_log(name: str, where: str, console: TtyText) -> None:
    from cpa_ops.core.logging import get_logger

    console.seek(0)
    console.truncate()
    text = CONTROLS[name]
    log = get_logger("sweep.terminal")
    if where == "message":
        log.info(f"reply {text}")
    elif where == "value":
        log.info("reply", detail=f"x{text}y")
    elif where == "quoted value":
        log.info("reply", detail=f"a b {text} 'c'")
    elif where == "key":
        log.info("reply", **{f"k{text}": 1})
    elif where == "stdlib":
        logging.getLogger("sweep.stdlib").warning("said %s", text)
    else:
        try:
            raise ValueError(text)
        except ValueError:
            log.exception("failed")
    written = console.getvalue()
    assert written.strip()
    assert raw_controls(written, SGR) == [], repr(written)


# ---- through the installed cpa-ops, coloured (a few dozen) ------------------------------------


@pytest.mark.parametrize("fmt", HEALTH_FORMATS)
def test_installed_command(fmt: str, servers: dict[str, EvilRedis]) -> None:
    """Every class through the installed cpa-ops with FORCE_COLOR, four at a time."""

    def one(name: str) -> tuple[str, Outcome]:
        ran = run_cpa_ops("health", "--redis-url", servers[name].url, "--format", fmt,
                          "--timeout", "3", env=clean_env(FORCE_COLOR="1"))  # fmt: skip
        return name, Outcome(ran.returncode, ran.stdout, ran.stderr)

    with ThreadPoolExecutor(4) as pool:
        for name, outcome in pool.map(one, CLASSES):
            judge(outcome, json_out=fmt == "json", colour=fmt == "text")
            assert outcome.code in (1, 2), name


@pytest.mark.parametrize("name", CLASSES)
def test_installed_ping(name: str, servers: dict[str, EvilRedis]) -> None:
    ran = run_cpa_ops("ping", "--redis-url", servers[name].url, "-c", "2", "-i", "0",
                      env=clean_env(FORCE_COLOR="1"))  # fmt: skip
    judge(Outcome(ran.returncode, ran.stdout, ran.stderr), colour=True)
