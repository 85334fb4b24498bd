"""Read a case-file log topic from the beginning up to the end offsets taken at start.

`read_committed`, so records of aborted or still-open processor transactions are never seen
(the end offsets are then the last stable offsets). Records appended after the start are not
read: a replay is of one well-defined prefix of the log. No consumer group is joined and no
offset is committed.
"""
from __future__ import annotations

import time
import uuid
from typing import Any, Callable, Iterator

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from casefile.errors import CasefileError
from casefile.kafka.topics import BULK_FETCH, ROW_GROUP, admin, batch_size_for, consume_batch, partition_count
from casefile.logs import get_logger
from casefile.settings import Settings
from projections.prefetch import Values
from schemas.codec import AvroCodec, DecodeError

log = get_logger("casefile.replay")

Positions = dict[int, int]  # partition -> offset


class Progress:
    """Logs records done, rate and what remains to stderr about every `every_s` seconds."""

    def __init__(self, what: str, total: int | None = None, every_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.total = total
        self.every_s = every_s
        self.clock = clock
        self.started = clock()
        self.last = self.started
        self.done = 0

    def advance(self, n: int) -> None:
        self.done += n
        now = self.clock()
        if now - self.last >= self.every_s:
            self.last = now
            log.info("replay progress", **self.figures(now))

    def figures(self, now: float | None = None) -> dict[str, Any]:
        elapsed = max((now if now is not None else self.clock()) - self.started, 1e-9)
        rate = self.done / elapsed
        out: dict[str, Any] = {"step": self.what, "records": self.done, "records_per_s": round(rate),
                               "elapsed_s": round(elapsed, 1)}
        if self.total is not None:
            remaining = max(self.total - self.done, 0)
            out["remaining"] = remaining
            out["eta_s"] = round(remaining / rate, 1) if rate > 0 else None
        return out


def _kafka_error(exc: KafkaException) -> str:
    err = exc.args[0] if exc.args else None
    return err.str() if hasattr(err, "str") else str(exc)


class LogReader:
    """The log topic's records, partitions interleaved as the broker returns them, each
    partition in offset order, up to `end_offsets` (taken when the reader is opened)."""

    def __init__(self, settings: Settings, topic: str | None = None, batch_size: int = 2 * ROW_GROUP,
                 batch_ms: int = 100, stall_timeout_s: float = 120.0,
                 bounds: tuple[Positions, Positions] | None = None) -> None:
        """`bounds`: (start, end) offsets another reader took, to read the same prefix."""
        self.settings = settings
        self.topic = topic or settings.log_topic
        self.batch_size = batch_size
        self.batch_ms = batch_ms
        self.stall_timeout_s = stall_timeout_s
        count = partition_count(admin(settings.kafka()), self.topic)
        if not count:
            raise CasefileError(f"topic {self.topic} does not exist (has the processor run? see --log-topic)")
        self.partitions = list(range(count))
        self.consumer = Consumer(settings.kafka(**{
            "group.id": f"casefile-replay-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
            "enable.auto.offset.store": False, "isolation.level": "read_committed",
            "auto.offset.reset": "earliest", "enable.partition.eof": True, **BULK_FETCH}))
        self.start_offsets: Positions = {}
        self.end_offsets: Positions = {}
        if bounds is not None:
            self.start_offsets, self.end_offsets = dict(bounds[0]), dict(bounds[1])
            return
        try:
            for p in self.partitions:
                low, high = self.consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)
                self.start_offsets[p], self.end_offsets[p] = low, high
        except KafkaException as exc:
            self.consumer.close()
            raise CasefileError(f"cannot read the end offsets of {self.topic}: {_kafka_error(exc)}") from None

    @property
    def total_offsets(self) -> int:
        """Offsets to cover (records plus transaction markers): the denominator of progress."""
        return sum(self.end_offsets[p] - self.start_offsets[p] for p in self.partitions)

    def batches(self) -> Iterator[list[Message]]:
        """Lists of messages (data records only), until every partition reached its end offset."""
        topic, ends = self.topic, self.end_offsets
        pending = {p for p in self.partitions if ends[p] > self.start_offsets[p]}
        if not pending:
            return
        # concrete offsets, not OFFSET_BEGINNING: see projections.log_consumer.FollowLog
        self.consumer.assign([TopicPartition(topic, p, self.start_offsets[p]) for p in sorted(pending)])
        last_progress = time.monotonic()
        size = min(self.batch_size, 10_000)  # small first: whoever folds starts early
        while pending:
            at = {tp.partition: tp.offset for tp in self.consumer.position(
                [TopicPartition(topic, p) for p in sorted(pending)]) if tp.offset >= 0}
            targets = {p: ends[p] for p in pending}
            known = {p: at.get(p, self.start_offsets[p]) for p in pending}
            msgs = consume_batch(self.consumer, batch_size_for(size, self.batch_size, targets, known),
                                 self.batch_ms / 1000, topic, targets, known)
            size = min(self.batch_size, size * 4)
            out: list[Message] = []
            for m in msgs:
                err = m.error()
                p = m.partition()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if m.offset() >= ends.get(p, 0):
                            pending.discard(p)
                        continue
                    if err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                        raise CasefileError(f"topic {topic} does not exist (has the processor run?)")
                    if err.fatal() or not err.retriable():
                        raise CasefileError(f"reading {topic} failed: {err.str()}")
                    continue
                offset = m.offset()
                if offset >= ends[p]:
                    pending.discard(p)
                    continue
                out.append(m)
                if offset >= ends[p] - 1:
                    pending.discard(p)
            if out:
                last_progress = time.monotonic()
                yield out
                continue
            if pending:  # a trailing transaction marker: the position moves past it, no message comes
                for tp in self.consumer.position([TopicPartition(topic, p) for p in pending]):
                    if tp.offset >= ends[tp.partition]:
                        pending.discard(tp.partition)
            if pending and time.monotonic() - last_progress > self.stall_timeout_s:
                where = ", ".join(f"p{p}" for p in sorted(pending))
                raise CasefileError(f"reading {topic} stalled for {self.stall_timeout_s:.0f}s before the end "
                                    f"offsets ({where}); is the broker up?")

    def close(self) -> None:
        self.consumer.close()

    def __enter__(self) -> "LogReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReadLogPrefix:
    """A `projections.prefetch.LogSource`: a LogReader's batches, read in the reader process
    up to the bounds a LogReader took in the parent."""

    def __init__(self, settings: Settings, topic: str, bounds: tuple[Positions, Positions]) -> None:
        self.settings, self.topic, self.bounds = settings, topic, bounds

    def events(self) -> Iterator[Values]:
        with LogReader(self.settings, self.topic, bounds=self.bounds) as reader:
            for msgs in reader.batches():
                batch = Values([m.value() for m in msgs], [m.partition() for m in msgs], [m.offset() for m in msgs])
                del msgs  # they hold their values: one copy in memory, not two
                yield batch
                del batch


def decode(codec: AvroCodec, m: Message, topic: str) -> dict[str, Any]:
    """A log message as the record dict ProjectionStore takes (with `_topic`, `_partition`, `_offset`)."""
    return decode_value(codec, m.value(), (topic, m.partition(), m.offset()))


def decode_value(codec: AvroCodec, value: bytes, coord: tuple[str, int, int]) -> dict[str, Any]:
    """`decode` for a value and its (topic, partition, offset)."""
    topic, partition, offset = coord
    try:
        record = codec.decode_avro(value)
    except DecodeError as exc:
        raise CasefileError(f"{topic} partition {partition} offset {offset}: "
                            f"not a case-file log record ({exc})") from None
    record["_topic"], record["_partition"], record["_offset"] = topic, partition, offset
    return record
