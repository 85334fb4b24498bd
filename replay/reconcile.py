"""The reconciliation rule of contract §5, checked on a read-model database.

For every account (company, customer_account) of the log — clock streams excluded:

  (1) aging.total_open_minor = Σ invoices.open_minor of the account's receivables
  (2) aging.total_open_minor = L, where from the log records of the account's stream
        L = Σ amount_minor of its `InvoicePosted` records + Σ amount_minor of every entry of
            `applications` on its records
      i.e. invoices + interest − applied payments − credits − write-offs + reversals
      (applications are signed: negative settles, positive reopens or adds interest);
  (3) aging.unapplied_credit_minor = Σ unapplied_minor of the account's records;
  (4) the six bucket columns add up to total_open_minor;

and every account of the log has exactly one `aging` row, and no `aging` row lacks a log record.

The log side (`LogTotals`) is folded from the records themselves while they are read (verify),
or, for a database alone, from its `casefile_events` table (`totals_from_db`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import duckdb

Account = tuple[str, str]
BUCKETS = ("current_minor", "d1_30_minor", "d31_60_minor", "d61_90_minor", "d91_120_minor", "over_120_minor")


class LogTotals:
    """Per account: (Σ InvoicePosted amounts + Σ applications, Σ unapplied_minor)."""

    def __init__(self) -> None:
        self.open: dict[Account, int] = {}
        self.unapplied: dict[Account, int] = {}

    def add(self, rec: Mapping[str, Any]) -> None:
        account = rec["customer_account"]
        if not account:
            return  # a clock record
        key = (rec["company"], account)
        total = self.open.get(key, 0)
        if rec["event_type"] == "InvoicePosted":
            total += rec["amount_minor"] or 0
        for app in rec["applications"]:
            total += app["amount_minor"]
        self.open[key] = total
        if rec["unapplied_minor"] is not None:
            self.unapplied[key] = self.unapplied.get(key, 0) + rec["unapplied_minor"]


def totals_from_db(con: duckdb.DuckDBPyConnection, catalog: str = "") -> LogTotals:
    prefix = f"{catalog}.main." if catalog else ""
    totals = LogTotals()
    rows = con.execute(f"""
        SELECT company, customer_account,
               coalesce(sum(CASE WHEN event_type = 'InvoicePosted' THEN coalesce(amount_minor, 0) ELSE 0 END), 0)
                 + coalesce(sum(list_sum([a.amount_minor FOR a IN applications])), 0),
               sum(unapplied_minor)
        FROM {prefix}casefile_events WHERE customer_account <> ''
        GROUP BY company, customer_account""").fetchall()
    for company, account, open_, unapplied in rows:
        totals.open[(company, account)] = int(open_)
        if unapplied is not None:
            totals.unapplied[(company, account)] = int(unapplied)
    return totals


@dataclass
class ReconcileResult:
    accounts: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def add(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < 20:
            self.problems.append(text)


def reconcile(con: duckdb.DuckDBPyConnection, totals: LogTotals, catalog: str = "") -> ReconcileResult:
    prefix = f"{catalog}.main." if catalog else ""
    aging = {(r[0], r[1]): r[2:] for r in con.execute(
        f"SELECT company, customer_account, total_open_minor, unapplied_credit_minor, {', '.join(BUCKETS)}, "
        f"count(*) OVER (PARTITION BY company, customer_account) FROM {prefix}aging").fetchall()}
    invoices = dict(((r[0], r[1]), int(r[2])) for r in con.execute(
        f"SELECT company, customer_account, sum(open_minor) FROM {prefix}invoices "
        f"GROUP BY company, customer_account").fetchall())
    result = ReconcileResult(accounts=len(totals.open))
    for key in sorted(set(totals.open) | set(aging)):
        name = f"{key[0]}/{key[1]}"
        if key not in aging:
            result.add(f"{name}: in the log but has no aging row")
            continue
        if key not in totals.open:
            result.add(f"{name}: has an aging row but no record in the log")
            continue
        total, unapplied, *buckets, rows = aging[key]
        if rows != 1:
            result.add(f"{name}: {rows} aging rows")
        inv = invoices.get(key, 0)
        log_open = totals.open[key]
        log_unapplied = totals.unapplied.get(key, 0)
        if total != inv:
            result.add(f"{name}: aging.total_open_minor {total} != Σ invoices.open_minor {inv}")
        if total != log_open:
            result.add(f"{name}: aging.total_open_minor {total} != log (invoices + Σ applications) {log_open}")
        if unapplied != log_unapplied:
            result.add(f"{name}: aging.unapplied_credit_minor {unapplied} != log Σ unapplied_minor {log_unapplied}")
        if sum(buckets) != total:
            result.add(f"{name}: aging buckets add up to {sum(buckets)}, total_open_minor is {total}")
    return result
