"""The leak matrix: every command against every Redis fault and every Sentry endpoint failure,
in every output format, with a password in REDIS_URL, a key in SENTRY_DSN and planted PII.

Nothing secret may appear on stdout, on stderr, or in any envelope the ingest server received.
The installed ``cpa-ops`` runs as a subprocess, a few at a time (a small thread pool).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Ran, clean_env, run_cpa_ops
from tests.servers import redis_faults as faults
from tests.servers.net import LOOPBACK
from tests.servers.redis_fixtures import REDIS_PASSWORD
from tests.servers.sentry_ingest import PUBLIC_KEY, Mode, SentryIngest, dead_port

#: `./dev test -m "not slow"` skips the sweep (the quick loop); `./dev test` runs it as well
pytestmark = pytest.mark.slow

#: a password the URL carries when it is the wrong one: must not leak either
WRONG_PASSWORD = "wr0ng-PW-leak-7"
#: planted by the sentry-test runs below, and by log-test's own showcase
PII = (
    "123-45-6789",
    "jane.doe@example.com",
    "4111 1111 1111 1111",
    "4111111111111111",
    "(555) 123-4567",
    "000123456789",
    "12-3456789",
    "s3cret-pass",  # the password in log-test's planted redis:// URL
    "local-secret-never-logged",  # a local variable in log-test's traceback
)
SECRETS = (REDIS_PASSWORD, WRONG_PASSWORD, PUBLIC_KEY, *PII)
MESSAGE = (
    "client Jane, SSN 123-45-6789, EIN 12-3456789, jane.doe@example.com, "
    "call (555) 123-4567, card 4111 1111 1111 1111, redis://:s3cret-pass@cache:6379/0"
)
TAGS = (
    "--tag", "ssn=123-45-6789",
    "--tag", "email=jane.doe@example.com",
    "--tag", "note=card 4111111111111111",
    "--tag", "contact=(555) 123-4567",
)  # fmt: skip
POOL_SIZE = 4
#: the longest budget below is 1.5 s (+0.5 s watchdog grace); the rest is a busy 2-core machine
SLOWEST = 6.0


def leaks(text: str) -> list[str]:
    """Every secret or PII value found in ``text``."""
    return [secret for secret in SECRETS if secret in text]


# --------------------------------------------------------------------------------------------
# The Redis faults: each a context manager yielding a URL that carries a password


def _at(port: int, password: str = REDIS_PASSWORD) -> str:
    return f"redis://:{password}@{LOOPBACK}:{port}/0"


def _server(
    factory: Callable[..., contextlib.AbstractContextManager[faults.RedisServer]],
    **url: object,
) -> Callable[[Path, faults.TlsFiles], contextlib.AbstractContextManager[str]]:
    """A fault made by ``factory`` (password-protected), reached with ``url`` options."""

    @contextlib.contextmanager
    def start(workdir: Path, tls: faults.TlsFiles) -> Iterator[str]:
        with factory(password=REDIS_PASSWORD, workdir=workdir) as server:
            yield server.url(**({"password": REDIS_PASSWORD} | url))  # type: ignore[arg-type]

    return start


@contextlib.contextmanager
def _no_password_configured(workdir: Path, tls: faults.TlsFiles) -> Iterator[str]:
    with faults.redis_server(workdir=workdir) as server:
        yield server.url(password=REDIS_PASSWORD)


@contextlib.contextmanager
def _wrong_password(workdir: Path, tls: faults.TlsFiles) -> Iterator[str]:
    with faults.redis_server(password=REDIS_PASSWORD, workdir=workdir) as server:
        yield server.url(password=WRONG_PASSWORD)


@contextlib.contextmanager
def _acl_noperm(workdir: Path, tls: faults.TlsFiles) -> Iterator[str]:
    with faults.acl_limited_redis(REDIS_PASSWORD, workdir=workdir) as server:
        yield server.url(user=faults.LIMITED_USER, password=REDIS_PASSWORD)


@contextlib.contextmanager
def _tls_untrusted(workdir: Path, tls: faults.TlsFiles) -> Iterator[str]:
    with faults.redis_server(password=REDIS_PASSWORD, tls=tls, workdir=workdir) as server:
        yield server.url(password=REDIS_PASSWORD, ca=tls.other_ca)


@contextlib.contextmanager
def _plain_to_tls(workdir: Path, tls: faults.TlsFiles) -> Iterator[str]:
    with faults.redis_server(password=REDIS_PASSWORD, tls=tls, workdir=workdir) as server:
        yield server.url(password=REDIS_PASSWORD, scheme="redis")


@contextlib.contextmanager
def _refused(workdir: Path, tls: faults.TlsFiles) -> Iterator[str]:
    with faults.refused_port() as port:
        yield _at(port)


@contextlib.contextmanager
def _black_hole(workdir: Path, tls: faults.TlsFiles) -> Iterator[str]:
    with faults.syn_black_hole() as hole:
        yield _at(hole.port)


@contextlib.contextmanager
def _silent(workdir: Path, tls: faults.TlsFiles) -> Iterator[str]:
    with faults.silent_listener() as listener:
        yield _at(listener.port)


@contextlib.contextmanager
def _not_redis(workdir: Path, tls: faults.TlsFiles) -> Iterator[str]:
    with faults.http_listener() as port:
        yield _at(port)


def _stale(
    serve_stale: bool,
) -> Callable[..., contextlib.AbstractContextManager[faults.RedisServer]]:
    def factory(**kwargs: object) -> contextlib.AbstractContextManager[faults.RedisServer]:
        return faults.stale_replica(serve_stale, **kwargs)  # type: ignore[arg-type]

    return factory


REDIS_FAULTS: dict[str, Callable[[Path, faults.TlsFiles], contextlib.AbstractContextManager[str]]]
REDIS_FAULTS = {
    "healthy": _server(faults.redis_server),
    "refused": _refused,
    "black_hole": _black_hole,
    "silent_listener": _silent,
    "frozen": _server(faults.frozen_redis),
    "not_redis": _not_redis,
    "auth_wrong": _wrong_password,
    "auth_none_configured": _no_password_configured,
    "acl_noperm": _acl_noperm,
    "tls_untrusted": _tls_untrusted,
    "plain_to_tls": _plain_to_tls,
    "max_clients": _server(faults.max_clients_redis),
    "misconf": _server(faults.misconf_redis),
    "oom": _server(faults.oom_redis),
    "readonly_replica": _server(faults.readonly_replica),
    "stale_replica": _server(_stale(True)),
    "masterdown_replica": _server(_stale(False)),
    "write_paused": _server(faults.write_paused_redis),
    "loading": _server(faults.loading_redis),  # last: it loads for ~8 s from its start
}
SENTRY_FAILURES = [*(mode.value for mode in Mode), "dead_port"]

# --------------------------------------------------------------------------------------------
# The commands, with their formats (health counts its budget from process start: 1.5 s
# leaves room for a busy machine)


@dataclass(frozen=True)
class Case:
    """One run: a command in a format, under one fault."""

    command: str
    output_format: str
    fault: str
    args: tuple[str, ...]
    env: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.command} [{self.output_format}] under {self.fault}"


REDIS_COMMANDS = {
    "health": (("health", "--timeout", "1.5"), ("text", "json", "nagios")),
    "health --write": (("health", "--write", "--timeout", "1.5"), ("text", "json", "nagios")),
    "health --quiet": (("health", "--quiet", "--timeout", "1.5"), ("text",)),
    "ping": (("ping", "-c", "2", "-i", "0", "-W", "0.3"), ("text", "json")),
}
#: roomy: four runs at once on two cores can spend a second starting; the silent endpoint
#: alone waits it out, well inside SLOWEST
SENTRY_TIMEOUT = "3"
SENTRY_COMMANDS = {
    "sentry-test": (
        ("sentry-test", "--timeout", SENTRY_TIMEOUT, "--message", MESSAGE, *TAGS),
        ("text", "json"),
    ),
    "sentry-test --exception": (
        ("sentry-test", "--exception", "--timeout", SENTRY_TIMEOUT, "--message", MESSAGE, *TAGS),
        ("text", "json"),
    ),
    "sentry-test --dry-run": (
        ("sentry-test", "--dry-run", "--message", MESSAGE, *TAGS),
        ("text", "json"),
    ),
}
#: neither Redis nor Sentry is contacted: every format under both secrets, once per environment
CONFIG_COMMANDS = {
    "config show": (("config", "show"), ("text", "json")),
    "config check": (("config", "check"), ("text", "json")),
    "log-test": (("log-test",), ("console", "json")),
    "log-test --level DEBUG": (
        ("log-test", "--level", "DEBUG", "--count", "2"),
        ("console", "json"),
    ),
}


def _env(redis_url: str, dsn: str, environment: str = "production") -> dict[str, str]:
    return clean_env(REDIS_URL=redis_url, SENTRY_DSN=dsn, ENVIRONMENT=environment)


def build_cases(redis_urls: dict[str, str], sentry_dsns: dict[str, str]) -> list[Case]:
    """Every command x fault x format; Redis commands also see a (rotating) Sentry failure."""
    cases = []
    healthy_url = redis_urls["healthy"]
    for index, (fault, url) in enumerate(redis_urls.items()):
        dsn = sentry_dsns[SENTRY_FAILURES[index % len(SENTRY_FAILURES)]]
        for command, (args, formats) in REDIS_COMMANDS.items():
            for output_format in formats:
                env = _env(url, dsn, "production" if index % 2 else "development")
                cases.append(
                    Case(command, output_format, fault, (*args, "--format", output_format), env)
                )
    for index, (failure, dsn) in enumerate(sentry_dsns.items()):
        for command, (args, formats) in SENTRY_COMMANDS.items():
            for output_format in formats:
                env = _env(healthy_url, dsn, "production" if index % 2 else "staging")
                cases.append(
                    Case(command, output_format, failure, (*args, "--format", output_format), env)
                )
    for environment in ("development", "production"):
        for command, (args, formats) in CONFIG_COMMANDS.items():
            for output_format in formats:
                env = _env(redis_urls["auth_wrong"], sentry_dsns["200"], environment)
                fault = f"ENVIRONMENT={environment}"
                cases.append(
                    Case(command, output_format, fault, (*args, "--format", output_format), env)
                )
    return cases


@dataclass
class SentryEndpoints:
    """One ingest server per failure mode (and a dead port): the DSNs, each with the key."""

    dsns: dict[str, str]
    servers: list[SentryIngest]


@pytest.fixture(scope="module")
def sentry_endpoints() -> Iterator[SentryEndpoints]:
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(SentryIngest(mode)) for mode in Mode]
        dsns = {mode.value: server.dsn for mode, server in zip(Mode, servers, strict=True)}
        dsns["dead_port"] = f"http://{PUBLIC_KEY}@127.0.0.1:{dead_port()}/4242"
        yield SentryEndpoints(dsns, servers)


@pytest.fixture(scope="module")
def redis_urls(
    tmp_path_factory: pytest.TempPathFactory, redis_server_bin: str
) -> Iterator[dict[str, str]]:
    """Every Redis fault running at once; the URL (with a password) reaching each."""
    tls = faults.make_tls_files(tmp_path_factory.mktemp("tls"))
    with contextlib.ExitStack() as stack:
        urls = {
            fault: stack.enter_context(start(tmp_path_factory.mktemp(fault), tls))
            for fault, start in REDIS_FAULTS.items()
        }
        yield urls


def unstarved(case: Case, ran: Ran, runs: int = 3) -> Ran:
    """``ran``, or while it ended at the deadline (machine starved), a fresh run of ``case``."""
    for _ in range(runs):
        if '"reason": "deadline"' not in ran.stdout:
            break
        ran = run_cpa_ops(*case.args, env=case.env, timeout=20)
        found = leaks(ran.stdout + ran.stderr)  # a rerun is held to the same rule
        assert not found, f"{case.name} (run again): leaked {found}"
    return ran


def _delivering(case: Case) -> bool:
    """A sentry-test run whose endpoint answers (an HTTP status, whatever it is)."""
    return (
        case.command.startswith("sentry-test")
        and case.command != "sentry-test --dry-run"
        and case.fault not in ("dead_port", Mode.SILENT.value, Mode.CLOSE.value)
    )


def _endpoint_answered(case: Case, ran: Ran) -> bool:
    """The sentry-test run reports an HTTP status: its envelope reached the ingest server."""
    if not case.command.startswith("sentry-test") or "--dry-run" in case.args:
        return False
    if case.output_format == "json":
        try:
            return isinstance(json.loads(ran.stdout).get("status"), int)
        except ValueError:
            return False
    return re.search(r"^status\s+\d{3}$", ran.stdout, re.MULTILINE) is not None


def test_the_leak_detector_finds_each_secret() -> None:
    """The check below would notice a leak: each secret planted in a text is reported."""
    for secret in SECRETS:
        assert leaks(f"prefix {secret} suffix") == [secret]
    assert leaks(MESSAGE)  # the message really carries PII
    assert not leaks("redis://:***@127.0.0.1:6379/0 [REDACTED:ssn] [REDACTED:email]")


@pytest.mark.timeout(150)
def test_no_secret_or_pii_leaves_any_command(
    redis_urls: dict[str, str],
    sentry_endpoints: SentryEndpoints,
    record_property: Callable[..., None],
) -> None:
    """Every command x fault x format: no password, DSN key or PII on stdout, stderr or in an
    envelope; every run ends with a documented exit code and within its deadline."""
    cases = build_cases(redis_urls, sentry_endpoints.dsns)

    def run(case: Case) -> tuple[Case, Ran]:
        return case, run_cpa_ops(*case.args, env=case.env, timeout=20)

    with ThreadPoolExecutor(POOL_SIZE) as pool:
        results = list(pool.map(run, cases))
    # a delivery the four at once starved past its --timeout runs again on its own, up to twice
    # (a starved run may end before its envelope is answered: no leak, but no delivery either)
    reruns = []
    for case, ran in results:
        for _ in range(2):
            if not _delivering(case) or _endpoint_answered(case, ran):
                break
            ran = run_cpa_ops(*case.args, env=case.env, timeout=20)
            reruns.append((case, ran))

    problems = []
    for case, ran in results + reruns:
        found = leaks(ran.stdout + ran.stderr)
        if found:
            problems.append(f"{case.name}: leaked {found}")
        if ran.elapsed > SLOWEST:
            problems.append(f"{case.name}: took {ran.elapsed:.1f} s")
        if ran.returncode not in (0, 1, 2, 3):
            problems.append(f"{case.name}: exit {ran.returncode}")
        if "Traceback" in ran.stderr or "internal error" in ran.stderr:
            problems.append(f"{case.name}: {ran.stderr[-300:]!r}")
        said = ran.stderr if case.output_format in ("text", "console") else ran.stdout
        if ran.returncode and not said.strip():
            problems.append(f"{case.name}: exit {ran.returncode} without a word")
    envelopes = [envelope for server in sentry_endpoints.servers for envelope in server.received]
    for envelope in envelopes:
        found = leaks(envelope.text)
        if found:
            problems.append(f"an envelope to {envelope.path} leaked {found}")
    assert not problems, "\n".join(problems)

    # the matrix really ran: every run the endpoint answered had its envelope received (scrubbed),
    # and every delivery got that far, in the pool or on its own
    answered = [case.name for case, ran in results + reruns if _endpoint_answered(case, ran)]
    delivering = sorted(case.name for case in cases if _delivering(case))
    assert len(envelopes) >= len(answered), f"{len(envelopes)} envelopes, {len(answered)} answered"
    assert sorted(answered) == delivering, f"{len(reruns)} runs again; answered: {answered}"
    assert any("[REDACTED:ssn]" in envelope.text for envelope in envelopes)
    # and the faults were really there (a run starved into "deadline" by the four at once is
    # run again on its own)
    by_fault = {
        case.fault: (case, ran) for case, ran in results if case.name.startswith("health [json]")
    }
    pinged = {case.fault: ran for case, ran in results if case.name.startswith("ping [json]")}
    assert '"ok": 0,' not in pinged["healthy"].stdout  # (health's 1.5 s may go on a busy start)
    assert '"reason": "auth"' in unstarved(*by_fault["auth_wrong"]).stdout
    assert '"reason": "refused"' in unstarved(*by_fault["refused"]).stdout

    faults_seen = {case.fault for case in cases}
    summary = (
        f"leak matrix: {len(cases)} command x fault x format cases "
        f"({len({case.command for case in cases})} commands, {len(faults_seen)} faults "
        f"({len(REDIS_FAULTS)} Redis, {len(SENTRY_FAILURES)} Sentry, 2 environments)), "
        f"{len(envelopes)} envelopes checked"
    )
    record_property("leak_matrix_cases", len(cases))
    print(summary)
