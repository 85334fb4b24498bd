"""Replay benchmark: full rebuild rate from Kafka and from an archive, for >= 1,000,000 log records.

    CASEFILE_BOOTSTRAP_SERVERS=127.0.0.1:19092 python bench/replay_bench.py [--records 1000000]

The log is generated cheaply and realistically: a synthetic ledger goes through the processor's
own step function (processor/ledger_step.py: decide, build records, hash chain) in-process, one
PartitionState per partition, and the resulting log records are produced straight into a fresh
log topic (non-transactional; the replay reads them like any other). Then, each as a
`casefile` subprocess (wall time and peak RSS measured per child with os.wait4):
`replay rebuild` from Kafka, `replay export`, `replay rebuild --from-archive` (with a bogus
bootstrap). Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confluent_kafka import Producer  # noqa: E402

from casefile.kafka.topics import LOG_TOPIC_CONFIG, admin, ensure_topic  # noqa: E402
from casefile.publishing import to_avro_record  # noqa: E402
from casefile.synthetic_ledger import synthetic_ledger  # noqa: E402
from processor.domain.partition_state import new_partition_state  # noqa: E402
from processor.domain.policy import load_policy  # noqa: E402
from processor.ledger_step import step  # noqa: E402
from schemas.codec import ledger_codec, log_codec  # noqa: E402
from schemas.ledger_models import validate_ledger_event  # noqa: E402


def generate(bootstrap: str, topic: str, records: int, partitions: int) -> dict:
    ensure_topic(admin({"bootstrap.servers": bootstrap}), topic, partitions, LOG_TOPIC_CONFIG)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1_000_000,
                         "compression.type": "lz4", "queue.buffering.max.messages": 1_000_000, "acks": "all"})
    policy, lc, oc = load_policy(), ledger_codec(), log_codec()
    states = [new_partition_state() for _ in range(partitions)]
    started = time.monotonic()
    written = events = 0
    base_ts = 1_767_225_600_000
    for ev in synthetic_ledger(10 * records, accounts=20_000, events_per_day=20_000, seed=17):
        value = lc.encode(to_avro_record(validate_ledger_event(ev)))
        targets = (range(partitions) if ev["type"] == "BusinessDayClosed"
                   else [zlib.crc32(ev["customer_account"].encode()) % partitions])
        for p in targets:
            ts = base_ts + events
            result = step(states[p], value, "bench.ledger", p, events, ts, policy, lc, oc)
            for rec in result.records:
                while True:
                    try:
                        producer.produce(topic, value=oc.encode(rec), key=ev["customer_account"].encode(),
                                         partition=p, timestamp=ts)
                        break
                    except BufferError:
                        producer.poll(0.2)
                written += 1
            producer.poll(0)
        events += 1
        if written >= records:
            break
    producer.flush(300)
    return {"ledger_events": events, "log_records": written, "seconds": round(time.monotonic() - started, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--topic", help="reuse an existing bench log topic instead of generating one")
    a = ap.parse_args()
    bootstrap = os.environ.get("CASEFILE_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    topic = a.topic or f"bench-{uuid.uuid4().hex[:8]}.casefile"
    result: dict = {"bootstrap": bootstrap, "topic": topic}
    if not a.topic:
        result["generate"] = generate(bootstrap, topic, a.records, a.partitions)
    env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": bootstrap, "CASEFILE_LOG_TOPIC": topic}
    work = Path(tempfile.mkdtemp(prefix="replay-bench-"))
    for name, args, env_ in (
            ("rebuild_kafka", ["replay", "rebuild", "--db", str(work / "kafka.duckdb")], env),
            ("export", ["replay", "export", "--out", str(work / "archive")], env),
            ("rebuild_archive", ["--bootstrap-servers", "127.0.0.1:1", "replay", "rebuild", "--from-archive",
                                 str(work / "archive"), "--db", str(work / "archive.duckdb")], env)):
        result[name] = measure(args, env_)
    for name in ("rebuild_kafka", "rebuild_archive"):
        r = result[name]
        r["records_per_s_wall"] = round(r["records"] / r["wall_s"])
    result["archive_bytes"] = sum(f.stat().st_size for f in (work / "archive").iterdir())
    result["db_bytes"] = (work / "kafka.duckdb").stat().st_size
    print(json.dumps(result, indent=1))


def measure(args: list[str], env: dict[str, str]) -> dict:
    """Wall time, peak RSS (os.wait4 on the child) and the command's JSON line."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "casefile", "--log-level", "warning", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()  # type: ignore[union-attr]
    err = proc.stderr.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"casefile {' '.join(args)} failed:\n{err.decode()[-3000:]}")
    doc = json.loads(out.decode().strip().splitlines()[-1])
    body = next(iter(doc.values()))
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024), "cpu_s": round(
        usage.ru_utime + usage.ru_stime, 1), "records": body.get("records_read", body.get("records")),
        **{k: body[k] for k in ("records_per_s", "read_decode_seconds", "project_write_seconds") if k in body}}


if __name__ == "__main__":
    main()
