"""recovery_daily rows and recovery_metrics (per company and calendar month) from the state.

Every figure comes from integer sums kept in the state, so the same log gives the same
floats whatever the batch boundaries. Formulas: README, "recovery_metrics".
"""
from __future__ import annotations

import calendar
from typing import Any

from projections.state import ProjectionState, Row


def daily_rows(state: ProjectionState, company: str) -> list[Row]:
    """Every recovery_daily row of the company, `open_cases` as a running count."""
    rows = []
    open_cases = 0
    for day in sorted(state.daily.get(company, {})):
        row = state.daily[company][day]
        open_cases += row["cases_opened"] - row["cases_closed"]
        row["open_cases"] = open_cases
        rows.append(row)
    return rows


def _months(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    end = (int(last[:4]), int(last[5:7]))
    out = []
    while (year, month) <= end:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _days_in(month: str) -> int:
    return calendar.monthrange(int(month[:4]), int(month[5:7]))[1]


def _ratio(num: float, den: float, scale: float = 1.0) -> float | None:
    return None if den == 0 else num / den * scale


def countback_dso(ending_ar: int, sales_back: list[tuple[int, int]]) -> float:
    """Walk back month by month (newest first: (credit sales, days in month)), taking each
    month's sales off the ending AR until it is exhausted; the last month counts pro rata.
    AR beyond all recorded sales counts the whole history."""
    remaining, days = ending_ar, 0.0
    for sales, dim in sales_back:
        if remaining <= 0:
            break
        if sales >= remaining:
            return days + remaining / sales * dim
        remaining -= sales
        days += dim
    return days


def metrics_rows(state: ProjectionState, company: str, from_day: str) -> list[tuple[Any, ...]]:
    """recovery_metrics rows of the company for the months from `from_day`'s month on."""
    daily = state.daily.get(company, {})
    late = state.late_stats.get(company, {})
    closes = state.close_stats.get(company, {})
    known = [d[:7] for d in daily] + list(late) + list(closes)
    if not known:
        return []
    months = _months(min(known), max(known))
    per_month: dict[str, list[Any]] = {m: [0, 0, 0, 0, None, None] for m in months}
    for day in sorted(daily):  # sales, kept, partially kept, broken, ending AR, ending current
        row, cell = daily[day], per_month[day[:7]]
        cell[0] += row["credit_sales_minor"]
        cell[1] += row["promises_kept"]
        cell[2] += row["promises_partially_kept"]
        cell[3] += row["promises_broken"]
        if row["ar_total_minor"] is not None:
            cell[4], cell[5] = row["ar_total_minor"], row["ar_current_minor"]
    out = []
    beginning: int = 0  # AR before the first closed business day of the history
    sales_back: list[tuple[int, int]] = []
    first_month = from_day[:7]
    for month in months:
        sales, kept, partial, broken, ending, ending_current = per_month[month]
        dim = _days_in(month)
        sales_back.insert(0, (sales, dim))
        if month >= first_month:
            if ending is None:
                dso = dso_cb = cei = add = None
            else:
                dso = _ratio(ending, sales, dim)
                dso_cb = countback_dso(ending, sales_back)
                cei = _ratio(beginning + sales - ending, beginning + sales - ending_current, 100.0)
                best = _ratio(ending_current, sales, dim)
                add = None if dso is None or best is None else dso - best
            n, days_late, weighted, amount = late.get(month, (0, 0, 0, 0))
            closed, cured, days_to_close = closes.get(month, (0, 0, 0))
            out.append((
                company, f"{month}-01", dso, dso_cb, cei, add,
                _ratio(days_late, n), _ratio(weighted, amount),
                _ratio(kept, kept + partial + broken), _ratio(cured, closed),
                _ratio(days_to_close, closed), sales,
                beginning, ending, ending_current, dso,  # `dso`: the contract's plain name, = dso_standard
            ))
        if ending is not None:
            beginning = ending
    return out
