"""Processor throughput: ledger events/s and peak RSS for `casefile process --once` over a
synthetic ledger (every payload type, ~1 % bad input), in one process.

    CASEFILE_BOOTSTRAP_SERVERS=127.0.0.1:9092 python bench/processor_bench.py [--events 200000]

Prints one JSON object. The ledger is published once per --events and reused by later runs.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from casefile.kafka.topics import admin, partition_count  # noqa: E402
from casefile.logs import configure_logging  # noqa: E402
from casefile.publishing import publish_events  # noqa: E402
from casefile.settings import Settings  # noqa: E402
from casefile.synthetic_ledger import synthetic_ledger  # noqa: E402
from processor.domain.policy import Policy  # noqa: E402
from processor.kafka_processor import LedgerProcessor, ProcessorOptions  # noqa: E402
from schemas.ledger_models import validate_ledger_event  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    configure_logging("warning", json=True)
    bootstrap = os.environ.get("CASEFILE_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    ledger = f"bench.ledger.{args.events}.{args.partitions}"
    if partition_count(admin({"bootstrap.servers": bootstrap}), ledger) is None:
        events = (validate_ledger_event(e) for e in synthetic_ledger(args.events, accounts=5000, events_per_day=2500))
        publish_events(Settings(bootstrap_servers=bootstrap, ledger_topic=ledger), events, partitions=args.partitions)
    run = uuid.uuid4().hex[:8]
    settings = Settings(bootstrap_servers=bootstrap, ledger_topic=ledger, log_topic=f"bench.log.{run}",
                        dlq_topic=f"bench.dlq.{run}")
    options = ProcessorOptions(group=f"bench-{run}", batch_size=args.batch_size, partitions=args.partitions, once=True)
    started = time.monotonic()
    counters = LedgerProcessor(settings, Policy(), options).run()
    seconds = time.monotonic() - started
    handled = counters.applied + counters.duplicates + sum(counters.dlq.values())
    print(json.dumps({
        "benchmark": "processor", "ledger_records": handled, "log_records": counters.records_written,
        "seconds": round(seconds, 2), "events_per_s": round(handled / seconds),
        "log_records_per_s": round(counters.records_written / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "transactions": counters.transactions, "dlq": dict(counters.dlq), "batch_size": args.batch_size}))


if __name__ == "__main__":
    main()
