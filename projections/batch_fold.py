"""Fold a decoded batch (projections.decode_batch) with the batch-wide parts done as group-bys.

Record by record, `apply.apply_record` does the same bookkeeping for every record of an account
(its account, its day's recovery_daily row, its case's version and last activity) before the
effect of its type. That bookkeeping only creates rows, counts and takes maxima, and so do the
effects of the ADDITIVE record types (counters and sums on the case and the day); nothing in the
fold reads what they write. So for a whole batch they are done per account, per day and per
case, in any order, and only the other records are folded one by one, in log order
(`ordered_fold.fold_in_order`). `apply_record` over the same records gives the same state: the tests
hold the two paths to each other.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import polars as pl
import pyarrow as pa

from processor.domain.policy import Policy
from projections.apply import utc_moment, case_row
from projections.ordered_fold import FOLD_FIELDS, fold_in_order
from projections.state import ProjectionState

# record type -> (counter of the day's recovery_daily row, counter of the case, amount of the
# case) it adds to; the day is the business date named in the record, else the day it occurred
ADDITIVE: dict[str, tuple[str | None, str | None, str | None]] = {
    "PaymentAppliedToCase": ("collected_minor", None, "collected_minor"),
    "PromiseRecorded": ("promises_made", None, "promised_minor"),
    "PromiseKept": ("promises_kept", "promises_kept", None),
    "PromisePartiallyKept": ("promises_partially_kept", "promises_partially_kept", None),
    "PromiseBroken": ("promises_broken", "promises_broken", None),
    "LetterLogged": (None, "letters_sent", None),
    "NoteLogged": (None, "notes_count", None),
    "RiskScoreChanged": (None, None, None),
    "InterestAdjusted": (None, None, None),
}
# these count on the business date the record names (see apply._promise_outcome)
_ON_BUSINESS_DATE = frozenset({"PromiseKept", "PromisePartiallyKept", "PromiseBroken"})
# these add the record's amount to the day's counter, the others count records
_DAILY_AMOUNT = frozenset({"PaymentAppliedToCase"})

_COLUMNS = ["event_type", "company", "customer_account", "case_id", "occurred_at", "business_date",
            "amount_minor", "unapplied_minor", "applications"]


def fold_batch(state: ProjectionState, table: pa.Table, partitions: Sequence[int] | np.ndarray,
               policy: Policy) -> None:
    """Fold the batch's records (log order; `partitions` their log partitions) into `state`."""
    partitions = np.asarray(partitions, dtype=np.int64)
    frame = pl.from_arrow(table.select(_COLUMNS)).with_columns(
        pl.Series("_partition", partitions, dtype=pl.Int64),
        pl.col("occurred_at").str.slice(0, 10).alias("_day"),
        (_nonempty("customer_account") & pl.col("event_type").is_in(list(ADDITIVE))
         & (pl.col("applications").list.len() == 0)
         & (pl.col("unapplied_minor").fill_null(0) == 0)).alias("_additive"))
    of_accounts = frame.filter(_nonempty("customer_account"))
    _accounts(state, of_accounts)
    for company, day in of_accounts.select("company", "_day").unique().iter_rows():
        state.daily_row(company, day)
    _cases(state, of_accounts.filter(_nonempty("case_id")))
    _additive(state, frame.filter(pl.col("_additive")))
    rest = frame.get_column("_additive").not_().arg_true().to_numpy()
    table = table.select([*FOLD_FIELDS, "applications"])
    if len(rest) != table.num_rows:
        table = table.take(pa.array(rest, pa.int64()))
        partitions = partitions[rest]
    fold_in_order(state, table, partitions.tolist(), policy)


def _nonempty(column: str) -> pl.Expr:
    return pl.col(column).is_not_null() & (pl.col(column) != "")


def _accounts(state: ProjectionState, rows: pl.DataFrame) -> None:
    first = rows.unique(["company", "customer_account"], keep="first", maintain_order=True)
    for company, account, partition in first.select("company", "customer_account", "_partition").iter_rows():
        state.account(company, account, partition)


def _cases(state: ProjectionState, rows: pl.DataFrame) -> None:
    """Each case: created (with its first record's account), its version moved by its record
    count, its last activity the latest `occurred_at`."""
    occurred = pl.col("occurred_at")
    # one width of `…Z` timestamps (the log's own form) sorts as the instants do
    canonical = rows.height == 0 or (rows.select((occurred.str.ends_with("Z").all())
                                                 & (occurred.str.len_bytes().n_unique() == 1)).item())
    latest = occurred.max() if canonical else occurred
    groups = rows.group_by("case_id", maintain_order=True).agg(
        pl.col("company").first(), pl.col("customer_account").first(), pl.len().alias("n"), latest)
    for case_id, company, account, n, moments in groups.iter_rows():
        case = case_row(state, case_id, company, account)
        case["version"] += n
        moment = utc_moment(moments) if canonical else max(map(utc_moment, moments))
        if case["last_activity_at"] is None or moment > case["last_activity_at"]:
            case["last_activity_at"] = moment


def _additive(state: ProjectionState, rows: pl.DataFrame) -> None:
    if rows.height == 0:
        return
    rows = rows.with_columns(
        pl.when(pl.col("event_type").is_in(list(_ON_BUSINESS_DATE)) & _nonempty("business_date"))
        .then(pl.col("business_date")).otherwise(pl.col("_day")).alias("_count_day"),
        pl.col("amount_minor").fill_null(0).alias("_amount"))
    by_day = rows.group_by("event_type", "company", "_count_day").agg(pl.len().alias("n"), pl.col("_amount").sum())
    for event_type, company, day, n, amount in by_day.iter_rows():
        counter = ADDITIVE[event_type][0]
        if counter is not None:
            state.daily_row(company, day)[counter] += amount if event_type in _DAILY_AMOUNT else n
    by_case = rows.filter(_nonempty("case_id")).group_by("event_type", "case_id").agg(
        pl.len().alias("n"), pl.col("_amount").sum())
    cases = state.cases
    for event_type, case_id, n, amount in by_case.iter_rows():
        _, count_column, amount_column = ADDITIVE[event_type]
        case = cases[case_id]
        if count_column is not None:
            case[count_column] += n
        if amount_column is not None:
            case[amount_column] += amount


__all__ = ["fold_batch", "ADDITIVE"]
