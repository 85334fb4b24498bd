"""The projector's mutable state, as plain dicts, and the keys a batch touched.

Rows are dicts keyed by their table's column names (`schema.COLUMNS`), so writing touched
rows is a column-wise copy. Dates are ``YYYY-MM-DD`` strings; `last_activity_at` is a naive
UTC datetime.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]
AccountKey = tuple[str, str]  # (company, customer_account)

DAILY_COUNTERS = (
    "cases_opened", "cases_closed", "collected_minor", "written_off_minor", "promises_made",
    "promises_kept", "promises_broken", "promises_partially_kept", "credit_sales_minor",
)


class Account:
    """One customer account: its receivables, the open ones, its unapplied credit."""

    __slots__ = ("company", "customer_account", "partition", "unapplied", "invoices", "open",
                 "changed", "dirty")

    def __init__(self, company: str, customer_account: str, partition: int, unapplied: int = 0,
                 changed: set[str] | None = None, dirty: list[Row] | None = None):
        self.company = company
        self.customer_account = customer_account
        self.partition = partition
        self.unapplied = unapplied
        self.invoices: dict[str, Row] = {}
        self.open: dict[str, Row] = {}  # the invoices whose open_minor != 0
        # What of its (company, partition) the fold changed since the aging book's last sync
        # (`ProjectionState.changed` / `.dirty`, shared by the partition's accounts): the
        # accounts, for their unapplied credit, and the receivables. See buckets.py.
        self.changed: set[str] = set() if changed is None else changed
        self.dirty: list[Row] = [] if dirty is None else dirty

    @property
    def key(self) -> AccountKey:
        return (self.company, self.customer_account)


def new_invoice(company: str, account: str, invoice_id: str, kind: str = "invoice") -> Row:
    return {
        "company": company, "customer_account": account, "invoice_id": invoice_id,
        "invoice_date": None, "due_date": None, "amount_minor": 0, "open_minor": 0,
        "disputed": False, "status": "settled", "settled_on": None, "days_late": None,
        "case_id": None, "kind": kind, "interest_minor": 0,
    }


def new_case(case_id: str, company: str, account: str) -> Row:
    return {
        "case_id": case_id, "company": company, "customer_account": account, "status": None,
        "opened_on": None, "trigger_rule": None, "owner": None, "closed_on": None,
        "outcome": None, "overdue_at_open_minor": None, "open_minor": 0, "collected_minor": 0,
        "written_off_minor": 0, "promised_minor": 0, "promises_kept": 0, "promises_broken": 0,
        "letters_sent": 0, "notes_count": 0, "last_activity_at": None, "version": 0,
        "promises_partially_kept": 0, "score_at_open": None,
    }


def new_daily(company: str, business_date: str) -> Row:
    row: Row = {"company": company, "business_date": business_date, "open_cases": 0,
                "ar_total_minor": None, "ar_current_minor": None}
    row.update({c: 0 for c in DAILY_COUNTERS})
    return row


class HistoryRows:
    """`aging` / `aging_history` rows of a batch, kept as blocks (company, day, the accounts,
    their aging tails as an integer matrix: buckets.AgingBook) so they reach Arrow column by
    column. Iterates (and compares) as the row tuples, in `schema.AGING_COLUMNS` order."""

    __slots__ = ("blocks",)

    def __init__(self) -> None:
        self.blocks: list[tuple[str, str | None, list[str], Any]] = []

    def add_block(self, company: str, day: str | None, accounts: list[str], tails: Any) -> None:
        if accounts:
            self.blocks.append((company, day, accounts, tails))

    def append(self, row: tuple[Any, ...]) -> None:
        self.blocks.append((row[0], row[2], [row[1]], [tuple(row[3:])]))

    def __len__(self) -> int:
        return sum(len(b[2]) for b in self.blocks)

    def __bool__(self) -> bool:
        return bool(self.blocks)

    def __iter__(self):  # type: ignore[no-untyped-def]
        for company, day, accounts, tails in self.blocks:
            for account, tail in zip(accounts, tails):
                yield (company, account, day) + tuple(int(v) for v in tail)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HistoryRows):
            other = list(other)
        return isinstance(other, list) and list(self) == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"HistoryRows({list(self)!r})"


@dataclass
class Touched:
    """Primary keys of the rows a batch changed, and the data for the append-only tables."""

    invoices: set[tuple[str, str, str]] = field(default_factory=set)
    accounts: set[AccountKey] = field(default_factory=set)  # aging + account_state rows
    cases: set[str] = field(default_factory=set)
    companies: set[str] = field(default_factory=set)  # recovery_daily + recovery_metrics
    aging_companies: set[str] = field(default_factory=set)  # company as_of moved: every account
    clocks: set[tuple[str, int]] = field(default_factory=set)
    metrics_from: dict[str, str] = field(default_factory=dict)  # company -> earliest date touched
    aging_history: HistoryRows = field(default_factory=HistoryRows)

    def date(self, company: str, day: str | None) -> None:
        if day is None:
            return
        current = self.metrics_from.get(company)
        if current is None or day < current:
            self.metrics_from[company] = day
            self.companies.add(company)  # (every company in metrics_from is in companies)


@dataclass
class ProjectionState:
    accounts: dict[AccountKey, Account] = field(default_factory=dict)
    partition_accounts: dict[tuple[str, int], set[AccountKey]] = field(default_factory=dict)
    cases: dict[str, Row] = field(default_factory=dict)
    case_invoices: dict[str, set[str]] = field(default_factory=dict)  # case -> invoice ids
    daily: dict[str, dict[str, Row]] = field(default_factory=dict)  # company -> date -> row
    clocks: dict[tuple[str, int], str] = field(default_factory=dict)  # last closed date
    company_dates: dict[str, str] = field(default_factory=dict)  # latest closed date
    # company -> month ('YYYY-MM') -> [count, sum days_late, sum days_late*amount, sum amount]
    late_stats: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    # company -> month -> [closed, cured (paid/credited), sum days to close]
    close_stats: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    touched: Touched = field(default_factory=Touched)
    # (company, partition) -> accounts (names) / invoice rows changed since its book's last sync
    changed: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    dirty: dict[tuple[str, int], list[Row]] = field(default_factory=dict)
    # (company, partition) -> its aging book (buckets.AgingBook), built when first needed
    books: dict[tuple[str, int], Any] = field(default_factory=dict)

    def account(self, company: str, customer_account: str, partition: int) -> Account:
        key = (company, customer_account)
        acct = self.accounts.get(key)
        if acct is None:
            acct = self.add_account(company, customer_account, partition)
        self.touched.accounts.add(key)
        return acct

    def add_account(self, company: str, customer_account: str, partition: int,
                    unapplied: int = 0) -> Account:
        """A new account (not touched: loading uses it too)."""
        key = (company, customer_account)
        changed = self.changed.setdefault((company, partition), set())
        dirty = self.dirty.setdefault((company, partition), [])
        acct = Account(company, customer_account, partition, unapplied, changed, dirty)
        self.accounts[key] = acct
        self.partition_accounts.setdefault((company, partition), set()).add(key)
        changed.add(customer_account)
        return acct

    def daily_row(self, company: str, day: str) -> Row:
        days = self.daily.get(company)
        if days is None:
            days = self.daily[company] = {}
        row = days.get(day)
        if row is None:
            row = days[day] = new_daily(company, day)
        self.touched.date(company, day)
        return row

    def add_stat(self, stats: dict[str, dict[str, list[int]]], company: str, day: str,
                 values: tuple[int, ...], sign: int = 1) -> None:
        month = day[:7]
        cell = stats.setdefault(company, {}).setdefault(month, [0] * len(values))
        for i, v in enumerate(values):
            cell[i] += sign * v
        self.touched.date(company, day)
