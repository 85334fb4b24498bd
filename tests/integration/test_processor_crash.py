"""SIGKILL the processor at random moments while the ledger flows: the final log equals, record
for record, the log of an uninterrupted run."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from casefile.settings import Settings
from casefile.synthetic_ledger import synthetic_ledger
from casefile.publishing import publish_events
from schemas.codec import log_codec
from schemas.ledger_models import validate_ledger_event
from tests.integration.kafka_read import read_all

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _processor(bootstrap: str, ledger: str, log: str, dlq: str, group: str, *extra: str,
               quiet: bool = False) -> subprocess.Popen:
    env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": bootstrap}
    return subprocess.Popen(
        [sys.executable, "-m", "casefile", "--ledger-topic", ledger, "--log-topic", log, "--dlq-topic", dlq,
         "--log-level", "warning", "process", "--group", group, "--transactional-id", f"{group}-0",
         "--batch-size", "300", "--partitions", "4", *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL if quiet else subprocess.PIPE, text=True)


def _chains(bootstrap: str, topic: str) -> dict[int, list[tuple[str, int, str]]]:
    out: dict[int, list[tuple[str, int, str]]] = {}
    for msg in read_all(bootstrap, topic):
        r = log_codec().decode_avro(msg.value())
        out.setdefault(msg.partition(), []).append((r["stream_id"], r["stream_version"], r["hash"]))
    return out


def test_sigkill_at_random_moments_leaves_the_log_of_a_clean_run(kafka_bootstrap: str, topics: dict[str, str]) -> None:
    events = [validate_ledger_event(e) for e in synthetic_ledger(20_000, accounts=150, seed=11)]
    ledger = topics["ledger"]
    settings = Settings(bootstrap_servers=kafka_bootstrap, ledger_topic=ledger)

    # the crashing run follows the stream while it is being published
    crash_log, crash_dlq = topics["log"] + ".crash", topics["dlq"] + ".crash"
    publish_events(settings, events[:10], partitions=4)  # creates the topic before the processor looks
    rest = events[10:]
    publisher = threading.Thread(target=lambda: [publish_events(settings, rest[i:i + 2000], partitions=4)
                                                 for i in range(0, len(rest), 2000) if not time.sleep(0.4)])
    publisher.start()
    crashy, clean = f"crashy-{ledger}", f"clean-{ledger}"  # groups and transactional ids unique to this test
    rng = random.Random(5)
    kills = 0
    for _ in range(6):
        # the crashing run restores from snapshots, the clean run folds the whole log
        proc = _processor(kafka_bootstrap, ledger, crash_log, crash_dlq, crashy, "--snapshot-every", "700",
                          quiet=True)  # nobody reads its pipes: a full pipe would stall it
        time.sleep(rng.uniform(1.5, 4.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    publisher.join()
    final = _processor(kafka_bootstrap, ledger, crash_log, crash_dlq, crashy, "--once", "--snapshot-every", "700")
    out, err = final.communicate(timeout=600)
    assert final.returncode == 0, err[-3000:]
    assert kills >= 5

    clean = _processor(kafka_bootstrap, ledger, topics["log"], topics["dlq"], clean, "--once", "--snapshot-every", "0")
    out, err = clean.communicate(timeout=600)
    assert clean.returncode == 0, err[-3000:]

    clean_chains, crash_chains = _chains(kafka_bootstrap, topics["log"]), _chains(kafka_bootstrap, crash_log)
    assert sum(len(v) for v in clean_chains.values()) > 20_000
    assert crash_chains == clean_chains
    # the DLQ holds each rejected ledger record exactly once in both runs
    clean_dlq = sorted((m.partition(), m.headers()[-1][1]) for m in read_all(kafka_bootstrap, topics["dlq"]))
    crash_dlq_rows = sorted((m.partition(), m.headers()[-1][1]) for m in read_all(kafka_bootstrap, crash_dlq))
    assert clean_dlq and crash_dlq_rows == clean_dlq
