"""`casefile publish` and `casefile close-day`: validated ledger events onto the ledger topic, as Avro."""
from __future__ import annotations

import json
from datetime import date
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from confluent_kafka import KafkaError, Producer

from casefile.errors import CasefileError
from casefile.kafka.topics import admin, ensure_topic, partition_count
from casefile.settings import Settings
from processor.domain.ledger_event import LedgerEvent
from schemas.codec import ledger_codec
from schemas.ledger_models import InvalidEvent, to_avro_record, validate_ledger_event

# murmur2 places keys where Java producers upstream would, so every producer of one account agrees
PRODUCER_DEFAULTS = {"enable.idempotence": True, "acks": "all", "linger.ms": 20,
                     "partitioner": "murmur2_random", "compression.type": "lz4"}


@dataclass
class ReadResult:
    events: list[LedgerEvent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def read_json_lines(path: Path) -> ReadResult:
    """Validate every line; errors are `file:line: reason`. Blank lines are ignored."""
    result = ReadResult()
    try:
        handle = path.open("r", encoding="utf-8")
    except OSError as exc:
        raise CasefileError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                result.errors.append(f"{path}:{lineno}: decode: not JSON ({exc.msg})")
                continue
            try:
                result.events.append(validate_ledger_event(obj))
            except InvalidEvent as exc:
                result.errors.append(f"{path}:{lineno}: {exc.code}: {exc.reason}")
    return result


def key_of(event: LedgerEvent) -> bytes:
    return f"{event.company}/{event.customer_account}".encode()


class LedgerPublisher:
    """An idempotent producer of Avro ledger events; `flush` raises if any delivery failed."""

    def __init__(self, settings: Settings, partitions: int = 6) -> None:
        self.settings = settings
        self.topic = settings.ledger_topic
        self.partitions = ensure_topic(admin(settings.kafka()), self.topic, partitions)
        self.producer = Producer(settings.kafka(**PRODUCER_DEFAULTS))
        self.codec = ledger_codec()
        self.failures: list[str] = []
        self.delivered = 0

    def _on_delivery(self, err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            self.failures.append(err.str())
        else:
            self.delivered += 1

    def send(self, event: LedgerEvent, partition: int | None = None) -> None:
        value = self.codec.encode(to_avro_record(event))
        kwargs = {} if partition is None else {"partition": partition}
        while True:
            try:
                self.producer.produce(self.topic, value=value, key=key_of(event),
                                      on_delivery=self._on_delivery, **kwargs)
                break
            except BufferError:  # local queue full: let deliveries drain
                self.producer.poll(0.5)
        self.producer.poll(0)

    def flush(self, timeout: float = 120.0) -> int:
        remaining = self.producer.flush(timeout)
        if remaining:
            raise CasefileError(f"{remaining} events were not delivered within {timeout:.0f}s")
        if self.failures:
            raise CasefileError(f"{len(self.failures)} events failed to publish: {self.failures[0]}")
        return self.delivered


def publish_events(settings: Settings, events: Iterable[LedgerEvent], partitions: int = 6,
                   progress: Callable[[int], None] | None = None) -> int:
    """Publish in order; a `BusinessDayClosed` goes to every partition, as `close-day` does."""
    publisher = LedgerPublisher(settings, partitions)
    count = 0
    for count, event in enumerate(events, start=1):
        if event.type == "BusinessDayClosed":
            for p in range(publisher.partitions):
                publisher.send(event, partition=p)
        else:
            publisher.send(event)
        if progress and count % 50000 == 0:
            progress(count)
    publisher.flush()
    return count


def close_day_events(company: str, business_date: str, source: str = "casefile") -> LedgerEvent:
    return validate_ledger_event({
        "event_id": f"close-day/{company}/{business_date}", "type": "BusinessDayClosed",
        "company": company, "customer_account": "", "occurred_at": f"{business_date}T23:59:59Z",
        "source": source, "payload": {"business_date": business_date}})


def close_day(settings: Settings, company: str, business_date: str, partitions: int = 6) -> int:
    """Publish `BusinessDayClosed` to every partition of the ledger topic; returns the partition count."""
    try:
        date.fromisoformat(business_date)
    except ValueError:
        raise CasefileError(f"close-day: --date must be a date YYYY-MM-DD, not {business_date!r}") from None
    try:
        event = close_day_events(company, business_date)
    except InvalidEvent as exc:
        raise CasefileError(f"close-day: {exc.reason}") from None
    publisher = LedgerPublisher(settings, partitions)
    for p in range(publisher.partitions):
        publisher.send(event, partition=p)
    publisher.flush()
    return publisher.partitions


def existing_partitions(settings: Settings, topic: str) -> int | None:
    return partition_count(admin(settings.kafka()), topic)
