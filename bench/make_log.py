"""Build a case-file log on a Kafka topic cheaply, for benchmarks: the domain runs in-process over
a synthetic ledger and the records are produced straight to the log topic (no processor)."""
from __future__ import annotations

import time
from typing import Any

from confluent_kafka import Producer

from casefile.kafka.topics import LOG_TOPIC_CONFIG, admin, ensure_topic
from casefile.synthetic_ledger import synthetic_ledger
from processor.domain import Rejected, decide, evolve, new_partition_state
from processor.domain.policy import Policy
from processor.log_records import Cause, build_records
from schemas.codec import log_codec
from schemas.ledger_models import digest, validate_ledger_event


def make_log(bootstrap: str, topic: str, min_records: int, partitions: int = 4, accounts: int = 5000,
             seed: int = 1) -> dict[str, Any]:
    ensure_topic(admin({"bootstrap.servers": bootstrap}), topic, partitions, LOG_TOPIC_CONFIG)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "compression.type": "lz4",
                         "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000})
    policy, codec = Policy(), log_codec()
    states = [new_partition_state() for _ in range(partitions)]
    written, events, started = 0, 0, time.monotonic()
    ledger = synthetic_ledger(10**9, accounts=accounts, events_per_day=max(400, accounts // 2), seed=seed)
    for raw in ledger:
        event = validate_ledger_event(raw)
        targets = range(partitions) if event.type == "BusinessDayClosed" else [hash(event.stream_id) % partitions]
        for p in targets:
            try:
                decisions = decide(states[p], event, policy, p)
            except Rejected:
                continue
            records = build_records(decisions, Cause(event.event_id, digest(event), "bench.ledger", p, events, events),
                                    policy.version, states[p].heads, codec)
            for record, value in records:
                evolve(states[p], record)
                while True:
                    try:
                        producer.produce(topic, value, key=event.stream_id.encode(), partition=p)
                        break
                    except BufferError:
                        producer.poll(0.2)
            written += len(records)
        events += 1
        if written >= min_records and event.type == "BusinessDayClosed":
            break
    producer.flush(120)
    return {"log_records": written, "ledger_events": events, "build_seconds": round(time.monotonic() - started, 1)}
