"""BusinessDayClosed: the company's clock, and the time-based decisions it triggers."""
from __future__ import annotations

from processor.domain.account_state import AccountState
from processor.domain.case_rules import aging_trigger_amount, attach_records, open_case_records
from processor.domain.ledger_event import LedgerEvent
from processor.domain.partition_state import PartitionState
from processor.domain.policy import Policy
from processor.domain.promises import outcome_at_day_close
from processor.domain.records import Record, clock_record


def decide_day_close(state: PartitionState, event: LedgerEvent, policy: Policy, partition: int) -> list[Record]:
    business_date = event.payload["business_date"]
    company = event.company
    previous = state.clocks.get(company)
    # A late or repeated day close never moves the clock back.
    as_of = business_date if previous is None or business_date > previous else previous
    out = [clock_record(company, partition, event.occurred_at, business_date)]
    per_account: list[tuple[str, list[Record]]] = []
    for stream_id, account in state.by_company.get(company, {}).items():
        if not account.open_ids and account.promise is None:
            continue  # nothing can age or fall due: the common case, kept cheap
        recs = account_day_close(account, event.occurred_at, as_of, policy)
        if recs:
            per_account.append((stream_id, recs))
    per_account.sort(key=lambda item: item[0])
    for _, recs in per_account:
        out.extend(recs)
    return out


def account_day_close(account: AccountState, occurred_at: str, as_of: str, policy: Policy) -> list[Record]:
    """Promise outcome first, then a case opened on aging, or newly overdue invoices attached."""
    out = outcome_at_day_close(account, occurred_at, as_of, policy)
    if not account.open_ids:
        return out
    case = account.case
    if case is None:
        amount = aging_trigger_amount(account, as_of, policy)
        if amount > 0 and amount >= policy.aging_min_overdue_minor:
            out.extend(open_case_records(account, occurred_at, as_of, "aging", amount, account.risk_score))
    else:
        newly = [inv.invoice_id for inv in account.overdue(as_of) if inv.invoice_id not in case.attached]
        out.extend(attach_records(account, occurred_at, case.case_id, newly))
    return out
