"""An account's aging row: its open receivables spread over the policy's buckets.

Ages come from `processor.domain.aging` (`day_number`, the policy basis as in `age_in_days`);
an age falls in bucket `bisect_left((0, *bounds), age)` — what `bucket_index` computes: 0 for
age <= 0, i for bounds[i-2] < age <= bounds[i-1], the last one beyond them all.

`aging_row` spreads one account, invoice by invoice: the plain statement of the rule (tests
hold the book to it). `AgingBook` is what the projector uses: one (company, log partition)'s
open receivables mirrored in flat arrays, so a day close buckets every open amount of the
partition in a few vectorised passes instead of a Python loop per account. The fold feeds it
the invoices it changed (`Account.dirty`) and the accounts whose unapplied credit may have
moved (`Account.changed`); the book copies only those before it computes.
"""
from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

import numpy as np

from processor.domain.aging import day_number
from processor.domain.policy import Policy
from projections.state import Account

if TYPE_CHECKING:
    from projections.state import ProjectionState

# An invoice with no start date is always `current`: its age (today - start) stays negative.
_NO_START = 1 << 40
TAIL_WIDTH = 8  # current, b1..b4, beyond, total open, unapplied credit


def _field(policy: Policy) -> str:
    return "due_date" if policy.aging_basis == "due_date" else "invoice_date"


def aging_tail(acct: Account, as_of: str | None, policy: Policy) -> tuple[int, ...]:
    """The bucket sums, total open and unapplied credit of one account as of `as_of`.

    With no closed business day yet (`as_of` None) nothing is past due: all is `current`."""
    sums = [0, 0, 0, 0, 0, 0]
    bounds = (0, *policy.bucket_bounds)
    field = _field(policy)
    for inv in acct.open.values():
        start = inv[field]
        if as_of is None or start is None:
            sums[0] += inv["open_minor"]
        else:
            sums[bisect_left(bounds, day_number(as_of) - day_number(start))] += inv["open_minor"]
    return (*sums, sum(sums), acct.unapplied)


def aging_row(acct: Account, as_of: str | None, policy: Policy) -> tuple[Any, ...]:
    """A row of `aging` / `aging_history`, in `schema.AGING_COLUMNS` order."""
    return (acct.company, acct.customer_account, as_of) + aging_tail(acct, as_of, policy)


