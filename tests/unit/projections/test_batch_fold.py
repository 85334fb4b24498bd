"""The batch fold (group-bys plus the in-order loop) against the record-by-record reference
(`apply.apply_record`), on random logs that mix every order the fold cares about: applications
before a posting, attachments before and after, re-attachment to another case, write-offs on
attached invoices of open and closed cases, reopened settlements, interest notes, day closes."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.domain.policy import Policy
from projections.apply import apply_record
from projections.batch_fold import fold_batch
from projections.state import ProjectionState
from projections.testing import FIELDS, LogBuilder, app

POLICY = Policy()
ACCOUNTS = {"A": 0, "B": 1}
INVOICES = ("I1", "I2", "I3")
AMOUNTS = st.sampled_from((100, 200, 300))
APPLICATION = pa.struct([("invoice_id", pa.string()), ("amount_minor", pa.int64()),
                         ("document_id", pa.string()), ("kind", pa.string())])
_TYPES = {"stream_version": pa.int64(), "recorded_at": pa.int64(), "source_partition": pa.int32(),
          "source_offset": pa.int64(), "amount_minor": pa.int64(), "unapplied_minor": pa.int64(),
          "score": pa.int32(), "disputed": pa.bool_(), "applications": pa.list_(APPLICATION)}
SCHEMA = pa.schema([(name, _TYPES.get(name, pa.string())) for name in FIELDS])

step = st.tuples(
    st.sampled_from(("post", "post_paid", "attach", "apply", "apply", "open", "status", "close",
                     "collected", "kept", "note", "dispute", "clock", "unapplied")),
    st.sampled_from(tuple(ACCOUNTS)), st.sampled_from(INVOICES), st.sampled_from(INVOICES),
    AMOUNTS, AMOUNTS, st.sampled_from(("payment", "credit", "write_off", "reversal", "interest")),
    st.sampled_from((None, "", 1, 2)), st.integers(0, 2))


def build(steps: list[tuple[Any, ...]]) -> LogBuilder:
    log = LogBuilder()
    day = date(2026, 1, 1)
    for n, (kind, acct, inv, inv2, amount, amount2, app_kind, case_no, advance) in enumerate(steps):
        day += timedelta(days=advance)
        at, part = f"{day.isoformat()}T10:00:{n % 60:02d}Z", ACCOUNTS[acct]
        case = f"USMF/{acct}/{case_no}" if case_no else case_no  # None, "" (no case) or a case
        sign = 1 if app_kind in ("reversal", "interest") else -1
        if kind == "post":
            log.add("InvoicePosted", acct, at, partition=part, document_id=inv, amount_minor=amount,
                    invoice_date=day.isoformat(), due_date=(day + timedelta(days=10)).isoformat())
        elif kind == "post_paid":  # unapplied credit applied to the new invoice at once
            log.add("InvoicePosted", acct, at, partition=part, document_id=inv, amount_minor=amount,
                    invoice_date=day.isoformat(), due_date=day.isoformat(),
                    applications=[app(inv, -amount2, "P0", "payment")], unapplied_minor=-amount2)
        elif kind == "attach":
            log.add("InvoiceAttached", acct, at, partition=part, case_id=case, invoice_id=inv,
                    amount_minor=amount)
        elif kind == "apply":
            event = {"payment": "PaymentReceived", "credit": "CreditNotePosted",
                     "write_off": "WriteOffPosted", "reversal": "PaymentReversed",
                     "interest": "InterestAssessed"}[app_kind]
            apps = [app(inv, sign * amount, f"D{n}", app_kind)]
            if inv2 != inv:
                apps.append(app(inv2, sign * amount2, f"D{n}", app_kind))
            log.add(event, acct, at, partition=part, case_id=case, document_id=f"D{n}",
                    invoice_id=inv, amount_minor=amount, applications=apps)
        elif kind == "open":
            log.add("CaseOpened", acct, at, partition=part, case_id=case or f"USMF/{acct}/1",
                    trigger_rule="aging", amount_minor=amount, business_date=day.isoformat(),
                    status="Open")
        elif kind == "status":
            log.add("CaseStatusChanged", acct, at, partition=part, case_id=case or f"USMF/{acct}/1",
                    status="InProgress")
        elif kind == "close":
            log.add("CaseClosed", acct, at, partition=part, case_id=case or f"USMF/{acct}/1",
                    status="Closed", outcome="paid" if amount == 100 else "written_off")
        elif kind == "collected":
            log.add("PaymentAppliedToCase", acct, at, partition=part, case_id=case,
                    document_id=f"D{n}", amount_minor=amount)
        elif kind == "kept":
            log.add("PromiseKept", acct, at, partition=part, case_id=case, document_id=f"D{n}",
                    business_date=day.isoformat())
        elif kind == "note":  # an interest note of its own, added by its own application
            note = f"N{n}"
            log.add("InterestAssessed", acct, at, partition=part, document_id=note,
                    amount_minor=amount, applications=[app(note, amount, note, "interest")]
                    if amount2 != 100 else [])
        elif kind == "dispute":
            log.add("DisputeOpened" if amount == 100 else "DisputeResolved", acct, at,
                    partition=part, invoice_id=inv)
        elif kind == "clock":
            log.add("BusinessDayClosed", "", at, partition=part, business_date=day.isoformat())
        else:
            log.add("PaymentReceived", acct, at, partition=part, document_id=f"D{n}",
                    amount_minor=amount, unapplied_minor=amount)
    return log


def snapshot(state: ProjectionState) -> dict[str, Any]:
    return {
        "accounts": {k: (a.unapplied, a.invoices, sorted(a.open)) for k, a in state.accounts.items()},
        "cases": state.cases, "case_invoices": {k: v for k, v in state.case_invoices.items() if v},
        "daily": state.daily, "clocks": state.clocks, "dates": state.company_dates,
        "late": state.late_stats, "close": state.close_stats,
        "history": list(state.touched.aging_history),
        "touched": (state.touched.invoices, state.touched.cases, state.touched.accounts,
                    state.touched.metrics_from),
    }


def by_records(log: LogBuilder) -> ProjectionState:
    state = ProjectionState()
    for rec in log.records:
        apply_record(state, rec, POLICY)
    return state


def by_batches(log: LogBuilder, cuts: list[int]) -> ProjectionState:
    """The log's table cut into batches: slices of one table, as a reader's batches can be
    (their list columns then start at an offset)."""
    state = ProjectionState()
    records = log.records
    table = pa.Table.from_pylist([{f: r[f] for f in FIELDS} for r in records], schema=SCHEMA)
    bounds = sorted({0, len(records), *(c % (len(records) + 1) for c in cuts)})
    for lo, hi in zip(bounds, bounds[1:]):
        fold_batch(state, table.slice(lo, hi - lo), [r["_partition"] for r in records[lo:hi]], POLICY)
    return state


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=60), st.lists(st.integers(0, 60), max_size=3))
def test_batch_fold_equals_the_record_by_record_fold(steps, cuts):
    log = build(steps)
    assert snapshot(by_batches(log, cuts)) == snapshot(by_records(log))


def test_the_generator_reaches_the_orders_that_matter():
    """Guard against a vacuous property: these orders occur in one fixed log."""
    log = build([
        ("apply", "A", "I1", "I1", 100, 100, "payment", None, 0),  # applied before posted
        ("post", "A", "I1", "I1", 100, 100, "payment", None, 0),
        ("attach", "A", "I1", "I1", 100, 100, "payment", 1, 0),
        ("open", "A", "I1", "I1", 100, 100, "payment", 1, 1),
        ("attach", "A", "I1", "I1", 100, 100, "payment", 2, 0),  # re-attached
        ("apply", "A", "I1", "I1", 200, 100, "write_off", 2, 1),
        ("clock", "A", "I1", "I1", 100, 100, "payment", None, 1),
    ])
    state = by_batches(log, [3])
    assert snapshot(state) == snapshot(by_records(log))
    inv = state.accounts[("USMF", "A")].invoices["I1"]
    assert inv["case_id"] == "USMF/A/2" and inv["open_minor"] == -200
    assert state.cases["USMF/A/2"]["written_off_minor"] == 200
