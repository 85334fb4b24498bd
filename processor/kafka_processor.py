"""The ledger processor on Kafka: consume → apply → produce log records and offsets, in one transaction.

Exactly-once rests on three things, in this order per batch:
1. `begin_transaction`, then every log record and DLQ record of the batch is produced into it;
2. the consumer's *next* positions go in with `send_offsets_to_transaction` (with the group
   metadata, so a zombie from an older generation is fenced);
3. `commit_transaction`. If anything fails, the transaction is aborted, the in-memory state is
   dropped and rebuilt from the committed log, and the consumer rewinds to the committed offsets.

Rebalances use the eager protocol: every revoke aborts the open transaction and drops all
state; every assign rebuilds state for the assigned partitions from the log (snapshot + tail).
"""
from __future__ import annotations

import signal
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from casefile.errors import CasefileError
from casefile.kafka.topics import LOG_TOPIC_CONFIG, admin, ensure_topic, partition_count
from casefile.logs import get_logger
from casefile.metrics import Metrics, start_metrics
from casefile.settings import Settings
from processor.domain import PartitionState
from processor.domain.policy import Policy
from processor.ledger_step import step
from processor.snapshot_codec import dump_state
from processor.snapshots import SNAPSHOT_TOPIC_CONFIG, latest_snapshots, produce_snapshot, snapshot_topic
from processor.state_restore import restore_partitions
from schemas.codec import ledger_codec, log_codec

log = get_logger("casefile.processor")


@dataclass(frozen=True)
class ProcessorOptions:
    group: str = "casefile-processor"
    transactional_id: str | None = None
    batch_size: int = 5000
    batch_ms: int = 200
    partitions: int = 6
    once: bool = False
    transaction_timeout_ms: int = 30000
    snapshot_every: int = 50000  # log records of a partition between snapshots; 0 = never
    metrics_port: int | None = None  # serve /metrics, /healthz, /readyz on this port; None = off


@dataclass
class Counters:
    applied: int = 0
    records_written: int = 0
    duplicates: int = 0
    dlq: Counter = field(default_factory=Counter)
    transactions: int = 0
    aborts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "records_written": self.records_written, "duplicates": self.duplicates,
                "dlq": dict(self.dlq), "transactions": self.transactions, "aborts": self.aborts}


def prepare_topics(settings: Settings, partitions: int) -> int:
    """The ledger topic (created if missing), and the log and DLQ topics with its partition count."""
    client = admin(settings.kafka())
    count = ensure_topic(client, settings.ledger_topic, partitions)
    for topic, config in ((settings.log_topic, LOG_TOPIC_CONFIG), (settings.dlq_topic, {}),
                          (snapshot_topic(settings.log_topic), SNAPSHOT_TOPIC_CONFIG)):
        existing = partition_count(client, topic)
        if existing is None:
            ensure_topic(client, topic, count, config)
        elif existing != count:
            raise CasefileError(f"{topic} has {existing} partitions but {settings.ledger_topic} has {count}: "
                                "ledger partition p feeds log partition p, so they must match")
    return count


