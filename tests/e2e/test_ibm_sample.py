"""The quick start's path through the `casefile` command on the IBM sample: import, process,
project, report — and the read models agree with the CSV."""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.kafka
SAMPLE = ROOT / "samples" / "ibm-accounts-receivable-sample.csv"
POLICY = ROOT / "samples" / "ibm-policy.toml"


def _csv_by_customer() -> dict[str, dict]:
    out: dict[str, dict] = defaultdict(lambda: {"count": 0, "amount": 0, "days_late": []})
    with SAMPLE.open() as f:
        for row in csv.DictReader(f):
            c = out[row["customerID"]]
            c["count"] += 1
            c["amount"] += int(Decimal(row["InvoiceAmount"]) * 100)
            c["days_late"].append(int(row["DaysLate"]))
    return out


@pytest.fixture(scope="module")
def ibm_db(kafka_bootstrap: str, tmp_path_factory) -> Path:
    import os
    import subprocess
    import sys
    import uuid

    tag = uuid.uuid4().hex[:8]
    work = tmp_path_factory.mktemp("ibm")
    env = {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": kafka_bootstrap, "CASEFILE_LEDGER_TOPIC": f"ibm{tag}.ledger",
           "CASEFILE_LOG_TOPIC": f"ibm{tag}.log", "CASEFILE_DLQ_TOPIC": f"ibm{tag}.dlq", "CASEFILE_POLICY": str(POLICY)}
    db = work / "casefile.duckdb"
    for args in (["import-ibm-ar", str(SAMPLE)], ["process", "--once"], ["project", "--once", "--db", str(db)]):
        proc = subprocess.run([sys.executable, "-m", "casefile", *args], env=env, cwd=work, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return db


def test_invoice_count_amount_and_days_late_per_customer_match_the_csv(ibm_db: Path) -> None:
    expected = _csv_by_customer()
    con = duckdb.connect(str(ibm_db), read_only=True)
    rows = con.execute("""
        SELECT customer_account, count(*), sum(amount_minor), avg(days_late), count(days_late)
        FROM invoices GROUP BY customer_account""").fetchall()
    con.close()
    assert len(rows) == len(expected) == 100
    for account, count, amount, avg_late, settled in rows:
        want = expected[account]
        assert count == want["count"] and settled == want["count"]
        assert amount == want["amount"]
        assert avg_late == pytest.approx(sum(want["days_late"]) / len(want["days_late"]))


def test_reports_print_as_table_csv_and_json(ibm_db: Path, cli) -> None:
    table = cli("report", "aging", "--db", str(ibm_db))
    assert "total_open_minor" in table.stdout
    rows = json.loads(cli("report", "cases", "--db", str(ibm_db), "--format", "json").stdout)
    assert sum(r["cases"] for r in rows) > 0
    recovery = cli("report", "recovery", "--db", str(ibm_db), "--format", "csv").stdout.splitlines()
    assert recovery[0].startswith("company,") and len(recovery) > 12
    got = json.loads(cli("query", "SELECT count(*) AS n FROM cases", "--db", str(ibm_db), "--format", "json").stdout)
    assert got[0]["n"] == sum(r["cases"] for r in rows)


def test_query_is_read_only_and_errors_are_one_line(ibm_db: Path, cli) -> None:
    result = cli("query", "DELETE FROM cases", "--db", str(ibm_db), check=False)
    assert result.returncode == 1
    assert "read-only" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
