"""Rebuild the in-memory projection state from the DuckDB tables (a restart continues
from the stored offsets with exactly the state those offsets were committed with)."""
from __future__ import annotations

import duckdb

from processor.domain.aging import days_between
from projections.apply import CURED_OUTCOMES
from projections.schema import COLUMNS
from projections.state import DAILY_COUNTERS, ProjectionState, Touched

_DATE_COLUMNS = {"invoice_date", "due_date", "settled_on", "opened_on", "closed_on",
                 "business_date", "last_business_date"}


def _select(con: duckdb.DuckDBPyConnection, table: str) -> tuple[tuple[str, ...], list[tuple]]:
    columns = COLUMNS[table]
    exprs = ", ".join(f"CAST({c} AS VARCHAR)" if c in _DATE_COLUMNS else f'"{c}"'
                      for c in columns)
    return columns, con.execute(f"SELECT {exprs} FROM {table}").fetchall()


def load_offsets(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, int], int]:
    rows = con.execute("SELECT topic, partition, next_offset FROM projection_offsets").fetchall()
    return {(topic, partition): offset for topic, partition, offset in rows}


def load_state(con: duckdb.DuckDBPyConnection) -> ProjectionState:
    state = ProjectionState()
    _, rows = _select(con, "clock_state")
    for company, partition, day in rows:
        state.clocks[(company, partition)] = day
        if day > state.company_dates.get(company, ""):
            state.company_dates[company] = day

    _, rows = _select(con, "account_state")
    for company, account, partition, unapplied in rows:
        state.add_account(company, account, partition, unapplied)

    columns, rows = _select(con, "invoices")
    for values in rows:
        inv = dict(zip(columns, values))
        acct = state.accounts[(inv["company"], inv["customer_account"])]
        acct.invoices[inv["invoice_id"]] = inv
        if inv["open_minor"] != 0:
            acct.open[inv["invoice_id"]] = inv
        if inv["case_id"] is not None:
            state.case_invoices.setdefault(inv["case_id"], set()).add(inv["invoice_id"])
        if inv["days_late"] is not None and inv["settled_on"] is not None:
            late, amount = inv["days_late"], inv["amount_minor"]
            state.add_stat(state.late_stats, inv["company"], inv["settled_on"],
                           (1, late, late * amount, amount))

    columns, rows = _select(con, "cases")
    for values in rows:
        case = dict(zip(columns, values))
        state.cases[case["case_id"]] = case
        if case["closed_on"] is not None:
            days = days_between(case["opened_on"], case["closed_on"]) if case["opened_on"] else 0
            cured = 1 if case["outcome"] in CURED_OUTCOMES else 0
            state.add_stat(state.close_stats, case["company"], case["closed_on"],
                           (1, cured, days))

    columns, rows = _select(con, "recovery_daily")
    for values in rows:
        row = dict(zip(columns, values))
        state.daily.setdefault(row["company"], {})[row["business_date"]] = row
        for counter in DAILY_COUNTERS:
            row[counter] = int(row[counter])

    state.touched = Touched()  # loading changes no row
    return state
