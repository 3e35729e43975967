"""How long this process waited for a CPU: its run-queue wait and its cgroup's CPU-limit
throttling, read from Linux's counters (nothing elsewhere: every figure is then None).

A probe that misses its deadline on a busy node has usually not been waiting for Redis at all:
it was runnable and not running (other pods' work on its cores: ``/proc/self/schedstat``, the
second field, in ns since the thread started), or its cgroup had used its CPU quota for the
period (``cpu.stat``: cgroup v2 ``nr_throttled``/``throttled_usec``, v1 ``nr_throttled``/
``throttled_time`` in ns). Only ``os`` and ``time`` (no dataclasses either): the console script
imports this before anything else, to arm its deadline. Values are returned, never printed.
"""

from __future__ import annotations

import os
import time

#: the main thread's scheduler statistics (from any thread: /proc/self is the thread-group
#: leader): ns on a CPU, ns waiting on a run queue, timeslices
SCHEDSTAT = "/proc/self/schedstat"
CGROUP_FILE = "/proc/self/cgroup"
CGROUP_ROOT = "/sys/fs/cgroup"
#: where cgroup v1 mounts the cpu controller (alone, or joined with cpuacct)
_V1_CPU_MOUNTS = ("cpu,cpuacct", "cpu", "cpuacct,cpu")


#: what to do about a probe that waited for a CPU rather than for Redis
STARVED_HINT = (
    "the probe waited for a CPU, not for Redis: give the pod a CPU request that covers its "
    "probes (and a CPU limit, if any, well above it), or raise the probe's timeoutSeconds "
    "together with --timeout"
)


class CpuCounters:
    """One reading of the counters (None: not available here)."""

    __slots__ = ("nr_throttled", "run_queue_ns", "throttled_ns")

    def __init__(
        self, run_queue_ns: int | None, throttled_ns: int | None, nr_throttled: int | None
    ) -> None:
        #: ns the main thread has waited on a run queue since it started
        self.run_queue_ns = run_queue_ns
        #: ns the cgroup has been throttled by its CPU limit since it was created
        self.throttled_ns = throttled_ns
        #: CPU-limit periods in which the cgroup was throttled
        self.nr_throttled = nr_throttled

    def __repr__(self) -> str:
        return (
            f"CpuCounters(run_queue_ns={self.run_queue_ns}, throttled_ns={self.throttled_ns}, "
            f"nr_throttled={self.nr_throttled})"
        )


class CpuWait:
    """What a stretch of time lost to waiting for a CPU."""

    __slots__ = ("throttled_periods", "throttled_s", "waited_s")

    def __init__(
        self, waited_s: float | None, throttled_s: float | None, throttled_periods: int | None
    ) -> None:
        #: seconds runnable but not running (the node's cores busy with other work)
        self.waited_s = waited_s
        #: seconds the cgroup was throttled by its CPU limit (cgroup-wide)
        self.throttled_s = throttled_s
        #: CPU-limit periods in which it was throttled
        self.throttled_periods = throttled_periods

    def __repr__(self) -> str:
        return f"CpuWait({self.text() or 'unknown'})"

    @property
    def known(self) -> bool:
        return self.waited_s is not None or self.throttled_s is not None

    @property
    def lost_s(self) -> float:
        """The time the budget went on waiting for a CPU: the larger of the two (a throttled
        thread is also off its CPU, so the two overlap)."""
        return max(self.waited_s or 0.0, self.throttled_s or 0.0)

    def significant(self, budget: float) -> bool:
        """Large enough to name: at least 100 ms and 10% of ``budget`` seconds."""
        return self.lost_s >= max(0.1, 0.1 * budget)

    def starved(self, budget: float) -> bool:
        """So large that a timeout says nothing about the peer: a quarter of ``budget``."""
        return self.lost_s >= max(0.1, 0.25 * budget)

    def text(self) -> str:
        """``waited 620 ms for CPU, throttled 0 ms by the CPU limit`` (unknown parts left out)."""
        parts = []
        if self.waited_s is not None:
            parts.append(f"waited {self.waited_s * 1000:.0f} ms for CPU")
        if self.throttled_s is not None:
            periods = f" in {self.throttled_periods} periods" if self.throttled_periods else ""
            parts.append(f"throttled {self.throttled_s * 1000:.0f} ms by the CPU limit{periods}")
        return ", ".join(parts)

    def details(self) -> dict[str, float | int]:
        """The figures for a check's ``details``, in milliseconds."""
        figures: dict[str, float | int] = {}
        if self.waited_s is not None:
            figures["cpuWaitMs"] = round(self.waited_s * 1000, 1)
        if self.throttled_s is not None:
            figures["cpuThrottledMs"] = round(self.throttled_s * 1000, 1)
        if self.throttled_periods is not None:
            figures["cpuThrottledPeriods"] = self.throttled_periods
        return figures


