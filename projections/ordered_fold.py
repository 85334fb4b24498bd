"""The order-dependent records of a batch, folded in log order straight from their columns.

`batch_fold` has done every record's bookkeeping (accounts, day rows, case versions) and the
additive types as group-bys; what is left must run one record at a time, in log order. The
common types are folded here straight from the column lists, with no record dict and no applier
call: `InvoicePosted` without applications or unapplied credit (`apply.post_invoice`),
`InvoiceAttached` (`apply.attach_invoice`), and the types whose effect is their applications
and unapplied credit (payments, credit notes, reversals, write-offs: `apply.apply_amounts`) —
the appliers' own functions, called with the record's columns.
Every other record becomes the dict `apply.apply_effect` takes.
tests/unit/projections/test_batch_fold.py holds this to `apply.apply_record` on random logs.
"""
from __future__ import annotations

from typing import Any, Sequence

import pyarrow as pa

from processor.domain.policy import Policy
from projections.apply import (APPLIERS, apply_amounts, apply_effect, attach_invoice, business_day_closed,
                               fold_applications, post_invoice)
from projections.state import ProjectionState

# What the fold reads of a record; `casefile_events` takes all the rest straight from the columns.
FOLD_FIELDS = (
    "event_type", "company", "customer_account", "occurred_at", "case_id", "document_id",
    "invoice_id", "amount_minor", "invoice_date", "due_date", "business_date",
    "unapplied_minor", "status", "owner", "trigger_rule", "outcome", "score", "disputed",
)
_NAMES = FOLD_FIELDS + ("_partition", "applications")
_NO_APPLICATIONS: tuple[()] = ()  # shared: the fold only reads `applications`
# the types whose whole effect is their applications and unapplied credit (payments, credits...)
_SETTLING = frozenset(t for t, applier in APPLIERS.items() if applier is fold_applications)


def fold_in_order(state: ProjectionState, table: pa.Table, partitions: Sequence[int], policy: Policy) -> None:
    """Fold the records of `table` (log order; `partitions` their log partitions), whose
    bookkeeping is done: their accounts, cases and day rows exist."""
    n = table.num_rows
    if n == 0:
        return
    columns = [table.column(name).to_pylist() for name in FOLD_FIELDS]
    (types, companies, accounts_col, occurred, case_ids, document_ids, invoice_ids, amounts,
     invoice_dates, due_dates, _, unapplied) = columns[:12]
    apps = table.column("applications").combine_chunks()
    offsets = apps.offsets.to_pylist()
    app_columns: list[list[Any]] = []
    accounts, cases = state.accounts, state.cases
    for i in range(n):
        event_type, account = types[i], accounts_col[i]
        simple = account and offsets[i] == offsets[i + 1] and not unapplied[i]
        if simple and event_type == "InvoiceAttached":
            if case_ids[i]:
                attach_invoice(state, accounts[(companies[i], account)], case_ids[i], invoice_ids[i])
        elif account and event_type in _SETTLING:
            acct = accounts[(companies[i], account)]
            start, end = offsets[i], offsets[i + 1]
            if start != end:
                ids, app_amounts, _, kinds = app_columns or _application_columns(apps, app_columns)
                case_id = case_ids[i]
                apply_amounts(state, acct, cases[case_id] if case_id else None, occurred[i][:10],
                              zip(ids[start:end], app_amounts[start:end], kinds[start:end]))
            if unapplied[i]:
                acct.unapplied += unapplied[i]
                acct.changed.add(account)  # for its aging book (buckets.py)
        elif simple and event_type == "InvoicePosted":
            post_invoice(state, accounts[(companies[i], account)], document_ids[i] or invoice_ids[i],
                         invoice_dates[i], due_dates[i], amounts[i], occurred[i][:10])
        else:
            rec = dict(zip(_NAMES, [c[i] for c in columns] + [partitions[i], _NO_APPLICATIONS]))
            start, end = offsets[i], offsets[i + 1]
            if start != end:
                ids, app_amounts, docs, kinds = app_columns or _application_columns(apps, app_columns)
                rec["applications"] = [
                    {"invoice_id": ids[j], "amount_minor": app_amounts[j], "document_id": docs[j],
                     "kind": kinds[j]} for j in range(start, end)]
            if not account:  # a clock stream
                if event_type == "BusinessDayClosed":
                    business_day_closed(state, rec, policy)
                continue
            case_id = rec["case_id"]
            apply_effect(state, rec, accounts[(rec["company"], account)],
                         cases[case_id] if case_id else None, occurred[i][:10], policy)


def _application_columns(apps: pa.ListArray, into: list[list[Any]]) -> list[list[Any]]:
    """The batch's applications as column lists (read once, when first needed)."""
    items = apps.values
    into.extend(items.field(f).to_pylist() for f in ("invoice_id", "amount_minor", "document_id", "kind"))
    return into


__all__ = ["FOLD_FIELDS", "fold_in_order"]
