"""Read a whole topic back from the real broker (test helper)."""
from __future__ import annotations

import uuid

from confluent_kafka import Consumer, TopicPartition


def read_all(bootstrap: str, topic: str, timeout: float = 60.0) -> list:
    """Every committed record of `topic`, in partition then offset order."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "isolation.level": "read_committed"})
    md = consumer.list_topics(timeout=10)
    parts = sorted(md.topics[topic].partitions)
    ends = {}
    for p in parts:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        ends[p] = high
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    out = []
    import time

    deadline = time.monotonic() + timeout
    done = {p for p in parts if ends[p] == 0}
    while len(done) < len(parts) and time.monotonic() < deadline:
        for msg in consumer.consume(1000, 1.0):
            if msg.error():
                continue
            out.append(msg)
            if msg.offset() >= ends[msg.partition()] - 1:
                done.add(msg.partition())
        for p in parts:
            if p not in done and consumer.position([TopicPartition(topic, p)])[0].offset >= ends[p]:
                done.add(p)
    consumer.close()
    return sorted(out, key=lambda m: (m.partition(), m.offset()))
