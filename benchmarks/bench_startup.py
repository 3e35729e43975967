"""Startup budget: `cpa-ops --help` and one shell-completion round against `import typer`.

Every Tab press runs cpa-ops once, so its startup is completion latency. The floor is the
cheapest Typer program there is, `python -c "import typer"`, run interleaved with the rest in the
same process so machine load hits all alike. Budget: each of --help and the completion round
within 1.2x of the floor (median of the rounds).

    ./dev python benchmarks/bench_startup.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BUDGET = 1.2
CPA_OPS = str(Path(sys.executable).parent / "cpa-ops")
_BASE_ENV = {
    k: v for k, v in os.environ.items() if not k.startswith("_CPA_OPS") and k != "FORCE_COLOR"
}


def _env(**extra: str) -> dict[str, str]:
    return {**_BASE_ENV, **extra}


FLOOR = "python -c 'import typer'"
# label -> (argv, environment, held to the budget)
RUNS: dict[str, tuple[list[str], dict[str, str], bool]] = {
    FLOOR: ([sys.executable, "-c", "import typer"], _env(), False),
    "cpa-ops --help": ([CPA_OPS, "--help"], _env(), True),
    "completion round (bash)": (
        [CPA_OPS],
        _env(_CPA_OPS_COMPLETE="complete_bash", COMP_WORDS="cpa-ops health --fo", COMP_CWORD="2"),
        True,
    ),
    "completion round (zsh)": (
        [CPA_OPS],
        _env(_CPA_OPS_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="cpa-ops health --fo"),
        False,
    ),
    "cpa-ops --version": ([CPA_OPS, "--version"], _env(), False),
    "cpa-ops health --help": ([CPA_OPS, "health", "--help"], _env(), False),
}


def time_once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def measure(rounds: int) -> dict[str, float]:
    """Median wall time per run, the runs interleaved round by round."""
    samples: dict[str, list[float]] = {label: [] for label in RUNS}
    for argv, env, _ in RUNS.values():  # warm the page cache and the .pyc files
        time_once(argv, env)
    for _ in range(rounds):
        for label, (argv, env, _) in RUNS.items():
            samples[label].append(time_once(argv, env))
    return {label: statistics.median(times) for label, times in samples.items()}


def compile_package() -> None:
    """Byte-compile cpa_ops as a wheel install would: with PYTHONDONTWRITEBYTECODE set, a module
    changed since the last compile would otherwise be compiled from source on every run."""
    import compileall

    import cpa_ops

    compileall.compile_dir(Path(cpa_ops.__file__).parent, quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    compile_package()
    medians = measure(rounds)
    floor = medians[FLOOR]
    print(f"startup, median of {rounds} interleaved rounds (budget {BUDGET}x the floor)")
    over = []
    for label, median in medians.items():
        ratio = median / floor
        held = RUNS[label][2]
        verdict = ("ok" if ratio <= BUDGET else "OVER BUDGET") if held else ""
        if held and ratio > BUDGET:
            over.append(label)
        print(f"  {label:<28} {median * 1000:7.1f} ms  {ratio:5.2f}x  {verdict}")
    print("over budget: " + ", ".join(over) if over else "within budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
