"""Hypothesis properties over random ledger histories: amounts stay sane, accounts reconcile
from the log alone, folding the log rebuilds the live state, and decisions are deterministic."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processor.domain import Rejected, canonical_state, evolve, new_partition_state
from processor.domain.policy import Policy

from .helpers import Ledger

POLICY = Policy(aging_min_days_past_due=5, aging_min_overdue_minor=3000, risk_score_threshold=60)
ACCOUNTS = ("C-1", "C-2")
START = date(2026, 1, 1)


def day(n: int) -> str:
    return (START + timedelta(days=n)).isoformat()


ids = lambda prefix: st.sampled_from([f"{prefix}{i}" for i in range(3)])  # noqa: E731
invoice_ids = st.sampled_from(["I0", "I1", "I2", "IN0"])
amounts = st.integers(1, 9000)
acct = st.sampled_from(ACCOUNTS + ACCOUNTS[:1])
when = st.integers(0, 6)  # days since the previous op: business time moves forward, day closes too

OPS = st.one_of(
    st.tuples(st.just("invoice"), acct, when, ids("I"), amounts, st.integers(0, 15)),
    st.tuples(st.just("invoice"), acct, when, ids("I"), amounts, st.integers(0, 15)),
    st.tuples(st.just("pay"), acct, when, ids("P"), amounts,
              st.just([]) | st.lists(st.tuples(invoice_ids, st.integers(1, 3000)), max_size=2)),
    st.tuples(st.just("credit"), acct, when, ids("CN"), amounts, st.none() | invoice_ids),
    st.tuples(st.just("reverse"), acct, when, ids("P")),
    st.tuples(st.just("interest"), acct, when, ids("IN"), st.integers(-800, 800).filter(bool),
              st.none() | invoice_ids),
    st.tuples(st.just("write_off"), acct, when, ids("W"), invoice_ids, amounts),
    st.tuples(st.just("dispute"), acct, when, invoice_ids, st.booleans()),
    st.tuples(st.just("promise"), acct, when, ids("PR"), amounts, st.integers(0, 20)),
    st.tuples(st.just("status"), acct, when, st.sampled_from(["InProgress", "Closed"])),
    st.tuples(st.just("assign"), acct, when),
    st.tuples(st.just("risk"), acct, when, st.integers(0, 100)),
    st.tuples(st.just("close_day"), st.just(""), when),
    st.tuples(st.just("close_day"), st.just(""), when),
    st.tuples(st.just("close_day"), st.just(""), when),
    st.tuples(st.just("note"), acct, when),
    # clear an invoice's whole open amount by one means: drives cases to close themselves
    st.tuples(st.just("clear"), acct, when, invoice_ids, st.sampled_from(["pay", "credit", "write_off"])),
    st.tuples(st.just("clear"), acct, when, invoice_ids, st.sampled_from(["pay", "credit", "write_off"])),
)
HISTORIES = st.lists(OPS, min_size=20, max_size=100)


def run(ops: list[tuple[Any, ...]]) -> tuple[Ledger, int]:
    """Feed the ops; on rejection check nothing changed. Returns the ledger and the rejection count."""
    led = Ledger(POLICY)
    rejected = 0
    now = 0
    for op in ops:
        now += op[2]
        kind, account, at = op[0], op[1], day(now)
        before = canonical_state(led.state)
        try:
            if kind == "invoice":
                led.invoice(op[3], op[4], day(now + op[5]), invoice_date=at, account=account)
            elif kind == "pay":
                led.pay(op[3], op[4], op[5], at=at, account=account)
            elif kind == "credit":
                led.credit(op[3], op[4], op[5], at=at, account=account)
            elif kind == "reverse":
                led.reverse(op[3], at=at, account=account)
            elif kind == "interest":
                led.interest(op[3], op[4], op[5], at=at, account=account)
            elif kind == "write_off":
                led.write_off(op[3], op[4], op[5], at=at, account=account)
            elif kind == "dispute":
                (led.dispute if op[4] else led.resolve)(op[3], at=at, account=account)
            elif kind == "promise":
                led.promise(op[3], op[4], day(now + op[5]), at=at, account=account)
            elif kind == "status":
                led.status(op[3], at=at, account=account)
            elif kind == "assign":
                led.assign("bob", at=at, account=account)
            elif kind == "risk":
                led.risk(op[3], at=at, account=account)
            elif kind == "close_day":
                led.close_day(at)
            elif kind == "clear":
                inv = led.state.accounts.get(f"USMF/{account}")
                open_ = inv.invoices[op[3]].open if inv and op[3] in inv.invoices else 1
                n = len(led.log)
                if op[4] == "pay":
                    led.pay(f"PX{n}", open_, [(op[3], open_)], at=at, account=account)
                elif op[4] == "credit":
                    led.credit(f"CX{n}", open_, op[3], at=at, account=account)
                else:
                    led.write_off(f"WX{n}", op[3], open_, at=at, account=account)
            elif kind == "note":
                led.note(f"N{len(led.log)}", at=at, account=account)
        except Rejected:
            rejected += 1
            assert canonical_state(led.state) == before, "a rejected event changed the state"
    return led, rejected


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(HISTORIES)
def test_open_amounts_never_negative_and_open_set_consistent(ops: list[tuple[Any, ...]]) -> None:
    led, _ = run(ops)
    for account in led.state.accounts.values():
        for inv in account.invoices.values():
            assert inv.open >= 0
            assert (inv.open > 0) == (inv.invoice_id in account.open_ids)
        assert all(r > 0 for r in account.credits.values())


@FAST
@given(HISTORIES)
def test_accounts_reconcile_from_the_log(ops: list[tuple[Any, ...]]) -> None:
    led, _ = run(ops)
    created: dict[str, dict[str, int]] = {}
    moved: dict[str, dict[str, int]] = {}
    unapplied: dict[str, int] = {}
    for rec in led.log:
        sid, t = rec["stream_id"], rec["event_type"]
        if t == "InvoicePosted":
            created.setdefault(sid, {})[rec["document_id"]] = rec["amount_minor"]
        elif t == "InterestAssessed" and rec["invoice_id"] is None:
            created.setdefault(sid, {})[rec["document_id"]] = 0  # its interest application adds it
        for a in rec["applications"]:
            m = moved.setdefault(sid, {})
            m[a["invoice_id"]] = m.get(a["invoice_id"], 0) + a["amount_minor"]
        unapplied[sid] = unapplied.get(sid, 0) + (rec["unapplied_minor"] or 0)
    for sid, account in led.state.accounts.items():
        c, m = created.get(sid, {}), moved.get(sid, {})
        by_kind = {k: 0 for k in ("payment", "credit", "write_off", "interest", "reversal")}
        for rec in led.log:
            if rec["stream_id"] == sid:
                for a in rec["applications"]:
                    by_kind[a["kind"]] += a["amount_minor"]
        assert by_kind["payment"] <= 0 and by_kind["credit"] <= 0 and by_kind["write_off"] <= 0
        assert by_kind["reversal"] >= 0
        assert (sum(c.values()) + by_kind["interest"] + by_kind["payment"] + by_kind["credit"]
                + by_kind["write_off"] + by_kind["reversal"]) == sum(i.open for i in account.invoices.values())
        # invoices + interest − payments − credits − write-offs + reversals == total open
        assert sum(c.values()) + sum(m.values()) == sum(i.open for i in account.invoices.values())
        # and invoice by invoice
        for inv_id, inv in account.invoices.items():
            assert c[inv_id] + m.get(inv_id, 0) == inv.open
        assert unapplied.get(sid, 0) == sum(account.credits.values())
        # money of every payment is settled, unapplied, or reversed
        for pid, pay in account.payments.items():
            if not pay.reversed:
                assert sum(pay.settled.values()) + account.credits.get(("payment", pid), 0) == pay.amount


@FAST
@given(HISTORIES)
def test_folding_the_log_gives_the_live_state(ops: list[tuple[Any, ...]]) -> None:
    led, _ = run(ops)
    folded = new_partition_state()
    for rec in led.log:
        evolve(folded, rec)
    assert canonical_state(folded) == canonical_state(led.state)


@FAST
@given(HISTORIES)
def test_same_input_gives_identical_records(ops: list[tuple[Any, ...]]) -> None:
    first, _ = run(ops)
    second, _ = run(ops)
    assert first.log == second.log


@FAST
@given(HISTORIES)
def test_log_shape_invariants(ops: list[tuple[Any, ...]]) -> None:
    led, _ = run(ops)
    versions: dict[str, int] = {}
    for rec in led.log:
        sid = rec["stream_id"]
        versions[sid] = versions.get(sid, 0) + 1
        assert rec["stream_version"] == versions[sid]
    # an open case always has something attached still open (else it would have closed itself)
    for account in led.state.accounts.values():
        if account.case is not None:
            assert any(account.invoices[i].open > 0 for i in account.case.attached)
    # every CaseClosed closes the case its stream opened last
    open_case: dict[str, str | None] = {}
    for rec in led.log:
        if rec["event_type"] == "CaseOpened":
            assert open_case.get(rec["stream_id"]) is None
            open_case[rec["stream_id"]] = rec["case_id"]
        elif rec["event_type"] == "CaseClosed":
            assert open_case.get(rec["stream_id"]) == rec["case_id"]
            open_case[rec["stream_id"]] = None
