"""Fold one case-file log record into the projection state: one applier per event type.

`apply_record` does what every record shares (its account, its day, its case's version and
last activity), then calls the applier of its type. Account facts that move open amounts
fold their `applications`; `unapplied_minor` moves the account's unapplied credit.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from processor.domain.aging import days_between
from processor.domain.policy import Policy
from projections.buckets import book_of
from projections.state import Account, ProjectionState, Row, new_case, new_invoice

Record = dict[str, Any]
CURED_OUTCOMES = ("paid", "credited")


class Ctx:
    """What an applier gets: the state, the record, its account, its case and its day."""

    __slots__ = ("state", "rec", "acct", "case", "day", "policy")

    def __init__(self, state: ProjectionState, rec: Record, acct: Account, case: Row | None,
                 day: str, policy: Policy):
        self.state, self.rec, self.acct, self.case, self.day, self.policy = (
            state, rec, acct, case, day, policy)

    def daily(self, day: str | None = None) -> Row:
        return self.state.daily_row(self.acct.company, day or self.day)


def utc_moment(occurred_at: str) -> datetime:
    if occurred_at[-1:] == "Z":  # the log's own form: already UTC (same value, 5x faster)
        return datetime.fromisoformat(occurred_at[:-1])
    moment = datetime.fromisoformat(occurred_at)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


# --- open amounts -------------------------------------------------------------------------

def _settle(state: ProjectionState, inv: Row, day: str, kind: str) -> None:
    inv["status"] = "settled"
    inv["settled_on"] = day
    inv["days_late"] = None
    if kind == "payment" and inv["due_date"] is not None:
        late = max(0, days_between(inv["due_date"], day))
        inv["days_late"] = late
        amount = inv["amount_minor"]
        state.add_stat(state.late_stats, inv["company"], day, (1, late, late * amount, amount))


def _reopen(state: ProjectionState, inv: Row) -> None:
    late, settled_on = inv["days_late"], inv["settled_on"]
    if late is not None and settled_on is not None:
        amount = inv["amount_minor"]
        state.add_stat(state.late_stats, inv["company"], settled_on,
                       (1, late, late * amount, amount), sign=-1)
    inv["status"] = "open"
    inv["settled_on"] = None
    inv["days_late"] = None


def fold_applications(ctx: Ctx) -> None:
    """Apply every open-amount change of the record, in order; settle / reopen invoices."""
    apply_amounts(ctx.state, ctx.acct, ctx.case, ctx.day,
                  [(a["invoice_id"], a["amount_minor"], a["kind"]) for a in ctx.rec["applications"]])


def apply_amounts(state: ProjectionState, acct: Account, case: Row | None, day: str,
                  applications: Iterable[tuple[str, int, str]]) -> None:
    """`fold_applications` for (invoice id, amount, kind) triples, in order."""
    touched = state.touched
    dirty = acct.dirty
    for invoice_id, amount, kind in applications:
        inv = acct.invoices.get(invoice_id)
        if inv is None:  # not in the log before: keep the books balanced anyway
            inv = acct.invoices[invoice_id] = new_invoice(acct.company, acct.customer_account,
                                                          invoice_id)
        before = inv["open_minor"]
        after = inv["open_minor"] = before + amount
        dirty.append(inv)
        if kind == "interest":
            inv["interest_minor"] += amount
        if after != 0:
            acct.open[invoice_id] = inv
            if inv["status"] == "settled":
                _reopen(state, inv)
        else:
            acct.open.pop(invoice_id, None)
            if before != 0:
                _settle(state, inv, day, kind)
        touched.invoices.add((acct.company, acct.customer_account, invoice_id))
        case_id = inv["case_id"]
        if case_id is not None:
            touched.cases.add(case_id)
            if (kind == "write_off" and case is not None and case_id == case["case_id"]
                    and case["status"] != "Closed"):
                case["written_off_minor"] -= amount
                state.daily_row(acct.company, day)["written_off_minor"] -= amount


# --- account facts ------------------------------------------------------------------------

def invoice_posted(ctx: Ctx) -> None:
    rec = ctx.rec
    post_invoice(ctx.state, ctx.acct, rec["document_id"] or rec["invoice_id"], rec["invoice_date"],
                 rec["due_date"], rec["amount_minor"], ctx.day)
    fold_applications(ctx)


def post_invoice(state: ProjectionState, acct: Account, invoice_id: str, invoice_date: str | None,
                 due_date: str | None, amount: int, day: str) -> None:
    """The posting itself: the invoice's row (new, or the one applications reached first), its
    open amount, the day's credit sales."""
    inv = acct.invoices.get(invoice_id)
    if inv is None:
        inv = acct.invoices[invoice_id] = new_invoice(acct.company, acct.customer_account, invoice_id)
    open_minor = amount + inv["open_minor"]
    inv["invoice_date"], inv["due_date"] = invoice_date, due_date
    inv["amount_minor"], inv["open_minor"] = amount, open_minor
    if open_minor != 0:
        inv["status"] = "open"
        acct.open[invoice_id] = inv
    acct.dirty.append(inv)
    state.touched.invoices.add((acct.company, acct.customer_account, invoice_id))
    state.daily_row(acct.company, day)["credit_sales_minor"] += amount


