"""``cpa-ops health`` against the bare redis-py one-liner, side by side, and two fault verdicts.

Run: ``python benchmarks/bench_health.py`` (or ``./dev bench``). Starts its own redis-server on
a free loopback port (tests/servers/redis_faults.py), then:

1. runs ``cpa-ops health --redis-url URL --timeout 5`` (the console script next to this
   Python) and ``python -c "import redis; redis.Redis.from_url(URL).ping()"``, alternating,
   RUNS pairs, and prints the medians of wall time and of CPU time (user + sys of the child,
   from os.wait4: what a probe costs the pod's CPU request) and the ratio of each (done at
   <= 1.2x, the aim 1.0x); then the floor: the same for ``import redis`` and for ``import
   redis`` plus one pydantic-settings model and the ping, started as cpa-ops starts (GC and
   pydantic's plugin scan off): what no probe with the one settings model can go below;
2. times the verdict of ``cpa-ops health --timeout 1`` for a SYN black hole and a listener that
   never answers (target: <= 1.5 s, the timeout + 0.5 s).

``--callgrind``: instead of 1., count each run's instructions under valgrind's callgrind (one
run each: the count is the same every time, whatever the machine's load), the ratios of those.

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
RATIO_TARGET = 1.2
#: the floor of a probe that validates its settings with the one (pydantic-settings) model and
#: pings with redis-py, started the way cpa-ops starts (cyclic GC off, pydantic's plugin scan off)
FLOOR = (
    "import gc, os\ngc.disable()\nos.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'\n"
    "import redis, pydantic_settings\nclass M(pydantic_settings.BaseSettings):\n    x: int = 1\n"
    "M()\nredis.Redis.from_url({url!r}).ping()"
)
FAULT_TIMEOUT = 1.0
FAULT_TARGET = FAULT_TIMEOUT + 0.5
CPA_OPS = Path(sys.executable).parent / "cpa-ops"
# a developer's own settings must not change what is measured
_SETTINGS_VARS = ("REDIS_URL", "SENTRY_DSN", "ENVIRONMENT", "LOG_LEVEL", "CPA_OPS_ENV_FILE")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _SETTINGS_VARS}


class Cost:
    """Wall and CPU seconds of the runs of one command."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def median(self, kind: str) -> float:
        return statistics.median(getattr(self, kind))


def _run(argv: list[str], expect: int, cost: Cost | None = None) -> float:
    """Run ``argv`` once; its wall seconds (and, into ``cost``, wall and user+sys CPU seconds of
    the child, from os.wait4). Fails loudly if it exits otherwise than ``expect``."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    if proc.returncode != expect:
        raise SystemExit(
            f"bench: {' '.join(argv)} exited {proc.returncode}, expected {expect}\n"
            f"{out.decode(errors='replace')}{err.decode(errors='replace')}"
        )
    if cost is not None:
        cost.wall.append(elapsed)
        cost.cpu.append(usage.ru_utime + usage.ru_stime)
    return elapsed


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def _commands(url: str, timeout: str) -> dict[str, list[str]]:
    """What is measured, by label: cpa-ops health (with ``--timeout timeout``), the anchor, the
    floor."""
    return {
        "cpa-ops health": [str(CPA_OPS), "health", "--redis-url", url, "--timeout", timeout],
        "redis-py one-liner": [
            sys.executable, "-c", f"import redis; redis.Redis.from_url({url!r}).ping()"
        ],
        "floor: import redis": [sys.executable, "-c", "import redis"],
        "floor: + settings model, ping": [sys.executable, "-c", FLOOR.format(url=url)],
    }  # fmt: skip


def side_by_side(url: str) -> dict[str, float]:
    """Medians of cpa-ops health and the redis-py one-liner (and the floor), run alternately;
    the CPU and wall ratios."""
    # a roomy budget: a slow first run on a busy machine must not end the benchmark at "deadline"
    runs = _commands(url, timeout="5")
    # byte-compile cpa_ops as a wheel install would: PYTHONDONTWRITEBYTECODE may be set, and an
    # editable install would otherwise compile our modules from source on every run
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "cpa_ops"), quiet=1)
    for argv in runs.values():  # one unmeasured run of each warms the page cache and the .pyc
        _run(argv, 0)
    costs = {label: Cost() for label in runs}
    for _ in range(RUNS):
        for label, argv in runs.items():
            _run(argv, 0, costs[label])
    anchor = costs["redis-py one-liner"]
    print(f"healthy Redis, {RUNS} alternating rounds (median; ratio to the one-liner):")
    print(f"  {'':<28} {'CPU (user+sys)':>22}   {'wall':>22}")
    for label, cost in costs.items():
        cpu, wall = cost.median("cpu"), cost.median("wall")
        cpu_ratio, wall_ratio = cpu / anchor.median("cpu"), wall / anchor.median("wall")
        print(f"  {label:<28} {_ms(cpu)} {cpu_ratio:5.2f}x      {_ms(wall)} {wall_ratio:5.2f}x")
    ours = costs["cpa-ops health"]
    ratios = {
        "cpu": ours.median("cpu") / anchor.median("cpu"),
        "wall": ours.median("wall") / anchor.median("wall"),
    }
    for kind, ratio in ratios.items():
        verdict = "ok" if ratio <= RATIO_TARGET else "MISSED"
        target = f"target <= {RATIO_TARGET}x: {verdict}"
        print(f"  {kind} ratio cpa-ops / redis-py  {ratio:5.2f}x  ({target})")
    return ratios


def instruction_counts(url: str) -> dict[str, float]:
    """Instructions of one run of each (valgrind --tool=callgrind): load-free ratios."""
    import re

    # valgrind runs ~50x slower: a budget the deadline cannot cut short
    runs = _commands(url, timeout="600")
    counts = {}
    for label, argv in runs.items():
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
            env=_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or not found:
            raise SystemExit(f"bench: callgrind of {label} failed\n{done.stderr[-2000:]}")
        counts[label] = int(found.group(1))
    anchor = counts["redis-py one-liner"]
    print("healthy Redis, instructions of one run (valgrind --tool=callgrind):")
    for label, count in counts.items():
        print(f"  {label:<28} {count / 1e6:8.0f} M  {count / anchor:5.2f}x")
    ratio = counts["cpa-ops health"] / anchor
    verdict = "ok" if ratio <= RATIO_TARGET else "MISSED"
    print(
        f"  instructions cpa-ops / redis-py  {ratio:5.2f}x  (target <= {RATIO_TARGET}x: {verdict})"
    )
    return {"instructions": ratio}


def fault_verdicts() -> dict[str, float]:
    """The slowest of a few ``--timeout 1`` verdicts per fault."""
    worst: dict[str, float] = {}
    with faults.syn_black_hole() as hole, faults.silent_listener() as silent:
        for name, port in (("SYN black hole", hole.port), ("silent listener", silent.port)):
            argv = [str(CPA_OPS), "health", "--redis-url", f"redis://127.0.0.1:{port}/0",
                    "--timeout", str(FAULT_TIMEOUT), "--quiet"]  # fmt: skip
            worst[name] = max(_run(argv, 1) for _ in range(FAULT_RUNS))
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
        if "--callgrind" in sys.argv[1:]:
            ratios = instruction_counts(server.url())
        else:
            ratios = side_by_side(server.url())
    worst = fault_verdicts()
    missed = any(r > RATIO_TARGET for r in ratios.values())
    missed = missed or any(s > FAULT_TARGET for s in worst.values())
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
