"""CLI fuzzing: random arguments, environment values and .env files for every command.

Whatever the input, a run exits 0, 1 or 2 (3: ``health --format nagios`` UNKNOWN), never shows
a Python traceback or an internal error, and an exit 2 comes with a short message on stderr.
Most cases run in-process through ``cpa_ops.cli.run`` (fast); a sample runs the installed
``cpa-ops`` as a subprocess, where exit codes and streams are the real ones.

Every value that can reach the network points at loopback only: a refused port, a healthy
redis-server or a Sentry ingest server of the test; no fuzzed host name is ever looked up, and
nothing reaches the default ``localhost:6379``. Values that would make a command run on
(``--watch``, ``ping -c 0``, a long ``--wait`` or ``-i``, a huge ``log-test --count``) are kept
invalid or small.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import _SETTINGS_VARS, clean_env, run_cpa_ops
from tests.servers import redis_faults as faults
from tests.servers.sentry_ingest import PUBLIC_KEY, Mode, SentryIngest
from tests.sweep.in_process import Outcome, in_process

#: `./dev test -m "not slow"` skips the sweep (the quick loop); `./dev test` runs it as well
pytestmark = pytest.mark.slow

# per command family (5 families); CPA_OPS_FUZZ_SCALE=10 runs ten times as many, for a long hunt
_SCALE = max(1, int(os.environ.get("CPA_OPS_FUZZ_SCALE", "1")))
IN_PROCESS_EXAMPLES = 220 * _SCALE
SUBPROCESS_EXAMPLES = 40 * _SCALE
CASES_WANTED = 1000
#: how many cases each test ran, for the closing count
ran_cases: Counter[str] = Counter()
#: (command, exit code) of every case: shows the fuzzing reached every outcome
exit_codes: Counter[tuple[str | None, int]] = Counter()


@dataclass(frozen=True)
class Loopback:
    """Where fuzzed values may point: a healthy Redis, a refused port, a Sentry ingest."""

    redis_port: int
    refused_port: int
    sentry_port: int


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    with (
        faults.redis_server() as server,
        faults.refused_port() as refused,
        SentryIngest(Mode.OK) as ingest,
    ):
        yield Loopback(server.port, refused, ingest.port)
    print(f"\nfuzz: {sum(ran_cases.values())} cases this run ({dict(ran_cases)})")
    print(f"fuzz exit codes: {dict(sorted(exit_codes.items(), key=str))}")


# --------------------------------------------------------------------------------------------
# Values

NASTY = [
    "", " ", "\t", "\n", "0", "-0", "-1", "0.0", "1e-9", "1e309", "-1e309", "nan", "NaN", "-nan",
    "inf", "-inf", "Infinity", "0x10", "1_000", "1,5", "\u0661", "\uff11", "½", "∞", "None", "null",
    "true", "🙂", "é" * 300, "a" * 10_000, "--help", "-", "--", "%s%n", "{0}", "$(id)",
    "../../etc/passwd", "86400", "86401", "1e9", "9" * 40, "'", '"', "\\", "\u202e", "\ufeff",
]  # fmt: skip
free_text = st.text(st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=40)
anything = st.one_of(st.sampled_from(NASTY), free_text, st.floats().map(repr))


def mostly(*good: str) -> st.SearchStrategy[str]:
    """Usually one of the ``good`` values (so a run gets past parsing), else anything."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), anything)


def _number(value: str) -> float | None:
    try:
        return float(value.strip())
    except ValueError:
        return None


def quick_or_invalid(value: str) -> bool:
    """Not a valid duration, or a short one: the command still ends at once."""
    number = _number(value)
    return number is None or not math.isfinite(number) or number <= 0.05 or number > 86_400


def invalid_duration(value: str) -> bool:
    number = _number(value)
    return number is None or not math.isfinite(number) or number <= 0 or number > 86_400


def small_or_invalid_count(value: str) -> bool:
    """Not a whole number (as int() reads it, unicode digits too), or 1 to 3."""
    try:
        return 1 <= int(value.strip()) <= 3
    except ValueError:
        return True


def good_redis_urls(where: Loopback) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            f"redis://127.0.0.1:{where.redis_port}/0",
            f"redis://:pw@127.0.0.1:{where.refused_port}/1",
            f"redis://[::1]:{where.refused_port}",
            "unix:///nonexistent/redis.sock",
        ]
    )