def interest_assessed(ctx: Ctx) -> None:
    rec, acct = ctx.rec, ctx.acct
    if rec["invoice_id"] is None:  # a receivable of its own, its id the interest note id
        note_id = rec["document_id"]
        inv = new_invoice(acct.company, acct.customer_account, note_id, kind="interest")
        inv.update(invoice_date=rec["invoice_date"] or ctx.day,
                   due_date=rec["due_date"] or ctx.day, amount_minor=rec["amount_minor"])
        # The domain writes an `interest` application adding the amount to the new receivable
        # (it starts at 0); a record without one creates it open at its amount.
        adds_itself = any(a["invoice_id"] == note_id and a["kind"] == "interest"
                          for a in rec["applications"])
        if not adds_itself:
            inv["open_minor"] = inv["interest_minor"] = rec["amount_minor"]
            inv["status"] = "open"
            acct.open[note_id] = inv
        acct.invoices[note_id] = inv
        acct.dirty.append(inv)
        ctx.state.touched.invoices.add((acct.company, acct.customer_account, note_id))
    fold_applications(ctx)


def dispute_changed(ctx: Ctx) -> None:
    rec, acct = ctx.rec, ctx.acct
    inv = acct.invoices.get(rec["invoice_id"])
    if inv is not None:
        disputed = rec["disputed"]
        inv["disputed"] = (rec["event_type"] == "DisputeOpened") if disputed is None else disputed
        ctx.state.touched.invoices.add((acct.company, acct.customer_account, rec["invoice_id"]))


# --- case events --------------------------------------------------------------------------

def case_opened(ctx: Ctx) -> None:
    rec, case = ctx.rec, ctx.case
    assert case is not None
    case["status"] = rec["status"] or "Open"
    case["opened_on"] = rec["business_date"] or ctx.day
    case["trigger_rule"] = rec["trigger_rule"]
    case["overdue_at_open_minor"] = rec["amount_minor"]
    case["score_at_open"] = rec["score"]
    ctx.daily(case["opened_on"])["cases_opened"] += 1


def invoice_attached(ctx: Ctx) -> None:
    if ctx.case is not None:
        attach_invoice(ctx.state, ctx.acct, ctx.case["case_id"], ctx.rec["invoice_id"])


def attach_invoice(state: ProjectionState, acct: Account, case_id: str, invoice_id: str) -> None:
    """The invoice (if the log has it) now belongs to the case, and no longer to another one."""
    inv = acct.invoices.get(invoice_id)
    if inv is None:
        return
    old = inv["case_id"]
    if old is not None and old != case_id:
        state.case_invoices.get(old, set()).discard(invoice_id)
        state.touched.cases.add(old)
    inv["case_id"] = case_id
    state.case_invoices.setdefault(case_id, set()).add(invoice_id)
    state.touched.invoices.add((acct.company, acct.customer_account, invoice_id))


def promise_recorded(ctx: Ctx) -> None:
    ctx.daily()["promises_made"] += 1
    if ctx.case is not None:
        ctx.case["promised_minor"] += ctx.rec["amount_minor"] or 0


def _promise_outcome(counter: str, case_counter: str) -> Callable[[Ctx], None]:
    def applier(ctx: Ctx) -> None:
        ctx.daily(ctx.rec["business_date"])[counter] += 1
        if ctx.case is not None:
            ctx.case[case_counter] += 1
    applier.__name__ = f"promise_{counter}"
    return applier


def _case_counter(column: str) -> Callable[[Ctx], None]:
    def applier(ctx: Ctx) -> None:
        if ctx.case is not None:
            ctx.case[column] += 1
    applier.__name__ = f"count_{column}"
    return applier


def payment_applied_to_case(ctx: Ctx) -> None:
    amount = ctx.rec["amount_minor"] or 0
    if ctx.case is not None:
        ctx.case["collected_minor"] += amount
    ctx.daily()["collected_minor"] += amount


def case_assigned(ctx: Ctx) -> None:
    if ctx.case is not None:
        ctx.case["owner"] = ctx.rec["owner"]


def case_status_changed(ctx: Ctx) -> None:
    if ctx.case is not None and ctx.rec["status"]:
        ctx.case["status"] = ctx.rec["status"]


