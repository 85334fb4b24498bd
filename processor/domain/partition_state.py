"""All domain state of one ledger partition, and a canonical dump of it for comparisons."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processor.domain.account_state import AccountState


@dataclass(slots=True)
class PartitionState:
    accounts: dict[str, AccountState] = field(default_factory=dict)  # by stream_id
    clocks: dict[str, str] = field(default_factory=dict)  # company -> latest closed business_date
    seen: dict[str, str] = field(default_factory=dict)  # source_event_id -> source_digest
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)  # stream_id -> (version, hash)
    # company -> {stream_id: account}: a day close walks one company without scanning the others
    by_company: dict[str, dict[str, AccountState]] = field(default_factory=dict)

    def account(self, company: str, customer_account: str) -> AccountState:
        """The account, created (and indexed) on first use."""
        stream_id = f"{company}/{customer_account}"
        acct = self.accounts.get(stream_id)
        if acct is None:
            acct = AccountState(company, customer_account)
            self.accounts[stream_id] = acct
            self.by_company.setdefault(company, {})[stream_id] = acct
        return acct


def new_partition_state() -> PartitionState:
    return PartitionState()


def canonical_state(state: PartitionState) -> dict[str, Any]:
    """Plain, order-independent data of the whole state (sets sorted): equal states dump equal."""
    return {
        "clocks": dict(sorted(state.clocks.items())),
        "seen": dict(sorted(state.seen.items())),
        "heads": {k: list(v) for k, v in sorted(state.heads.items())},
        "accounts": {k: _dump_account(a) for k, a in sorted(state.accounts.items())},
    }


def _dump_account(a: AccountState) -> dict[str, Any]:
    case = a.case
    promise = a.promise
    return {
        "company": a.company,
        "customer_account": a.customer_account,
        "invoices": {
            i: [v.invoice_date, v.due_date, v.amount, v.open, v.kind, v.interest, v.disputed]
            for i, v in sorted(a.invoices.items())
        },
        "open_ids": sorted(a.open_ids),
        # order matters for credits (oldest first), so it is kept as a list
        "credits": [[k[0], k[1], r] for k, r in a.credits.items()],
        "payments": {
            p: [v.amount, v.reversed, dict(sorted(v.settled.items()))] for p, v in sorted(a.payments.items())
        },
        "credit_note_ids": sorted(a.credit_note_ids),
        "write_off_ids": sorted(a.write_off_ids),
        "interest_note_ids": sorted(a.interest_note_ids),
        "risk_score": a.risk_score,
        "case": None if case is None else [
            case.case_id, case.opened_on, case.trigger_rule, case.status, case.owner,
            sorted(case.attached), dict(sorted(case.cleared.items())),
        ],
        "case_count": a.case_count,
        "promise": None if promise is None else [
            promise.promise_id, promise.amount, promise.promised_date, promise.recorded_on,
            {k: list(v) for k, v in sorted(promise.payments.items())},
        ],
    }
