"""``cpa-ops health`` against the bare redis-py one-liner, side by side, and two fault verdicts.

Run: ``python benchmarks/bench_health.py`` (or ``./dev bench``). Starts its own redis-server on
a free loopback port (tests/servers/redis_faults.py), then:

1. times ``cpa-ops health --redis-url URL --timeout 5`` (the console script next to this
   Python) and ``python -c "import redis; redis.Redis.from_url(URL).ping()"``, alternating,
   RUNS each, and
   prints both medians and their ratio (target: cpa-ops <= 1.5x the one-liner);
2. times the verdict of ``cpa-ops health --timeout 1`` for a SYN black hole and a listener that
   never answers (target: <= 1.5 s, the timeout + 0.5 s).

Exits 1 when a target is missed, so CI can run it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# the fault harness lives in the test tree: share it rather than copy it
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import redis_faults as faults

RUNS = 15
FAULT_RUNS = 3
RATIO_TARGET = 1.5
FAULT_TIMEOUT = 1.0
FAULT_TARGET = FAULT_TIMEOUT + 0.5
CPA_OPS = Path(sys.executable).parent / "cpa-ops"
# a developer's own settings must not change what is measured
_SETTINGS_VARS = ("REDIS_URL", "SENTRY_DSN", "ENVIRONMENT", "LOG_LEVEL", "CPA_OPS_ENV_FILE")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _SETTINGS_VARS}


def _timed(argv: list[str], expect: int) -> float:
    """Wall seconds of one run of ``argv``; fails loudly if it exits otherwise than ``expect``."""
    started = time.perf_counter()
    done = subprocess.run(
        argv, env=_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30
    )
    elapsed = time.perf_counter() - started
    if done.returncode != expect:
        raise SystemExit(
            f"bench: {' '.join(argv)} exited {done.returncode}, expected {expect}\n"
            f"{done.stdout}{done.stderr}"
        )
    return elapsed


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def side_by_side(url: str) -> float:
    """Medians of cpa-ops health and the redis-py one-liner, run alternately; the ratio."""
    # a roomy budget: a slow first run on a busy machine must not end the benchmark at "deadline"
    ours = [str(CPA_OPS), "health", "--redis-url", url, "--timeout", "5"]
    anchor = [sys.executable, "-c", f"import redis; redis.Redis.from_url({url!r}).ping()"]
    # byte-compile cpa_ops as a wheel install would: PYTHONDONTWRITEBYTECODE may be set, and an
    # editable install would otherwise compile our modules from source on every run
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "cpa_ops"), quiet=1)
    # one unmeasured run of each warms the page cache and the .pyc files
    _timed(ours, 0)
    _timed(anchor, 0)
    ours_times, anchor_times = [], []
    for _ in range(RUNS):
        ours_times.append(_timed(ours, 0))
        anchor_times.append(_timed(anchor, 0))
    ours_median = statistics.median(ours_times)
    anchor_median = statistics.median(anchor_times)
    ratio = ours_median / anchor_median
    print(f"healthy Redis, {RUNS} alternating runs each (median, min-max):")
    print(
        f"  cpa-ops health            {_ms(ours_median)}  "
        f"({_ms(min(ours_times)).strip()} - {_ms(max(ours_times)).strip()})"
    )
    print(
        f"  redis-py one-liner        {_ms(anchor_median)}  "
        f"({_ms(min(anchor_times)).strip()} - {_ms(max(anchor_times)).strip()})"
    )
    verdict = "ok" if ratio <= RATIO_TARGET else "MISSED"
    print(f"  ratio cpa-ops / redis-py  {ratio:7.2f}x    (target <= {RATIO_TARGET}x: {verdict})")
    return ratio


def fault_verdicts() -> dict[str, float]:
    """The slowest of a few ``--timeout 1`` verdicts per fault."""
    worst: dict[str, float] = {}
    with faults.syn_black_hole() as hole, faults.silent_listener() as silent:
        for name, port in (("SYN black hole", hole.port), ("silent listener", silent.port)):
            argv = [str(CPA_OPS), "health", "--redis-url", f"redis://127.0.0.1:{port}/0",
                    "--timeout", str(FAULT_TIMEOUT), "--quiet"]  # fmt: skip
            worst[name] = max(_timed(argv, 1) for _ in range(FAULT_RUNS))
    print(f"\nfault verdicts with --timeout {FAULT_TIMEOUT:g} (slowest of {FAULT_RUNS}, exit 1):")
    for name, seconds in worst.items():
        verdict = "ok" if seconds <= FAULT_TARGET else "MISSED"
        print(f"  {name:<24}  {_ms(seconds)}  (target <= {FAULT_TARGET:g} s: {verdict})")
    return worst


def main() -> int:
    if not CPA_OPS.exists():
        print(f"bench: no cpa-ops console script at {CPA_OPS} (run ./dev bench)", file=sys.stderr)
        return 2
    with faults.redis_server() as server:
        print(f"bench_health: redis-server {server.port} (pid {server.pid}), {sys.executable}\n")
        ratio = side_by_side(server.url())
    worst = fault_verdicts()
    missed = ratio > RATIO_TARGET or any(s > FAULT_TARGET for s in worst.values())
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