class AgingBook:
    """The open receivables of one (company, partition) as arrays (one slot per receivable
    that has been open since the last compaction) and the unapplied credit of its accounts
    (one index per account); `total` and `current` are the AR sums of its last close."""

    __slots__ = ("company", "partition", "policy", "field", "bounds", "names", "index",
                 "unapplied", "slots", "slot_account", "slot_start", "slot_open", "live",
                 "total", "current", "fresh")

    COMPACT_AT = 4096  # slots before settled ones are dropped (when under a quarter is open)

    def __init__(self, company: str, partition: int, policy: Policy) -> None:
        self.company, self.partition, self.policy = company, partition, policy
        self.field = _field(policy)
        self.bounds = np.array((0, *policy.bucket_bounds), dtype=np.int64)
        self.names: list[str] = []  # account index -> account
        self.index: dict[str, int] = {}
        self.unapplied = array("q")  # by account index
        self.slots: dict[tuple[str, str], int] = {}  # (account, invoice id) -> slot
        self.slot_account, self.slot_start, self.slot_open = array("q"), array("q"), array("q")
        self.live = 0  # slots with an open amount at the last computation
        self.total = self.current = 0
        self.fresh = True  # nothing copied yet: the first sync reads every account

    # --- keeping the mirror in step with the fold -----------------------------------------

    def sync(self, state: ProjectionState) -> None:
        """Copy what the fold changed since the last sync (everything, the first time)."""
        key = (self.company, self.partition)
        changed, dirty = state.changed.setdefault(key, set()), state.dirty.setdefault(key, [])
        accounts = state.accounts
        if len(self.slot_open) > self.COMPACT_AT and self.live * 4 < len(self.slot_open):
            self._compact()
        if self.fresh:
            self.fresh = False
            names = sorted(name for _, name in state.partition_accounts.get(key, ()))
            invoices: list[dict[str, Any]] = []
            for name in names:
                invoices.extend(accounts[(self.company, name)].open.values())
        else:
            names, invoices = sorted(changed), dirty
        for name in names:
            self.unapplied[self._account(name)] = accounts[(self.company, name)].unapplied
        self._put_all({id(inv): inv for inv in invoices}.values())  # a receivable once, as it is now
        changed.clear()  # in place: the accounts hold these
        dirty.clear()

    def _account(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.names)
            self.names.append(name)
            self.unapplied.append(0)
        return i

    def _put_all(self, invoices: Any) -> None:
        slots, field = self.slots, self.field
        slot_start, slot_open = self.slot_start, self.slot_open
        for inv in invoices:
            key = (inv["customer_account"], inv["invoice_id"])
            start = inv[field]
            start = _NO_START if start is None else day_number(start)
            slot = slots.get(key)
            if slot is not None:
                slot_start[slot] = start
                slot_open[slot] = inv["open_minor"]
            elif inv["open_minor"] != 0:
                slots[key] = len(slot_open)
                self.slot_account.append(self._account(key[0]))
                slot_start.append(start)
                slot_open.append(inv["open_minor"])

    def _compact(self) -> None:
        """Drop the slots of settled receivables (they come back if they reopen)."""
        account, start, amount = array("q"), array("q"), array("q")
        slots = {}
        for key, slot in self.slots.items():
            if self.slot_open[slot] != 0:
                slots[key] = len(amount)
                account.append(self.slot_account[slot])
                start.append(self.slot_start[slot])
                amount.append(self.slot_open[slot])
        self.slots, self.slot_account, self.slot_start, self.slot_open = (
            slots, account, start, amount)

    # --- computing ------------------------------------------------------------------------

    def tails(self, as_of: str | None) -> np.ndarray:
        """One aging tail per account index (`TAIL_WIDTH` columns), as of `as_of`."""
        return self._tails(as_of)[0]

    def _tails(self, as_of: str | None) -> tuple[np.ndarray, np.ndarray]:
        """(`tails`, the account index of each open amount)."""
        amount = np.frombuffer(self.slot_open, dtype=np.int64)
        live = np.flatnonzero(amount)
        self.live = len(live)
        accounts = np.frombuffer(self.slot_account, dtype=np.int64)[live]
        if as_of is None:
            bucket = np.zeros(len(live), dtype=np.int64)
        else:
            ages = day_number(as_of) - np.frombuffer(self.slot_start, dtype=np.int64)[live]
            bucket = np.searchsorted(self.bounds, ages, side="left")
        tails = np.zeros((len(self.names), TAIL_WIDTH), dtype=np.int64)
        np.add.at(tails, (accounts, bucket), amount[live])
        tails[:, 6] = tails[:, :6].sum(axis=1)
        tails[:, 7] = np.frombuffer(self.unapplied, dtype=np.int64)
        return tails, accounts

    def close(self, state: ProjectionState, day: str) -> tuple[list[str], np.ndarray]:
        """The book as of the closed `day`: (accounts with a balance, their tails)."""
        self.sync(state)
        tails, with_open = self._tails(day)
        has_balance = tails[:, 7] != 0
        has_balance[with_open] = True
        rows = np.flatnonzero(has_balance)
        tails = tails[rows]
        self.total = int(tails[:, 6].sum())
        self.current = int(tails[:, 0].sum())
        names = self.names
        return [names[i] for i in rows], tails

    def aging(self, state: ProjectionState, as_of: str | None) -> tuple[list[str], np.ndarray]:
        """Every account of the book and its tail as of `as_of` (the `aging` table)."""
        self.sync(state)
        return list(self.names), self.tails(as_of)


def book_of(state: ProjectionState, company: str, partition: int, policy: Policy) -> AgingBook:
    """The (company, partition)'s book under `policy` (a new policy starts a new one)."""
    book = state.books.get((company, partition))
    if book is None or book.policy is not policy:
        book = state.books[(company, partition)] = AgingBook(company, partition, policy)
    return book
