"""decide: which log records a ledger event causes, given the state before it (pure)."""
from __future__ import annotations

from typing import Callable

from processor.domain import account_facts as facts
from processor.domain.account_state import AccountState
from processor.domain.case_rules import auto_close, case_follow_ups, risk_trigger
from processor.domain.day_close import decide_day_close
from processor.domain.ledger_event import LedgerEvent
from processor.domain.partition_state import PartitionState
from processor.domain.policy import Policy
from processor.domain.promises import kept_by_payment, promise_recorded
from processor.domain.records import Record, account_record
from processor.domain.rejection import Rejected

FactRule = Callable[[AccountState, LedgerEvent, Policy], Record]

# Ledger events that become an account fact, possibly followed by case events.
_FACTS: dict[str, FactRule] = {
    "InvoicePosted": facts.invoice_posted,
    "PaymentReceived": facts.payment_received,
    "CreditNotePosted": facts.credit_note_posted,
    "PaymentReversed": facts.payment_reversed,
    "InterestAssessed": facts.interest_assessed,
    "WriteOffPosted": facts.write_off_posted,
    "DisputeOpened": facts.dispute_changed,
    "DisputeResolved": facts.dispute_changed,
    "RiskScoreChanged": facts.risk_score_changed,
}


def decide(state: PartitionState, event: LedgerEvent, policy: Policy, partition: int) -> list[Record]:
    """The data part of the records `event` causes, in log order. Never mutates `state`;
    raises Rejected when the event breaks a rule that needs state to see."""
    if event.type == "BusinessDayClosed":
        return decide_day_close(state, event, policy, partition)
    account = state.accounts.get(event.stream_id) or AccountState(event.company, event.customer_account)
    rule = _FACTS.get(event.type)
    if rule is not None:
        fact = rule(account, event, policy)
        out = [fact, *case_follow_ups(account, fact)]
        if event.type == "PaymentReceived":
            out.extend(kept_by_payment(account, event, policy))
        elif event.type == "RiskScoreChanged":
            out.extend(risk_trigger(account, event.occurred_at, state.clocks.get(event.company),
                                    event.payload["score"], policy))
        out.extend(auto_close(account, fact))
        return out
    return [_case_event(account, event, policy)]


def _case_event(account: AccountState, event: LedgerEvent, policy: Policy) -> Record:
    """Ledger events recorded directly as a case event (no account fact)."""
    p = event.payload
    t = event.type
    at = event.occurred_at
    if t == "PromiseToPayRecorded":
        return promise_recorded(account, event, facts.check_currency(event, policy))
    if t == "CollectionLetterSent":
        return account_record(account, at, "LetterLogged", account.case_id, document_id=p["letter_id"],
                              letter_code=p["letter_code"], amount_minor=p["fee_minor"])
    if t == "CollectionNoteAdded":
        return account_record(account, at, "NoteLogged", account.case_id, document_id=p["note_id"],
                              actor=p["author"], text=p["text"])
    if t == "CaseStatusSet":
        status = p["status"]
        if status not in ("InProgress", "Closed"):
            raise Rejected("validation", f"case status must be InProgress or Closed, not {status!r}")
        case_id = _open_case_id(account)
        if status == "Closed":
            return account_record(account, at, "CaseClosed", case_id, outcome="manual", status="Closed",
                                  reason=p["reason"], actor=p["set_by"])
        return account_record(account, at, "CaseStatusChanged", case_id, status=status,
                              reason=p["reason"], actor=p["set_by"])
    if t == "CaseAssigned":
        return account_record(account, at, "CaseAssigned", _open_case_id(account), owner=p["owner"])
    raise Rejected("schema", f"unknown ledger event type {t!r}")


def _open_case_id(account: AccountState) -> str:
    if account.case is None:
        raise Rejected("unknown_reference", f"no open case for {account.stream_id}")
    return account.case.case_id
