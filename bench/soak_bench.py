"""Soak benchmark: `casefile run` (processor + projector) fed at a steady rate for a long time.

    CASEFILE_BOOTSTRAP_SERVERS=127.0.0.1:39092 python bench/soak_bench.py [--rate 500] [--duration 600] [--interval 10]

A publisher sends `--rate` synthetic ledger events per second for `--duration` seconds to a fresh
6-partition ledger while `casefile run --metrics-port P` follows it. Every `--interval` seconds the
two /metrics endpoints (processor P, projector P+1) are scraped: events handled (applied +
duplicates + DLQ) and records projected in the interval, per second; the processor's and the
projector's lag (sums over partitions); each child's RSS. After the publisher stops, the run is
given `--drain` seconds to reach lag 0. Prints one JSON object: the samples, RSS at start and end,
and the overall rates.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from casefile.metrics import free_port_pair  # noqa: E402
from casefile.publishing import LedgerPublisher  # noqa: E402
from casefile.settings import Settings  # noqa: E402
from casefile.synthetic_ledger import synthetic_ledger  # noqa: E402
from schemas.ledger_models import validate_ledger_event  # noqa: E402


def scrape(port: int) -> dict[str, float]:
    """Sample name -> value summed over labels ({} when the endpoint does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def handled(m: dict[str, float]) -> float:
    return (m.get("casefile_events_applied_total", 0) + m.get("casefile_duplicates_total", 0)
            + m.get("casefile_dlq_total", 0))




def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=500, help="ledger events per second")
    ap.add_argument("--duration", type=float, default=600, help="seconds of publishing")
    ap.add_argument("--interval", type=float, default=10, help="seconds between samples")
    ap.add_argument("--drain", type=float, default=120, help="seconds allowed to reach lag 0 afterwards")
    ap.add_argument("--partitions", type=int, default=6)
    a = ap.parse_args()
    bootstrap = os.environ.get("CASEFILE_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    tag = uuid.uuid4().hex[:8]
    ledger = f"soak{tag}.ledger"
    settings = Settings(bootstrap_servers=bootstrap, ledger_topic=ledger)
    publisher = LedgerPublisher(settings, a.partitions)
    port = free_port_pair()
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": bootstrap, "CASEFILE_LEDGER_TOPIC": ledger,
           "CASEFILE_LOG_TOPIC": f"soak{tag}.casefile", "CASEFILE_DLQ_TOPIC": f"soak{tag}.ledger.dlq"}
    err = open(tmp / "run.stderr", "w")
    proc = subprocess.Popen([sys.executable, "-m", "casefile", "--log-level", "warning", "run", "--db",
                             str(tmp / "soak.duckdb"), "--partitions", str(a.partitions), "--metrics-port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=err)
    published = 0
    stop = threading.Event()

    def publish() -> None:
        nonlocal published
        source = synthetic_ledger(int(a.rate * a.duration) + 1, accounts=5_000, events_per_day=max(a.rate * 10, 400),
                                  seed=57)
        t0 = time.monotonic()
        for ev in source:
            if stop.is_set():
                break
            event = validate_ledger_event(ev)
            if event.type == "BusinessDayClosed":
                for p in range(publisher.partitions):
                    publisher.send(event, partition=p)
            else:
                publisher.send(event)
            published += 1
            ahead = published / a.rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
            if time.monotonic() - t0 >= a.duration:
                break
        publisher.flush()

    # wait for both endpoints before starting the clock
    deadline = time.monotonic() + 60
    while (not scrape(port) or not scrape(port + 1)) and time.monotonic() < deadline:
        time.sleep(0.5)
    first_p, first_j = scrape(port), scrape(port + 1)
    rss_start = {"processor": first_p.get("process_resident_memory_bytes"),
                 "projector": first_j.get("process_resident_memory_bytes")}
    thread = threading.Thread(target=publish, daemon=True)
    started = time.monotonic()
    thread.start()
    samples = []
    prev_t, prev_h, prev_r = started, handled(first_p), first_j.get("casefile_records_projected_total", 0)
    try:
        while thread.is_alive() or time.monotonic() - started < a.duration + a.drain:
            time.sleep(a.interval)
            now = time.monotonic()
            mp, mj = scrape(port), scrape(port + 1)
            h, r = handled(mp), mj.get("casefile_records_projected_total", 0)
            samples.append({"t": round(now - started, 1), "published": published,
                            "processed_per_s": round((h - prev_h) / (now - prev_t)),
                            "projected_per_s": round((r - prev_r) / (now - prev_t)),
                            "processor_lag": mp.get("casefile_consumer_lag"),
                            "projector_lag": mj.get("casefile_consumer_lag"),
                            "processor_rss_mb": round(mp.get("process_resident_memory_bytes", 0) / 2**20, 1),
                            "projector_rss_mb": round(mj.get("process_resident_memory_bytes", 0) / 2**20, 1)})
            print(json.dumps(samples[-1]), file=sys.stderr)
            prev_t, prev_h, prev_r = now, h, r
            if not thread.is_alive() and mp.get("casefile_consumer_lag") == 0 and mj.get("casefile_consumer_lag") == 0 \
                    and h >= published:
                break
    finally:
        stop.set()
        thread.join(timeout=30)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        err.close()
    last_p, last_j = mp, mj
    elapsed = time.monotonic() - started
    print(json.dumps({
        "benchmark": "soak", "rate_target": a.rate, "duration_s": a.duration, "published": published,
        "processed": handled(last_p), "log_records": last_p.get("casefile_log_records_written_total"),
        "projected": last_j.get("casefile_records_projected_total"),
        "caught_up_after_s": round(elapsed, 1), "final_lag": {"processor": last_p.get("casefile_consumer_lag"),
                                                              "projector": last_j.get("casefile_consumer_lag")},
        "transactions": last_p.get("casefile_transactions_total"), "aborts": last_p.get("casefile_transaction_aborts_total"),
        "rss_mb_start": {k: round((v or 0) / 2**20, 1) for k, v in rss_start.items()},
        "rss_mb_end": {"processor": round(last_p.get("process_resident_memory_bytes", 0) / 2**20, 1),
                       "projector": round(last_j.get("process_resident_memory_bytes", 0) / 2**20, 1)},
        "run_exit_code": proc.returncode, "samples": samples}, indent=2))


if __name__ == "__main__":
    main()
