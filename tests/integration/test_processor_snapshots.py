"""Snapshots: restoring from the latest one plus the log's tail equals folding the whole log."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from casefile.kafka.topics import admin, ensure_topic
from casefile.publishing import publish_events
from casefile.settings import Settings
from casefile.synthetic_ledger import synthetic_ledger
from processor.domain import canonical_state
from processor.snapshots import latest_snapshots, snapshot_topic
from processor.state_restore import fold_log_partitions, restore_partitions
from schemas.codec import log_codec
from schemas.ledger_models import validate_ledger_event

pytestmark = pytest.mark.kafka


def test_restore_from_snapshot_equals_full_fold(kafka_bootstrap: str, topics: dict[str, str]) -> None:
    settings = Settings(bootstrap_servers=kafka_bootstrap, ledger_topic=topics["ledger"], log_topic=topics["log"],
                        dlq_topic=topics["dlq"])
    events = [validate_ledger_event(e) for e in synthetic_ledger(6000, accounts=80, events_per_day=300, seed=2)]
    publish_events(settings, events, partitions=2)
    env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": kafka_bootstrap, "CASEFILE_LEDGER_TOPIC": topics["ledger"],
           "CASEFILE_LOG_TOPIC": topics["log"], "CASEFILE_DLQ_TOPIC": topics["dlq"]}
    proc = subprocess.run([sys.executable, "-m", "casefile", "process", "--once", "--batch-size", "250",
                           "--snapshot-every", "1000"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]

    snaps = latest_snapshots(settings.kafka(), snapshot_topic(topics["log"]), [0, 1])
    assert set(snaps) == {0, 1} and all(covers > 1000 for covers, _ in snaps.values())
    from_snapshots = restore_partitions(settings.kafka(), topics["log"], [0, 1], log_codec(), snaps)
    full = fold_log_partitions(settings.kafka(), topics["log"], [0, 1], log_codec())
    for p in (0, 1):
        assert canonical_state(from_snapshots[p]) == canonical_state(full[p])


def test_a_snapshot_that_does_not_chain_is_ignored(kafka_bootstrap: str, topics: dict[str, str]) -> None:
    settings = _one_partition_log(kafka_bootstrap, topics, events=800, accounts=10, seed=4)
    full = fold_log_partitions(settings.kafka(), topics["log"], [0], log_codec())
    from processor.snapshot_codec import dump_state
    from processor.domain import new_partition_state

    bogus = {0: (5, dump_state(new_partition_state()))}  # claims offset 5 with an empty state: breaks the chain
    restored = restore_partitions(settings.kafka(), topics["log"], [0], log_codec(), bogus)
    assert canonical_state(restored[0]) == canonical_state(full[0])


def test_a_restore_waits_for_the_outcome_of_a_transaction_still_open(kafka_bootstrap: str, topics: dict[str, str]) -> None:
    """The previous owner's last transaction can still be open when the new owner restores (its
    commit interrupted by a crash or a broker restart) and commit afterwards, ledger offsets
    included: the restored state must hold its records. A read_committed consumer's own high
    watermark stops before an open transaction; the restore must not (chaos test failure:
    a version reused, unapplied credit consumed twice)."""
    settings = _one_partition_log(kafka_bootstrap, topics, events=600, accounts=8, seed=9)
    full = fold_log_partitions(settings.kafka(), topics["log"], [0], log_codec())

    # the same log, copied into a new topic: the first half committed, the rest in a transaction left open
    reader = Consumer(settings.kafka(**{"group.id": f"copy-{uuid.uuid4().hex}", "isolation.level": "read_committed",
                                        "enable.partition.eof": True}))
    reader.assign([TopicPartition(topics["log"], 0, 0)])
    values: list[bytes] = []
    while True:
        msgs = reader.consume(1000, 5.0)
        values += [m.value() for m in msgs if not m.error()]
        if not msgs or any(m.error() for m in msgs):
            break
    reader.close()
    assert len(values) > 100
    copy = f"{topics['log']}-copy"
    ensure_topic(admin(settings.kafka()), copy, 1)
    producer = Producer(settings.kafka(**{"transactional.id": f"copy-{uuid.uuid4().hex}"}))
    producer.init_transactions(30)
    half = len(values) // 2
    for part, commit in ((values[:half], True), (values[half:], False)):
        producer.begin_transaction()
        for value in part:
            producer.produce(copy, value, partition=0)
        producer.flush(30)
        if commit:
            producer.commit_transaction(30)

    restored: dict = {}
    restore = threading.Thread(target=lambda: restored.update(
        restore_partitions(settings.kafka(), copy, [0], log_codec(), None, timeout=60)))
    restore.start()
    time.sleep(2.0)
    assert restore.is_alive(), "the restore finished while a transaction of the log was still open"
    producer.commit_transaction(30)  # the previous owner's commit goes through after all
    restore.join(60)
    assert not restore.is_alive()
    assert canonical_state(restored[0]) == canonical_state(full[0])


def _one_partition_log(kafka_bootstrap: str, topics: dict[str, str], events: int, accounts: int, seed: int) -> Settings:
    """A synthetic ledger on one partition, processed (no snapshots) into topics["log"]."""
    settings = Settings(bootstrap_servers=kafka_bootstrap, ledger_topic=topics["ledger"], log_topic=topics["log"],
                        dlq_topic=topics["dlq"])
    publish_events(settings, [validate_ledger_event(e) for e in synthetic_ledger(events, accounts=accounts, seed=seed)],
                   partitions=1)
    env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": kafka_bootstrap, "CASEFILE_LEDGER_TOPIC": topics["ledger"],
           "CASEFILE_LOG_TOPIC": topics["log"], "CASEFILE_DLQ_TOPIC": topics["dlq"]}
    proc = subprocess.run([sys.executable, "-m", "casefile", "process", "--once", "--snapshot-every", "0"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return settings
