"""Per-partition state snapshots in a compacted topic, written inside the processor's transaction.

A snapshot of ledger partition p covers the case-file log of partition p up to (not including)
offset `covers`; restoring loads it and folds only the log's tail, so restart time does not grow
with history. Large states are split into chunks keyed `p/i`; every chunk names the snapshot it
belongs to (`covers`) and how many chunks it has, so stale chunks left by compaction of an older,
larger snapshot are ignored.
"""
from __future__ import annotations

import time
import uuid
from typing import Any, Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from casefile.kafka.watermarks import high_watermarks

CHUNK_BYTES = 900_000
SNAPSHOT_TOPIC_CONFIG = {"cleanup.policy": "compact", "segment.bytes": str(16 * 1024 * 1024),
                         "min.cleanable.dirty.ratio": "0.2"}


def snapshot_topic(log_topic: str) -> str:
    return f"{log_topic}.snapshots"


def produce_snapshot(produce: Callable[..., None], topic: str, partition: int, covers: int, data: bytes) -> int:
    chunks = [data[i:i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
    for i, chunk in enumerate(chunks):
        produce(topic, partition, f"{partition}/{i}".encode(), chunk, None,
                [("casefile.snapshot.covers", str(covers).encode()), ("casefile.snapshot.part", str(i).encode()),
                 ("casefile.snapshot.parts", str(len(chunks)).encode())])
    return len(chunks)


def latest_snapshots(kafka_config: dict[str, Any], topic: str, partitions: list[int],
                     timeout: float = 60.0) -> dict[int, tuple[int, bytes]]:
    """The newest complete committed snapshot of each partition: {p: (covers, bytes)}."""
    consumer = Consumer({**kafka_config, "group.id": f"casefile-snapshots-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "auto.offset.reset": "earliest"})
    found: dict[int, dict[int, dict[int, bytes]]] = {p: {} for p in partitions}
    parts_of: dict[tuple[int, int], int] = {}
    try:
        md = consumer.list_topics(timeout=10)
        if topic not in md.topics or md.topics[topic].error is not None:
            return {}
        ends = high_watermarks(consumer, topic, partitions)
        pending = {p for p in partitions if ends[p] > 0}
        if pending:
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(pending)])
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error():
                    continue
                headers = dict(msg.headers() or [])
                covers = int(headers["casefile.snapshot.covers"])
                part = int(headers["casefile.snapshot.part"])
                found[msg.partition()].setdefault(covers, {})[part] = msg.value() or b""
                parts_of[(msg.partition(), covers)] = int(headers["casefile.snapshot.parts"])
            for tp in consumer.position([TopicPartition(topic, p) for p in pending]):
                if tp.offset >= ends[tp.partition]:
                    pending.discard(tp.partition)
    finally:
        consumer.close()
    out: dict[int, tuple[int, bytes]] = {}
    for p, by_cover in found.items():
        complete = [c for c, chunks in by_cover.items() if len(chunks) == parts_of[(p, c)]]
        if complete:
            best = max(complete)
            out[p] = (best, b"".join(by_cover[best][i] for i in range(parts_of[(p, best)])))
    return out
