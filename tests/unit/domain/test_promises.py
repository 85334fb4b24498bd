"""Promises: kept as soon as paid in the window, partially kept or broken after it."""
from .helpers import STREAM, Ledger, types


def _with_case() -> Ledger:
    led = Ledger()
    led.invoice("I0", 50000, due="2026-01-10")
    led.close_day("2026-03-01")
    return led


def test_promise_kept_as_soon_as_paid_before_case_closed() -> None:
    led = _with_case()
    [rec] = led.promise("PR", 50000, "2026-03-10", at="2026-03-02")
    assert rec["case_id"] == "USMF/C-1/1"
    assert types(led.pay("P1", 20000, at="2026-03-05")) == ["PaymentReceived", "PaymentAppliedToCase"]
    out = led.pay("P2", 30000, at="2026-03-13")  # promised date + 3 days tolerance
    assert types(out) == ["PaymentReceived", "PaymentAppliedToCase", "PromiseKept", "CaseClosed"]
    kept = out[2]
    assert (kept["document_id"], kept["amount_minor"], kept["promised_date"], kept.get("business_date"),
            kept["case_id"]) == ("PR", 50000, "2026-03-10", None, "USMF/C-1/1")
    assert led.state.accounts[STREAM].promise is None


def test_payment_after_window_does_not_count() -> None:
    led = _with_case()
    led.promise("PR", 100, "2026-03-10", at="2026-03-02")
    assert "PromiseKept" not in types(led.pay("P", 100, at="2026-03-14"))


def test_payment_before_recording_does_not_count() -> None:
    led = _with_case()
    led.promise("PR", 100, "2026-03-10", at="2026-03-05")
    assert "PromiseKept" not in types(led.pay("P", 100, at="2026-03-04"))
    assert "PromiseKept" in types(led.pay("P2", 100, at="2026-03-05"))


def test_partially_kept_at_first_day_close_past_window() -> None:
    led = _with_case()
    led.promise("PR", 30000, "2026-03-10", at="2026-03-02")
    led.pay("P", 10000, at="2026-03-04")
    assert types(led.close_day("2026-03-13")) == ["BusinessDayClosed"]  # still inside tolerance
    out = led.close_day("2026-03-14")
    assert types(out) == ["BusinessDayClosed", "PromisePartiallyKept"]
    rec = out[1]
    assert (rec["document_id"], rec["amount_minor"], rec["promised_date"], rec["business_date"], rec["case_id"]) == (
        "PR", 10000, "2026-03-10", "2026-03-14", "USMF/C-1/1")
    assert led.state.accounts[STREAM].promise is None
    assert types(led.close_day("2026-03-15")) == ["BusinessDayClosed"]


def test_broken_when_nothing_paid() -> None:
    led = Ledger()
    led.promise("PR", 100, "2026-03-10", at="2026-03-02")
    out = led.close_day("2026-03-20")
    assert types(out) == ["BusinessDayClosed", "PromiseBroken"]
    assert (out[1]["amount_minor"], out[1]["case_id"]) == (0, None)


def test_reversed_payment_no_longer_counts() -> None:
    led = Ledger()
    led.promise("PR", 300, "2026-03-10", at="2026-03-02")
    led.pay("P", 100, at="2026-03-03")
    led.reverse("P", at="2026-03-04")
    assert types(led.close_day("2026-03-20"))[1] == "PromiseBroken"


def test_new_promise_replaces_active_one() -> None:
    led = Ledger()
    led.promise("PR1", 300, "2026-03-10", at="2026-03-02")
    led.pay("P", 100, at="2026-03-03")
    led.promise("PR2", 100, "2026-03-20", at="2026-03-04")
    assert types(led.close_day("2026-03-15")) == ["BusinessDayClosed"]  # PR1 is gone
    assert "PromiseKept" in types(led.pay("P2", 100, at="2026-03-05"))


def test_promise_outcome_precedes_case_opening() -> None:
    led = Ledger()
    led.invoice("I0", 50000, due="2026-01-10")
    led.promise("PR", 100, "2026-01-20", at="2026-01-15")
    out = led.close_day("2026-03-01")
    assert types(out) == ["BusinessDayClosed", "PromiseBroken", "CaseOpened", "InvoiceAttached"]
    assert out[1]["case_id"] is None
