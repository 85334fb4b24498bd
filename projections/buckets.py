"""An account's aging row: its open receivables spread over the policy's buckets.

Ages come from `processor.domain.aging` (`day_number`, the policy basis as in `age_in_days`,
`bucket_index`). A computed spread stays valid until the first day one of the account's open
amounts crosses a bucket bound, so each account caches it with that horizon: the daily
snapshot of an unchanged account costs no arithmetic. Any record of the account drops the
cache (its unapplied credit is cached too).
"""
from __future__ import annotations

from typing import Any

from processor.domain.aging import bucket_index, day_number
from processor.domain.policy import Policy
from projections.state import Account

_NEVER = 1 << 62


def _start(inv: dict[str, Any], policy: Policy) -> int | None:
    """Day number the age counts from (what `age_in_days` subtracts)."""
    start = inv["due_date"] if policy.aging_basis == "due_date" else inv["invoice_date"]
    return None if start is None else day_number(start)


def _spread(acct: Account, today: int, policy: Policy) -> tuple[tuple[int, ...], int]:
    """(bucket sums, first day they may differ)."""
    sums = [0, 0, 0, 0, 0, 0]
    until = _NEVER
    bounds = (0, *policy.bucket_bounds)
    for inv in acct.open.values():
        start = _start(inv, policy)
        if start is None:
            sums[0] += inv["open_minor"]
            continue
        age = today - start
        sums[bucket_index(age, policy)] += inv["open_minor"]
        for bound in bounds:  # the bucket changes when the age passes the next bound
            if age <= bound:
                until = min(until, start + bound + 1)
                break
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
