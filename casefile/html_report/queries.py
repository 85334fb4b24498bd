"""The SQL behind `casefile report html`: one query per chart, over the read models only.

Every figure a chart shows is a column of one of these queries; the page builder only lays the
rows out (it never adds, divides or counts). Money comes out twice: `*_minor` (integer minor
units, as the read models and `casefile report ... --format json` have it) and the same sum
divided by 100 in SQL under the bucket's short name, which is what the charts plot.
"""
from __future__ import annotations

from typing import Any, Iterator

import duckdb

from projections.reports import query

TOP_OVERDUE_LIMIT = 20

# (column in the read models, label in the charts); contract §4's buckets.
BUCKETS = (
    ("current_minor", "current"),
    ("d1_30_minor", "1-30"),
    ("d31_60_minor", "31-60"),
    ("d61_90_minor", "61-90"),
    ("d91_120_minor", "91-120"),
    ("over_120_minor", "over-120"),
)
OVERDUE_BUCKETS = BUCKETS[1:]
OUTCOMES = ("paid", "credited", "written_off", "mixed", "manual")


def major(column: str) -> str:
    """The name of the major-unit (÷100) twin of a `*_minor` column."""
    return column.removesuffix("_minor")


def _bucket_sums() -> str:
    parts = []
    for column, _ in BUCKETS + (("total_open_minor", ""), ("unapplied_credit_minor", "")):
        parts.append(f"sum({column}) AS {column}, sum({column}) / 100.0 AS {major(column)}")
    return ",\n               ".join(parts)


def companies(con: duckdb.DuckDBPyConnection, company: str | None = None) -> list[str]:
    """The companies the read models know, or just `company` when it has any row."""
    rows = query(con, """
        SELECT company FROM (
            SELECT company FROM aging UNION SELECT company FROM aging_history
            UNION SELECT company FROM cases UNION SELECT company FROM recovery_metrics)
        WHERE ? IS NULL OR company = ? ORDER BY company""", [company, company])
    return [r["company"] for r in rows]


def aging_over_time(con: duckdb.DuckDBPyConnection, company: str, as_of: str | None = None) -> list[dict]:
    """Chart "aging by bucket over time": `aging_history` summed over accounts per business date
    (up to `as_of`). Each row equals `casefile report aging --as-of <business_date>`."""
    return query(con, f"""
        SELECT as_of AS business_date, count(*) AS accounts,
               {_bucket_sums()}
        FROM aging_history
        WHERE company = ? AND (CAST(? AS DATE) IS NULL OR as_of <= CAST(? AS DATE))
        GROUP BY as_of ORDER BY as_of""", [company, as_of, as_of])


def top_overdue(con: duckdb.DuckDBPyConnection, company: str, as_of: str | None = None,
                limit: int = TOP_OVERDUE_LIMIT) -> list[dict]:
    """Chart "largest overdue accounts": the current `aging` (or `aging_history` at business date
    `as_of`, as `casefile report aging --as-of` reads it), accounts with anything past due,
    largest overdue amount first."""
    source = "aging" if as_of is None else "(SELECT * FROM aging_history WHERE as_of = CAST(? AS DATE))"
    params: list[Any] = [] if as_of is None else [as_of]
    columns = ", ".join(f"{c}, {c} / 100.0 AS {major(c)}"
                        for c, _ in BUCKETS + (("total_open_minor", ""), ("unapplied_credit_minor", "")))
    return query(con, f"""
        SELECT customer_account, as_of, {columns},
               total_open_minor - current_minor AS overdue_minor,
               (total_open_minor - current_minor) / 100.0 AS overdue
        FROM {source} AS a
        WHERE company = ? AND total_open_minor - current_minor > 0
        ORDER BY overdue_minor DESC, customer_account
        LIMIT ?""", params + [company, limit])