class LedgerProcessor:
    def __init__(self, settings: Settings, policy: Policy, options: ProcessorOptions) -> None:
        self.settings = settings
        self.policy = policy
        self.options = options
        self.ledger_codec = ledger_codec()
        self.log_codec = log_codec()
        self.counters = Counters()
        self.states: dict[int, PartitionState] = {}
        self.assigned: list[int] = []
        self.stop_requested = False
        self.in_transaction = False
        self.needs_reset = False
        self.once_targets: dict[int, int] | None = None
        self.snapshot_topic = snapshot_topic(settings.log_topic)
        self.last_log_offset: dict[int, int] = {}  # log partition -> offset of the last delivered record
        self.since_snapshot: dict[int, int] = {}  # log records written since the partition's last snapshot
        txn_id = options.transactional_id or f"{options.group}-{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.producer = Producer(settings.kafka(**{
            "transactional.id": txn_id, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
            "transaction.timeout.ms": options.transaction_timeout_ms, "compression.type": "lz4"}))
        self.consumer = Consumer(settings.kafka(**{
            "group.id": options.group, "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "isolation.level": "read_committed", "enable.partition.eof": False,
            "partition.assignment.strategy": "range", "max.poll.interval.ms": 300000}))
        self.txn_id = txn_id
        self.metrics = Metrics("processor", group=options.group, transactional_id=txn_id)
        self._lag_reported = 0.0
        self._resumed_from: dict[int, int] = {}

    # -- rebalances --------------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assigned = sorted(tp.partition for tp in partitions)
        log.info("partitions assigned", topic=self.settings.ledger_topic, partitions=self.assigned)
        # assign with explicit start offsets: a seek before fetching has started would be refused
        consumer.assign(self._restore(self.assigned))
        self.needs_reset = False
        self.once_targets = None
        self.metrics.assigned.set(len(self.assigned))
        self.metrics.forget_partitions(self.settings.ledger_topic, self.assigned)
        self.metrics.set_ready(bool(self.assigned), f"partitions {self.assigned} assigned, state restored"
                               if self.assigned else "no partitions assigned")

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions revoked", partitions=sorted(tp.partition for tp in partitions))
        self._abort("partitions revoked")
        self.states.clear()
        self.assigned = []
        self._unassigned("partitions revoked")

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("partitions lost", partitions=sorted(tp.partition for tp in partitions))
        self._abort("partitions lost")
        self.states.clear()
        self.assigned = []
        self._unassigned("partitions lost")

    def _unassigned(self, why: str) -> None:
        self.metrics.assigned.set(0)
        self.metrics.forget_partitions(self.settings.ledger_topic, [])
        self.metrics.set_ready(False, why)

    # -- state and positions -----------------------------------------------------------------------

    def _restore(self, parts: list[int]) -> list[TopicPartition]:
        """State = fold of the committed log; returns the committed ledger offsets to resume from."""
        started = time.monotonic()
        # The committed offsets FIRST: with read_committed, librdkafka asks for stable offsets
        # (KIP-447), i.e. it waits while a transaction that sent offsets for these partitions
        # is undecided. Every transaction resumed after has then ended, its log records below
        # the end offsets the fold takes next (state_restore.py): the state is never behind the
        # offsets (ahead, a re-read ledger event is a duplicate and skipped).
        committed = self.consumer.committed([TopicPartition(self.settings.ledger_topic, p) for p in parts], timeout=30)
        snapshots = latest_snapshots(self.settings.kafka(), self.snapshot_topic, parts) if self.options.snapshot_every else {}
        # the fold waits for open transactions of the log: a crashed owner's aborts after its timeout
        wait_s = max(120.0, 2 * self.options.transaction_timeout_ms / 1000 + 30)
        self.states = restore_partitions(self.settings.kafka(), self.settings.log_topic, parts, self.log_codec, snapshots,
                                         timeout=wait_s)
        self.since_snapshot = {p: 0 for p in parts}
        log.info("state restored from the log", partitions=parts, streams=sum(len(s.heads) for s in self.states.values()),
                 snapshots={p: c for p, (c, _) in snapshots.items()}, seconds=round(time.monotonic() - started, 3))
        self.metrics.restore_seconds.observe(time.monotonic() - started)
        self.metrics.beat()
        self._resumed_from = {tp.partition: max(tp.offset, 0) for tp in committed}
        return [TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING)
                for tp in committed]

    def _reset_to_committed(self) -> None:
        """After an abort: rebuild state and rewind the consumer to the committed offsets."""
        for tp in self._restore(list(self.assigned)):
            self.consumer.seek(tp)
        self.needs_reset = False

    def _abort(self, why: str) -> None:
        if not self.in_transaction:
            return
        try:
            self.producer.abort_transaction(30)
        except KafkaException as exc:
            self.in_transaction = False
            if _is_fatal(exc):
                raise CasefileError(f"fatal Kafka error (fenced by a newer instance?): {exc.args[0].str()}") from None
            log.error("abort failed", error=str(exc))
        self.in_transaction = False
        self.counters.aborts += 1
        self.metrics.aborts.inc()
        self.needs_reset = True
        log.warning("transaction aborted", reason=why)

    # -- the loop ----------------------------------------------------------------------------------

    def run(self) -> Counters:
        # first of all: a stop asked for during start-up is honoured once the loop begins
        previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        start_metrics(self.metrics, self.options.metrics_port, log)
        self.metrics.beat()
        prepare_topics(self.settings, self.options.partitions)
        self.producer.init_transactions(60)
        self.consumer.subscribe([self.settings.ledger_topic], on_assign=self._on_assign,
                                on_revoke=self._on_revoke, on_lost=self._on_lost)
        log.info("processor started", group=self.options.group, transactional_id=self.txn_id,
                 ledger=self.settings.ledger_topic, log_topic=self.settings.log_topic, policy_version=self.policy.version)
        try:
            self._loop()
        except KafkaException as exc:
            raise CasefileError(f"Kafka error: {exc.args[0].str() if exc.args else exc}") from None
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            try:
                self._abort("shutting down")
            finally:
                self.consumer.close()
                self.producer.flush(10)
                self.metrics.set_ready(False, "stopped")
                self.metrics.close()
        log.info("processor stopped", **self.counters.as_dict())
        return self.counters

    def _loop(self) -> None:
        last_report = time.monotonic()
        while not self.stop_requested:
            msgs = self.consumer.consume(self.options.batch_size, self.options.batch_ms / 1000)
            self.metrics.beat()
            if self.needs_reset and self.assigned:
                # positions may have moved past uncommitted data: drop what was fetched and rewind
                self._reset_to_committed()
                continue
            real = [m for m in msgs if not m.error()]
            for m in msgs:
                if m.error() and m.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error", error=m.error().str())
            if real:
                self._process_batch(real)
            if time.monotonic() - self._lag_reported >= 1.0:
                self._report_lag()
            if self.options.once and self._caught_up():
                break
            if time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                log.info("progress", **self.counters.as_dict(), lag=self._lag())

    def _request_stop(self, signum: int, _frame: Any) -> None:
        log.info("stop requested", signal=signal.Signals(signum).name)
        self.stop_requested = True

    def _process_batch(self, msgs: list) -> None:
        topic = self.settings.ledger_topic
        began = time.monotonic()
        try:
            self.producer.begin_transaction()
        except KafkaException as exc:
            raise CasefileError(f"cannot begin a Kafka transaction: {exc.args[0].str()}") from None
        self.in_transaction = True
        applied = 0
        written = 0
        dup = 0
        dlq: Counter = Counter()
        try:
            for msg in msgs:
                p = msg.partition()
                state = self.states.get(p)
                if state is None:  # not ours any more (revoked mid-batch): the abort below handles it
                    raise _Rebalanced()
                result = step(state, msg.value(), topic, p, msg.offset(), msg.timestamp()[1], self.policy,
                              self.ledger_codec, self.log_codec)
                if result.dead_letter is not None:
                    self._dead_letter(msg, result.dead_letter.code, result.dead_letter.reason)
                    dlq[result.dead_letter.code] += 1
                elif result.duplicate:
                    dup += 1
                    log.debug("duplicate skipped", partition=p, offset=msg.offset())
                else:
                    applied += 1
                    key = msg.key()
                    ts = msg.timestamp()[1]
                    for value in result.encoded:
                        self._produce(self.settings.log_topic, p, key, value, ts, on_delivery=self._delivered)
                    written += len(result.records)
                    self.since_snapshot[p] = self.since_snapshot.get(p, 0) + len(result.records)
            self.metrics.batch_seconds.observe(time.monotonic() - began)
            self._snapshots_due()
            positions = self.consumer.position([TopicPartition(topic, p) for p in self.assigned])
            self.producer.send_offsets_to_transaction([tp for tp in positions if tp.offset >= 0],
                                                      self.consumer.consumer_group_metadata(), 60)
            self._commit()
        except _Rebalanced:
            self._abort("rebalanced during the batch")
            return
        except KafkaException as exc:
            err = exc.args[0]
            if _is_fatal(exc):
                self.in_transaction = False
                raise CasefileError(f"fatal Kafka error (fenced by a newer instance?): {err.str()}") from None
            self._abort(err.str())
            return
        self.counters.applied += applied
        self.counters.records_written += written
        self.counters.duplicates += dup
        self.counters.dlq.update(dlq)
        self.counters.transactions += 1
        m = self.metrics
        m.transaction_seconds.observe(time.monotonic() - began)
        m.batch_events.observe(len(msgs))
        m.applied.inc(applied)
        m.records_written.inc(written)
        m.duplicates.inc(dup)
        for code, n in dlq.items():
            m.dlq.labels(code=code).inc(n)
        m.transactions.inc()
        last = msgs[-1]
        log.debug("batch committed", topic=topic, partition=last.partition(), offset=last.offset(),
                  events=len(msgs), records=written)

    def _commit(self, attempts: int = 5) -> None:
        """Commit, retrying what librdkafka calls retriable a bounded number of times; after that
        the caller aborts and rebuilds (a commit that never answers must not stall the loop)."""
        for attempt in range(1, attempts + 1):
            try:
                self.producer.commit_transaction(30)
                self.in_transaction = False
                return
            except KafkaException as exc:
                if not exc.args[0].retriable() or attempt == attempts:
                    raise
                log.warning("commit retried", attempt=attempt, error=exc.args[0].str())

    def _produce(self, topic: str, partition: int, key: bytes | None, value: bytes, ts: int | None,
                 headers: list[tuple[str, bytes]] | None = None, on_delivery: Any = None) -> None:
        kwargs: dict[str, Any] = {"timestamp": ts} if ts is not None else {}
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, partition=partition, headers=headers,
                                      on_delivery=on_delivery, **kwargs)
                return
            except BufferError:
                self.producer.poll(0.1)

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is None:
            self.last_log_offset[msg.partition()] = msg.offset()

    def _snapshots_due(self) -> None:
        """Snapshot partitions that wrote enough records, inside the open transaction.

        The flush first: the snapshot must name the log offset it covers, known only on delivery.
        """
        every = self.options.snapshot_every
        due = [p for p, n in self.since_snapshot.items() if every and n >= every]
        if not due:
            return
        remaining = self.producer.flush(60)
        if remaining:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "log records not delivered before a snapshot"))
        for p in due:
            covers = self.last_log_offset[p] + 1
            chunks = produce_snapshot(self._produce, self.snapshot_topic, p, covers, dump_state(self.states[p]))
            self.since_snapshot[p] = 0
            log.info("snapshot written", partition=p, covers=covers, chunks=chunks)

    def _dead_letter(self, msg: Any, code: str, reason: str) -> None:
        log.warning("dead-lettered", topic=msg.topic(), partition=msg.partition(), offset=msg.offset(),
                    error=code, reason=reason)
        headers = [("casefile.error", code.encode()), ("casefile.reason", reason.encode()),
                   ("topic", msg.topic().encode()), ("partition", str(msg.partition()).encode()),
                   ("offset", str(msg.offset()).encode())]
        self._produce(self.settings.dlq_topic, msg.partition(), msg.key(), msg.value() or b"",
                      msg.timestamp()[1], headers)

    # -- --once ------------------------------------------------------------------------------------

    def _caught_up(self) -> bool:
        if not self.assigned or self.needs_reset or self.in_transaction:
            return False
        topic = self.settings.ledger_topic
        if self.once_targets is None:
            # every partition of the ledger, not only this member's: a member SIGKILLed while it
            # was joining can be handed partitions in a rebalance and never process them; the
            # group is done when all are, and a lone `--once` run waits for the rebalance that
            # follows that member's session timeout, then does them itself
            parts = sorted(self.consumer.list_topics(topic, timeout=10).topics[topic].partitions)
            self.once_targets = {p: self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                                 for p in parts}
        committed = self.consumer.committed([TopicPartition(topic, p) for p in self.once_targets], timeout=30)
        return all(tp.offset >= self.once_targets[tp.partition] or self.once_targets[tp.partition] == 0
                   for tp in committed)

    def _lag(self) -> dict[int, int]:
        topic = self.settings.ledger_topic
        out = {}
        for tp in self.consumer.position([TopicPartition(topic, p) for p in self.assigned]):
            high = self.consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), cached=True)[1]
            out[tp.partition] = max(0, high - max(tp.offset, 0))
        return out

    def _report_lag(self) -> None:
        """Per assigned partition: high watermark (as of the latest fetch) minus the position."""
        self._lag_reported = time.monotonic()
        if not self.assigned or self.needs_reset:
            return
        topic = self.settings.ledger_topic
        lags = {}
        for tp in self.consumer.position([TopicPartition(topic, p) for p in self.assigned]):
            high = self.consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), cached=True)[1]
            if high < 0:  # nothing fetched yet: unknown, not zero
                continue
            # before its first message the position is unknown: the offset it resumed from
            position = tp.offset if tp.offset >= 0 else self._resumed_from.get(tp.partition, 0)
            lags[tp.partition] = max(0, high - position)
        self.metrics.set_lag(topic, lags)


class _Rebalanced(Exception):
    pass


def _is_fatal(exc: KafkaException) -> bool:
    err = exc.args[0] if exc.args else None
    return err is None or not isinstance(err, KafkaError) or err.fatal() or err.code() in (
        KafkaError._FENCED, KafkaError._FATAL, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH)
