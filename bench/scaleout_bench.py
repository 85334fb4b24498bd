"""Scale-out benchmark: ledger events/s with 1, 2 and 3 `casefile process` instances in one group,
on one machine.

    CASEFILE_BOOTSTRAP_SERVERS=127.0.0.1:39092 python bench/scaleout_bench.py [--events 100000] [--instances 1,2,3]

For each instance count: a fresh 6-partition ledger (the same seeded synthetic events, published
before the clock starts), then N processors started together (one group, each with its own
--transactional-id, default batch size). The clock runs from the start of the processes until the
group's committed offsets reach the ledger's end offsets, so restores and rebalances are in it;
`steady_events_per_s` is measured from the first committed transaction instead. Prints one JSON object.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confluent_kafka import Consumer, TopicPartition  # noqa: E402

from casefile.publishing import publish_events  # noqa: E402
from casefile.settings import Settings  # noqa: E402
from casefile.synthetic_ledger import synthetic_ledger  # noqa: E402
from schemas.ledger_models import validate_ledger_event  # noqa: E402


def committed(bootstrap: str, topic: str, group: str, partitions: int) -> tuple[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        ends = sum(c.get_watermark_offsets(tp, timeout=10)[1] for tp in parts)
        done = sum(max(tp.offset, 0) for tp in c.committed(parts, timeout=10))
        return done, ends
    finally:
        c.close()


def one(bootstrap: str, events: list, instances: int, partitions: int, batch_size: int, workdir: Path) -> dict:
    tag = uuid.uuid4().hex[:8]
    ledger, group = f"bench{tag}.ledger", f"bench-{tag}"
    settings = Settings(bootstrap_servers=bootstrap, ledger_topic=ledger)
    publish_events(settings, events, partitions=partitions)
    env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": bootstrap, "CASEFILE_LEDGER_TOPIC": ledger,
           "CASEFILE_LOG_TOPIC": f"bench{tag}.casefile", "CASEFILE_DLQ_TOPIC": f"bench{tag}.ledger.dlq"}
    _, total = committed(bootstrap, ledger, group, partitions)
    started = time.monotonic()
    procs = []
    for i in range(instances):
        err = open(workdir / f"{tag}-{i}.stderr", "w")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "casefile", "--log-level", "error", "-X", "session.timeout.ms=6000",
             "process", "--group", group, "--transactional-id", f"{group}-{i}", "--partitions", str(partitions),
             "--batch-size", str(batch_size)], env=env, stdout=subprocess.DEVNULL, stderr=err))
    first_commit = None
    first_done = 0
    done = 0
    while True:
        done, _ = committed(bootstrap, ledger, group, partitions)
        if done and first_commit is None:
            first_commit, first_done = time.monotonic(), done
        if done >= total:
            break
        if any(p.poll() is not None for p in procs):
            raise SystemExit(f"a processor exited early; see {workdir}")
        time.sleep(0.25)
    finished = time.monotonic()
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=60)
    wall = finished - started
    steady = (done - first_done) / max(finished - first_commit, 1e-9) if first_commit else None
    return {"instances": instances, "ledger_records": total, "seconds": round(wall, 2),
            "events_per_s": round(total / wall), "steady_events_per_s": round(steady) if steady else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--instances", default="1,2,3")
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=5000)
    a = ap.parse_args()
    bootstrap = os.environ.get("CASEFILE_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    events = [validate_ledger_event(e) for e in synthetic_ledger(a.events, accounts=5_000, events_per_day=2_000, seed=41)]
    runs = []
    with tempfile.TemporaryDirectory(prefix="scaleout-") as tmp:
        for n in (int(x) for x in a.instances.split(",")):
            runs.append(one(bootstrap, events, n, a.partitions, a.batch_size, Path(tmp)))
            print(json.dumps(runs[-1]), file=sys.stderr)
    base = runs[0]["events_per_s"]
    print(json.dumps({"benchmark": "scaleout", "events": a.events, "partitions": a.partitions,
                      "batch_size": a.batch_size, "cpus": os.cpu_count(), "runs": runs,
                      "speedup": {str(r["instances"]): round(r["events_per_s"] / base, 2) for r in runs}}, indent=2))


if __name__ == "__main__":
    main()
