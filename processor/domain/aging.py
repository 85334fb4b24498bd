"""Aging: how many days an open amount is past due, and which bucket that falls in."""
from __future__ import annotations

from datetime import date
from functools import lru_cache

from processor.domain.policy import Policy

BUCKETS: tuple[str, ...] = ("current", "1-30", "31-60", "61-90", "91-120", "over-120")


@lru_cache(maxsize=65536)
def day_number(iso_date: str) -> int:
    """Proleptic ordinal of a ``YYYY-MM-DD`` date (cached: dates repeat a lot)."""
    return date.fromisoformat(iso_date).toordinal()


def days_between(earlier: str, later: str) -> int:
    return day_number(later) - day_number(earlier)


def days_past_due(due_date: str, as_of: str) -> int:
    return day_number(as_of) - day_number(due_date)


def age_in_days(invoice_date: str, due_date: str, as_of: str, policy: Policy) -> int:
    """Days counted for aging under the policy basis; ≤ 0 means `current`."""
    start = due_date if policy.aging_basis == "due_date" else invoice_date
    return day_number(as_of) - day_number(start)


def bucket_index(age_days: int, policy: Policy) -> int:
    """0 = current, 1..4 = the bounded past-due buckets, 5 = beyond the last bound."""
    if age_days <= 0:
        return 0
    for i, bound in enumerate(policy.bucket_bounds, start=1):
        if age_days <= bound:
            return i
    return 5


@lru_cache(maxsize=65536)
def add_days(iso_date: str, days: int) -> str:
    """The ``YYYY-MM-DD`` date `days` after `iso_date` (negative goes back)."""
    return date.fromordinal(day_number(iso_date) + days).isoformat()
