"""The projector on Kafka: case-file log → DuckDB, resuming from the offsets stored in DuckDB.

No consumer group: the positions live in `projection_offsets`, written in the same DuckDB
transaction as the rows they produced, so a crash anywhere resumes with nothing lost or doubled.
After each catch-up a read-only copy of the database is published for analysts.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

import duckdb
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from casefile.errors import CasefileError
from casefile.kafka.topics import BULK_FETCH, ROW_GROUP, admin, batch_size_for, consume_batch, partition_count
from casefile.logs import get_logger
from casefile.metrics import Metrics, start_metrics
from casefile.read_models import snapshot_path_for
from casefile.settings import Settings
from processor.domain.policy import Policy
from projections.prefetch import Batch, Idle, Prefetcher, SourceEvent, Values
from projections.store import ProjectionStore

log = get_logger("casefile.projector")
# a broker restarting or moving leadership answers these for a while; asking again is the cure
_TRANSIENT = (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError._TRANSPORT,
              KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN, KafkaError.UNKNOWN_TOPIC_OR_PART,
              KafkaError.REQUEST_TIMED_OUT, KafkaError._UNKNOWN_PARTITION)


@dataclass(frozen=True)
class ProjectorOptions:
    db_path: str = "casefile.duckdb"
    snapshot_path: str | None = None
    batch_size: int = 2 * ROW_GROUP  # records per DuckDB transaction (max): whole row groups
    batch_ms: int = 500
    once: bool = False
    wait_for_topic_s: float = 60.0
    snapshot_interval_s: float = 30.0  # publish the analysts' copy at least this often while behind
    metrics_port: int | None = None  # serve /metrics, /healthz, /readyz on this port; None = off


class FollowLog:
    """The projector's reading of the log (runs in the reader process, projections.prefetch):
    read_committed from the stored positions, no consumer group. Between batches it reports
    lag about every second; when a read finds nothing it reports (caught up?, lag), caught up
    meaning at the end offsets taken at the start (then at the latest ones, when following)."""

    def __init__(self, settings: Settings, topic: str, partitions: list[int], start: dict[int, int],
                 batch_size: int, batch_ms: int, once: bool) -> None:
        self.settings, self.topic, self.partitions, self.start = settings, topic, partitions, start
        self.batch_size, self.batch_ms, self.once = batch_size, batch_ms, once

    def events(self) -> Iterator[SourceEvent]:
        topic, parts = self.topic, self.partitions
        consumer = Consumer(self.settings.kafka(**{
            "group.id": f"casefile-projector-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
            "isolation.level": "read_committed", "auto.offset.reset": "earliest", **BULK_FETCH}))
        try:
            marks = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in parts}
            targets = {p: high for p, (_, high) in marks.items()}
            at = {p: self.start.get(p, low) for p, (low, _) in marks.items()}  # next offset read
            # concrete offsets: with OFFSET_BEGINNING librdkafka looks the offset up itself, after
            # a fixed half-second wait when the partition's leader is not known yet
            consumer.assign([TopicPartition(topic, p, at[p]) for p in parts])
            lag_reported = 0.0
            size = min(self.batch_size, 10_000)  # small first: the fold starts while reading goes on
            while True:
                msgs = consume_batch(consumer, batch_size_for(size, self.batch_size, targets, at), self.batch_ms / 1000,
                                     topic, targets, at)
                size = min(self.batch_size, size * 4)
                lags = None
                if time.monotonic() - lag_reported >= 1.0:
                    lag_reported = time.monotonic()
                    lags = self._lags(consumer)
                if any(m.error() is not None for m in msgs):
                    msgs = [m for m in msgs if m.error() is None]
                values = [m.value() for m in msgs]
                partitions = [m.partition() for m in msgs]
                offsets = [m.offset() for m in msgs]
                del msgs  # the messages hold their values: drop them before the next read
                positions = consumer.position([TopicPartition(topic, p) for p in parts])
                at.update((tp.partition, tp.offset) for tp in positions if tp.offset >= 0)
                if values:
                    yield Values(values, partitions, offsets, lags)
                    del values
                    continue
                caught_up = all(tp.offset >= targets[tp.partition] or targets[tp.partition] == 0 for tp in positions)
                yield Idle((caught_up, lags if lags is not None else self._lags(consumer)))
                if caught_up and self.once:
                    return
                if caught_up:  # targets move on while following the log
                    targets = self._targets(consumer, targets)
        finally:
            consumer.close()

    def _targets(self, consumer: Consumer, targets: dict[int, int]) -> dict[int, int]:
        try:
            return {p: consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
                    for p in self.partitions}
        except KafkaException as exc:  # e.g. a broker restarting: keep the old targets, ask again
            if not exc.args or not isinstance(exc.args[0], KafkaError) or not exc.args[0].retriable() \
                    and exc.args[0].code() not in _TRANSIENT:
                raise
            log.warning("end offsets unavailable, retrying", error=exc.args[0].str())
            time.sleep(0.5)
            return targets

    def _lags(self, consumer: Consumer) -> dict[int, int]:
        """Per log partition: high watermark (as of the latest fetch) minus the position."""
        lags = {}
        for tp in consumer.position([TopicPartition(self.topic, p) for p in self.partitions]):
            high = consumer.get_watermark_offsets(TopicPartition(self.topic, tp.partition), cached=True)[1]
            if high < 0:  # nothing fetched yet: unknown, not zero
                continue
            position = tp.offset if tp.offset >= 0 else self.start.get(tp.partition, 0)
            lags[tp.partition] = max(0, high - position)
        return lags


class Projector:
    def __init__(self, settings: Settings, policy: Policy, options: ProjectorOptions) -> None:
        self.settings = settings
        self.options = options
        self.policy = policy
        self.store: ProjectionStore | None = None
        self.stop_requested = False
        self.projected = 0
        self.snapshot_at = time.monotonic()
        self.metrics = Metrics("projector", db=options.db_path)

    def _partitions(self) -> int:
        """The log's partition count; 0 with --once when it does not exist yet (nothing to project).
        Following the log, it waits for the processor to create it."""
        client = admin(self.settings.kafka())
        waited_since = time.monotonic()
        while True:
            count = partition_count(client, self.settings.log_topic)
            if count:
                return count
            if self.options.once:
                return 0
            if time.monotonic() - waited_since > self.options.wait_for_topic_s:
                log.info("waiting for the log topic (has the processor run?)", topic=self.settings.log_topic)
                waited_since = time.monotonic()
            time.sleep(0.5)

    def open_store(self) -> ProjectionStore:
        try:
            return ProjectionStore(self.options.db_path, self.policy, background_writes=True)
        except Exception as exc:  # duckdb.IOException: locked by another process, or no such folder
            if "lock" in str(exc).lower():
                raise CasefileError(f"database {self.options.db_path} is in use by another process") from None
            if isinstance(exc, (duckdb.IOException, OSError)):
                raise CasefileError(f"cannot open database {self.options.db_path}: {str(exc).splitlines()[0]}") from None
            raise

    def run(self) -> int:
        topic = self.settings.log_topic
        start_metrics(self.metrics, self.options.metrics_port, log)
        self.metrics.beat()
        self.metrics.set_ready(False, "waiting for the log topic")
        count = self._partitions()
        self.store = self.open_store()
        if count == 0:  # --once before the processor ever ran: the tables exist, empty
            log.warning("the log topic does not exist yet: nothing to project", topic=topic)
            self.store.close()
            return 0
        stored = self.store.stored_offsets()
        parts = list(range(count))
        start = {p: stored[(topic, p)] for p in parts if (topic, p) in stored}
        previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        log.info("projector started", topic=topic, db=self.options.db_path, resume_from={p: start.get(p, 0) for p in parts})
        for p in parts:
            self.metrics.projection_position.labels(topic=topic, partition=str(p)).set(start.get(p, 0))
        self.metrics.set_ready(False, "catching up with the log")
        reader = Prefetcher(FollowLog(self.settings, topic, parts, start, self.options.batch_size,
                                      self.options.batch_ms, self.options.once))
        dirty = False
        started = time.monotonic()
        try:
            while not self.stop_requested:
                event = reader.get(0.5)
                self.metrics.beat()
                if event is None:
                    continue
                if isinstance(event, Batch):
                    if event.info is not None:
                        self.metrics.set_lag(topic, event.info)
                    self._apply(topic, event)
                    dirty = True
                    if time.monotonic() - self.snapshot_at > self.options.snapshot_interval_s:
                        self.publish_snapshot()  # a steady stream never "catches up": analysts still see progress
                        dirty = False
                    continue
                caught_up, lags = event.info
                self.metrics.set_lag(topic, lags)
                if caught_up and not self.metrics.is_ready:
                    self.metrics.set_ready(True, "caught up with the log")
                if caught_up and dirty:
                    self.publish_snapshot()
                    dirty = False
                    rate = self.projected / max(time.monotonic() - started, 1e-9)
                    log.info("caught up", records=self.projected, records_per_s=round(rate))
                if caught_up and self.options.once:
                    break
            if dirty:
                self.publish_snapshot()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            reader.close()
            self.store.close()
            self.metrics.set_ready(False, "stopped")
            self.metrics.close()
        return self.projected

    def _apply(self, topic: str, batch: Batch) -> None:
        assert self.store is not None
        began = time.monotonic()
        positions = {(topic, p): o for p, o in batch.positions.items()}
        if batch.decoded:
            self.store.apply_table(batch.table, topic, batch.partitions, batch.offsets, positions)
        else:  # values polars could not decode: one by one (a bad one raises with its offset)
            coords = [(topic, p, o) for p, o in zip(batch.partitions.tolist(), batch.offsets.tolist())]
            self.store.apply_encoded(batch.table.column("value").to_pylist(), coords, positions)
        records = len(batch.partitions)
        self.projected += records
        self._observe_batch(records, positions, time.monotonic() - began)
        log.debug("batch projected", topic=topic, partition=int(batch.partitions[-1]),
                  offset=int(batch.offsets[-1]), records=records)

    def _observe_batch(self, records: int, positions: dict[tuple[str, int], int], seconds: float) -> None:
        m = self.metrics
        m.batch_seconds.observe(seconds)
        m.batch_events.observe(records)
        m.projected.inc(records)
        for (topic, p), offset in positions.items():
            m.projection_position.labels(topic=topic, partition=str(p)).set(offset)

    def _request_stop(self, signum: int, _frame: Any) -> None:
        self.stop_requested = True

    def publish_snapshot(self) -> None:
        """An atomically replaced read-only copy: analysts never see a half-written file.

        After a CHECKPOINT the database file holds every committed row (no WAL), so a child
        process copies its bytes; the copy is not made here because opening and closing the
        live file in this process would drop this process's POSIX lock on it. Should the WAL
        not be empty, DuckDB writes the copy itself (COPY FROM DATABASE, slower).
        """
        assert self.store is not None
        began = time.monotonic()
        target = self.options.snapshot_path or snapshot_path_for(self.options.db_path)
        tmp = f"{target}.tmp-{os.getpid()}"
        if os.path.exists(tmp):
            os.unlink(tmp)
        con = self.store.connection
        self.store.checkpoint()
        wal = f"{self.options.db_path}.wal"
        if not os.path.exists(wal) or os.path.getsize(wal) == 0:
            subprocess.run([sys.executable, "-c", "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])",
                            self.options.db_path, tmp], check=True)
        else:
            live = con.execute("SELECT current_database()").fetchone()[0]
            con.execute(f"ATTACH '{tmp}' AS casefile_snapshot")
            try:
                con.execute(f'COPY FROM DATABASE "{live}" TO casefile_snapshot')
            finally:
                con.execute("DETACH casefile_snapshot")
        os.replace(tmp, target)
        self.snapshot_at = time.monotonic()
        log.info("snapshot published", path=target, seconds=round(self.snapshot_at - began, 2))
