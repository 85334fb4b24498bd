"""High watermarks that ride out the broker's transient answers (a topic just created, a leader
moving during a broker restart) instead of failing the caller.

What "high" means depends on the consumer's `isolation.level`: librdkafka asks the broker with
it, so a `read_committed` consumer gets the last stable offset (LSO: the first offset of the
oldest transaction still open), a `read_uncommitted` one the true high watermark."""
from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

_TRANSIENT = {KafkaError._UNKNOWN_PARTITION, KafkaError._UNKNOWN_TOPIC, KafkaError.UNKNOWN_TOPIC_OR_PART,
              KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError._TIMED_OUT,
              KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN}


def high_watermarks(consumer: Consumer, topic: str, partitions: list[int], timeout: float = 60.0) -> dict[int, int]:
    deadline = time.monotonic() + timeout
    out: dict[int, int] = {}
    for p in partitions:
        while True:
            try:
                out[p] = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                break
            except KafkaException as exc:
                if exc.args[0].code() not in _TRANSIENT or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    return out


def log_end_offsets(kafka_config: dict[str, Any], topic: str, partitions: list[int]) -> dict[int, int]:
    """The true high watermarks (records of transactions still open included), whatever the
    isolation level of `kafka_config`: what a read_committed fold must reach to have seen the
    outcome of every transaction written so far (its position passes an open transaction only
    once that transaction commits or aborts)."""
    consumer = Consumer({**kafka_config, "group.id": f"casefile-restore-ends-{uuid.uuid4().hex}",
                         "isolation.level": "read_uncommitted", "enable.auto.commit": False})
    try:
        return high_watermarks(consumer, topic, partitions)
    finally:
        consumer.close()
