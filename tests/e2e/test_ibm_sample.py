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

from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.kafka


def _csv_by_customer() -> dict[str, dict]:
    out: dict[str, dict] = defaultdict(lambda: {"count": 0, "amount": 0, "days_late": []})
    with SAMPLE.open() as f:
        for row in csv.DictReader(f):
            c = out[row["customerID"]]
            c["count"] += 1
            c["amount"] += int(Decimal(row["InvoiceAmount"]) * 100)
            c["days_late"].append(int(row["DaysLate"]))
    return out


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
