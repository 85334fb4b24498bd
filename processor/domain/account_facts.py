"""The account fact each ledger event becomes: the rules that accept or reject it, and the
applications (open-amount changes) it causes. Pure: the account is only read."""
from __future__ import annotations

from processor.domain.account_state import AccountState
from processor.domain.ledger_event import LedgerEvent
from processor.domain.policy import Policy
from processor.domain.records import Record, account_record, application, nonzero
from processor.domain.rejection import Rejected
from processor.domain.settlement import (
    open_of, reversal_applications, settle_from_credit, settle_oldest_first, unapplied_of_payment,
)


def check_currency(event: LedgerEvent, policy: Policy) -> str:
    currency = event.payload["currency"]
    expected = policy.currency_of(event.company)
    if currency != expected:
        raise Rejected("currency_mismatch", f"{event.type} in {currency}, company {event.company} books {expected}")
    return currency


def known_invoice(account: AccountState, invoice_id: str) -> None:
    if invoice_id not in account.invoices:
        raise Rejected("unknown_reference", f"invoice {invoice_id!r} does not exist for {account.stream_id}")


def invoice_posted(account: AccountState, event: LedgerEvent, policy: Policy) -> Record:
    p = event.payload
    currency = check_currency(event, policy)
    invoice_id = p["invoice_id"]
    if invoice_id in account.invoices:
        raise Rejected("duplicate_document", f"invoice {invoice_id!r} already exists")
    apps = settle_from_credit(account, invoice_id, p["amount_minor"])
    return account_record(
        account, event.occurred_at, "InvoicePosted", account.case_id,
        document_id=invoice_id, invoice_date=p["invoice_date"], due_date=p["due_date"],
        amount_minor=p["amount_minor"], currency=currency, applications=apps,
        unapplied_minor=nonzero(sum(a["amount_minor"] for a in apps)),
    )


def payment_received(account: AccountState, event: LedgerEvent, policy: Policy) -> Record:
    p = event.payload
    currency = check_currency(event, policy)
    payment_id, amount = p["payment_id"], p["amount_minor"]
    if payment_id in account.payments:
        raise Rejected("duplicate_document", f"payment {payment_id!r} already exists")
    opens: dict[str, int] = {}
    apps = []
    left = amount
    for alloc in p.get("allocations") or ():
        invoice_id, take = alloc["invoice_id"], alloc["amount_minor"]
        known_invoice(account, invoice_id)
        if take <= 0:
            raise Rejected("validation", f"allocation to {invoice_id!r} must be positive")
        current = open_of(account, invoice_id, opens)
        if take > current:
            raise Rejected("over_application", f"allocation {take} to {invoice_id!r} exceeds its open {current}")
        if take > left:
            raise Rejected("over_application", f"allocations exceed the payment amount {amount}")
        opens[invoice_id] = current - take
        left -= take
        apps.append(application(invoice_id, -take, payment_id, "payment"))
    more, left = settle_oldest_first(account, left, payment_id, "payment", opens)
    apps.extend(more)
    return account_record(
        account, event.occurred_at, "PaymentReceived", account.case_id,
        document_id=payment_id, amount_minor=amount, currency=currency, applications=apps,
        unapplied_minor=nonzero(left),
    )


def credit_note_posted(account: AccountState, event: LedgerEvent, policy: Policy) -> Record:
    p = event.payload
    currency = check_currency(event, policy)
    note_id, amount, invoice_id = p["credit_note_id"], p["amount_minor"], p.get("invoice_id")
    if note_id in account.credit_note_ids:
        raise Rejected("duplicate_document", f"credit note {note_id!r} already exists")
    if invoice_id is not None:
        known_invoice(account, invoice_id)
        current = account.invoices[invoice_id].open
        if amount > current:
            raise Rejected("over_application", f"credit note {amount} exceeds {invoice_id!r} open {current}")
        apps = [application(invoice_id, -amount, note_id, "credit")]
        left = 0
    else:
        apps, left = settle_oldest_first(account, amount, note_id, "credit", {})
    return account_record(
        account, event.occurred_at, "CreditNotePosted", account.case_id,
        document_id=note_id, invoice_id=invoice_id, amount_minor=amount, currency=currency,
        applications=apps, unapplied_minor=nonzero(left),
    )


