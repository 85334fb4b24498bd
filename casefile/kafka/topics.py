"""Topic administration (partition counts, the topics casefile owns) and the bulk-read sizing the log readers share."""
from __future__ import annotations

import logging
import sys
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from casefile.errors import CasefileError


# Consumer settings for reading the log in bulk (projector, replay): large fetches per partition
# (librdkafka's 1 MB default caps a catch-up at a fraction of what the broker can serve).
BULK_FETCH: dict[str, Any] = {"fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760,
                              "queued.max.messages.kbytes": 65536, "fetch.wait.max.ms": 50}


# librdkafka errors that retrying will not cure: a wrong password, a certificate that does not verify
_FATAL_CONNECT = {KafkaError._AUTHENTICATION, KafkaError._SSL}


class _ConnectErrors:
    """error_cb and logger of an admin client: keeps authentication/TLS failures to report them as one
    line; every other librdkafka log line is written to stderr as librdkafka itself would."""

    def __init__(self) -> None:
        self.fatal: list[KafkaError] = []

    def error_cb(self, err: KafkaError) -> None:
        if err.code() in _FATAL_CONNECT:
            self.fatal.append(err)

    def logger(self) -> logging.Logger:
        logger = logging.getLogger(f"casefile.kafka.admin.{id(self)}")
        logger.propagate = False
        logger.handlers = [_StderrUnlessFatal()]
        logger.setLevel(logging.DEBUG)
        return logger


class _StderrUnlessFatal(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if "SASL authentication error" in msg or "SSL handshake failed" in msg:
            return  # surfaced by partition_count as one CasefileError line
        print(f"%{_SYSLOG.get(record.levelno, 7)}|{msg}", file=sys.stderr)


_SYSLOG = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


def admin(config: dict[str, Any]) -> AdminClient:
    errors = _ConnectErrors()
    config = dict(config)
    config.setdefault("error_cb", errors.error_cb)
    config.setdefault("logger", errors.logger())
    client = AdminClient(config)
    client._casefile_errors = errors  # type: ignore[attr-defined]
    return client


def _raise_if_fatal(client: AdminClient) -> None:
    errors: _ConnectErrors | None = getattr(client, "_casefile_errors", None)
    if errors is None:
        return
    client.poll(0)  # serves error_cb
    if errors.fatal:
        err = errors.fatal[-1]
        what = "authentication failed" if err.code() == KafkaError._AUTHENTICATION else "TLS failed"
        raise CasefileError(f"Kafka {what}: {err.str()}")


def partition_count(client: AdminClient, topic: str, timeout: float = 10.0) -> int | None:
    """Partitions of `topic`, or None when it does not exist."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            # metadata for all topics: asking for one by name would auto-create it on brokers that allow that
            md = client.list_topics(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            break
        except KafkaException as exc:
            _raise_if_fatal(client)  # a wrong password fails at once, as one line, not after the timeout
            if time.monotonic() >= deadline:
                raise CasefileError(f"cannot reach Kafka: {exc.args[0].str() if exc.args else exc}") from None
    info = md.topics.get(topic)
    if info is None or info.error is not None:
        return None
    return len(info.partitions)


def ensure_topic(client: AdminClient, topic: str, partitions: int, config: dict[str, str] | None = None,
                 timeout: float = 30.0) -> int:
    """Create `topic` if it is missing; returns its partition count."""
    existing = partition_count(client, topic)
    if existing is not None:
        return existing
    futures = client.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=-1,
                                             config=config or {})], operation_timeout=timeout)
    try:
        futures[topic].result(timeout)
    except KafkaException as exc:
        err = exc.args[0]
        if err.name() == "TOPIC_AUTHORIZATION_FAILED":  # an ACL-hidden topic looks missing: say both
            raise CasefileError(f"topic {topic}: not authorized to describe or create it "
                                "(Kafka ACLs; see `casefile acls --print`)") from None
        if err.name() != "TOPIC_ALREADY_EXISTS":
            raise CasefileError(f"cannot create topic {topic}: {err.str()}") from None
    for _ in range(100):
        count = partition_count(client, topic)
        if count:
            return count
        time.sleep(0.1)
    raise CasefileError(f"topic {topic} was created but has no metadata yet")


LOG_TOPIC_CONFIG = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}


# DuckDB's rows per row group. A transaction that appends at least one whole row group to a
# table (casefile_events: one row per record) writes its row groups straight into the database
# file; a smaller append goes through the WAL and is compressed again at the next checkpoint,
# and partial row groups left by odd-sized appends are merged (rewritten) by that checkpoint.
# Measured on the 1M-record log: batches of 10k..200k left a 2 s checkpoint at the end of a
# catch-up; whole row groups leave ~0.3 s. So catch-up batches come in whole row groups.
ROW_GROUP = 122_880


def batch_size_for(size: int, largest: int, targets: dict[int, int], at: dict[int, int]) -> int:
    """How many records to ask for next: `size` while ramping up from the start (small batches
    first, so the fold starts while reading goes on), then whole DuckDB row groups (ROW_GROUP):
    up to `largest`, but about half of what is left before `targets` (never less than a row
    group) near the end, so the last transaction, which nothing overlaps, is short."""
    left = sum(max(0, targets[p] - at.get(p, 0)) for p in targets)
    if left == 0:  # past the targets (following the log, or nothing known): no end to slow down for
        want = min(size, largest)
    elif size < ROW_GROUP or largest < ROW_GROUP:
        want = min(size, largest, left)
    else:
        want = max(min(size, largest, left // 2), min(left, ROW_GROUP))
    return want - want % ROW_GROUP if want >= ROW_GROUP else want


def consume_batch(consumer: Any, want: int, timeout_s: float, topic: str, targets: dict[int, int],
                  at: dict[int, int]) -> list[Any]:
    """Up to `want` messages of `topic`: `consume` returns what arrived within `timeout_s`, which
    in a catch-up is often less than asked; this goes on consuming while some partition is still
    short of its offset in `targets`, so a catch-up batch is as large as asked (whole row groups,
    see ROW_GROUP). `at`: each partition's next offset before this read (for a partition the
    consumer has no position of yet). Stops at the first top-up that comes back short."""
    msgs = consumer.consume(want, timeout_s)
    while msgs and len(msgs) < want:
        positions = consumer.position([TopicPartition(topic, p) for p in targets])
        if all((tp.offset if tp.offset >= 0 else at.get(tp.partition, 0)) >= targets[tp.partition]
               for tp in positions):
            break
        asked = want - len(msgs)
        more = consumer.consume(asked, timeout_s)
        msgs.extend(more)
        if len(more) < asked:  # the records stopped coming within timeout_s: a stalled partition
            break              # must not hold back what the others gave (one extra wait at most)
    return msgs
