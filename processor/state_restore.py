"""Rebuild a partition's decision state by folding its committed case-file log.

The fold reads with read_committed up to the high watermark: a partition is caught up when the
consumer's position reaches it (transaction markers occupy offsets of their own, so the last
record's offset + 1 can be short of it).
"""
from __future__ import annotations

import time
import uuid
from typing import Any, Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from casefile.errors import CasefileError
from processor.domain import PartitionState, evolve, new_partition_state
from schemas.codec import AvroCodec


def fold_log_partitions(kafka_config: dict[str, Any], topic: str, partitions: list[int], codec: AvroCodec,
                        timeout: float = 120.0,
                        on_record: Callable[[dict[str, Any]], None] | None = None) -> dict[int, PartitionState]:
    """The state of each ledger partition, from log partition p = ledger partition p."""
    states = {p: new_partition_state() for p in partitions}
    if not partitions:
        return states
    consumer = Consumer({**kafka_config, "group.id": f"casefile-restore-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "auto.offset.reset": "earliest", "enable.partition.eof": False})
    try:
        ends: dict[int, int] = {}
        for p in partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            ends[p] = high
        pending = {p for p in partitions if ends[p] > 0}
        if not pending:
            return states
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(pending)])
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise CasefileError(f"restoring state from {topic} partitions {sorted(pending)} timed out "
                                    f"(an open transaction of a crashed processor? it aborts after its timeout)")
            for msg in consumer.consume(10000, 0.5):
                if msg.error():
                    continue
                record = codec.decode_avro(msg.value())
                evolve(states[msg.partition()], record)
                if on_record is not None:
                    on_record(record)
            for tp in consumer.position([TopicPartition(topic, p) for p in pending]):
                if tp.offset >= ends[tp.partition]:
                    pending.discard(tp.partition)
    finally:
        consumer.close()
    return states
