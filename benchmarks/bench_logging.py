"""Production JSON log lines per second, side by side in one run.

  cpa-ops      configure_logging() for production: orjson lines, redaction on, three
               correlation ids bound (task_id, client_id, agent), one flush per line
  cpa-ops-contextvar
               reference: the same with one structlog contextvar bound
               (structlog.contextvars.bind_contextvars(request_id=...)), merged into each line
  cpa-ops-processor
               reference: the same with one processor adding a field (region)
  cpa-ops-secret
               the same with the known-secret layer on: the settings hold a REDIS_URL whose
               password (24 characters, a typical generated one) is registered, so every final
               line is searched for it in every spelling (core/known_secrets.py)
  pjl          stdlib logging + python-json-logger's JsonFormatter emitting the same fields
               (correlation ids added by a logging.Filter reading the same context variables),
               StreamHandler (one flush per record); no redaction
  pjl-orjson   the same with python-json-logger's OrjsonFormatter (shown for reference)
  orjson       the practical limit (target anchor): a bare loop that builds the dict a logger
               must build for each line (a fresh RFC 3339 timestamp, level, logger, message,
               the three ids, service/environment/version, the event's fields), orjson.dumps
               + write, one flush per line as both pipelines do
  orjson-same-dict
               reference: one prebuilt dict with those fields dumped again and again, one
               flush per line: the issue's words read literally ("of the same dict")
  orjson-buffered
               reference: the prebuilt dict with no flush, lines left in the write buffer
  structlog-bare
               reference: structlog's fastest documented JSON set-up (filtering bound logger,
               merge_contextvars, add_log_level, TimeStamper, JSONRenderer on orjson,
               BytesLogger), no redaction: the floor of any structlog pipeline

All write to the same kind of sink (a text file on /dev/null). Each pipeline runs ROUNDS
times interleaved; the best round counts. Targets: cpa-ops >= 2.5x pjl, >= 0.3x orjson, and
with the known-secret layer on >= 2.5x pjl, >= 0.5x orjson; exits 1 when one is missed.

Run: ./dev python benchmarks/bench_logging.py [LINES]
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

LINES = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
ROUNDS = 7
#: a typical generated Redis password: registered for the cpa-ops-secret pipeline only
SECRET = "Zq7-vL2pXw9rT4kN8mB3sY6h"
IDS = {"task_id": "task-7f3a9c1e", "client_id": "cl-00421", "agent": "bookkeeper"}
STATIC = {"service": "bench", "environment": "production", "version": "0.1.0"}


def event_fields(i: int) -> dict[str, object]:
    return {"invoice_id": f"inv-{i:06d}", "amount": 1234.56, "lines": 12, "status": "posted"}


def run_cpa_ops(sink: object, lines: int, redis_url: str | None = None, **extension: Any) -> None:
    from cpa_ops.core.logging import bind_correlation, configure_logging, get_logger
    from cpa_ops.core.settings import load_settings

    configure_logging(
        load_settings(environment="production", redis_url=redis_url),
        stream=sink,
        service="bench",
        version="0.1.0",
        **extension,
    )
    log = get_logger("bench")
    with bind_correlation(**IDS):
        for i in range(lines):
            log.info("invoice posted", **event_fields(i))


def run_cpa_ops_contextvar(sink: object, lines: int) -> None:
    import structlog

    with structlog.contextvars.bound_contextvars(request_id="req-5d1e"):
        run_cpa_ops(sink, lines)


def _add_region(logger: object, method_name: str, event: dict[str, Any]) -> dict[str, Any]:
    event["region"] = "eu-1"
    return event


def run_cpa_ops_processor(sink: object, lines: int) -> None:
    run_cpa_ops(sink, lines, processors=[_add_region])


def run_cpa_ops_secret(sink: object, lines: int) -> None:
    from cpa_ops.core.known_secrets import forget_secrets, registered_secrets

    try:
        run_cpa_ops(sink, lines, redis_url=f"redis://:{SECRET}@cache:6379/0")
        assert registered_secrets() == (SECRET,), registered_secrets()
    finally:
        forget_secrets()  # the other pipelines run without the layer


def _pjl_logger(sink: object, formatter: logging.Formatter) -> logging.Logger:
    from cpa_ops.core.logging import agent_ctx, client_id_ctx, task_id_ctx

    class CorrelationFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.task_id = task_id_ctx.get()
            record.client_id = client_id_ctx.get()
            record.agent = agent_ctx.get()
            return True

    logger = logging.getLogger("bench.pjl")
    logger.handlers.clear()
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.StreamHandler(sink)  # type: ignore[arg-type]
    handler.setFormatter(formatter)
    handler.addFilter(CorrelationFilter())
    logger.addHandler(handler)
    return logger


def _pjl_formatter(cls: type) -> logging.Formatter:
    return cls(  # type: ignore[no-any-return]
        "%(asctime)s %(levelname)s %(name)s %(message)s %(task_id)s %(client_id)s %(agent)s",
        rename_fields={"asctime": "timestamp", "levelname": "level", "name": "logger"},
        static_fields=STATIC,
    )


def run_pjl(sink: object, lines: int, formatter_cls: type) -> None:
    from cpa_ops.core.logging import bind_correlation

    logger = _pjl_logger(sink, _pjl_formatter(formatter_cls))
    with bind_correlation(**IDS):
        for i in range(lines):
            logger.info("invoice posted", extra=event_fields(i))


def run_orjson(sink: object, lines: int) -> None:
    from datetime import UTC, datetime

    write = sink.write  # type: ignore[attr-defined]
    flush = sink.flush  # type: ignore[attr-defined]
    for i in range(lines):
        stamp = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        record = {
            "timestamp": stamp,
            "level": "info",
            "logger": "bench",
            "message": "invoice posted",
            **IDS,
            **STATIC,
            **event_fields(i),
        }
        write(orjson.dumps(record).decode() + "\n")
        flush()


def run_structlog_bare(sink: object, lines: int) -> None:
    import structlog

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.BytesLoggerFactory(sink.buffer),  # type: ignore[attr-defined]
        cache_logger_on_first_use=True,
    )
    log = structlog.get_logger("bench")
    with structlog.contextvars.bound_contextvars(**IDS, **STATIC):
        for i in range(lines):
            log.info("invoice posted", **event_fields(i))
    structlog.reset_defaults()


def _prebuilt_record() -> dict[str, object]:
    return {
        "timestamp": "2026-11-28T12:00:00.123456Z",
        "level": "info",
        "logger": "bench",
        "message": "invoice posted",
        **IDS,
        **STATIC,
        **event_fields(0),
    }


def run_orjson_same_dict(sink: object, lines: int) -> None:
    record = _prebuilt_record()
    write = sink.write  # type: ignore[attr-defined]
    flush = sink.flush  # type: ignore[attr-defined]
    for _ in range(lines):
        write(orjson.dumps(record).decode() + "\n")
        flush()


def run_orjson_buffered(sink: object, lines: int) -> None:
    record = _prebuilt_record()
    write = sink.write  # type: ignore[attr-defined]
    for _ in range(lines):
        write(orjson.dumps(record).decode() + "\n")


def main() -> int:
    from pythonjsonlogger.json import JsonFormatter
    from pythonjsonlogger.orjson import OrjsonFormatter

    pipelines: dict[str, Callable[[object, int], None]] = {
        "cpa-ops": run_cpa_ops,
        "cpa-ops-contextvar": run_cpa_ops_contextvar,
        "cpa-ops-processor": run_cpa_ops_processor,
        "cpa-ops-secret": run_cpa_ops_secret,
        "pjl": lambda sink, n: run_pjl(sink, n, JsonFormatter),
        "pjl-orjson": lambda sink, n: run_pjl(sink, n, OrjsonFormatter),
        "orjson": run_orjson,
        "orjson-same-dict": run_orjson_same_dict,
        "orjson-buffered": run_orjson_buffered,
        "structlog-bare": run_structlog_bare,
    }
    best: dict[str, float] = {}
    with open(os.devnull, "w") as sink:
        for run in pipelines.values():  # warm up: imports, caches
            run(sink, 2_000)
        for _ in range(ROUNDS):
            for name, run in pipelines.items():
                start = time.perf_counter()
                run(sink, LINES)
                elapsed = time.perf_counter() - start
                best[name] = min(best.get(name, elapsed), elapsed)
    rate = {name: LINES / seconds for name, seconds in best.items()}
    print(f"logging benchmark: {LINES} lines x {ROUNDS} rounds, best round each")
    for name, lines_per_second in rate.items():
        per_line = 1e6 / lines_per_second
        print(f"  {name:<18} {lines_per_second:>11,.0f} lines/s  {per_line:6.2f} us/line")
    vs_pjl = rate["cpa-ops"] / rate["pjl"]
    vs_orjson = rate["cpa-ops"] / rate["orjson"]
    secret_vs_pjl = rate["cpa-ops-secret"] / rate["pjl"]
    secret_vs_orjson = rate["cpa-ops-secret"] / rate["orjson"]
    missed = vs_pjl < 2.5 or vs_orjson < 0.3 or secret_vs_pjl < 2.5 or secret_vs_orjson < 0.5
    print(f"{'':27}without the known-secret layer   with it (cpa-ops-secret)")
    print(f"cpa-ops / pjl              = {vs_pjl:5.2f}x (target >= 2.5x)"
          f"      {secret_vs_pjl:5.2f}x (target >= 2.5x)")  # fmt: skip
    print(f"cpa-ops / orjson           = {vs_orjson:5.2f}x (target >= 0.3x)"
          f"      {secret_vs_orjson:5.2f}x (target >= 0.5x)")  # fmt: skip
    for name in ("pjl-orjson", "orjson-same-dict", "orjson-buffered", "structlog-bare"):
        print(f"cpa-ops / {name:<16} = {rate['cpa-ops'] / rate[name]:.2f}x (reference)")
    for name in ("cpa-ops-contextvar", "cpa-ops-processor", "cpa-ops-secret"):
        print(f"{name} / cpa-ops = {rate[name] / rate['cpa-ops']:.2f}x (the extension's cost)")
    bare = rate["structlog-bare"] / rate["orjson-same-dict"]
    print(f"structlog-bare / orjson-same-dict = {bare:.2f}x (the literal reading's floor)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
