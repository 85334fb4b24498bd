"""The IBM accounts-receivable sample (one row per invoice) as a time-ordered stream of ledger events.

Per invoice: `InvoicePosted` on its invoice date; for disputed ones `DisputeOpened` the same day
and `DisputeResolved` on the settled date; `PaymentReceived` allocated to it on the settled
date. After each calendar day's events, a `BusinessDayClosed` for that day (every partition).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Iterator

from casefile.errors import CasefileError
from processor.domain.ledger_event import LedgerEvent
from schemas.ledger_models import InvalidEvent, validate_ledger_event

CURRENCY = "USD"


@dataclass(frozen=True)
class SampleInvoice:
    customer: str
    invoice: str
    invoice_date: date
    due_date: date
    amount_minor: int
    disputed: bool
    settled_date: date
    days_late: int


def _date(text: str) -> date:
    return datetime.strptime(text.strip(), "%m/%d/%Y").date()


def read_sample(path: Path) -> list[SampleInvoice]:
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise CasefileError(f"cannot read {path}: {exc.strerror}") from None
    rows = []
    with handle:
        for lineno, row in enumerate(csv.DictReader(handle), start=2):
            try:
                rows.append(SampleInvoice(
                    customer=row["customerID"].strip(), invoice=row["invoiceNumber"].strip(),
                    invoice_date=_date(row["InvoiceDate"]), due_date=_date(row["DueDate"]),
                    amount_minor=int((Decimal(row["InvoiceAmount"]) * 100).to_integral_value()),
                    disputed=row["Disputed"].strip().lower() == "yes",
                    settled_date=_date(row["SettledDate"]), days_late=int(row["DaysLate"])))
            except (KeyError, ValueError, InvalidOperation) as exc:
                raise CasefileError(f"{path}:{lineno}: not an IBM AR sample row ({exc})") from None
    return rows


def _event(event_id: str, type_: str, company: str, account: str, when: str, payload: dict) -> LedgerEvent:
    try:
        return validate_ledger_event({"event_id": event_id, "type": type_, "company": company,
                                      "customer_account": account, "occurred_at": when,
                                      "source": "ibm-ar-sample", "payload": payload})
    except InvalidEvent as exc:
        raise CasefileError(f"invoice {event_id}: {exc.reason}") from None


def sample_events(rows: list[SampleInvoice], company: str = "IBM") -> Iterator[tuple[LedgerEvent, bool]]:
    """(event, to_every_partition) in business-time order, a day close after each day."""
    by_day: dict[date, list[tuple[str, LedgerEvent]]] = {}

    def add(day: date, order: str, event: LedgerEvent) -> None:
        by_day.setdefault(day, []).append((order, event))

    for r in rows:
        inv, acct = r.invoice, r.customer
        add(r.invoice_date, f"1{acct}{inv}", _event(
            f"ibm/{inv}/posted", "InvoicePosted", company, acct, f"{r.invoice_date}T09:00:00Z",
            {"invoice_id": inv, "invoice_date": str(r.invoice_date), "due_date": str(r.due_date),
             "amount_minor": r.amount_minor, "currency": CURRENCY}))
        if r.disputed:
            add(r.invoice_date, f"2{acct}{inv}", _event(
                f"ibm/{inv}/dispute-opened", "DisputeOpened", company, acct, f"{r.invoice_date}T10:00:00Z",
                {"invoice_id": inv, "reason": "disputed in the sample"}))
            add(r.settled_date, f"3{acct}{inv}", _event(
                f"ibm/{inv}/dispute-resolved", "DisputeResolved", company, acct, f"{r.settled_date}T11:00:00Z",
                {"invoice_id": inv, "resolution": "settled"}))
        add(r.settled_date, f"4{acct}{inv}", _event(
            f"ibm/{inv}/paid", "PaymentReceived", company, acct, f"{r.settled_date}T12:00:00Z",
            {"payment_id": f"PAY-{inv}", "amount_minor": r.amount_minor, "currency": CURRENCY,
             "allocations": [{"invoice_id": inv, "amount_minor": r.amount_minor}]}))
    if not by_day:
        return
    day, last = min(by_day), max(by_day)
    while day <= last:
        for _, event in sorted(by_day.get(day, ()), key=lambda pair: pair[0]):
            yield event, False
        yield _event(f"close-day/{company}/{day}", "BusinessDayClosed", company, "", f"{day}T23:59:59Z",
                     {"business_date": str(day)}), True
        day += timedelta(days=1)
