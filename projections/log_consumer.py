"""The projector on Kafka: case-file log → DuckDB, resuming from the offsets stored in DuckDB.

No consumer group: the positions live in `projection_offsets`, written in the same DuckDB
transaction as the rows they produced, so a crash anywhere resumes with nothing lost or doubled.
After each catch-up a read-only copy of the database is published for analysts.
"""
from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from casefile.errors import CasefileError
from casefile.kafka.topics import admin, partition_count
from casefile.logs import get_logger
from casefile.read_models import snapshot_path_for
from casefile.settings import Settings
from processor.domain.policy import Policy
from projections.store import ProjectionStore
from schemas.codec import log_codec

log = get_logger("casefile.projector")


@dataclass(frozen=True)
class ProjectorOptions:
    db_path: str = "casefile.duckdb"
    snapshot_path: str | None = None
    batch_size: int = 50000
    batch_ms: int = 500
    once: bool = False
    wait_for_topic_s: float = 60.0


class Projector:
    def __init__(self, settings: Settings, policy: Policy, options: ProjectorOptions) -> None:
        self.settings = settings
        self.options = options
        self.policy = policy
        self.codec = log_codec()
        self.store: ProjectionStore | None = None
        self.stop_requested = False
        self.projected = 0

    def _partitions(self) -> int:
        deadline = time.monotonic() + self.options.wait_for_topic_s
        client = admin(self.settings.kafka())
        while True:
            count = partition_count(client, self.settings.log_topic)
            if count:
                return count
            if time.monotonic() > deadline:
                raise CasefileError(f"topic {self.settings.log_topic} does not exist (has the processor run?)")
            time.sleep(0.5)

    def open_store(self) -> ProjectionStore:
        try:
            return ProjectionStore(self.options.db_path, self.policy)
        except Exception as exc:  # duckdb.IOException for a database locked by another process
            if "lock" in str(exc).lower():
                raise CasefileError(f"database {self.options.db_path} is in use by another process") from None
            raise

    def run(self) -> int:
        topic = self.settings.log_topic
        count = self._partitions()
        self.store = self.open_store()
        stored = self.store.stored_offsets()
        consumer = Consumer(self.settings.kafka(**{
            "group.id": f"casefile-projector-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
            "isolation.level": "read_committed", "auto.offset.reset": "earliest",
            "fetch.max.bytes": 52428800, "queued.max.messages.kbytes": 262144}))
        parts = list(range(count))
        consumer.assign([TopicPartition(topic, p, stored.get((topic, p), OFFSET_BEGINNING)) for p in parts])
        targets = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
        previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        log.info("projector started", topic=topic, db=self.options.db_path, resume_from={p: stored.get((topic, p), 0) for p in parts})
        dirty = False
        started = time.monotonic()
        try:
            while not self.stop_requested:
                msgs = consumer.consume(self.options.batch_size, self.options.batch_ms / 1000)
                records: list[dict[str, Any]] = []
                positions: dict[tuple[str, int], int] = {}
                for m in msgs:
                    if m.error():
                        continue
                    record = self.codec.decode_avro(m.value())
                    record["_topic"], record["_partition"], record["_offset"] = topic, m.partition(), m.offset()
                    records.append(record)
                    positions[(topic, m.partition())] = m.offset() + 1
                if records:
                    self.store.apply_batch(records, positions)
                    self.projected += len(records)
                    dirty = True
                    last = records[-1]
                    log.debug("batch projected", topic=topic, partition=last["_partition"], offset=last["_offset"],
                              records=len(records))
                    continue
                caught_up = all(tp.offset >= targets[tp.partition] or targets[tp.partition] == 0
                                for tp in consumer.position([TopicPartition(topic, p) for p in parts]))
                if caught_up and dirty:
                    self.publish_snapshot()
                    dirty = False
                    rate = self.projected / max(time.monotonic() - started, 1e-9)
                    log.info("caught up", records=self.projected, records_per_s=round(rate))
                if caught_up and self.options.once:
                    break
                if caught_up:  # targets move on while following the log
                    targets = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
            if dirty:
                self.publish_snapshot()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            consumer.close()
            self.store.close()
        return self.projected

    def _request_stop(self, signum: int, _frame: Any) -> None:
        self.stop_requested = True

    def publish_snapshot(self) -> None:
        """An atomically replaced read-only copy: analysts never see a half-written file.

        DuckDB writes the copy itself: opening the live file here (e.g. to copy its bytes) and
        closing it again would drop this process's POSIX lock on it.
        """
        assert self.store is not None
        target = self.options.snapshot_path or snapshot_path_for(self.options.db_path)
        tmp = f"{target}.tmp-{os.getpid()}"
        if os.path.exists(tmp):
            os.unlink(tmp)
        con = self.store.connection
        live = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f"ATTACH '{tmp}' AS casefile_snapshot")
        try:
            con.execute(f'COPY FROM DATABASE "{live}" TO casefile_snapshot')
        finally:
            con.execute("DETACH casefile_snapshot")
        os.replace(tmp, target)
        log.info("snapshot published", path=target)
