"""Hand-written case-file log records for tests (what fastavro decodes, plus log coordinates).

`LogBuilder` fills the envelope (stream versions, event ids, a fake hash chain, offsets per
partition) so a test only states the data fields of docs/log-events.md.
"""
from __future__ import annotations

import hashlib
from typing import Any

LOG_TOPIC = "collections.casefile.v1"

FIELDS = (
    "event_id", "stream_id", "stream_version", "case_id", "event_type", "company",
    "customer_account", "occurred_at", "recorded_at", "source_event_id", "source_digest",
    "source_topic", "source_partition", "source_offset", "policy_version", "document_id",
    "invoice_id", "amount_minor", "currency", "invoice_date", "due_date", "business_date",
    "promised_date", "applications", "unapplied_minor", "reason", "status", "actor", "owner",
    "trigger_rule", "outcome", "letter_code", "model", "text", "score", "disputed",
    "prev_hash", "hash",
)


def app(invoice_id: str, amount_minor: int, document_id: str, kind: str) -> dict[str, Any]:
    return {"invoice_id": invoice_id, "amount_minor": amount_minor,
            "document_id": document_id, "kind": kind}


class LogBuilder:
    def __init__(self, company: str = "USMF", topic: str = LOG_TOPIC) -> None:
        self.company = company
        self.topic = topic
        self.records: list[dict[str, Any]] = []
        self._versions: dict[str, int] = {}
        self._hashes: dict[str, str] = {}
        self._offsets: dict[int, int] = {}
        self._source = 0

    def add(self, event_type: str, account: str, occurred_at: str, partition: int = 0,
            source_event_id: str | None = None, **data: Any) -> dict[str, Any]:
        """One record; `account` "" is the company's clock stream on `partition`."""
        stream = (f"{self.company}/{account}" if account
                  else f"{self.company}/#p{partition}")
        version = self._versions.get(stream, 0) + 1
        self._versions[stream] = version
        self._source += 1
        source = source_event_id or f"e-{self._source:06d}"
        prev = self._hashes.get(stream, "0" * 64)
        rec: dict[str, Any] = {name: None for name in FIELDS}
        rec.update(
            event_id=f"{source}#{stream}#0", stream_id=stream, stream_version=version,
            event_type=event_type, company=self.company, customer_account=account,
            occurred_at=occurred_at, recorded_at=1_767_225_600_000 + self._source,
            source_event_id=source, source_digest="d" * 64, source_topic="ar.ledger.v1",
            source_partition=partition, source_offset=self._source, policy_version="p" * 16,
            applications=[], prev_hash=prev,
        )
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise KeyError(f"not a log record field: {sorted(unknown)}")
        rec.update(data)
        rec["hash"] = hashlib.sha256((prev + repr(sorted(rec.items()))).encode()).hexdigest()
        self._hashes[stream] = rec["hash"]
        offset = self._offsets.get(partition, 0)
        self._offsets[partition] = offset + 1
        rec.update(_topic=self.topic, _partition=partition, _offset=offset)
        self.records.append(rec)
        return rec

    def positions(self, records: list[dict[str, Any]] | None = None) -> dict[tuple[str, int], int]:
        """(topic, partition) -> next offset after `records` (default: all so far)."""
        out: dict[tuple[str, int], int] = {}
        for rec in self.records if records is None else records:
            out[(rec["_topic"], rec["_partition"])] = rec["_offset"] + 1
        return out


