"""Two versions of cpa-ops side by side in one run: the old checkout against the new one.

    ./dev python benchmarks/bench_versions.py --old PATH [--new PATH] [--pairs N] [--repeat K]
        [--judge cpu|wall] [--format json]

PATH is a cpa-ops checkout with its own virtualenv in PATH/.venv (``PATH/dev python -c pass``
creates it); --new defaults to the checkout this script lives in. For each version, run by run
alternately (who goes first alternating too), it times:

  health cold start   PATH/.venv/bin/cpa-ops health --redis-url URL --timeout 5 (exit 0), against
                      a redis-server this script starts on a free loopback port and stops by PID
  log throughput      that version's python writing LINES JSON lines with correlation ids bound to
                      /dev/null; the child times its own logging loop, not its start-up
  --help start-up     PATH/.venv/bin/cpa-ops --help
  Tab start-up        one bash completion round (_CPA_OPS_COMPLETE=complete_bash)

A pair is the best of K runs of each side, interleaved; it shares the machine's load of the
moment, which on a shared VM drifts by 2x within a minute. Each measure gets two clocks: wall
time and CPU time (the child's user + system: it leaves out waiting for a core, so it holds
still on a crowded machine). Printed: the medians of old and new and the median of the per-pair
new/old ratios, per clock; verdict "within 5%" when the judged clock's ratio (--judge, CPU by
default) is <= 1.05. Noise never fails the run: it exits 0 unless a command itself failed (1),
or 2 when a checkout is unusable. Without --old (as in ``./dev bench``) it says so, exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.05
LOOPBACK = "127.0.0.1"
# a developer's own settings and the calling shell's completion state must not change what is
# measured, nor a PYTHONPATH send one version's python to the other's code
_DROPPED = {"REDIS_URL", "SENTRY_DSN", "ENVIRONMENT", "LOG_LEVEL", "LOG_FORMAT", "FORCE_COLOR"}
_DROPPED |= {"CPA_OPS_ENV_FILE", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
_BASE_ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in _DROPPED and not k.startswith(("_CPA_OPS", "REDIS_", "SENTRY_", "COMP_"))
}
_TAB_ENV = {
    "_CPA_OPS_COMPLETE": "complete_bash",
    "COMP_WORDS": "cpa-ops health --fo",
    "COMP_CWORD": "2",
}

# run by the version's own python: LINES lines of a typical event, ids bound, loop timed alone
LOG_SNIPPET = """
import os, sys, time
from cpa_ops.core.logging import bind_correlation, configure_logging, get_logger
from cpa_ops.core.settings import load_settings
lines = int(sys.argv[1])
with open(os.devnull, "w") as sink:
    configure_logging(load_settings(), stream=sink, log_format="json")
    log = get_logger("bench")
    with bind_correlation(task_id="task-7f3a9c1e", client_id="cl-00421", agent="bookkeeper"):
        for i in range(1000):  # warm-up: first-call caches
            log.info("invoice posted", invoice_id=f"inv-{i:06d}", amount=1234.56, status="ok")
        started, cpu_started = time.perf_counter(), time.process_time()
        for i in range(lines):
            log.info("invoice posted", invoice_id=f"inv-{i:06d}", amount=1234.56, lines=12,
                     status="posted")
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
print(wall, cpu)
"""


class CommandFailed(Exception):
    """A measured command did not do what it should (exit code, output)."""


class Unusable(Exception):
    """A checkout cannot be measured (no virtualenv, or one that runs another checkout's code)."""


@dataclass(frozen=True)
class Version:
    label: str
    root: Path

    @property
    def cpa_ops(self) -> Path:
        return self.root / ".venv" / "bin" / "cpa-ops"

    @property
    def python(self) -> Path:
        return self.root / ".venv" / "bin" / "python"

    def describe(self) -> str:
        def git(*args: str) -> str:
            done = subprocess.run(
                ["git", "-C", str(self.root), *args], capture_output=True, text=True, check=False
            )
            return done.stdout.strip() if done.returncode == 0 else ""

        commit = git("rev-parse", "--short", "HEAD") or "?"
        dirty = "+changes" if git("status", "--porcelain", "--untracked-files=no") else ""
        return f"{self.root} @ {commit}{dirty}"


def _run(argv: list[str], *, cwd: str, env: dict[str, str] | None = None) -> tuple[Sample, str]:
    """(wall, CPU) seconds and stdout of one run; CommandFailed unless it exits 0. CPU is the
    child's user + system time: it leaves out the time spent waiting for a core."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        cwd=cwd,
        env={**_BASE_ENV, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        shown = " ".join(argv) if len(" ".join(argv)) < 200 else f"{argv[0]} ..."
        raise CommandFailed(
            f"{shown} exited {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return (wall, cpu), done.stdout


Sample = tuple[float, float]  # (wall, CPU) seconds
Measure = Callable[[Version], Sample]


def measures(url: str, lines: int, cwd: str) -> dict[str, tuple[str, Measure]]:
    """name -> (unit shown, one measurement); lower is better for all."""

    def health(v: Version) -> Sample:
        argv = [str(v.cpa_ops), "health", "--redis-url", url, "--timeout", "5"]
        return _run(argv, cwd=cwd)[0]

    def log_loop(v: Version) -> Sample:
        out = _run([str(v.python), "-c", LOG_SNIPPET, str(lines)], cwd=cwd)[1]
        try:
            wall, cpu = (float(word) for word in out.strip().splitlines()[-1].split())
        except (IndexError, ValueError) as exc:
            raise CommandFailed(f"log snippet ({v.label}) printed no seconds: {out!r}") from exc
        return wall, cpu

    def help_(v: Version) -> Sample:
        sample, out = _run([str(v.cpa_ops), "--help"], cwd=cwd)
        if "Usage" not in out:
            raise CommandFailed(f"cpa-ops --help ({v.label}) printed no usage: {out[:200]!r}")
        return sample

    def tab(v: Version) -> Sample:
        sample, out = _run([str(v.cpa_ops)], cwd=cwd, env=_TAB_ENV)
        if "--format" not in out:
            raise CommandFailed(f"Tab round ({v.label}) did not offer --format: {out[:200]!r}")
        return sample

    return {
        "health cold start": ("ms", health),
        f"log loop ({lines} l.)": ("us/line", log_loop),
        "cpa-ops --help": ("ms", help_),
        "Tab (bash completion)": ("ms", tab),
    }


def free_port() -> int:
    """A loopback port nothing listened on a moment ago (never 6379: someone else's Redis)."""
    while True:
        with socket.socket() as probe:
            probe.bind((LOOPBACK, 0))
            port = int(probe.getsockname()[1])
        if port != 6379:
            return port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as probe:
            probe.sendall(b"PING\r\n")
            return probe.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server() -> Iterator[int]:
    """The port of a redis-server of our own on loopback; stopped by PID on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit(
            "bench_versions: redis-server is not on PATH (apt-get install redis-server)"
        )
    with tempfile.TemporaryDirectory(prefix="cpa-ops-bench-") as workdir:
        for _ in range(3):  # a free port can be taken before redis-server binds it
            port = free_port()
            options = f"--port {port} --bind {LOOPBACK} --appendonly no".split()
            proc = subprocess.Popen(
                [binary, *options, "--save", "", "--dir", workdir],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                deadline = time.monotonic() + 10
                while proc.poll() is None and time.monotonic() < deadline:
                    if _answers(port):
                        yield port
                        return
                    time.sleep(0.05)
            finally:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(5)
    raise SystemExit("bench_versions: redis-server did not start")


def prepare(v: Version) -> None:
    """Check the checkout and byte-compile its package as a wheel install would
    (PYTHONDONTWRITEBYTECODE may be set, and an editable install would compile on every run)."""
    for path in (v.cpa_ops, v.python):
        if not path.exists():
            raise Unusable(f"{v.label}: no {path} (create it with {v.root}/dev python -c pass)")
    where = subprocess.run(
        [str(v.python), "-c", "import cpa_ops; print(cpa_ops.__file__)"],
        env=_BASE_ENV,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        check=False,
    )
    package = Path(where.stdout.strip()).resolve().parent
    if where.returncode != 0 or package != v.root / "cpa_ops":
        raise Unusable(f"{v.label}: {v.python} imports cpa_ops from {package}, not {v.root}")
    subprocess.run(
        [str(v.python), "-m", "compileall", "-q", str(package)],
        env=_BASE_ENV,
        stdout=subprocess.DEVNULL,
        check=True,
    )


CLOCKS = ("wall", "cpu")
# name -> clock -> side -> one value per pair
Samples = dict[str, dict[str, dict[str, list[float]]]]


def measure(
    old: Version,
    new: Version,
    runs: dict[str, tuple[str, Measure]],
    pairs: int,
    repeat: int,
) -> Samples:
    """Per pair and clock, the best of ``repeat`` runs of each side, old and new run by run with
    who goes first alternating (a load spike hits one run, not a whole side)."""
    samples: Samples = {n: {c: {"old": [], "new": []} for c in CLOCKS} for n in runs}
    for _, run in runs.values():  # warm the page cache and the .pyc files, unmeasured
        run(old)
        run(new)
    for pair in range(pairs):
        for name, (_, run) in runs.items():
            got: dict[str, list[Sample]] = {"old": [], "new": []}
            for rep in range(repeat):
                for v in (old, new) if (pair + rep) % 2 == 0 else (new, old):
                    got[v.label].append(run(v))
            for i, clock in enumerate(CLOCKS):
                for label, runs_of_side in got.items():
                    samples[name][clock][label].append(min(r[i] for r in runs_of_side))
    return samples


def summarise(
    samples: Samples, runs: dict[str, tuple[str, Measure]], lines: int, judge: str
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, by_clock in samples.items():
        unit = runs[name][0]
        scale = 1e6 / lines if unit == "us/line" else 1e3
        row: dict[str, object] = {"name": name, "unit": unit}
        for clock, by in by_clock.items():
            ratios = [n / o for o, n in zip(by["old"], by["new"], strict=True)]
            old_median, new_median = statistics.median(by["old"]), statistics.median(by["new"])
            row[clock] = {
                "old": round(old_median * scale, 3),
                "new": round(new_median * scale, 3),
                "ratio": round(statistics.median(ratios), 3),
                "ratio_of_medians": round(new_median / old_median, 3),
                "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
            }
        row["within_5pct"] = row[judge]["ratio"] <= TARGET  # type: ignore[index]
        rows.append(row)
    return rows


def print_table(
    rows: list[dict[str, object]],
    old: Version,
    new: Version,
    pairs: int,
    repeat: int,
    judge: str,
    elapsed: float,
) -> None:
    print(f"old: {old.describe()}\nnew: {new.describe()}")
    print(
        f"{pairs} pairs, best of {repeat} alternating runs per side each; ratio = median of the "
        f"per-pair new/old (lower is better, target <= {TARGET:g})"
    )
    head = f"{'old':>8} {'new':>8} {'ratio':>6} {'min-max':>10}"
    print(f"  {'':<22} {'':<7}  {'wall':-^35}  {'cpu':-^35}")
    print(f"  {'':<22} {'unit':<7}  {head}  {head}  verdict")
    for row in rows:
        cells = []
        for clock in CLOCKS:
            of = row[clock]
            assert isinstance(of, dict)
            low, high = of["ratio_range"]
            cells.append(
                f"{of['old']:>8.2f} {of['new']:>8.2f} {of['ratio']:>6.3f} "
                f"{f'{low:.2f}-{high:.2f}':>10}"
            )
        verdict = ("within 5%" if row["within_5pct"] else "NOT within 5%") + f" ({judge})"
        print(f"  {row['name']:<22} {row['unit']:<7}  {cells[0]}  {cells[1]}  {verdict}")
    every = all(r["within_5pct"] for r in rows)
    print(f"all within 5%: {'yes' if every else 'no'} ({elapsed:.0f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="old checkout (with PATH/.venv)")
    parser.add_argument("--new", type=Path, default=REPO, help="new checkout (default: this one)")
    parser.add_argument("--pairs", type=int, default=15, help="old/new pairs per measure")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each side per pair, the best one counts"
    )
    parser.add_argument(
        "--judge", choices=CLOCKS, default="cpu", help="the clock the verdict reads (default cpu)"
    )
    parser.add_argument("--lines", type=int, default=20_000, help="log lines per log run")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args()
    if args.old is None:
        print("bench_versions: skipped (give --old PATH: a checkout of the old version)")
        return 0
    if min(args.pairs, args.repeat, args.lines) < 1:
        parser.error("--pairs, --repeat and --lines must be at least 1")
    old = Version("old", args.old.resolve())
    new = Version("new", args.new.resolve())
    started = time.perf_counter()
    try:
        for v in (old, new):
            prepare(v)
    except Unusable as exc:
        print(f"bench_versions: {exc}", file=sys.stderr)
        return 2
    try:
        # an empty working directory: no ./.env of either checkout is read
        with (
            tempfile.TemporaryDirectory(prefix="cpa-ops-bench-cwd-") as cwd,
            redis_server() as port,
        ):
            runs = measures(f"redis://{LOOPBACK}:{port}/0", args.lines, cwd)
            samples = measure(old, new, runs, args.pairs, args.repeat)
    except (CommandFailed, subprocess.TimeoutExpired) as exc:
        print(f"bench_versions: a command failed: {exc}", file=sys.stderr)
        return 1
    rows = summarise(samples, runs, args.lines, args.judge)
    elapsed = time.perf_counter() - started
    if args.format == "json":
        document = {
            "old": old.describe(),
            "new": new.describe(),
            "pairs": args.pairs,
            "repeat": args.repeat,
            "judge": args.judge,
            "lines": args.lines,
            "target": TARGET,
            "seconds": round(elapsed, 1),
            "results": rows,
        }
        print(json.dumps(document, indent=2))
    else:
        print_table(rows, old, new, args.pairs, args.repeat, args.judge, elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