def case_closed(ctx: Ctx) -> None:
    case, rec = ctx.case, ctx.rec
    if case is None or case["closed_on"] is not None:
        return
    case["status"] = rec["status"] or "Closed"
    case["closed_on"] = ctx.day
    case["outcome"] = rec["outcome"]
    ctx.daily()["cases_closed"] += 1
    days = days_between(case["opened_on"], ctx.day) if case["opened_on"] else 0
    cured = 1 if rec["outcome"] in CURED_OUTCOMES else 0
    ctx.state.add_stat(ctx.state.close_stats, case["company"], ctx.day, (1, cured, days))


def no_effect(ctx: Ctx) -> None:
    """Recorded in `casefile_events` and the case's version only."""


APPLIERS: dict[str, Callable[[Ctx], None]] = {
    "InvoicePosted": invoice_posted,
    "PaymentReceived": fold_applications,
    "CreditNotePosted": fold_applications,
    "PaymentReversed": fold_applications,
    "InterestAssessed": interest_assessed,
    "WriteOffPosted": fold_applications,
    "DisputeOpened": dispute_changed,
    "DisputeResolved": dispute_changed,
    "RiskScoreChanged": no_effect,
    "CaseOpened": case_opened,
    "InvoiceAttached": invoice_attached,
    "PromiseRecorded": promise_recorded,
    "PromiseKept": _promise_outcome("promises_kept", "promises_kept"),
    "PromisePartiallyKept": _promise_outcome("promises_partially_kept", "promises_partially_kept"),
    "PromiseBroken": _promise_outcome("promises_broken", "promises_broken"),
    "LetterLogged": _case_counter("letters_sent"),
    "NoteLogged": _case_counter("notes_count"),
    "InterestAdjusted": no_effect,
    "PaymentAppliedToCase": payment_applied_to_case,
    "CaseAssigned": case_assigned,
    "CaseStatusChanged": case_status_changed,
    "CaseClosed": case_closed,
}


# --- the clock ----------------------------------------------------------------------------

def business_day_closed(state: ProjectionState, rec: Record, policy: Policy) -> None:
    """Advance the company's date; the first close of a day on a partition snapshots the
    aging of that partition's accounts of the company into `aging_history` and the day's AR."""
    company, partition = rec["company"], rec["_partition"]
    day = rec["business_date"] or rec["occurred_at"][:10]
    daily = state.daily_row(company, day)
    last = state.clocks.get((company, partition))
    if last is None or day > last:
        state.clocks[(company, partition)] = day
        state.touched.clocks.add((company, partition))
        book = book_of(state, company, partition, policy)
        accounts, tails = book.close(state, day)
        state.touched.aging_history.add_block(company, day, accounts, tails)
        daily["ar_total_minor"] = (daily["ar_total_minor"] or 0) + book.total
        daily["ar_current_minor"] = (daily["ar_current_minor"] or 0) + book.current
    if day > state.company_dates.get(company, ""):
        state.company_dates[company] = day
        state.touched.aging_companies.add(company)


# --- one record ---------------------------------------------------------------------------

def _case_of(state: ProjectionState, rec: Record, acct: Account) -> Row:
    case = case_row(state, rec["case_id"], acct.company, acct.customer_account)
    case["version"] += 1
    moment = utc_moment(rec["occurred_at"])
    if case["last_activity_at"] is None or moment > case["last_activity_at"]:
        case["last_activity_at"] = moment
    return case


def case_row(state: ProjectionState, case_id: str, company: str, account: str) -> Row:
    """The case's row (a new one for a case not seen before), marked touched."""
    case = state.cases.get(case_id)
    if case is None:
        case = state.cases[case_id] = new_case(case_id, company, account)
    state.touched.cases.add(case_id)
    return case


def apply_record(state: ProjectionState, rec: Record, policy: Policy) -> None:
    """One record: the bookkeeping every record of an account shares (its account, its day's
    recovery_daily row, its case's version and last activity), then its effect."""
    account = rec["customer_account"]
    if not account:  # a clock stream
        if rec["event_type"] == "BusinessDayClosed":
            business_day_closed(state, rec, policy)
        return
    acct = state.account(rec["company"], account, rec["_partition"])
    day = rec["occurred_at"][:10]
    state.daily_row(acct.company, day)
    case = _case_of(state, rec, acct) if rec["case_id"] else None
    apply_effect(state, rec, acct, case, day, policy)


def apply_effect(state: ProjectionState, rec: Record, acct: Account, case: Row | None, day: str,
                 policy: Policy) -> None:
    """What the record's type does (APPLIERS), its applications, its unapplied credit."""
    applier = APPLIERS.get(rec["event_type"])
    if applier is not None:
        applier(Ctx(state, rec, acct, case, day, policy))
    elif rec["applications"]:
        fold_applications(Ctx(state, rec, acct, case, day, policy))
    if rec["unapplied_minor"]:
        acct.unapplied += rec["unapplied_minor"]
        acct.changed.add(acct.customer_account)  # for its aging book (buckets.py)
