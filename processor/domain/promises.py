"""Promises to pay: which payments count, when one is kept, partially kept or broken."""
from __future__ import annotations

from processor.domain.account_state import AccountState, Promise
from processor.domain.aging import add_days
from processor.domain.ledger_event import LedgerEvent
from processor.domain.policy import Policy
from processor.domain.records import Record, account_record


def window_end(promise: Promise, policy: Policy) -> str:
    return add_days(promise.promised_date, policy.promise_tolerance_days)


def paid_in_window(promise: Promise, policy: Policy) -> int:
    """Full amounts of the payments dated from the recording day up to promised date + tolerance."""
    end = window_end(promise, policy)
    return sum(amount for day, amount in promise.payments.values() if day <= end)


def counts_toward(promise: Promise, payment_date: str, policy: Policy) -> bool:
    return promise.recorded_on <= payment_date <= window_end(promise, policy)


def promise_recorded(account: AccountState, event: LedgerEvent, currency: str) -> Record:
    p = event.payload
    return account_record(account, event.occurred_at, "PromiseRecorded", account.case_id,
                          document_id=p["promise_id"], amount_minor=p["promised_amount_minor"],
                          currency=currency, promised_date=p["promised_date"], actor=p["recorded_by"])


def kept_by_payment(account: AccountState, event: LedgerEvent, policy: Policy) -> list[Record]:
    """PromiseKept as soon as the payments in its window reach the promised amount."""
    promise = account.promise
    if promise is None or not counts_toward(promise, event.business_date, policy):
        return []
    paid = paid_in_window(promise, policy) + event.payload["amount_minor"]
    if paid < promise.amount:
        return []
    return [account_record(account, event.occurred_at, "PromiseKept", account.case_id,
                           document_id=promise.promise_id, amount_minor=paid,
                           promised_date=promise.promised_date)]


def outcome_at_day_close(account: AccountState, occurred_at: str, as_of: str, policy: Policy) -> list[Record]:
    """At the first day close past the window: partially kept if anything was paid, else broken."""
    promise = account.promise
    if promise is None or as_of <= window_end(promise, policy):
        return []
    paid = paid_in_window(promise, policy)
    # Kept is normally decided by the payment itself; this only catches a promise of 0.
    kind = "PromiseKept" if paid >= promise.amount else "PromisePartiallyKept" if paid > 0 else "PromiseBroken"
    return [account_record(account, occurred_at, kind, account.case_id, document_id=promise.promise_id,
                           amount_minor=paid, promised_date=promise.promised_date,
                           business_date=None if kind == "PromiseKept" else as_of)]
