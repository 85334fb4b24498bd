"""What the domain remembers about one customer account (rebuilt from the log by `evolve`)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Invoice:
    """A receivable: a posted invoice, or an interest note that is a receivable of its own."""

    invoice_id: str
    invoice_date: str
    due_date: str
    amount: int
    open: int
    kind: str = "invoice"  # "invoice" | "interest" (own interest receivable)
    interest: int = 0  # net interest assessed on it (an own receivable is all interest)
    disputed: bool = False

    @property
    def interest_open(self) -> int:
        # Settlements don't say what they paid, so interest is taken as paid last:
        # what is open of it is the part of the open amount it can still explain.
        return max(0, min(self.interest, self.open))


@dataclass(slots=True)
class Payment:
    amount: int
    reversed: bool = False
    # invoice_id -> amount it settled, directly or later through its unapplied credit,
    # so a reversal reopens exactly these.
    settled: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Case:
    case_id: str
    opened_on: str
    trigger_rule: str
    status: str = "Open"
    owner: str | None = None
    attached: set[str] = field(default_factory=set)
    # what cleared attached invoices while the case was open, by kind (decides the outcome)
    cleared: dict[str, int] = field(default_factory=lambda: {"payment": 0, "credit": 0, "write_off": 0})


@dataclass(slots=True)
class Promise:
    promise_id: str
    amount: int
    promised_date: str
    recorded_on: str
    # payments dated on or after recorded_on: payment_id -> (date, amount); the window's
    # upper end is policy, so it is applied when deciding, not here.
    payments: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass(slots=True)
class AccountState:
    company: str
    customer_account: str
    invoices: dict[str, Invoice] = field(default_factory=dict)
    open_ids: set[str] = field(default_factory=set)  # invoices with open > 0: keeps work off history
    # unapplied credit, oldest first: (kind "payment" | "credit", document_id) -> remaining
    credits: dict[tuple[str, str], int] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    credit_note_ids: set[str] = field(default_factory=set)
    write_off_ids: set[str] = field(default_factory=set)
    interest_note_ids: set[str] = field(default_factory=set)
    risk_score: int | None = None
    case: Case | None = None
    case_count: int = 0
    promise: Promise | None = None

    @property
    def stream_id(self) -> str:
        return f"{self.company}/{self.customer_account}"

    @property
    def case_id(self) -> str | None:
        return self.case.case_id if self.case is not None else None

    def open_invoices_by_due(self) -> list[Invoice]:
        """Open invoices, oldest due date first, then invoice_id: the settlement order."""
        invoices = self.invoices
        return sorted((invoices[i] for i in self.open_ids), key=_due_key)

    def overdue(self, as_of: str | None) -> list[Invoice]:
        """Open invoices due before `as_of` (none without a closed business day), in attach order."""
        if as_of is None:
            return []
        invoices = self.invoices
        return sorted((inv for i in self.open_ids if (inv := invoices[i]).due_date < as_of), key=_due_key)


def _due_key(inv: Invoice) -> tuple[str, str]:
    return (inv.due_date, inv.invoice_id)
