"""Case opening (aging at a day close, risk at once) and attaching invoices."""
from processor.domain.policy import Policy

from .helpers import STREAM, Ledger, types


def test_aging_trigger_opens_case_and_attaches_overdue_sorted() -> None:
    led = Ledger()
    led.invoice("B", 6000, due="2026-01-10")
    led.invoice("A", 6000, due="2026-01-10")
    led.invoice("Y", 500, due="2026-02-20")  # overdue but < 30 days: attached, not counted
    led.invoice("Z", 500, due="2026-03-05")  # not yet due
    out = led.close_day("2026-03-01")
    assert types(out) == ["BusinessDayClosed", "CaseOpened", "InvoiceAttached", "InvoiceAttached", "InvoiceAttached"]
    opened = out[1]
    assert (opened["case_id"], opened["trigger_rule"], opened["amount_minor"], opened["business_date"],
            opened["status"], opened["score"]) == ("USMF/C-1/1", "aging", 12000, "2026-03-01", "Open", None)
    assert [(r["invoice_id"], r["amount_minor"], r["due_date"], r["disputed"]) for r in out[2:]] == [
        ("A", 6000, "2026-01-10", False), ("B", 6000, "2026-01-10", False), ("Y", 500, "2026-02-20", False)]
    assert all(r["case_id"] == "USMF/C-1/1" for r in out[1:])
    case = led.state.accounts[STREAM].case
    assert case is not None and case.attached == {"A", "B", "Y"} and case.opened_on == "2026-03-01"


def test_aging_below_threshold_or_too_young_opens_nothing() -> None:
    led = Ledger()
    led.invoice("A", 9999, due="2026-01-10")
    led.invoice("B", 5000, due="2026-02-15")
    assert types(led.close_day("2026-02-09")) == ["BusinessDayClosed"]  # A 30 days, 9999 < 10000
    assert types(led.close_day("2026-02-10")) == ["BusinessDayClosed"]  # B not yet due
    assert types(led.close_day("2026-03-17"))[1] == "CaseOpened"  # B now 30 days too


def test_aging_needs_min_days() -> None:
    led = Ledger()
    led.invoice("A", 50000, due="2026-01-10")
    assert types(led.close_day("2026-02-08")) == ["BusinessDayClosed"]  # 29 days
    assert types(led.close_day("2026-02-09"))[1] == "CaseOpened"  # 30 days


def test_disputed_invoices_do_not_trigger_but_are_attached_flagged() -> None:
    led = Ledger()
    led.invoice("A", 50000, due="2026-01-10")
    led.invoice("B", 200, due="2026-01-10")
    led.dispute("A")
    assert types(led.close_day("2026-03-01")) == ["BusinessDayClosed"]
    led.invoice("C", 20000, due="2026-01-12")
    out = led.close_day("2026-03-02")
    assert out[1]["amount_minor"] == 20200
    assert [(r["invoice_id"], r["disputed"]) for r in out[2:]] == [("A", True), ("B", False), ("C", False)]


def test_policy_thresholds_are_used() -> None:
    led = Ledger(Policy(aging_min_days_past_due=1, aging_min_overdue_minor=1))
    led.invoice("A", 1, due="2026-01-10")
    assert types(led.close_day("2026-01-11"))[1] == "CaseOpened"


def test_day_close_only_touches_its_company_and_sorts_by_stream() -> None:
    led = Ledger()
    for acct in ("C-3", "C-1", "C-2"):
        led.invoice("A", 20000, due="2026-01-10", account=acct)
    led.invoice("A", 20000, due="2026-01-10", company="DEMF", account="C-1")
    out = led.close_day("2026-03-01")
    assert [r["stream_id"] for r in out if r["event_type"] == "CaseOpened"] == ["USMF/C-1", "USMF/C-2", "USMF/C-3"]
    assert "DEMF/C-1" not in {r["stream_id"] for r in out}


def test_newly_overdue_invoices_attach_at_later_day_close() -> None:
    led = Ledger()
    led.invoice("A", 20000, due="2026-01-10")
    led.invoice("B", 300, due="2026-03-05")
    led.close_day("2026-03-01")
    assert types(led.close_day("2026-03-05")) == ["BusinessDayClosed"]  # due today: not overdue
    out = led.close_day("2026-03-06")
    assert types(out) == ["BusinessDayClosed", "InvoiceAttached"]
    assert (out[1]["invoice_id"], out[1]["case_id"], out[1]["amount_minor"]) == ("B", "USMF/C-1/1", 300)
    assert types(led.close_day("2026-03-07")) == ["BusinessDayClosed"]  # attached once


def test_risk_trigger_opens_case_at_once() -> None:
    led = Ledger()
    led.invoice("A", 500, due="2026-02-01")
    led.invoice("B", 700, due="2026-02-20")
    led.close_day("2026-02-10")
    out = led.risk(85, at="2026-02-11")
    assert types(out) == ["RiskScoreChanged", "CaseOpened", "InvoiceAttached"]
    assert out[0]["case_id"] is None
    assert (out[1]["trigger_rule"], out[1]["amount_minor"], out[1]["score"], out[1]["business_date"]) == (
        "risk", 500, 85, "2026-02-11")  # opens on the risk event's day
    assert out[2]["invoice_id"] == "A"


def test_risk_trigger_needs_threshold_overdue_undisputed_and_a_clock() -> None:
    led = Ledger()
    led.invoice("A", 500, due="2026-02-01")
    assert types(led.risk(99)) == ["RiskScoreChanged"]  # no closed day: nothing is overdue
    led.close_day("2026-02-10")
    assert types(led.risk(69)) == ["RiskScoreChanged"]
    led.dispute("A")
    assert types(led.risk(70)) == ["RiskScoreChanged"]
    led.resolve("A")
    assert types(led.risk(70))[1] == "CaseOpened"


def test_one_open_case_at_a_time_and_case_numbering() -> None:
    led = Ledger()
    led.invoice("A", 20000, due="2026-01-10")
    led.close_day("2026-03-01")
    assert types(led.risk(90)) == ["RiskScoreChanged"]
    out = led.status("Closed")
    assert types(out) == ["CaseClosed"]
    out = led.close_day("2026-03-02")
    assert out[1]["event_type"] == "CaseOpened" and out[1]["case_id"] == "USMF/C-1/2"
    assert out[1]["score"] == 90  # the account's latest score rides along


def test_records_carry_open_case_id() -> None:
    led = Ledger()
    led.invoice("A", 20000, due="2026-01-10")
    led.close_day("2026-03-01")
    [note] = led.note("N1")
    [inv] = led.invoice("B", 10, due="2026-04-01")
    assert note["case_id"] == inv["case_id"] == "USMF/C-1/1"