def read_counters() -> CpuCounters:
    """The counters now (a few small /proc and /sys reads; never raises)."""
    throttled_ns, periods = _cgroup_throttling()
    return CpuCounters(_run_queue_ns(), throttled_ns, periods)


def cpu_wait_since(start: CpuCounters, end: CpuCounters | None = None) -> CpuWait:
    """The wait between ``start`` and ``end`` (default: now). The run-queue wait counts from
    the main thread's own start when ``start`` came from :func:`at_process_start`."""
    end = end if end is not None else read_counters()

    def delta(a: int | None, b: int | None) -> int | None:
        return None if a is None or b is None else max(b - a, 0)

    waited = delta(start.run_queue_ns, end.run_queue_ns)
    throttled = delta(start.throttled_ns, end.throttled_ns)
    return CpuWait(
        None if waited is None else waited / 1e9,
        None if throttled is None else throttled / 1e9,
        delta(start.nr_throttled, end.nr_throttled),
    )


def at_process_start(now: CpuCounters) -> CpuCounters:
    """``now`` with the run-queue wait set back to the thread's start (the kernel counts it from
    the fork): the interpreter's own start-up then counts, as it does in a kubelet's timeout."""
    run_queue = 0 if now.run_queue_ns is not None else None
    return CpuCounters(run_queue, now.throttled_ns, now.nr_throttled)


#: time before the first instruction counted beyond what the thread spent running or waiting
#: to run: the interpreter's start-up also sleeps a little on the disk
_STARTUP_SLACK_S = 0.05


def process_started_at(first_instruction: float) -> float | None:
    """The time.monotonic() instant the budget of this process counts from: its start (the
    fork, what a kubelet's ``timeoutSeconds`` counts from), to the kernel's 10 ms tick, and
    never after ``first_instruction`` (the monotonic instant the program's own code began);
    None where unknown.

    A process that was another program first (a wrapper that ``exec``-s cpa-ops, such as
    ``./dev`` after installing, or an entrypoint script) keeps its fork time; what it spent
    asleep before the exec, waiting on its own children, is not this probe's start-up. So only
    the time the thread was on a CPU or waiting for one (``/proc/self/schedstat``) counts from
    the fork, plus a little slack; without those figures, nothing before now does."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
        start_ticks = int(fields[19])  # field 22 of stat(5); the 2 before ")" are gone
        ticks_per_s = os.sysconf("SC_CLK_TCK")
        since_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        now = time.monotonic()
        with open(SCHEDSTAT, "rb") as sched:
            on_cpu_ns, run_queue_ns = (int(v) for v in sched.read().split()[:2])
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    age = since_boot - start_ticks / ticks_per_s
    if not 0 <= age < 3600:
        return None
    forked = now - age
    # (read near the first instruction, the figures are almost all from before it)
    busy = (on_cpu_ns + run_queue_ns) / 1e9 + _STARTUP_SLACK_S
    return min(max(forked, first_instruction - busy), first_instruction)


def _run_queue_ns() -> int | None:
    try:
        with open(SCHEDSTAT, "rb") as stat:
            return int(stat.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _cgroup_throttling() -> tuple[int | None, int | None]:
    """(throttled ns, throttled periods) of this process's cgroup: v2 first, then v1."""
    v2_path, v1_path = _cgroup_paths()
    if v2_path is not None:
        values = _key_values(f"{CGROUP_ROOT}{v2_path}/cpu.stat".replace("//", "/"))
        if "throttled_usec" in values:
            return values["throttled_usec"] * 1000, values.get("nr_throttled")
        unified = _key_values(f"{CGROUP_ROOT}/unified{v2_path}/cpu.stat".replace("//", "/"))
        if "throttled_usec" in unified:
            return unified["throttled_usec"] * 1000, unified.get("nr_throttled")
    if v1_path is not None:
        for mount in _V1_CPU_MOUNTS:
            values = _key_values(f"{CGROUP_ROOT}/{mount}{v1_path}/cpu.stat".replace("//", "/"))
            if "throttled_time" in values:
                return values["throttled_time"], values.get("nr_throttled")
    return None, None


def _cgroup_paths() -> tuple[str | None, str | None]:
    """This process's cgroup: (v2 path, v1 cpu-controller path), from /proc/self/cgroup."""
    v2 = v1 = None
    try:
        with open(CGROUP_FILE, "rb") as lines:  # bytes: no codec to import
            for line in lines:
                _, controllers, path = line.rstrip(b"\n").decode("latin-1").split(":", 2)
                if controllers == "":
                    v2 = path
                elif "cpu" in controllers.split(","):
                    v1 = path
    except (OSError, ValueError):
        pass
    return v2, v1


def _key_values(path: str) -> dict[str, int]:
    try:
        with open(path, "rb") as stat:
            pairs = (line.split() for line in stat)
            return {p[0].decode(): int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}
    except OSError:
        return {}
