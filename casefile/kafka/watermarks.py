"""High watermarks that ride out the broker's transient answers (a topic just created, a leader
moving during a broker restart) instead of failing the caller."""
from __future__ import annotations

import time

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
