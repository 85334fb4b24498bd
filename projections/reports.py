"""The analysts' summaries behind `casefile report (aging | cases | recovery)`: plain SQL
over the read models, rows as dicts (column name -> value)."""
from __future__ import annotations

from typing import Any, Sequence

import duckdb

_BUCKET_SUMS = """
    count(*) AS accounts,
    sum(current_minor) AS current_minor, sum(d1_30_minor) AS d1_30_minor,
    sum(d31_60_minor) AS d31_60_minor, sum(d61_90_minor) AS d61_90_minor,
    sum(d91_120_minor) AS d91_120_minor, sum(over_120_minor) AS over_120_minor,
    sum(total_open_minor) AS total_open_minor,
    sum(unapplied_credit_minor) AS unapplied_credit_minor"""


def query(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict]:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


def _company_filter(company: str | None, params: list[Any], column: str = "company") -> str:
    if company is None:
        return "TRUE"
    params.append(company)
    return f"{column} = ?"


def aging_report(con: duckdb.DuckDBPyConnection, company: str | None = None,
                 as_of: str | None = None, by_account: bool = False) -> list[dict]:
    """Open receivables per aging bucket, per company (or per account with `by_account`):
    the current `aging`, or `aging_history` at business date `as_of`."""
    params: list[Any] = []
    where = _company_filter(company, params)
    table = "aging"
    if as_of is not None:
        table = "aging_history"
        where += " AND as_of = CAST(? AS DATE)"
        params.append(as_of)
    if by_account:
        return query(con, f"SELECT * FROM {table} WHERE {where} "
                          "ORDER BY company, customer_account", params)
    return query(con, f"SELECT company, max(as_of) AS as_of, {_BUCKET_SUMS} FROM {table} "
                      f"WHERE {where} GROUP BY company ORDER BY company", params)


def cases_report(con: duckdb.DuckDBPyConnection, company: str | None = None) -> list[dict]:
    """Cases per company and status, with their money and activity counters."""
    params: list[Any] = []
    where = _company_filter(company, params)
    return query(con, f"""
        SELECT company, status, count(*) AS cases,
               sum(overdue_at_open_minor) AS overdue_at_open_minor,
               sum(open_minor) AS open_minor, sum(collected_minor) AS collected_minor,
               sum(written_off_minor) AS written_off_minor, sum(promised_minor) AS promised_minor,
               sum(promises_kept) AS promises_kept, sum(promises_broken) AS promises_broken,
               sum(letters_sent) AS letters_sent, sum(notes_count) AS notes_count,
               count(*) FILTER (WHERE outcome = 'paid') AS closed_paid,
               count(*) FILTER (WHERE outcome = 'credited') AS closed_credited,
               count(*) FILTER (WHERE outcome = 'written_off') AS closed_written_off,
               count(*) FILTER (WHERE outcome = 'mixed') AS closed_mixed,
               count(*) FILTER (WHERE outcome = 'manual') AS closed_manual
        FROM cases WHERE {where}
        GROUP BY company, status ORDER BY company, status""", params)


def recovery_report(con: duckdb.DuckDBPyConnection, company: str | None = None) -> list[dict]:
    """recovery_metrics per company and month, beside the month's totals of recovery_daily."""
    params: list[Any] = []
    where = _company_filter(company, params, "m.company")
    return query(con, f"""
        WITH monthly AS (
            SELECT company, date_trunc('month', business_date)::DATE AS month,
                   sum(cases_opened) AS cases_opened, sum(cases_closed) AS cases_closed,
                   sum(collected_minor) AS collected_minor,
                   sum(written_off_minor) AS written_off_minor,
                   sum(promises_made) AS promises_made
            FROM recovery_daily GROUP BY ALL)
        SELECT m.company, m.month, d.cases_opened, d.cases_closed, d.collected_minor,
               d.written_off_minor, d.promises_made, m.credit_sales_minor, m.ending_ar_minor,
               m.dso_standard, m.dso_countback, m.cei, m."add", m.avg_days_late,
               m.weighted_avg_days_late, m.promise_kept_rate, m.cure_rate, m.avg_days_to_close
        FROM recovery_metrics m LEFT JOIN monthly d USING (company, month)
        WHERE {where} ORDER BY m.company, m.month""", params)
