"""Snapshots: restoring from the latest one plus the log's tail equals folding the whole log."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

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
    settings = Settings(bootstrap_servers=kafka_bootstrap, ledger_topic=topics["ledger"], log_topic=topics["log"],
                        dlq_topic=topics["dlq"])
    publish_events(settings, [validate_ledger_event(e) for e in synthetic_ledger(800, accounts=10, seed=4)], partitions=1)
    env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": kafka_bootstrap, "CASEFILE_LEDGER_TOPIC": topics["ledger"],
           "CASEFILE_LOG_TOPIC": topics["log"], "CASEFILE_DLQ_TOPIC": topics["dlq"]}
    proc = subprocess.run([sys.executable, "-m", "casefile", "process", "--once", "--snapshot-every", "0"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    full = fold_log_partitions(settings.kafka(), topics["log"], [0], log_codec())
    from processor.snapshot_codec import dump_state
    from processor.domain import new_partition_state

    bogus = {0: (5, dump_state(new_partition_state()))}  # claims offset 5 with an empty state: breaks the chain
    restored = restore_partitions(settings.kafka(), topics["log"], [0], log_codec(), bogus)
    assert canonical_state(restored[0]) == canonical_state(full[0])
