"""When a case opens (aging / risk), what it attaches, and when and how it closes itself."""
from __future__ import annotations

from typing import Any, Iterable

from processor.domain.account_state import AccountState, Case
from processor.domain.aging import age_in_days
from processor.domain.policy import Policy
from processor.domain.records import Record, account_record

_OUTCOME_OF_KIND = {"payment": "paid", "credit": "credited", "write_off": "written_off"}


def note_clearing(cleared: dict[str, int], kind: str, amount: int) -> None:
    """Count one application on an attached invoice toward the case outcome: payments, credit
    notes and write-offs (the contract's outcomes); a reversal takes back what payments cleared.
    An interest waiver only removes interest the customer never owed, so it decides nothing."""
    if kind == "reversal":
        cleared["payment"] = max(0, cleared["payment"] - amount)
    elif amount < 0 and kind in cleared:
        cleared[kind] += -amount


def outcome(cleared: dict[str, int]) -> str:
    kinds = [k for k in ("payment", "credit", "write_off") if cleared[k] > 0]
    if not kinds:  # only waivers cleared what was attached: the nearest outcome is a credit
        return "credited"
    return _OUTCOME_OF_KIND[kinds[0]] if len(kinds) == 1 else "mixed"


def aging_trigger_amount(account: AccountState, as_of: str, policy: Policy) -> int:
    """Open, non-disputed, overdue balance aged at least the policy's minimum days."""
    total = 0
    min_days = policy.aging_min_days_past_due
    invoices = account.invoices
    for i in account.open_ids:
        inv = invoices[i]
        if (not inv.disputed and inv.due_date < as_of
                and age_in_days(inv.invoice_date, inv.due_date, as_of, policy) >= min_days):
            total += inv.open
    return total


def overdue_undisputed_amount(account: AccountState, as_of: str | None) -> int:
    if as_of is None:
        return 0
    invoices = account.invoices
    return sum(inv.open for i in account.open_ids if not (inv := invoices[i]).disputed and inv.due_date < as_of)


def attach_records(account: AccountState, occurred_at: str, case_id: str, invoice_ids: Iterable[str]) -> list[Record]:
    invoices = account.invoices
    return [
        account_record(account, occurred_at, "InvoiceAttached", case_id, invoice_id=i,
                       amount_minor=invoices[i].open, due_date=invoices[i].due_date,
                       disputed=invoices[i].disputed)
        for i in invoice_ids
    ]


def open_case_records(account: AccountState, occurred_at: str, as_of: str, rule: str, amount: int,
                      score: int | None, opened_on: str | None = None) -> list[Record]:
    """CaseOpened (dated `opened_on`, by default the day closed), then every invoice overdue as of
    `as_of` attached (disputed too, flagged)."""
    case_id = f"{account.stream_id}/{account.case_count + 1}"
    opened = account_record(account, occurred_at, "CaseOpened", case_id, trigger_rule=rule,
                            amount_minor=amount, score=score, business_date=opened_on or as_of, status="Open")
    return [opened, *attach_records(account, occurred_at, case_id,
                                    [inv.invoice_id for inv in account.overdue(as_of)])]


def risk_trigger(account: AccountState, occurred_at: str, as_of: str | None, score: int,
                 policy: Policy) -> list[Record]:
    if account.case is not None or score < policy.risk_score_threshold or as_of is None:
        return []
    amount = overdue_undisputed_amount(account, as_of)
    if amount <= 0:
        return []
    # overdue is measured against the latest closed day, but the case opens on the risk event's own day
    return open_case_records(account, occurred_at, as_of, "risk", amount, score,
                             opened_on=max(as_of, occurred_at[:10]))


def closes_after(case: Case, account: AccountState, applications: list[dict[str, Any]]) -> str | None:
    """The outcome if these applications leave every attached invoice at open 0, else None."""
    attached = case.attached
    touched = [a for a in applications if a["invoice_id"] in attached]
    if not touched:
        return None
    opens: dict[str, int] = {}
    cleared = dict(case.cleared)
    invoices = account.invoices
    for a in touched:
        i = a["invoice_id"]
        opens[i] = opens.get(i, invoices[i].open) + a["amount_minor"]
        note_clearing(cleared, a["kind"], a["amount_minor"])
    for i in attached:
        if opens.get(i, invoices[i].open) != 0:
            return None
    return outcome(cleared)


def case_follow_ups(account: AccountState, fact: Record) -> list[Record]:
    """PaymentAppliedToCase / InterestAdjusted that an account fact causes in the open case."""
    case = account.case
    if case is None:
        return []
    out: list[Record] = []
    kind = fact["event_type"]
    if kind == "PaymentReceived":
        paid = -sum(a["amount_minor"] for a in fact["applications"] if a["invoice_id"] in case.attached)
        if paid > 0:
            out.append(account_record(account, fact["occurred_at"], "PaymentAppliedToCase", case.case_id,
                                      document_id=fact["document_id"], amount_minor=paid))
    elif kind == "PaymentReversed":
        # takes back what the payment had collected for the case (never more than it has collected)
        reopened = sum(a["amount_minor"] for a in fact["applications"] if a["invoice_id"] in case.attached)
        taken_back = min(reopened, case.cleared["payment"])
        if taken_back > 0:
            out.append(account_record(account, fact["occurred_at"], "PaymentAppliedToCase", case.case_id,
                                      document_id=fact["document_id"], amount_minor=-taken_back))
    elif kind == "InterestAssessed" and fact["invoice_id"] in case.attached:
        out.append(account_record(account, fact["occurred_at"], "InterestAdjusted", case.case_id,
                                  document_id=fact["document_id"], invoice_id=fact["invoice_id"],
                                  amount_minor=fact["amount_minor"]))
    return out


def auto_close(account: AccountState, fact: Record) -> list[Record]:
    case = account.case
    if case is None or not fact["applications"]:
        return []
    result = closes_after(case, account, fact["applications"])
    if result is None:
        return []
    return [account_record(account, fact["occurred_at"], "CaseClosed", case.case_id,
                           outcome=result, status="Closed")]
