"""evolve: apply one full log record to the state. The only place state changes; a restart
folds the log through it, so it reads nothing but the record's own fields."""
from __future__ import annotations

from typing import Any, Callable, Mapping

from processor.domain.account_state import AccountState, Case, Invoice, Payment, Promise
from processor.domain.case_rules import note_clearing
from processor.domain.partition_state import PartitionState

Rec = Mapping[str, Any]


def evolve(state: PartitionState, record: Rec) -> None:
    stream_id = record["stream_id"]
    state.heads[stream_id] = (record["stream_version"], record["hash"])
    state.seen[record["source_event_id"]] = record["source_digest"]
    event_type = record["event_type"]
    if event_type == "BusinessDayClosed":
        company, day = record["company"], record["business_date"]
        if day > state.clocks.get(company, ""):
            state.clocks[company] = day
        return
    account = state.account(record["company"], record["customer_account"])
    handler = _HANDLERS.get(event_type)
    if handler is not None:
        handler(account, record)


def _apply(account: AccountState, applications: Any, from_credit: bool = False) -> None:
    """Move open amounts; remember what each payment settled; count clearing for the case.
    `from_credit`: payment/credit applications consume the account's unapplied credit."""
    case = account.case
    invoices = account.invoices
    for app in applications or ():
        invoice_id, amount, doc, kind = app["invoice_id"], app["amount_minor"], app["document_id"], app["kind"]
        inv = invoices[invoice_id]
        inv.open += amount
        if inv.open > 0:
            account.open_ids.add(invoice_id)
        else:
            account.open_ids.discard(invoice_id)
        if kind == "interest":
            inv.interest += amount
        elif kind == "payment":
            settled = account.payments[doc].settled
            settled[invoice_id] = settled.get(invoice_id, 0) - amount
        if from_credit and kind in ("payment", "credit"):
            key = (kind, doc)
            left = account.credits[key] + amount
            if left > 0:
                account.credits[key] = left
            else:
                del account.credits[key]
        if case is not None and invoice_id in case.attached:
            note_clearing(case.cleared, kind, amount)


def _add_credit(account: AccountState, kind: str, doc: str, amount: int | None) -> None:
    if amount:
        account.credits[(kind, doc)] = account.credits.get((kind, doc), 0) + amount


def _new_receivable(account: AccountState, inv: Invoice) -> None:
    account.invoices[inv.invoice_id] = inv
    if inv.open > 0:
        account.open_ids.add(inv.invoice_id)


def _invoice_posted(account: AccountState, r: Rec) -> None:
    amount = r["amount_minor"]
    _new_receivable(account, Invoice(r["document_id"], r["invoice_date"], r["due_date"], amount, amount))
    _apply(account, r["applications"], from_credit=True)


def _payment_received(account: AccountState, r: Rec) -> None:
    payment_id, amount = r["document_id"], r["amount_minor"]
    account.payments[payment_id] = Payment(amount)
    _apply(account, r["applications"])
    _add_credit(account, "payment", payment_id, r.get("unapplied_minor"))
    promise = account.promise
    day = r["occurred_at"][:10]
    if promise is not None and day >= promise.recorded_on:
        promise.payments[payment_id] = (day, amount)


def _credit_note_posted(account: AccountState, r: Rec) -> None:
    account.credit_note_ids.add(r["document_id"])
    _apply(account, r["applications"])
    _add_credit(account, "credit", r["document_id"], r.get("unapplied_minor"))


def _payment_reversed(account: AccountState, r: Rec) -> None:
    payment_id = r["document_id"]
    payment = account.payments[payment_id]
    payment.reversed = True
    _apply(account, r["applications"])
    account.credits.pop(("payment", payment_id), None)
    if account.promise is not None:
        account.promise.payments.pop(payment_id, None)  # a bounced payment keeps no promise


def _interest_assessed(account: AccountState, r: Rec) -> None:
    note_id, amount = r["document_id"], r["amount_minor"]
    account.interest_note_ids.add(note_id)
    if r.get("invoice_id") is None:
        day = r["occurred_at"][:10]
        # opens at 0: the record's first application (kind interest) adds the amount
        _new_receivable(account, Invoice(note_id, day, day, amount, 0, kind="interest"))
        _apply(account, r["applications"], from_credit=True)
    else:
        _apply(account, r["applications"])


def _write_off_posted(account: AccountState, r: Rec) -> None:
    account.write_off_ids.add(r["document_id"])
    _apply(account, r["applications"])


def _dispute(account: AccountState, r: Rec) -> None:
    account.invoices[r["invoice_id"]].disputed = bool(r["disputed"])


def _risk(account: AccountState, r: Rec) -> None:
    account.risk_score = r["score"]


def _case_opened(account: AccountState, r: Rec) -> None:
    account.case = Case(r["case_id"], r["business_date"], r["trigger_rule"])
    account.case_count += 1


def _invoice_attached(account: AccountState, r: Rec) -> None:
    if account.case is not None:
        account.case.attached.add(r["invoice_id"])


def _case_assigned(account: AccountState, r: Rec) -> None:
    if account.case is not None:
        account.case.owner = r["owner"]


def _case_status(account: AccountState, r: Rec) -> None:
    if account.case is not None:
        account.case.status = r["status"]


def _case_closed(account: AccountState, r: Rec) -> None:
    account.case = None


def _promise_recorded(account: AccountState, r: Rec) -> None:
    # A new promise replaces the active one.
    account.promise = Promise(r["document_id"], r["amount_minor"], r["promised_date"], r["occurred_at"][:10])


def _promise_decided(account: AccountState, r: Rec) -> None:
    account.promise = None


def _nothing(account: AccountState, r: Rec) -> None:
    """Recorded for the read models; no decision depends on it."""


_HANDLERS: dict[str, Callable[[AccountState, Rec], None]] = {
    "InvoicePosted": _invoice_posted,
    "PaymentReceived": _payment_received,
    "CreditNotePosted": _credit_note_posted,
    "PaymentReversed": _payment_reversed,
    "InterestAssessed": _interest_assessed,
    "WriteOffPosted": _write_off_posted,
    "DisputeOpened": _dispute,
    "DisputeResolved": _dispute,
    "RiskScoreChanged": _risk,
    "CaseOpened": _case_opened,
    "InvoiceAttached": _invoice_attached,
    "CaseAssigned": _case_assigned,
    "CaseStatusChanged": _case_status,
    "CaseClosed": _case_closed,
    "PromiseRecorded": _promise_recorded,
    "PromiseKept": _promise_decided,
    "PromisePartiallyKept": _promise_decided,
    "PromiseBroken": _promise_decided,
    "PaymentAppliedToCase": _nothing,
    "InterestAdjusted": _nothing,
    "LetterLogged": _nothing,
    "NoteLogged": _nothing,
}
