"""SIGKILL the projector during a long catch-up, several times: the final DuckDB tables equal
those of an uninterrupted run, every table compared row for row."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from casefile.publishing import publish_events
from casefile.read_models import READ_MODEL_TABLES
from casefile.settings import Settings
from casefile.synthetic_ledger import synthetic_ledger
from schemas.ledger_models import validate_ledger_event

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _env(bootstrap: str, topics: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": bootstrap, "CASEFILE_LEDGER_TOPIC": topics["ledger"],
            "CASEFILE_LOG_TOPIC": topics["log"], "CASEFILE_DLQ_TOPIC": topics["dlq"]}


def _project(env: dict[str, str], db: Path, *extra: str) -> subprocess.Popen:
    # stdout is one JSON line at the end; stderr (warnings only) is read by communicate or dropped on kill
    return subprocess.Popen([sys.executable, "-m", "casefile", "--log-level", "warning", "project", "--db", str(db),
                             "--projection-batch-size", "2000", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def table_contents(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in READ_MODEL_TABLES}
    finally:
        con.close()


def test_sigkill_during_catch_up_leaves_the_tables_of_a_clean_run(kafka_bootstrap: str, topics: dict[str, str],
                                                                   tmp_path: Path) -> None:
    settings = Settings(bootstrap_servers=kafka_bootstrap, ledger_topic=topics["ledger"])
    publish_events(settings, [validate_ledger_event(e) for e in synthetic_ledger(30_000, accounts=300, seed=9)],
                   partitions=3)
    env = _env(kafka_bootstrap, topics)
    proc = subprocess.run([sys.executable, "-m", "casefile", "process", "--once"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]

    crashed, clean = tmp_path / "crashed.duckdb", tmp_path / "clean.duckdb"
    rng = random.Random(3)
    kills = 0
    for _ in range(5):
        p = _project(env, crashed)
        time.sleep(rng.uniform(1.0, 3.0))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
    final = _project(env, crashed, "--once")
    _, err = final.communicate(timeout=600)
    assert final.returncode == 0, err[-2000:]
    assert kills >= 3

    straight = _project(env, clean, "--once")
    _, err = straight.communicate(timeout=600)
    assert straight.returncode == 0, err[-2000:]

    want, got = table_contents(clean), table_contents(crashed)
    assert len(want["casefile_events"]) > 30_000
    for table in READ_MODEL_TABLES:
        assert got[table] == want[table], f"{table} differs after crashes"
