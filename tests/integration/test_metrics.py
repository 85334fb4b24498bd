"""`casefile run --metrics-port P`: the processor child on P, the projector child on P+1. What the
endpoints report matches what the test published: applied + duplicates + DLQ = ledger records,
DLQ by code = the DLQ topic's headers, records projected = the log's records; lag falls to 0 and
both children are healthy and ready."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from casefile.metrics import free_port_pair
from casefile.publishing import publish_events
from casefile.settings import Settings
from casefile.synthetic_ledger import synthetic_ledger
from schemas.ledger_models import validate_ledger_event
from tests.integration.kafka_read import read_all

pytestmark = [pytest.mark.kafka]

PARTITIONS = 3




def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of one /metrics page ({} when it does not answer)."""
    status, text = _get(port, "/metrics")
    if status != 200:
        return {}
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(samples: dict, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def by_label(samples: dict, name: str, label: str) -> dict[str, float]:
    return {dict(ls)[label]: v for (n, ls), v in samples.items() if n == name}


def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "metrics-test-ends"})
    try:
        parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    finally:
        c.close()


def test_metrics_match_what_was_published(kafka_bootstrap: str, topics: dict[str, str], tmp_path: Path) -> None:
    settings = Settings(bootstrap_servers=kafka_bootstrap, ledger_topic=topics["ledger"])
    events = [validate_ledger_event(e) for e in synthetic_ledger(6_000, accounts=120, seed=23)]
    publish_events(settings, events, partitions=PARTITIONS)
    publish_events(settings, events[:300], partitions=PARTITIONS)  # re-sent: exact duplicates
    garbage = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(7):  # neither Avro nor JSON: `decode`
        garbage.produce(topics["ledger"], value=b"\x00not a ledger event %d" % i, key=b"USMF/C-00001")
    garbage.flush(30)
    ledger_records = sum(_end_offsets(kafka_bootstrap, topics["ledger"]).values())

    port = free_port_pair()
    env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": kafka_bootstrap, "CASEFILE_LEDGER_TOPIC": topics["ledger"],
           "CASEFILE_LOG_TOPIC": topics["log"], "CASEFILE_DLQ_TOPIC": topics["dlq"]}
    stderr = open(tmp_path / "run.stderr", "w+")  # a file, not a pipe: nobody reads it until the end
    proc = subprocess.Popen([sys.executable, "-m", "casefile", "--log-level", "warning", "run",
                             "--db", str(tmp_path / "m.duckdb"), "--partitions", str(PARTITIONS),
                             "--batch-size", "500", "--metrics-port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    try:
        # the processor: every ledger record is applied, a duplicate, or dead-lettered
        deadline = time.monotonic() + 240
        proc_m: dict = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "run.stderr").read_text()[-3000:]
            proc_m = scrape(port)
            seen = (total(proc_m, "casefile_events_applied_total") + total(proc_m, "casefile_duplicates_total")
                    + total(proc_m, "casefile_dlq_total"))
            if seen >= ledger_records:
                break
            time.sleep(0.5)
        applied = total(proc_m, "casefile_events_applied_total")
        duplicates = total(proc_m, "casefile_duplicates_total")
        dlq = by_label(proc_m, "casefile_dlq_total", "code")
        assert applied + duplicates + sum(dlq.values()) == ledger_records
        assert duplicates >= 250  # re-sent events that were dead-lettered the first time are dead-lettered again
        assert dlq.get("decode") == 7

        # lag falls to 0 on every ledger partition (gauges refresh every second), and both are ready
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            proc_m = scrape(port)
            lag = by_label(proc_m, "casefile_consumer_lag", "partition")
            if len(lag) == PARTITIONS and not any(lag.values()):
                break
            time.sleep(0.5)
        assert lag == {str(p): 0.0 for p in range(PARTITIONS)}
        assert total(proc_m, "casefile_assigned_partitions") == PARTITIONS
        assert total(proc_m, "casefile_transactions_total") >= 1
        assert total(proc_m, "casefile_transaction_seconds_count") == total(proc_m, "casefile_transactions_total")
        assert total(proc_m, "casefile_batch_seconds_count") >= total(proc_m, "casefile_transactions_total")
        assert total(proc_m, "process_resident_memory_bytes") > 0

        status, body = _get(port, "/healthz")
        assert status == 200, body
        status, body = _get(port, "/readyz")
        assert status == 200 and json.loads(body)["status"] == "ready", body

        # the DLQ topic holds exactly what the counters say, by code
        dlq_rows = Counter(dict(m.headers())["casefile.error"].decode()
                           for m in read_all(kafka_bootstrap, topics["dlq"]))
        assert {k: float(v) for k, v in dlq_rows.items()} == dlq

        # the projector (PORT+1): every log record projected, lag 0, next offsets at the log's ends
        log_records = read_all(kafka_bootstrap, topics["log"])
        assert total(proc_m, "casefile_log_records_written_total") == len(log_records)
        last = {}
        for m in log_records:
            last[m.partition()] = m.offset() + 1
        deadline = time.monotonic() + 120
        proj_m: dict = {}
        while time.monotonic() < deadline:
            proj_m = scrape(port + 1)
            lag = by_label(proj_m, "casefile_consumer_lag", "partition")
            if (total(proj_m, "casefile_records_projected_total") >= len(log_records) and len(lag) == PARTITIONS
                    and not any(lag.values())):
                break
            time.sleep(0.5)
        assert total(proj_m, "casefile_records_projected_total") == len(log_records)
        assert lag == {str(p): 0.0 for p in range(PARTITIONS)}
        position = by_label(proj_m, "casefile_projection_next_offset", "partition")
        assert position == {str(p): float(o) for p, o in last.items()}
        deadline = time.monotonic() + 30
        while _get(port + 1, "/readyz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _get(port + 1, "/readyz")[0] == 200
        assert _get(port + 1, "/healthz")[0] == 200
        assert _get(port, "/nope")[0] == 404
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        stderr.close()
    assert proc.returncode == 0, (tmp_path / "run.stderr").read_text()[-3000:]
    assert _get(port, "/healthz")[0] == 0  # the endpoint goes with the process
