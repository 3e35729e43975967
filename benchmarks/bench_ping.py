"""The overhead of cpa-ops ping's client path, against redis-benchmark on the same server.

Starts its own redis-server on a free loopback port, then alternately runs
``cpa-ops ping -c 5000 -i 0 --format json`` (its mean round-trip) and
``redis-benchmark -c 1 -n 5000 -t ping --csv`` (its average latency, PING_MBULK: the same
multi-bulk PING we send), and prints the medians and the ratio. Target: ratio <= 2.

The ratio judged is the median of each run's ratio to the anchor run right after it: the pair
shares the machine's load of the moment, which on a shared VM drifts by 2x within a minute.
The ratio of the two medians is printed beside it. Exits 1 when the target is missed.
"""

from __future__ import annotations

import csv
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLES = 5000
ROUNDS = 9
TARGET = 2.0
CPA_OPS = Path(sys.executable).parent / "cpa-ops"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(port: int, workdir: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("bench_ping: redis-server did not start")


def ours(url: str) -> float:
    """cpa-ops ping's mean round-trip in ms."""
    ran = subprocess.run(
        [
            str(CPA_OPS),
            "ping",
            "-c",
            str(SAMPLES),
            "-i",
            "0",
            "--format",
            "json",
            "--redis-url",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if ran.returncode != 0:
        raise SystemExit(f"bench_ping: cpa-ops ping failed ({ran.returncode}): {ran.stderr}")
    summary = json.loads(ran.stdout)
    assert summary["ok"] == SAMPLES, summary
    return float(summary["roundTripMs"]["avg"])


def anchor(port: int) -> float:
    """redis-benchmark's average latency in ms for PING_MBULK (7.0 --csv: test, rps,
    avg_latency_ms, min_latency_ms, p50..., max_latency_ms)."""
    ran = subprocess.run(
        [
            "redis-benchmark",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-c",
            "1",
            "-n",
            str(SAMPLES),
            "-t",
            "ping",
            "--csv",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = {row["test"]: row for row in csv.DictReader(ran.stdout.splitlines())}
    return float(rows["PING_MBULK"]["avg_latency_ms"])


def main() -> int:
    for tool in ("redis-server", "redis-benchmark"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench_ping: {tool} is not on PATH (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        proc = start_redis(port, workdir)
        try:
            url = f"redis://127.0.0.1:{port}/0"
            ours(url)  # warm-up: byte-code and page cache
            ping_ms, bench_ms = [], []
            for _ in range(ROUNDS):
                ping_ms.append(ours(url))
                bench_ms.append(anchor(port))
        finally:
            proc.terminate()
            proc.wait(5)
    mine, theirs = statistics.median(ping_ms), statistics.median(bench_ms)
    ratio = statistics.median(m / t for m, t in zip(ping_ms, bench_ms, strict=True))
    print(f"ping round-trip, {SAMPLES} back-to-back PINGs, median of {ROUNDS} alternating runs:")
    print(
        f"  cpa-ops ping -c {SAMPLES} -i 0     mean {mine:.4f} ms   runs "
        + " ".join(f"{v:.3f}" for v in ping_ms)
    )
    print(
        f"  redis-benchmark -c 1 -n {SAMPLES}  avg  {theirs:.4f} ms   runs "
        + " ".join(f"{v:.3f}" for v in bench_ms)
    )
    verdict = "within" if ratio <= TARGET else "OVER"
    print(
        f"  ratio {ratio:.2f}x, median of the {ROUNDS} pairs ({verdict} the {TARGET:g}x target); "
        f"ratio of the medians {mine / theirs:.2f}x"
    )
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
