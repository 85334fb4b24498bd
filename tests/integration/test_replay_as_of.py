"""`replay rebuild --as-of T`: the state as known at T equals a rebuild of the log prefix recorded
up to T, and a payment recorded after T does not reduce the aging as of T."""
from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pytest

from casefile.synthetic_ledger import synthetic_ledger
from replay.rebuild import format_ms
from tests.integration.test_replay_log import assert_same_tables

pytestmark = pytest.mark.kafka


def _aging(db: Path, company: str, account: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT total_open_minor FROM aging WHERE company = ? AND customer_account = ?",
                           [company, account]).fetchone()[0]
    finally:
        con.close()


def test_as_of_equals_the_prefix_and_ignores_a_later_payment(cli, tmp_path: Path) -> None:
    events = list(synthetic_ledger(1500, accounts=60, seed=9))
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("".join(json.dumps(e) + "\n" for e in events[:1000]))
    cli("publish", str(first), "--partitions", "3")
    cli("process", "--once", "--partitions", "3")
    prefix = tmp_path / "prefix.duckdb"
    cli("replay", "rebuild", "--db", str(prefix))

    time.sleep(0.05)
    as_of = format_ms(int(time.time() * 1000))
    time.sleep(0.05)

    con = duckdb.connect(str(prefix), read_only=True)
    company, account, before = con.execute("SELECT company, customer_account, total_open_minor FROM aging "
                                           "WHERE total_open_minor >= 10000 ORDER BY 1, 2 LIMIT 1").fetchone()
    con.close()
    payment = {"event_id": "late-payment-1", "type": "PaymentReceived", "company": company,
               "customer_account": account, "occurred_at": "2026-01-02T12:00:00Z", "source": "test",
               "payload": {"payment_id": "PAY-LATE-1", "amount_minor": 10000, "currency": "USD", "allocations": []}}
    second.write_text("".join(json.dumps(e) + "\n" for e in [payment, *events[1000:]]))
    cli("publish", str(second), "--partitions", "3")
    cli("process", "--once", "--partitions", "3")

    full, past = tmp_path / "full.duckdb", tmp_path / "past.duckdb"
    cli("replay", "rebuild", "--db", str(full))
    out = json.loads(cli("replay", "rebuild", "--db", str(past), "--as-of", as_of).stdout)["rebuild"]
    assert out["records_applied"] < out["records_read"]

    assert_same_tables(prefix, past)
    assert _aging(past, company, account) == before
    con = duckdb.connect(str(full), read_only=True)
    paid = con.execute("SELECT sum(-a.amount_minor) FROM casefile_events, UNNEST(applications) AS t(a) "
                       "WHERE source_event_id = 'late-payment-1'").fetchone()[0]
    con.close()
    assert paid == 10000  # the payment settled invoices of that account in the full rebuild

    # history as of T stops at the prefix too
    rows = json.loads(cli("history", "--customer", f"{company}/{account}", "--db", str(full), "--format", "json",
                          "--as-of", as_of).stdout)
    assert rows and all(r["source_event_id"] != "late-payment-1" for r in rows)
    everything = json.loads(cli("history", "--customer", f"{company}/{account}", "--db", str(full),
                                "--format", "json").stdout)
    assert any(r["source_event_id"] == "late-payment-1" for r in everything)
