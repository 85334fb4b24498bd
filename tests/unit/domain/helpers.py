"""A tiny ledger driver for domain tests: decide, fill the envelope like processor/log_records.py
would, evolve — record by record — and keep the resulting log."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from processor.domain import LedgerEvent, PartitionState, decide, evolve, new_partition_state
from processor.domain.policy import Policy

_SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "schemas" / "casefile_event.avsc").read_text())
FIELDS: tuple[str, ...] = tuple(f["name"] for f in _SCHEMA["fields"])
ENVELOPE_ONLY = {"event_id", "stream_version", "recorded_at", "source_event_id", "source_digest",
                 "source_topic", "source_partition", "source_offset", "policy_version", "prev_hash", "hash"}

COMPANY = "USMF"
ACCOUNT = "C-1"
STREAM = f"{COMPANY}/{ACCOUNT}"


def full_records(state: PartitionState, event: LedgerEvent, data: list[dict[str, Any]],
                 partition: int = 0, offset: int = 0) -> list[dict[str, Any]]:
    """Envelope the decided data records (versions continue from `state.heads`)."""
    digest = hashlib.sha256(json.dumps([event.event_id, event.type, dict(event.payload)], sort_keys=True,
                                       default=str).encode()).hexdigest()
    heads = dict(state.heads)
    per_stream: dict[str, int] = {}
    out = []
    for d in data:
        unknown = set(d) - set(FIELDS)
        assert not unknown, f"not schema fields: {unknown}"
        sid = d["stream_id"]
        n = per_stream.get(sid, 0)
        per_stream[sid] = n + 1
        version, prev = heads.get(sid, (0, "0" * 64))
        rec = {f: None for f in FIELDS}
        rec["applications"] = []
        rec.update(d)
        rec.update(event_id=f"{event.event_id}#{sid}#{n}", stream_version=version + 1, recorded_at=0,
                   source_event_id=event.event_id, source_digest=digest, source_topic="ar.ledger.v1",
                   source_partition=partition, source_offset=offset, policy_version="test", prev_hash=prev)
        rec["hash"] = hashlib.sha256((prev + json.dumps(rec, sort_keys=True)).encode()).hexdigest()
        heads[sid] = (version + 1, rec["hash"])
        out.append(rec)
    return out


class Ledger:
    """Feeds ledger events through decide + evolve, like the processor does."""

    def __init__(self, policy: Policy | None = None, partition: int = 0) -> None:
        self.policy = policy or Policy()
        self.partition = partition
        self.state = new_partition_state()
        self.log: list[dict[str, Any]] = []
        self._n = 0

    def send(self, type_: str, payload: dict[str, Any], at: str = "2026-01-05", *,
             account: str = ACCOUNT, company: str = COMPANY, event_id: str | None = None) -> list[dict[str, Any]]:
        self._n += 1
        event = LedgerEvent(event_id or f"e-{self._n}", type_, company, account,
                            at if "T" in at else f"{at}T10:00:00Z", "test", payload)
        data = decide(self.state, event, self.policy, self.partition)
        for rec in full_records(self.state, event, data, self.partition, self._n):
            evolve(self.state, rec)
            self.log.append(rec)
        return data

    # --- one helper per ledger payload -------------------------------------------------------
    def invoice(self, invoice_id: str, amount: int, due: str = "2026-02-04", *, invoice_date: str = "2026-01-05",
                at: str | None = None, **kw: Any) -> list[dict[str, Any]]:
        return self.send("InvoicePosted", {"invoice_id": invoice_id, "invoice_date": invoice_date, "due_date": due,
                                           "amount_minor": amount, "currency": kw.pop("currency", "USD")},
                         at or invoice_date, **kw)

    def pay(self, payment_id: str, amount: int, allocations: list[tuple[str, int]] = (), *,
            at: str = "2026-01-10", currency: str = "USD", **kw: Any) -> list[dict[str, Any]]:
        allocs = [{"invoice_id": i, "amount_minor": a} for i, a in allocations]
        return self.send("PaymentReceived", {"payment_id": payment_id, "amount_minor": amount,
                                             "currency": currency, "allocations": allocs}, at, **kw)

    def credit(self, note_id: str, amount: int, invoice_id: str | None = None, *, at: str = "2026-01-10",
               currency: str = "USD", **kw: Any) -> list[dict[str, Any]]:
        return self.send("CreditNotePosted", {"credit_note_id": note_id, "amount_minor": amount,
                                              "currency": currency, "invoice_id": invoice_id}, at, **kw)

    def reverse(self, payment_id: str, reason: str = "NSF", *, at: str = "2026-01-12",
                **kw: Any) -> list[dict[str, Any]]:
        return self.send("PaymentReversed", {"payment_id": payment_id, "reason": reason}, at, **kw)

    def interest(self, note_id: str, amount: int, invoice_id: str | None = None, *, at: str = "2026-01-15",
                 currency: str = "USD", **kw: Any) -> list[dict[str, Any]]:
        return self.send("InterestAssessed", {"interest_note_id": note_id, "invoice_id": invoice_id,
                                              "amount_minor": amount, "currency": currency}, at, **kw)

    def write_off(self, write_off_id: str, invoice_id: str, amount: int, *, at: str = "2026-01-15",
                  currency: str = "USD", **kw: Any) -> list[dict[str, Any]]:
        return self.send("WriteOffPosted", {"write_off_id": write_off_id, "invoice_id": invoice_id,
                                            "amount_minor": amount, "currency": currency, "reason": "bad debt"},
                         at, **kw)

    def dispute(self, invoice_id: str, *, at: str = "2026-01-06", **kw: Any) -> list[dict[str, Any]]:
        return self.send("DisputeOpened", {"invoice_id": invoice_id, "reason": "damaged"}, at, **kw)

    def resolve(self, invoice_id: str, *, at: str = "2026-01-07", **kw: Any) -> list[dict[str, Any]]:
        return self.send("DisputeResolved", {"invoice_id": invoice_id, "resolution": "accepted"}, at, **kw)

    def promise(self, promise_id: str, amount: int, promised_date: str, *, at: str = "2026-03-01",
                currency: str = "USD", **kw: Any) -> list[dict[str, Any]]:
        return self.send("PromiseToPayRecorded", {"promise_id": promise_id, "promised_amount_minor": amount,
                                                  "currency": currency, "promised_date": promised_date,
                                                  "recorded_by": "ann"}, at, **kw)

    def letter(self, letter_id: str, *, at: str = "2026-03-01", **kw: Any) -> list[dict[str, Any]]:
        return self.send("CollectionLetterSent", {"letter_id": letter_id, "letter_code": "L1", "fee_minor": 500},
                         at, **kw)

    def note(self, note_id: str, *, at: str = "2026-03-01", **kw: Any) -> list[dict[str, Any]]:
        return self.send("CollectionNoteAdded", {"note_id": note_id, "author": "ann", "text": "called"}, at, **kw)

    def status(self, status: str, *, at: str = "2026-03-02", **kw: Any) -> list[dict[str, Any]]:
        return self.send("CaseStatusSet", {"status": status, "reason": "r", "set_by": "ann"}, at, **kw)

    def assign(self, owner: str, *, at: str = "2026-03-02", **kw: Any) -> list[dict[str, Any]]:
        return self.send("CaseAssigned", {"owner": owner}, at, **kw)

    def risk(self, score: int, *, at: str = "2026-03-02", **kw: Any) -> list[dict[str, Any]]:
        return self.send("RiskScoreChanged", {"score": score, "model": "m1"}, at, **kw)

    def close_day(self, business_date: str, *, company: str = COMPANY, **kw: Any) -> list[dict[str, Any]]:
        return self.send("BusinessDayClosed", {"business_date": business_date}, f"{business_date}T23:59:59Z",
                         account="", company=company, **kw)

    # --- views ---------------------------------------------------------------------------------
    def open_of(self, invoice_id: str, stream: str = STREAM) -> int:
        return self.state.accounts[stream].invoices[invoice_id].open

    def unapplied(self, stream: str = STREAM) -> int:
        return sum(self.state.accounts[stream].credits.values())


def types(records: list[dict[str, Any]]) -> list[str]:
    return [r["event_type"] for r in records]


def apps(record: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    return [(a["invoice_id"], a["amount_minor"], a["document_id"], a["kind"]) for a in record["applications"]]
