"""An account's aging row: its open receivables spread over the policy's buckets.

Ages come from `processor.domain.aging` (`day_number`, the policy basis as in `age_in_days`,
`bucket_index`). A computed spread stays valid until the first day one of the account's open
amounts crosses a bucket bound, so each account caches it with that horizon: the daily
snapshot of an unchanged account costs no arithmetic. Any record of the account drops the
cache (its unapplied credit is cached too).

`AgingBook` keeps the tails of one (company, log partition)'s accounts with a balance from one
closed business day to the next: a close re-buckets only the accounts changed since the last
one (`Account.changed`) and those whose horizon (first day a bucket bound is crossed) has come,
and keeps the partition's AR sums up to date, so the `aging_history` snapshot of a day costs
a dict copy instead of a pass over every account.
"""
from __future__ import annotations

import heapq
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from processor.domain.aging import day_number
from processor.domain.policy import Policy
from projections.state import Account

if TYPE_CHECKING:
    from projections.state import ProjectionState

_NEVER = 1 << 62


def _start(inv: dict[str, Any], policy: Policy) -> int | None:
    """Day number the age counts from (what `age_in_days` subtracts)."""
    start = inv["due_date"] if policy.aging_basis == "due_date" else inv["invoice_date"]
    return None if start is None else day_number(start)


def _spread(acct: Account, today: int, policy: Policy) -> tuple[tuple[int, ...], int]:
    """(bucket sums, first day they may differ).

    An age falls in bucket `bisect_left((0, *bounds), age)` (what `bucket_index` computes:
    0 for age <= 0, i for bounds[i-2] < age <= bounds[i-1], the last one beyond them all); it
    moves on the day after it reaches that bucket's bound."""
    sums = [0, 0, 0, 0, 0, 0]
    until = _NEVER
    bounds = (0, *policy.bucket_bounds)
    last = len(bounds)
    field = "due_date" if policy.aging_basis == "due_date" else "invoice_date"
    for inv in acct.open.values():
        start = inv[field]
        if start is None:
            sums[0] += inv["open_minor"]
            continue
        start = day_number(start)
        k = bisect_left(bounds, today - start)
        sums[k] += inv["open_minor"]
        if k < last:  # the bucket changes when the age passes its bound
            k = start + bounds[k] + 1
            if k < until:
                until = k
    return tuple(sums), until


def account_buckets(acct: Account, as_of: str | None, policy: Policy) -> tuple[int, ...]:
    """(current, b1, b2, b3, b4, beyond) open amounts as of `as_of`.

    With no closed business day yet (`as_of` None) nothing is past due: all is `current`."""
    return aging_tail(acct, as_of, policy)[:6]


def aging_tail(acct: Account, as_of: str | None, policy: Policy) -> tuple[int, ...]:
    """The bucket sums, total open and unapplied credit (the aging row after `as_of`)."""
    if as_of is None:
        total = sum(inv["open_minor"] for inv in acct.open.values())
        return (total, 0, 0, 0, 0, 0, total, acct.unapplied)
    today = day_number(as_of)
    cache = acct.aging_cache
    if cache is not None and cache[0] <= today < cache[1] and cache[3] is policy:
        return cache[2]
    sums, until = _spread(acct, today, policy)
    tail = (*sums, sum(sums), acct.unapplied)
    acct.aging_cache = (today, until, tail, policy)
    return tail


def aging_row(acct: Account, as_of: str | None, policy: Policy) -> tuple[Any, ...]:
    """A row of `aging` / `aging_history`, in `schema.AGING_COLUMNS` order."""
    return (acct.company, acct.customer_account, as_of) + aging_tail(acct, as_of, policy)


class AgingBook:
    """Aging tails (`aging_tail`) of one (company, partition)'s accounts with a balance, as of
    the partition's last closed business day, and their sums."""

    __slots__ = ("company", "partition", "policy", "tails", "horizon", "heap", "total",
                 "current", "fresh")

    def __init__(self, company: str, partition: int, policy: Policy) -> None:
        self.company, self.partition, self.policy = company, partition, policy
        self.tails: dict[str, tuple[int, ...]] = {}  # account -> tail
        self.horizon: dict[str, int] = {}  # account -> day number its tail may change
        self.heap: list[tuple[int, str]] = []  # (horizon, account); stale entries skipped
        self.total = self.current = 0  # sums of total_open_minor / current_minor
        self.fresh = True  # no close yet: the first one visits every account

    def close(self, state: ProjectionState, day: str) -> tuple[list[str], list[tuple[int, ...]]]:
        """Move the book to `day` (later than its last day); (accounts, tails) with a balance."""
        company = self.company
        key = (company, self.partition)
        changed = state.changed.get(key)
        if changed is None:
            changed = state.changed[key] = set()
        if self.fresh:
            self.fresh = False
            names: set[str] | list[str] = [a for _, a in state.partition_accounts.get(key, ())]
        else:
            names = set(changed)
            today = day_number(day)
            heap, horizon = self.heap, self.horizon
            while heap and heap[0][0] <= today:
                until, name = heapq.heappop(heap)
                if horizon.get(name) == until:
                    del horizon[name]
                    names.add(name)
        changed.clear()  # in place: the accounts hold this set
        accounts = state.accounts
        for name in names:
            self._refresh(accounts[(company, name)], day)
        if len(self.heap) > 64 and len(self.heap) > 4 * len(self.horizon):
            self.heap = [(u, n) for n, u in self.horizon.items()]
            heapq.heapify(self.heap)
        return list(self.tails), list(self.tails.values())

    def _refresh(self, acct: Account, day: str) -> None:
        name = acct.customer_account
        tails, horizon = self.tails, self.horizon
        old = tails.pop(name, None)
        if old is not None:
            self.total -= old[6]
            self.current -= old[0]
        if not (acct.open or acct.unapplied):
            horizon.pop(name, None)
            return
        tail = aging_tail(acct, day, self.policy)
        tails[name] = tail
        self.total += tail[6]
        self.current += tail[0]
        until = acct.aging_cache[1]  # type: ignore[index]  # set by aging_tail
        if until >= _NEVER:
            horizon.pop(name, None)
        elif horizon.get(name) != until:
            horizon[name] = until
            heapq.heappush(self.heap, (until, name))
