"""Builders for the data part of case-file log records (docs/log-events.md)."""
from __future__ import annotations

from typing import Any

from processor.domain.account_state import AccountState

Record = dict[str, Any]


def account_record(account: AccountState, occurred_at: str, event_type: str, case_id: str | None,
                   **data: Any) -> Record:
    """A record on the account's stream; `applications` is always present ([] when none)."""
    rec: Record = {
        "stream_id": account.stream_id,
        "event_type": event_type,
        "case_id": case_id,
        "company": account.company,
        "customer_account": account.customer_account,
        "occurred_at": occurred_at,
        "applications": [],
    }
    rec.update(data)
    return rec


def clock_record(company: str, partition: int, occurred_at: str, business_date: str) -> Record:
    """The day-close record on the company's clock stream of this partition."""
    return {
        "stream_id": f"{company}/#p{partition}",
        "event_type": "BusinessDayClosed",
        "case_id": None,
        "company": company,
        "customer_account": "",
        "occurred_at": occurred_at,
        "business_date": business_date,
        "applications": [],
    }


def application(invoice_id: str, amount_minor: int, document_id: str, kind: str) -> dict[str, Any]:
    return {"invoice_id": invoice_id, "amount_minor": amount_minor, "document_id": document_id, "kind": kind}


def nonzero(amount: int) -> int | None:
    """`unapplied_minor` is null when the unapplied credit did not change."""
    return amount or None
