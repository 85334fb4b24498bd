"""Rebuild a partition's decision state: the latest snapshot, then fold the committed log's tail.

The fold reads with read_committed up to the TRUE high watermark, taken when the restore starts
(`log_end_offsets`; a read_committed consumer's own "high watermark" is the last stable offset,
which stops short of a transaction still open). Why: a transaction of the partition's previous
owner can still be open then — a commit cut short by the owner's crash or a broker restart —
and commit afterwards, together with its ledger offsets. The caller reads the committed ledger
offsets BEFORE the fold (kafka_processor._restore): they are stable offsets (KIP-447), so no
transaction that sent offsets is undecided any more, and its records lie below the end taken
here. A fold that stopped at the last stable offset could lack records whose ledger events are
committed, and the next decisions were made on a stale state (a stream version reused, a credit
consumed twice: seen once in the chaos test). The fold's position passes an open transaction
only once it commits or aborts (a crashed owner's aborts after its `transaction.timeout.ms`).
A partition is caught up when the consumer's position reaches the end (transaction markers
occupy offsets of their own, so the last record's offset + 1 can be short of it). A snapshot
that does not chain onto the log's tail (a record's prev_hash differs from the snapshot's head
of that stream) is discarded and the partition is folded from the beginning.
"""
from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from casefile.errors import CasefileError
from casefile.kafka.watermarks import log_end_offsets
from casefile.logs import get_logger
from processor.domain import PartitionState, evolve, new_partition_state
from processor.log_records import GENESIS_HASH
from processor.snapshot_codec import load_state
from schemas.codec import AvroCodec

log = get_logger("casefile.processor.restore")


class _Discontinuous(Exception):
    def __init__(self, partition: int) -> None:
        self.partition = partition


def restore_partitions(kafka_config: dict[str, Any], topic: str, partitions: list[int], codec: AvroCodec,
                       snapshots: dict[int, tuple[int, bytes]] | None = None,
                       timeout: float = 120.0) -> dict[int, PartitionState]:
    """State per ledger partition p from log partition p, starting at its snapshot when given."""
    snapshots = dict(snapshots or {})
    while True:
        try:
            return _fold(kafka_config, topic, partitions, codec, snapshots, timeout)
        except _Discontinuous as exc:
            log.warning("snapshot does not chain onto the log; folding from the start", partition=exc.partition)
            snapshots.pop(exc.partition, None)


def _fold(kafka_config: dict[str, Any], topic: str, partitions: list[int], codec: AvroCodec,
          snapshots: dict[int, tuple[int, bytes]], timeout: float) -> dict[int, PartitionState]:
    states: dict[int, PartitionState] = {}
    starts: dict[int, int] = {}
    for p in partitions:
        snap = snapshots.get(p)
        if snap is not None:
            try:
                states[p], starts[p] = load_state(snap[1]), snap[0]
                continue
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("unreadable snapshot ignored", partition=p, error=str(exc))
        states[p], starts[p] = new_partition_state(), 0
    if not partitions:
        return states
    consumer = Consumer({**kafka_config, "group.id": f"casefile-restore-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "auto.offset.reset": "earliest", "enable.partition.eof": False})
    try:
        ends = log_end_offsets(kafka_config, topic, partitions)
        pending = {p for p in partitions if ends[p] > starts[p]}
        if not pending:
            return states
        consumer.assign([TopicPartition(topic, p, starts[p]) for p in sorted(pending)])
        checked: set[int] = {p for p in pending if starts[p] == 0}
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise CasefileError(f"restoring state from {topic} partitions {sorted(pending)} timed out "
                                    f"(an open transaction of a crashed processor? it aborts after its timeout)")
            for msg in consumer.consume(10000, 0.5):
                if msg.error():
                    continue
                p = msg.partition()
                record = codec.decode_avro(msg.value())
                state = states[p]
                if p not in checked:
                    head = state.heads.get(record["stream_id"], (0, GENESIS_HASH))
                    if record["prev_hash"] != head[1] or record["stream_version"] != head[0] + 1:
                        raise _Discontinuous(p)
                    checked.add(p)
                evolve(state, record)
            for tp in consumer.position([TopicPartition(topic, p) for p in pending]):
                if tp.offset >= ends[tp.partition]:
                    pending.discard(tp.partition)
    finally:
        consumer.close()
    return states


def fold_log_partitions(kafka_config: dict[str, Any], topic: str, partitions: list[int],
                        codec: AvroCodec) -> dict[int, PartitionState]:
    """The state of each partition folded from the very beginning of the log (no snapshot)."""
    return restore_partitions(kafka_config, topic, partitions, codec, None)
