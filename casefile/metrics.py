"""Prometheus metrics and health endpoints for `casefile process`, `project` and `run`.

Each processor or projector owns a `Metrics` object: its own `CollectorRegistry` (so several can
live in one Python process, e.g. in tests and benchmarks), the metric families below, a
heartbeat and a readiness flag. `serve(port)` starts a tiny HTTP server on a daemon thread:

- `GET /metrics`  the Prometheus text exposition (counters, gauges, histograms, process_* of this process)
- `GET /healthz`  200 while the process is alive and its loop heartbeat is recent (younger than
  `stale_after` seconds, default 120, env `CASEFILE_HEALTH_STALE_S`), else 503
- `GET /readyz`   200 when ready, else 503: a processor has partitions assigned and their state
  restored from the log; a projector has caught up with the log's end at least once since it started

Both health answers are a small JSON object saying why. Nothing here talks to Kafka: the loops
push their figures in, so a scrape never blocks the loop and never waits on the broker.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               PlatformCollector, ProcessCollector, generate_latest)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
DEFAULT_HOST = "0.0.0.0"


def _stale_after_default() -> float:
    try:
        return float(os.environ.get("CASEFILE_HEALTH_STALE_S", "120"))
    except ValueError:
        return 120.0


class Metrics:
    """The metric families of one role (`processor` or `projector`), plus heartbeat and readiness."""

    def __init__(self, role: str, stale_after: float | None = None, **info: str) -> None:
        self.role = role
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        r = self.registry
        self.stale_after = _stale_after_default() if stale_after is None else stale_after
        self._heartbeat = time.monotonic()
        self._ready = False
        self._ready_reason = "starting"
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

        self.info = Gauge("casefile_info", "Constant 1, labelled with the role and identity of this process",
                          ["role", *sorted(info)], registry=r)
        self.info.labels(role=role, **info).set(1)
        self.up_since = Gauge("casefile_start_time_seconds", "Unix time this loop started", registry=r)
        self.up_since.set(time.time())
        self.heartbeat_ts = Gauge("casefile_heartbeat_timestamp_seconds",
                                  "Unix time of the loop's latest iteration (what /healthz checks)", registry=r)
        self.ready_gauge = Gauge("casefile_ready", "1 when /readyz answers 200", registry=r)
        self.lag = Gauge("casefile_consumer_lag", "High watermark minus the consumer's position, per partition "
                         "(records not yet consumed)", ["topic", "partition"], registry=r)

        # the processor
        self.applied = Counter("casefile_events_applied", "Ledger events applied (committed)", registry=r)
        self.duplicates = Counter("casefile_duplicates", "Ledger events recognised as exact duplicates "
                                  "(committed)", registry=r)
        self.dlq = Counter("casefile_dlq", "Ledger records sent to the DLQ (committed), by casefile.error code",
                           ["code"], registry=r)
        self.records_written = Counter("casefile_log_records_written", "Case-file log records written "
                                       "(committed)", registry=r)
        self.transactions = Counter("casefile_transactions", "Kafka transactions committed", registry=r)
        self.aborts = Counter("casefile_transaction_aborts", "Kafka transactions aborted", registry=r)
        self.batch_seconds = Histogram("casefile_batch_seconds", "Time to handle one batch: processor = decode, "
                                       "decide and produce its records; projector = fold it and write it to "
                                       "DuckDB in one transaction", registry=r, buckets=_LATENCY_BUCKETS)
        self.batch_events = Histogram("casefile_batch_size", "Records per batch", registry=r,
                                      buckets=(1, 10, 50, 100, 500, 1000, 5000, 10000, 50000))
        self.transaction_seconds = Histogram("casefile_transaction_seconds", "begin_transaction to a completed "
                                             "commit_transaction (processor), including the offsets", registry=r,
                                             buckets=_LATENCY_BUCKETS)
        self.assigned = Gauge("casefile_assigned_partitions", "Ledger partitions assigned to this processor",
                              registry=r)
        self.restore_seconds = Histogram("casefile_state_restore_seconds", "Time to restore partition state from "
                                         "snapshots and the log after an assignment or an abort", registry=r,
                                         buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))

        # the projector
        self.projected = Counter("casefile_records_projected", "Case-file log records written to DuckDB",
                                 registry=r)
        self.projection_position = Gauge("casefile_projection_next_offset", "Next log offset to project, per "
                                         "partition (as committed in projection_offsets)", ["topic", "partition"],
                                         registry=r)

    # -- loop hooks ------------------------------------------------------------------------------

    def beat(self) -> None:
        self._heartbeat = time.monotonic()
        self.heartbeat_ts.set(time.time())

    def set_ready(self, ready: bool, reason: str = "") -> None:
        with self._lock:
            self._ready = ready
            self._ready_reason = reason or ("ready" if ready else "not ready")
        self.ready_gauge.set(1 if ready else 0)

    @property
    def is_ready(self) -> bool:
        return self._ready

    def set_lag(self, topic: str, lags: dict[int, int]) -> None:
        for p, value in lags.items():
            self.lag.labels(topic=topic, partition=str(p)).set(value)

    def forget_partitions(self, topic: str, keep: list[int]) -> None:
        """Drop the lag series of partitions no longer ours (a revoked partition's lag is another's)."""
        wanted = {str(p) for p in keep}
        for labels in list(self.lag._metrics):  # (topic, partition) tuples
            if labels[0] == topic and labels[1] not in wanted:
                self.lag.remove(*labels)

    # -- health ----------------------------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        age = time.monotonic() - self._heartbeat
        ok = age <= self.stale_after
        return ok, {"status": "ok" if ok else "stale", "role": self.role, "heartbeat_age_s": round(age, 3),
                    "stale_after_s": self.stale_after}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            ready, reason = self._ready, self._ready_reason
        healthy, _ = self.health()
        ok = ready and healthy
        return ok, {"status": "ready" if ok else "not ready", "role": self.role,
                    "reason": reason if healthy else "loop heartbeat is stale"}

    # -- the HTTP server -------------------------------------------------------------------------

    def serve(self, port: int, host: str | None = None) -> int:
        """Start the endpoint on a daemon thread; returns the bound port (0 picks a free one)."""
        host = host or os.environ.get("CASEFILE_METRICS_HOST") or DEFAULT_HOST
        handler = _handler_for(self)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        thread = threading.Thread(target=self.server.serve_forever, name=f"metrics-{self.role}", daemon=True)
        thread.start()
        return self.server.server_address[1]

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _handler_for(metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    routes: dict[str, Callable[[], tuple[bool, dict[str, Any]]]] = {"/healthz": metrics.health,
                                                                    "/readyz": metrics.readiness}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, ctype, code = generate_latest(metrics.registry), CONTENT_TYPE_LATEST, 200
            elif path in routes:
                ok, doc = routes[path]()
                body, ctype, code = (json.dumps(doc) + "\n").encode(), "application/json", 200 if ok else 503
            else:
                body, ctype, code = b"not found: try /metrics, /healthz or /readyz\n", "text/plain", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # scrapes are not worth a log line
            return

    return Handler


def start_metrics(metrics: Metrics, port: int | None, log: Any) -> None:
    """Serve `metrics` on `port` when a port is configured (None or 0 = off); one clear error if it is taken."""
    if not port:
        return
    from casefile.errors import CasefileError

    try:
        bound = metrics.serve(port)
    except OSError as exc:
        raise CasefileError(f"cannot serve metrics on port {port}: {exc.strerror}") from None
    log.info("metrics endpoint", port=bound, paths=["/metrics", "/healthz", "/readyz"])


def free_port_pair() -> int:
    """A port P with P and P + 1 free on 127.0.0.1: `casefile run --metrics-port P` serves the
    processor on P and the projector on P + 1."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free pair of ports")
