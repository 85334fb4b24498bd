"""`casefile publish` against the real broker: every event arrives once, decoded and equal."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from schemas.codec import decode_ledger_bytes, ledger_codec
from schemas.ledger_models import canonical_json, validate_ledger_event
from tests.integration.kafka_read import read_all

pytestmark = pytest.mark.kafka


def _events(n: int) -> list[dict]:
    out = []
    for i in range(n):
        acct = f"C-{i % 97:04d}"
        if i % 3 == 0:
            payload = {"invoice_id": f"INV-{i}", "invoice_date": "2026-01-05", "due_date": "2026-02-04",
                       "amount_minor": 1000 + i, "currency": "USD"}
            kind = "InvoicePosted"
        elif i % 3 == 1:
            payload = {"payment_id": f"PAY-{i}", "amount_minor": 500 + i, "currency": "USD",
                       "allocations": [{"invoice_id": f"INV-{i - 1}", "amount_minor": 100}]}
            kind = "PaymentReceived"
        else:
            payload = {"note_id": f"N-{i}", "author": "ana", "text": f"called, ünïcode ok {i}"}
            kind = "CollectionNoteAdded"
        out.append({"event_id": f"e-{i:06d}", "type": kind, "company": "USMF", "customer_account": acct,
                    "occurred_at": "2026-01-05T10:00:00Z", "source": "test", "payload": payload})
    return out


def test_publish_10000_events_and_read_every_one_back(cli, kafka_bootstrap, topics, tmp_path: Path) -> None:
    events = _events(10_000)
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))

    result = cli("publish", str(path), "--partitions", "4")
    assert "published 10000 events" in result.stdout

    records = read_all(kafka_bootstrap, topics["ledger"])
    assert len(records) == 10_000
    codec = ledger_codec()
    got = {}
    for msg in records:
        assert msg.value()[:2] == b"\xc3\x01"  # Avro single-object encoding
        event = validate_ledger_event(decode_ledger_bytes(codec, msg.value()))
        assert msg.key().decode() == f"{event.company}/{event.customer_account}"
        got[event.event_id] = canonical_json(event)
    expected = {e["event_id"]: canonical_json(validate_ledger_event(e)) for e in events}
    assert got == expected
    # one account, one partition: keys decide placement
    partitions_of = Counter((m.key(), m.partition()) for m in records)
    assert len({k for k, _ in partitions_of}) == len(partitions_of)


def test_invalid_line_publishes_nothing(cli, kafka_bootstrap, topics, tmp_path: Path) -> None:
    good = _events(3)
    bad = dict(good[1], payload={**good[1]["payload"], "amount_minor": 0})
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in [good[0], bad, good[2]]) + "not json\n")

    result = cli("publish", str(path), check=False)
    assert result.returncode == 1
    assert f"{path}:2: validation: payload.amount_minor" in result.stderr
    assert f"{path}:4: decode:" in result.stderr
    assert "Traceback" not in result.stderr

    result = cli("publish", str(path), "--skip-invalid")
    assert "published 2 events" in result.stdout
    assert len(read_all(kafka_bootstrap, topics["ledger"])) == 2


def test_close_day_reaches_every_partition(cli, kafka_bootstrap, topics) -> None:
    cli("close-day", "--company", "USMF", "--date", "2026-01-31", "--partitions", "5")
    records = read_all(kafka_bootstrap, topics["ledger"])
    assert sorted(m.partition() for m in records) == [0, 1, 2, 3, 4]
    for msg in records:
        event = validate_ledger_event(decode_ledger_bytes(ledger_codec(), msg.value()))
        assert event.type == "BusinessDayClosed" and event.payload == {"business_date": "2026-01-31"}
        assert msg.key() == b"USMF/"


def test_kafka_status_and_bad_date_are_one_line(cli) -> None:
    assert cli("kafka", "status").returncode == 0
    result = cli("close-day", "--company", "USMF", "--date", "2026-02-30", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "YYYY-MM-DD" in result.stderr
