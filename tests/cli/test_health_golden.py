"""Golden ``--format json`` verdicts of ``cpa-ops health``: one file per fault of the harness.

Frozen from the code before the one-house redesign (issue 11) and kept passing since: every
status, reason, hint, check key, output text and details key, with what differs from run to run
normalised (times, ports, measured numbers, temporary paths). A change to a verdict is then a
deliberate one: rerun with ``CPA_OPS_UPDATE_GOLDEN=1`` and review the diff of tests/golden/.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_health_faults import FAULTS, _shown
from tests.conftest import clean_env, run_cpa_ops
from tests.servers.redis_topology import MASTER_NAME, ClusterSetup, SentinelSetup

pytestmark = pytest.mark.timeout(90)

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = bool(os.environ.get("CPA_OPS_UPDATE_GOLDEN"))
#: room for the fault's own reason on a busy machine (a black hole takes all of it)
TIMEOUT = "2"
ROOMY = "5"
RUNS = 3

_PORT = re.compile(r"(127\.0\.0\.1|localhost|\[::1\]|::1):\d+")
_NUMBER = re.compile(r"\d+(\.\d+)+|\d+")
_TMP = re.compile(r"/tmp/\S*?(?=[\s'\"),;]|$)")
_VERSION = re.compile(r"Redis \d+\.\d+\.\d+")
#: details a loaded machine adds to any verdict (cpa_ops.core.starvation)
_CPU_WAIT_KEYS = frozenset({"cpuWaitMs", "cpuThrottledMs", "cpuThrottledPeriods"})


def normalised(value: Any, key: str = "") -> Any:
    """``value`` with what varies between runs replaced by placeholders."""
    if key == "time":
        return "<time>"
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return "<n>"
    if isinstance(value, str):
        text = _TMP.sub("<tmp>", value)
        text = _VERSION.sub("Redis <version>", text)
        text = _PORT.sub(r"\1:<port>", text)
        return _NUMBER.sub("<n>", text)
    if isinstance(value, dict):
        # how long this run waited for a CPU is the machine's load, not the verdict's
        return {
            k: normalised(v, k)
            for k, v in value.items()
            if k not in _CPU_WAIT_KEYS and not (k == "details" and _only_cpu_wait(v))
        }
    if isinstance(value, list):
        # one entry per node, in an order that follows the (random) ports: compare as a set
        items = [normalised(v) for v in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return value


def _only_cpu_wait(details: Any) -> bool:
    return isinstance(details, dict) and bool(details) and set(details) <= _CPU_WAIT_KEYS


def _compare(name: str, document: dict[str, Any]) -> None:
    path = GOLDEN / f"{name}.json"
    got = normalised(document)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        return
    assert path.is_file(), f"no golden file {path.name}: run with CPA_OPS_UPDATE_GOLDEN=1"
    expected = json.loads(path.read_text())
    if got != expected:
        # the same sorted form as the golden file, so the diff shows only what changed
        shown = difflib.unified_diff(
            json.dumps(expected, indent=2, sort_keys=True, ensure_ascii=False).splitlines(),
            json.dumps(got, indent=2, sort_keys=True, ensure_ascii=False).splitlines(),
            f"golden/{path.name}",
            "this run",
            lineterm="",
        )
        pytest.fail(f"{name}: the verdict changed\n" + "\n".join(shown), pytrace=False)


def _run_json(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run health --format json; a verdict of 'deadline' (a starved start-up) is run again."""
    for _ in range(RUNS):
        ran = run_cpa_ops("health", "--format", "json", *args, env=env, timeout=30)
        if not re.search(r"\bdeadline\b", ran.stdout):
            break
        warnings.warn(f"'deadline' after {ran.elapsed:.2f} s, ran again", stacklevel=2)
    try:
        document: dict[str, Any] = json.loads(ran.stdout)
    except ValueError:
        pytest.fail(f"stdout is not one JSON object\n{_shown(ran)}")
    return document


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_verdict_is_golden(request: pytest.FixtureRequest, name: str) -> None:
    fault = FAULTS[name]
    target = request.getfixturevalue(fault.fixture)
    url = fault.url(target, request.getfixturevalue("tls_files"))
    env = None
    if fault.resolver is not None:
        env = clean_env(PYTHONPATH=str(request.getfixturevalue(fault.resolver)))
    args = ["--redis-url", url, "--timeout", TIMEOUT, *fault.args]
    _compare(f"fault-{name}", _run_json(args, env))


# faults that are a warn, not a failure, and the healthy verdicts
WARNINGS = {
    "oom-memory": ("redis_oom", ()),
    # issue 14: a replica that synced, then lost its master (one that never synced: FAULTS)
    "stale-replica": ("redis_lost_master_replica", ()),
    "crowded": ("redis_crowded", ()),
    "healthy": ("redis_server", ()),
    "healthy-write": ("redis_server", ("--write",)),
    "slow": ("redis_server", ("--warn-ms", "0.0001")),
    # --- issue 14: replication and persistence ---
    "writable-replica-write": ("redis_writable_replica", ("--write",)),
    "writable-replica": ("redis_writable_replica", ()),
    "failed-save": ("redis_failed_save", ()),
    "evicting-at-maxmemory": ("redis_evicting", ()),
}


@pytest.mark.parametrize("name", list(WARNINGS))
def test_warn_and_pass_verdicts_are_golden(request: pytest.FixtureRequest, name: str) -> None:
    fixture, extra = WARNINGS[name]
    server = request.getfixturevalue(fixture)
    _compare(f"warn-{name}", _run_json(["--redis-url", server.url(), "--timeout", ROOMY, *extra]))


def test_tls_with_the_right_ca_is_golden(redis_tls: Any, tls_files: Any) -> None:
    args = ["--redis-url", redis_tls.url(ca=tls_files.ca), "--timeout", ROOMY]
    _compare("warn-tls-right-ca", _run_json(args))


def test_healthy_cluster_is_golden(redis_cluster: ClusterSetup) -> None:
    args = ["--mode", "cluster", "--timeout", ROOMY, "--write"]
    _compare("cluster-healthy", _run_json(args, clean_env(REDIS_URL=redis_cluster.seed_urls)))


def test_healthy_sentinel_is_golden(redis_sentinels_per_module: SentinelSetup) -> None:
    args = ["--mode", "sentinel", "--sentinels", redis_sentinels_per_module.sentinel_addresses]
    args += ["--sentinel-master", MASTER_NAME, "--timeout", ROOMY, "--write"]
    _compare("sentinel-healthy", _run_json(args))
