"""Analysts read while the projector runs: the database is the projector's, so reads go to its
published snapshot, which is always one consistent position (no torn totals)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casefile.publishing import publish_events
from casefile.settings import Settings
from casefile.synthetic_ledger import synthetic_ledger
from schemas.ledger_models import validate_ledger_event

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOTALS = ("SELECT (SELECT coalesce(sum(total_open_minor), 0) FROM aging) AS aging_open, "
          "(SELECT coalesce(sum(open_minor), 0) FROM invoices) AS invoices_open, "
          "(SELECT coalesce(sum(next_offset), 0) FROM projection_offsets) AS position")


def test_reads_during_projection_see_consistent_snapshots(kafka_bootstrap: str, topics: dict[str, str],
                                                          tmp_path: Path, cli) -> None:
    settings = Settings(bootstrap_servers=kafka_bootstrap, ledger_topic=topics["ledger"])
    events = [validate_ledger_event(e) for e in synthetic_ledger(24_000, accounts=200, seed=21)]
    publish_events(settings, events[:2000], partitions=2)
    env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": kafka_bootstrap, "CASEFILE_LEDGER_TOPIC": topics["ledger"],
           "CASEFILE_LOG_TOPIC": topics["log"], "CASEFILE_DLQ_TOPIC": topics["dlq"]}
    db = tmp_path / "live.duckdb"
    run = subprocess.Popen([sys.executable, "-m", "casefile", "--log-level", "warning", "run", "--db", str(db),
                            "--batch-size", "500", "--projection-batch-size", "1500"],
                           env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "run.log").open("w"))
    seen: list[dict] = []

    def read_new_position(timeout: float) -> None:
        """Poll until a read shows a position not seen before (the projector publishes a snapshot
        each time it catches up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = cli("query", TOTALS, "--db", str(db), "--format", "json", check=False)
            if result.returncode == 0:
                row = json.loads(result.stdout)[0]
                assert "snapshot" in result.stderr  # the live file is held by the projector
                seen.append(row)
                if row["position"] not in {r["position"] for r in seen[:-1]}:
                    return
            else:
                assert "no snapshot has been published yet" in result.stderr or "no database" in result.stderr
            time.sleep(0.3)

    try:
        read_new_position(120)
        for start in range(2000, len(events), 4000):
            publish_events(settings, events[start:start + 4000], partitions=2)
            read_new_position(60)
    finally:
        run.terminate()
        assert run.wait(timeout=60) == 0, (tmp_path / "run.log").read_text()[-2000:]
    positions = {row["position"] for row in seen}
    assert len(positions) >= 3, seen  # reads happened at several positions while it ran
    for row in seen:
        assert row["aging_open"] == row["invoices_open"], row