def recovery_trend(con: duckdb.DuckDBPyConnection, company: str, as_of: str | None = None) -> list[dict]:
    """Chart "recovery trend": `recovery_metrics` per month (up to the month of `as_of`) beside
    the month's collections from `recovery_daily` — the same join as `casefile report recovery`."""
    return query(con, """
        WITH monthly AS (
            SELECT company, date_trunc('month', business_date)::DATE AS month,
                   sum(collected_minor) AS collected_minor, sum(promises_made) AS promises_made,
                   sum(promises_kept) AS promises_kept, sum(promises_broken) AS promises_broken
            FROM recovery_daily WHERE company = ? GROUP BY ALL)
        SELECT m.month, d.collected_minor, d.collected_minor / 100.0 AS collected,
               d.promises_made, d.promises_kept, d.promises_broken,
               m.promise_kept_rate, m.promise_kept_rate * 100 AS promise_kept_pct,
               m.dso_standard, m.dso_countback, m.cei
        FROM recovery_metrics m LEFT JOIN monthly d USING (company, month)
        WHERE m.company = ?
          AND (CAST(? AS DATE) IS NULL OR m.month <= date_trunc('month', CAST(? AS DATE)))
        ORDER BY m.month""", [company, company, as_of, as_of])


def case_funnel(con: duckdb.DuckDBPyConnection, company: str) -> list[dict]:
    """Chart "case funnel": per outcome (`not closed` for cases still open), how many cases were
    opened, got a promise to pay, and were closed — from `cases`."""
    order = " ".join(f"WHEN '{o}' THEN {i}" for i, o in enumerate(OUTCOMES))
    return query(con, f"""
        SELECT outcome, count(*) AS opened,
               count(*) FILTER (WHERE promised_minor > 0) AS with_promise,
               count(*) FILTER (WHERE status = 'Closed') AS closed
        FROM (SELECT coalesce(outcome, CASE WHEN status = 'Closed' THEN 'closed' ELSE 'not closed' END)
                         AS outcome, status, promised_minor
              FROM cases WHERE company = ?)
        GROUP BY outcome
        ORDER BY CASE outcome {order} ELSE {len(OUTCOMES)} END, outcome""", [company])


def case_list(con: duckdb.DuckDBPyConnection, company: str) -> list[dict]:
    """The index's table of cases, from `cases`."""
    return query(con, """
        SELECT case_id, customer_account, status, trigger_rule, owner, opened_on, closed_on, outcome,
               overdue_at_open_minor, overdue_at_open_minor / 100.0 AS overdue_at_open,
               open_minor, open_minor / 100.0 AS open,
               collected_minor, collected_minor / 100.0 AS collected,
               promised_minor, promises_kept, promises_broken, letters_sent, notes_count,
               last_activity_at, version
        FROM cases WHERE company = ?
        ORDER BY opened_on, case_id""", [company])


TIMELINE_SQL = """
    SELECT case_id, stream_id, stream_version, occurred_at,
           strftime(epoch_ms(recorded_at), '%Y-%m-%dT%H:%M:%S.%gZ') AS recorded_at, recorded_at AS recorded_at_ms,
           event_type, amount_minor, amount_minor / 100.0 AS amount, currency, invoice_id, document_id,
           status, outcome, trigger_rule, reason, business_date, promised_date,
           source_event_id, source_topic, source_partition, source_offset,
           log_topic, log_partition, log_offset, event_id, hash,
           format('{} p{}@{}', source_topic, source_partition, source_offset) AS source_record,
           format('{} p{}@{}', log_topic, log_partition, log_offset) AS log_record
    FROM casefile_events"""


def case_timelines(con: duckdb.DuckDBPyConnection, company: str) -> Iterator[tuple[str, list[dict]]]:
    """Every case's timeline (`casefile_events` where case_id = the case, in stream order), one
    case at a time: one scan of the log table instead of one per case."""
    cursor = con.cursor()  # its own cursor: the caller may query `con` between cases
    cursor.execute(f"{TIMELINE_SQL} WHERE company = ? AND case_id IS NOT NULL "
                   "ORDER BY case_id, stream_version", [company])
    names = [d[0] for d in cursor.description]
    current: str | None = None
    events: list[dict] = []
    while batch := cursor.fetchmany(10_000):
        for values in batch:
            row = dict(zip(names, values))
            if row["case_id"] != current and events:
                yield current, events  # type: ignore[misc]
                events = []
            current = row["case_id"]
            events.append(row)
    if events:
        yield current, events  # type: ignore[misc]
    cursor.close()


def case_timeline(con: duckdb.DuckDBPyConnection, case_id: str) -> list[dict]:
    """One case's timeline: `casefile_events` where case_id = the case."""
    return query(con, f"{TIMELINE_SQL} WHERE case_id = ? ORDER BY stream_version", [case_id])