def payment_reversed(account: AccountState, event: LedgerEvent, policy: Policy) -> Record:
    p = event.payload
    payment_id = p["payment_id"]
    payment = account.payments.get(payment_id)
    if payment is None or payment.reversed:
        raise Rejected("unknown_reference", f"no unreversed payment {payment_id!r} for {account.stream_id}")
    return account_record(
        account, event.occurred_at, "PaymentReversed", account.case_id,
        document_id=payment_id, reason=p["reason"], amount_minor=payment.amount,
        applications=reversal_applications(payment_id, payment),
        unapplied_minor=nonzero(-unapplied_of_payment(account, payment_id)),
    )


def interest_assessed(account: AccountState, event: LedgerEvent, policy: Policy) -> Record:
    p = event.payload
    currency = check_currency(event, policy)
    note_id, amount, invoice_id = p["interest_note_id"], p["amount_minor"], p.get("invoice_id")
    if note_id in account.interest_note_ids:
        raise Rejected("duplicate_document", f"interest note {note_id!r} already exists")
    if amount == 0:
        raise Rejected("validation", "interest amount must not be zero")
    unapplied = None
    if invoice_id is None:
        if amount < 0:
            raise Rejected("validation", "an interest waiver (negative amount) needs an invoice_id")
        if note_id in account.invoices:
            raise Rejected("duplicate_document", f"a receivable {note_id!r} already exists")
        # A receivable of its own starts at open 0 and its `interest` application adds the
        # amount, so every interest shows as kind `interest`; unapplied credit then settles it
        # like a new invoice.
        from_credit = settle_from_credit(account, note_id, amount)
        apps = [application(note_id, amount, note_id, "interest"), *from_credit]
        unapplied = nonzero(sum(a["amount_minor"] for a in from_credit))
    else:
        known_invoice(account, invoice_id)
        if amount < 0 and -amount > account.invoices[invoice_id].interest_open:
            raise Rejected("over_application", f"waiver {-amount} exceeds the interest open on {invoice_id!r}")
        apps = [application(invoice_id, amount, note_id, "interest")]
    return account_record(
        account, event.occurred_at, "InterestAssessed", account.case_id,
        document_id=note_id, invoice_id=invoice_id, amount_minor=amount, currency=currency,
        applications=apps, unapplied_minor=unapplied,
    )


def write_off_posted(account: AccountState, event: LedgerEvent, policy: Policy) -> Record:
    p = event.payload
    currency = check_currency(event, policy)
    write_off_id, invoice_id, amount = p["write_off_id"], p["invoice_id"], p["amount_minor"]
    if write_off_id in account.write_off_ids:
        raise Rejected("duplicate_document", f"write-off {write_off_id!r} already exists")
    known_invoice(account, invoice_id)
    current = account.invoices[invoice_id].open
    if amount > current:
        raise Rejected("over_application", f"write-off {amount} exceeds {invoice_id!r} open {current}")
    return account_record(
        account, event.occurred_at, "WriteOffPosted", account.case_id,
        document_id=write_off_id, invoice_id=invoice_id, amount_minor=amount, currency=currency,
        reason=p["reason"], applications=[application(invoice_id, -amount, write_off_id, "write_off")],
    )


def dispute_changed(account: AccountState, event: LedgerEvent, policy: Policy) -> Record:
    p = event.payload
    known_invoice(account, p["invoice_id"])
    opened = event.type == "DisputeOpened"
    return account_record(
        account, event.occurred_at, event.type, account.case_id,
        invoice_id=p["invoice_id"], reason=p["reason"] if opened else p["resolution"], disputed=opened,
    )


def risk_score_changed(account: AccountState, event: LedgerEvent, policy: Policy) -> Record:
    p = event.payload
    return account_record(account, event.occurred_at, "RiskScoreChanged", account.case_id,
                          score=p["score"], model=p["model"])