def redis_urls(where: Loopback) -> st.SearchStrategy[str]:
    """Loopback-only URLs, good and bad, or free text that is no URL at all."""
    schemes = st.sampled_from(
        ["redis", "rediss", "unix", "http", "REDIS", "redis+sentinel", "", "\uff52edis", "valkey"]
    )
    secret_chars = st.characters(blacklist_characters="/?#@[]:\\\x00", codec="utf-8")
    auth = st.one_of(
        st.sampled_from(["", ":pw@", "user:p%40ss@", "@", ":@", "default:@"]),
        st.text(secret_chars, max_size=20).map(lambda text: f":{text}@"),
    )
    hosts = st.sampled_from(
        [
            f"127.0.0.1:{where.redis_port}",
            f"127.0.0.1:{where.refused_port}",
            f"[::1]:{where.refused_port}",
            f"127.0.0.1:{where.sentry_port}",
            "127.0.0.1:99999",
            "127.0.0.1:0",
            "127.0.0.1:-5",
            "127.0.0.1:port",
            "[::1",
            "",
        ]
    )
    queries = st.sampled_from(
        ["ssl_ca_certs=/nonexistent", "socket_timeout=nan", "protocol=9", "protocol=3",
         "ssl_cert_reqs=NONE", "ssl_cert_reqs=none", "ssl_check_hostname=maybe", "foo=bar",
         "max_connections=0", "db=x", "db=2", "client_name=a%20b", "password=", "username=u",
         "decode_responses=1", "ssl_min_version=2", "=", "&&", "%zz=1"]
    )  # fmt: skip
    paths = st.one_of(
        st.sampled_from(["", "/0", "/15", "/16", "/-1", "/abc", "/tmp/none.sock", "/0#frag"]),
        st.lists(queries, min_size=1, max_size=3).map(lambda q: "/0?" + "&".join(q)),
    )
    built = st.builds(lambda s, a, h, p: f"{s}://{a}{h}{p}", schemes, auth, hosts, paths)
    good = good_redis_urls(where)
    return st.one_of(
        good, good, built, built.map(lambda url: f"{url},{url}"), anything.filter(_no_host)
    )


def _no_host(text: str) -> bool:
    """Free text that cannot name a host (so nothing is ever looked up in DNS)."""
    return "//" not in text and "@" not in text


def sentry_dsns(where: Loopback) -> st.SearchStrategy[str]:
    schemes = st.sampled_from(["http", "https", "HTTP", "ftp", "", "redis"])
    keys = st.sampled_from([PUBLIC_KEY, "", "k", "not a key", "🙂"])
    hosts = st.sampled_from(
        [f"127.0.0.1:{where.sentry_port}", f"127.0.0.1:{where.refused_port}", "127.0.0.1:0", ""]
    )
    projects = st.sampled_from(["/4242", "/", "", "/abc", "/4242/extra", "/-1"])
    built = st.builds(lambda s, k, h, p: f"{s}://{k}@{h}{p}", schemes, keys, hosts, projects)
    good = st.sampled_from(
        [
            f"http://{PUBLIC_KEY}@127.0.0.1:{port}/4242"
            for port in (where.sentry_port, where.refused_port)
        ]
    )
    return st.one_of(good, good, built, anything.filter(_no_host))


def environments(where: Loopback) -> st.SearchStrategy[dict[str, str]]:
    """Settings variables; REDIS_URL is always set (never the default localhost:6379)."""
    optional = {
        "SENTRY_DSN": sentry_dsns(where),
        "ENVIRONMENT": mostly("development", "staging", "production", "PRODUCTION"),
        "LOG_LEVEL": mostly("DEBUG", "info", "WARNING"),
        "REDIS_MAX_CONNECTIONS": mostly("20", "1", "10000"),
        "SENTRY_TRACES_SAMPLE_RATE": mostly("0.1", "0", "1"),
        "REDIS_MODE": mostly("standalone", "standalone", "cluster", "sentinel"),
        "REDIS_SENTINELS": st.sampled_from(
            [
                f"127.0.0.1:{where.refused_port}",
                f"[::1]:{where.refused_port}",
                f"127.0.0.1:{where.redis_port},127.0.0.1:{where.refused_port}",
                "127.0.0.1:abc",
                "127.0.0.1:",
                ",",
                "",
                "[::1",
            ]
        ),
        "REDIS_SENTINEL_MASTER": mostly("mymaster"),
        "NO_COLOR": st.sampled_from(["", "1"]),
        "FORCE_COLOR": st.sampled_from(["", "1", "0"]),
    }
    return st.fixed_dictionaries(
        {"REDIS_URL": redis_urls(where)},
        optional={name: values.filter(_env_safe) for name, values in optional.items()},
    )