def collections_scenario() -> LogBuilder:
    """Every case-file record type over three accounts and two partitions (the expectations
    in tests/integration/test_projection_store.py are computed by hand from it)."""
    log = LogBuilder()
    c1, c2, c3 = "C1", "C2", "C3"
    k1, k2 = "USMF/C1/1", "USMF/C2/1"
    log.add("InvoicePosted", c3, "2026-01-01T09:00:00Z", partition=1, document_id="INV-9",
            invoice_date="2026-01-01", due_date="2026-01-15", amount_minor=9000, currency="USD")
    log.add("InvoicePosted", c1, "2026-01-05T10:00:00Z", document_id="INV-1",
            invoice_date="2026-01-05", due_date="2026-02-04", amount_minor=100000, currency="USD")
    log.add("InvoicePosted", c1, "2026-01-10T10:00:00Z", document_id="INV-2",
            invoice_date="2026-01-10", due_date="2026-01-20", amount_minor=50000, currency="USD")
    for day in ("2026-01-31", "2026-02-25"):
        log.add("BusinessDayClosed", "", f"{day}T23:00:00Z", partition=1, business_date=day)
        clock = log.add("BusinessDayClosed", "", f"{day}T23:00:00Z", business_date=day)
    src = clock["source_event_id"]
    log.add("CaseOpened", c1, "2026-02-25T23:00:00Z", source_event_id=src, case_id=k1,
            trigger_rule="aging", amount_minor=50000, business_date="2026-02-25", status="Open")
    log.add("InvoiceAttached", c1, "2026-02-25T23:00:00Z", source_event_id=src, case_id=k1,
            invoice_id="INV-2", amount_minor=50000, due_date="2026-01-20", disputed=False)
    log.add("InvoiceAttached", c1, "2026-02-25T23:00:00Z", source_event_id=src, case_id=k1,
            invoice_id="INV-1", amount_minor=100000, due_date="2026-02-04", disputed=False)
    log.add("PromiseRecorded", c1, "2026-02-26T09:00:00Z", case_id=k1, document_id="P1",
            amount_minor=60000, currency="USD", promised_date="2026-03-01", actor="bob")
    log.add("LetterLogged", c1, "2026-02-26T10:00:00Z", case_id=k1, document_id="L1",
            letter_code="D1", amount_minor=500)
    log.add("NoteLogged", c1, "2026-02-26T11:00:00Z", case_id=k1, document_id="N1",
            actor="bob", text="called the customer")
    log.add("CaseAssigned", c1, "2026-02-26T12:00:00Z", case_id=k1, owner="alice")
    log.add("CaseStatusChanged", c1, "2026-02-26T13:00:00Z", case_id=k1, status="InProgress",
            reason="working", actor="alice")
    pay = log.add("PaymentReceived", c1, "2026-02-27T10:00:00Z", case_id=k1, document_id="PAY-1",
                  amount_minor=80000, currency="USD",
                  applications=[app("INV-2", -50000, "PAY-1", "payment"),
                                app("INV-1", -30000, "PAY-1", "payment")])
    src = pay["source_event_id"]
    log.add("PaymentAppliedToCase", c1, "2026-02-27T10:00:00Z", source_event_id=src,
            case_id=k1, document_id="PAY-1", amount_minor=80000)
    log.add("PromiseKept", c1, "2026-02-27T10:00:00Z", source_event_id=src, case_id=k1,
            document_id="P1", amount_minor=80000, promised_date="2026-03-01")
    interest = log.add("InterestAssessed", c1, "2026-02-28T10:00:00Z", case_id=k1,
                       document_id="INT-1", invoice_id="INV-1", amount_minor=1000,
                       currency="USD", applications=[app("INV-1", 1000, "INT-1", "interest")])
    log.add("InterestAdjusted", c1, "2026-02-28T10:00:00Z",
            source_event_id=interest["source_event_id"], case_id=k1, document_id="INT-1",
            invoice_id="INV-1", amount_minor=1000)
    wo = log.add("WriteOffPosted", c1, "2026-03-02T10:00:00Z", case_id=k1, document_id="WO-1",
                 invoice_id="INV-1", amount_minor=71000, currency="USD", reason="small balance",
                 applications=[app("INV-1", -71000, "WO-1", "write_off")])
    log.add("CaseClosed", c1, "2026-03-02T10:00:00Z", source_event_id=wo["source_event_id"],
            case_id=k1, outcome="mixed", status="Closed")
    log.add("PaymentReceived", c2, "2026-03-03T10:00:00Z", document_id="PAY-9",
            amount_minor=20000, currency="USD", unapplied_minor=20000)
    log.add("InvoicePosted", c2, "2026-03-04T10:00:00Z", document_id="INV-3",
            invoice_date="2026-03-04", due_date="2026-04-03", amount_minor=15000, currency="USD",
            applications=[app("INV-3", -15000, "PAY-9", "payment")], unapplied_minor=-15000)
    log.add("InterestAssessed", c2, "2026-03-05T09:00:00Z", document_id="INT-2",
            amount_minor=2000, currency="USD", invoice_date="2026-03-05", due_date="2026-03-05",
            applications=[app("INT-2", 2000, "INT-2", "interest"),
                          app("INT-2", -2000, "PAY-9", "payment")], unapplied_minor=-2000)
    log.add("PaymentReceived", c3, "2026-03-15T10:00:00Z", partition=1, document_id="PAY-3",
            amount_minor=4000, currency="USD",
            applications=[app("INV-9", -4000, "PAY-3", "payment")])
    log.add("PaymentReversed", c2, "2026-03-06T10:00:00Z", document_id="PAY-9", reason="NSF",
            amount_minor=20000, unapplied_minor=-3000,
            applications=[app("INV-3", 15000, "PAY-9", "reversal"),
                          app("INT-2", 2000, "PAY-9", "reversal")])
    log.add("DisputeOpened", c2, "2026-03-07T10:00:00Z", invoice_id="INV-3", reason="price",
            disputed=True)
    log.add("PromiseRecorded", c2, "2026-03-07T11:00:00Z", document_id="P2",
            amount_minor=10000, currency="USD", promised_date="2026-03-10", actor="carol")
    log.add("CreditNotePosted", c1, "2026-03-08T10:00:00Z", document_id="CN-1",
            amount_minor=500, currency="USD", unapplied_minor=500)
    log.add("BusinessDayClosed", "", "2026-03-31T23:00:00Z", partition=1,
            business_date="2026-03-31")
    clock = log.add("BusinessDayClosed", "", "2026-03-31T23:00:00Z", business_date="2026-03-31")
    log.add("PromiseBroken", c2, "2026-03-31T23:00:00Z",
            source_event_id=clock["source_event_id"], document_id="P2", amount_minor=0,
            promised_date="2026-03-10", business_date="2026-03-31")
    risk = log.add("RiskScoreChanged", c2, "2026-04-01T08:00:00Z", score=85, model="m1")
    src = risk["source_event_id"]
    log.add("CaseOpened", c2, "2026-04-01T08:00:00Z", source_event_id=src, case_id=k2,
            trigger_rule="risk", amount_minor=2000, score=85, business_date="2026-03-31",
            status="Open")
    log.add("InvoiceAttached", c2, "2026-04-01T08:00:00Z", source_event_id=src, case_id=k2,
            invoice_id="INT-2", amount_minor=2000, due_date="2026-03-05", disputed=False)
    log.add("PromiseRecorded", c2, "2026-04-02T09:00:00Z", case_id=k2, document_id="P3",
            amount_minor=2000, currency="USD", promised_date="2026-04-05", actor="carol")
    pay = log.add("PaymentReceived", c2, "2026-04-03T10:00:00Z", case_id=k2,
                  document_id="PAY-10", amount_minor=1000, currency="USD",
                  applications=[app("INT-2", -1000, "PAY-10", "payment")])
    log.add("PaymentAppliedToCase", c2, "2026-04-03T10:00:00Z",
            source_event_id=pay["source_event_id"], case_id=k2, document_id="PAY-10",
            amount_minor=1000)
    log.add("DisputeResolved", c2, "2026-04-04T10:00:00Z", case_id=k2, invoice_id="INV-3",
            reason="agreed", disputed=False)
    log.add("BusinessDayClosed", "", "2026-04-10T23:00:00Z", partition=1,
            business_date="2026-04-10")
    clock = log.add("BusinessDayClosed", "", "2026-04-10T23:00:00Z", business_date="2026-04-10")
    log.add("PromisePartiallyKept", c2, "2026-04-10T23:00:00Z",
            source_event_id=clock["source_event_id"], case_id=k2, document_id="P3",
            amount_minor=1000, promised_date="2026-04-05", business_date="2026-04-10")
    log.add("CaseClosed", c2, "2026-04-11T09:00:00Z", case_id=k2, outcome="manual",
            status="Closed", reason="handled", actor="alice")
    return log


class ScriptedSource:
    """A `prefetch.LogSource` that replays given events, then fails with `fail` if set, or
    blocks forever if `block` (for tests of the reader process)."""

    def __init__(self, events: list[Any], fail: str | None = None, block: bool = False) -> None:
        self.scripted, self.fail, self.block = events, fail, block

    def events(self) -> Any:
        import time

        yield from self.scripted
        if self.fail:
            raise RuntimeError(self.fail)
        while self.block:
            time.sleep(1)


class EnvironmentProbe:
    """A `prefetch.LogSource` that reports the reader process's values of `names` as its one
    status (for tests of the environment the reader process starts with)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def events(self) -> Any:
        import os

        from projections.prefetch import Idle

        yield Idle({name: os.environ.get(name) for name in self.names})