def _env_safe(value: str) -> bool:
    return "\x00" not in value


def env_file_lines(where: Loopback) -> st.SearchStrategy[list[str]]:
    lines = st.one_of(
        st.sampled_from(
            [
                "=",
                "KEY",
                "export ENVIRONMENT=staging",
                "ENVIRONMENT='prod",
                'LOG_LEVEL="debug',
                "# a comment",
                "   ",
                "REDIS_MAX_CONNECTIONS=-5",
                "\ufeffENVIRONMENT=staging",
                f"SENTRY_DSN=http://{PUBLIC_KEY}@127.0.0.1:{where.refused_port}/1",
                f"REDIS_URL=redis://127.0.0.1:{where.refused_port}/0",
                "REDIS_MODE=cluster",
                "SENTRY_TRACES_SAMPLE_RATE=2",
                "ENVIRONMENT=production # trailing",
                "A=B=C",
                "LOG_LEVEL=" + "x" * 5000,
            ]
        ),
        free_text.filter(lambda line: "\n" not in line and "\r" not in line),
    )
    return st.lists(lines, max_size=6)


# --------------------------------------------------------------------------------------------
# Command lines


def _options(**choices: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    """Each option present or not (absent twice as often), in a random order, plus maybe a
    stray argument."""
    absent: st.SearchStrategy[list[str]] = st.just([])
    present = [st.one_of(absent, absent, values) for values in choices.values()]
    stray = st.one_of(absent, absent, absent, absent, st.sampled_from(NASTY).map(lambda v: [v]))
    return st.tuples(*present, stray).flatmap(
        lambda parts: st.permutations(list(parts)).map(lambda order: list(itertools.chain(*order)))
    )


def _with(option: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return values.map(lambda value: [option, value])


def _flag(option: str) -> st.SearchStrategy[list[str]]:
    return st.just([option])


def formats(*good: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(good), st.sampled_from(good), mostly("JSON", "xml", "text "))


def topology_options(where: Loopback) -> dict[str, st.SearchStrategy[list[str]]]:
    return {
        "mode": _with("--mode", mostly("standalone", "cluster", "sentinel")),
        "sentinels": _with("--sentinels", st.sampled_from([f"127.0.0.1:{where.refused_port}", ""])),
        "master": _with("--sentinel-master", anything),
    }


def health_args(where: Loopback) -> st.SearchStrategy[list[str]]:
    return _options(
        url=_with("--redis-url", redis_urls(where)),
        timeout=_with("--timeout", mostly("0.5", "1", "2")),
        fmt=_with("--format", formats("text", "json", "nagios")),
        write=_flag("--write"),
        wait=_with("--wait", mostly("0.01", "0.05").filter(quick_or_invalid)),
        warn=_with("--warn-ms", mostly("1", "100", "0.001")),
        quiet=_flag("--quiet"),
        watch=_with("--watch", anything.filter(invalid_duration)),
        **topology_options(where),
    ).map(lambda options: ["health", *options])


def ping_args(where: Loopback) -> st.SearchStrategy[list[str]]:
    return st.tuples(
        mostly("1", "2", "3", "-1", "abc", "1.5", "0x1").filter(small_or_invalid_count),
        _options(
            interval=_with("--interval", mostly("0", "0.01").filter(quick_or_invalid)),
            timeout=_with("-W", mostly("0.3", "1")),
            url=_with("--redis-url", redis_urls(where)),
            fmt=_with("--format", formats("text", "json")),
            **topology_options(where),
        ),
    ).map(lambda parts: ["ping", "-c", parts[0], *parts[1]])


def log_test_args() -> st.SearchStrategy[list[str]]:
    return _options(
        fmt=_with("--format", formats("console", "json")),
        level=_with("--level", st.one_of(st.sampled_from(["DEBUG", "error", "TRACE"]), anything)),
        count=_with("--count", anything.filter(small_or_invalid_count)),
    ).map(lambda options: ["log-test", *options])


def sentry_test_args() -> st.SearchStrategy[list[str]]:
    tag = st.one_of(st.sampled_from(["k=v", "=v", "k=", "k", "ssn=123-45-6789", "a b=c"]), anything)
    return _options(
        message=_with("--message", anything),
        level=_with("--level", st.one_of(st.sampled_from(["fatal", "warning", "debug"]), anything)),
        exception=_flag("--exception"),
        tags=st.lists(tag, max_size=3).map(lambda tags: [a for t in tags for a in ("--tag", t)]),
        timeout=_with("--timeout", mostly("0.5", "2")),
        dry_run=_flag("--dry-run"),
        fmt=_with("--format", formats("text", "json")),
    ).map(lambda options: ["sentry-test", *options])


def config_args(where: Loopback) -> st.SearchStrategy[list[str]]:
    sub = st.sampled_from([["config"], ["config", "show"], ["config", "check"], ["config", "x"]])
    return st.tuples(
        sub,
        _options(
            fmt=_with("--format", formats("text", "json")),
            url=_with("--redis-url", redis_urls(where)),
        ),
    ).map(lambda parts: parts[0] + parts[1])


@dataclass
class EnvFile:
    """How the global --env-file is given: not at all, a missing path, a directory, a file."""

    kind: str
    lines: list[str] = field(default_factory=list)
    undecodable: bool = False

    def args(self, directory: Path) -> list[str]:
        if self.kind == "none":
            return []
        if self.kind == "missing":
            return ["--env-file", str(directory / "no-such.env")]
        if self.kind == "directory":
            return ["--env-file", str(directory)]
        path = directory / "fuzz.env"
        data = "\n".join(self.lines).encode()
        path.write_bytes(b"\xff\xfe\x80" + data if self.undecodable else data)
        return ["--env-file", str(path)]


def env_files(where: Loopback) -> st.SearchStrategy[EnvFile]:
    return st.one_of(
        st.just(EnvFile("none")),
        st.just(EnvFile("none")),
        st.just(EnvFile("none")),
        st.sampled_from([EnvFile("missing"), EnvFile("directory")]),
        st.builds(EnvFile, st.just("file"), env_file_lines(where), st.booleans()),
    )


# --------------------------------------------------------------------------------------------
# Running a case and judging it


def judge(argv: list[str], outcome: Outcome) -> None:
    """The contract every run keeps, whatever its input."""
    nagios = argv_command(argv) == "health" and _last_value(argv, "--format") == "nagios"
    allowed = {0, 1, 2, 3} if nagios else {0, 1, 2}
    context = f"argv={argv!r:.400} -> {outcome.code}, stderr={outcome.stderr[-600:]!r}"
    assert outcome.code in allowed, context
    exit_codes[argv_command(argv), outcome.code] += 1
    # log-test's showcase prints a traceback on stdout on purpose
    shown = outcome.stderr if argv_command(argv) == "log-test" else outcome.stdout + outcome.stderr
    assert "Traceback" not in shown, context
    assert "internal error" not in outcome.stderr, context
    if outcome.code == 2 and not (nagios and outcome.stdout.startswith("CPA-OPS CRITICAL")):
        lines = [line for line in outcome.stderr.splitlines() if line.strip()]
        assert lines, context
        # one line per problem (config check names each bad variable on its own line)
        assert len(lines) <= len(_SETTINGS_VARS), context
        for line in lines:
            assert line.startswith("cpa-ops"), context
            assert len(line) <= 1000, context  # a long input is not echoed back in full


def argv_command(argv: list[str]) -> str | None:
    """The command an argv runs (after the global --env-file PATH)."""
    rest = argv[2:] if argv[:1] == ["--env-file"] else argv
    return rest[0] if rest else None


def _last_value(argv: list[str], option: str) -> str | None:
    values = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == option]
    return values[-1] if values else None


fuzz_settings = settings(
    max_examples=IN_PROCESS_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def draw_case(
    command: st.SearchStrategy[list[str]], where: Loopback, directory: Path, data: st.DataObject
) -> tuple[list[str], dict[str, str]]:
    """A command line and its environment; half the time a sane environment (only the
    options are fuzzed), so that runs get past the settings to the command itself."""
    if data.draw(st.booleans(), label="sane environment"):
        env_file = EnvFile("none")
        env = {"REDIS_URL": data.draw(good_redis_urls(where), label="REDIS_URL")}
    else:
        env_file = data.draw(env_files(where), label="env file")
        env = data.draw(environments(where), label="environment")
    return env_file.args(directory) + data.draw(command, label="argv"), env


def _fuzz(
    name: str,
    command: st.SearchStrategy[list[str]],
    where: Loopback,
    directory: Path,
    data: st.DataObject,
) -> None:
    argv, env = draw_case(command, where, directory, data)
    judge(argv, in_process(argv, env))
    ran_cases[name] += 1


@pytest.mark.timeout(180)
class TestInProcess:
    """Hundreds of random command lines per command, run through ``cpa_ops.cli.run``."""

    @fuzz_settings
    @given(data=st.data())
    def test_health(self, loopback: Loopback, tmp_path: Path, data: st.DataObject) -> None:
        """health: any options, environment and .env file: 0/1/2 (3 for nagios), no traceback."""
        _fuzz("health", health_args(loopback), loopback, tmp_path, data)

    @fuzz_settings
    @given(data=st.data())
    def test_ping(self, loopback: Loopback, tmp_path: Path, data: st.DataObject) -> None:
        """ping: any options, environment and .env file: 0/1/2, no traceback."""
        _fuzz("ping", ping_args(loopback), loopback, tmp_path, data)

    @fuzz_settings
    @given(data=st.data())
    def test_log_test(self, loopback: Loopback, tmp_path: Path, data: st.DataObject) -> None:
        """log-test: any options, environment and .env file: 0/1/2, no traceback."""
        _fuzz("log-test", log_test_args(), loopback, tmp_path, data)

    @fuzz_settings
    @given(data=st.data())
    def test_sentry_test(self, loopback: Loopback, tmp_path: Path, data: st.DataObject) -> None:
        """sentry-test: any message, tags, options, environment: 0/1/2, no traceback."""
        _fuzz("sentry-test", sentry_test_args(), loopback, tmp_path, data)

    @fuzz_settings
    @given(data=st.data())
    def test_config(self, loopback: Loopback, tmp_path: Path, data: st.DataObject) -> None:
        """config show/check: any options, environment and .env file: 0/2, no traceback."""
        _fuzz("config", config_args(loopback), loopback, tmp_path, data)


@pytest.mark.timeout(120)
@settings(fuzz_settings, max_examples=SUBPROCESS_EXAMPLES)
@given(data=st.data())
def test_installed_command(loopback: Loopback, tmp_path: Path, data: st.DataObject) -> None:
    """A sample of every command's random cases through the installed ``cpa-ops``: the real
    exit code and streams keep the same contract, within a bounded time."""
    commands = st.one_of(
        health_args(loopback),
        ping_args(loopback),
        log_test_args(),
        sentry_test_args(),
        config_args(loopback),
    )
    argv, env = draw_case(commands, loopback, tmp_path, data)
    ran = run_cpa_ops(*argv, env=clean_env(**env), timeout=30)
    judge(argv, Outcome(ran.returncode, ran.stdout, ran.stderr))
    ran_cases["installed cpa-ops"] += 1


def test_enough_cases_ran() -> None:
    """The in-process suites above generate at least 1000 cases per run (when they all ran)."""
    if len(ran_cases.keys() - {"installed cpa-ops"}) < 5:
        pytest.skip("counts only a run of all five in-process suites")
    assert sum(ran_cases.values()) >= CASES_WANTED, dict(ran_cases)


@pytest.mark.timeout(30)
def test_in_process_deadlines_count_from_the_call(loopback: Loopback) -> None:
    """``cli.run`` called long after cpa_ops was imported: health still has its whole budget,
    and sentry-test's watchdog does not end the calling process (it did, with os._exit)."""
    healthy = f"redis://127.0.0.1:{loopback.redis_port}/0"
    refused_dsn = f"http://{PUBLIC_KEY}@127.0.0.1:{loopback.refused_port}/1"
    time.sleep(1.0)  # more than either --timeout since cpa_ops was imported
    health = in_process(["health", "--timeout", "0.5"], {"REDIS_URL": healthy})
    assert health.code == 0, health
    sentry = in_process(["sentry-test", "--timeout", "0.5"], {"SENTRY_DSN": refused_dsn})
    assert sentry.code == 1, sentry
    assert "connection_refused" in sentry.stderr
