"""A case closes itself when nothing attached is open; outcome by what cleared it; manual close."""
import pytest

from processor.domain import Rejected

from .helpers import STREAM, Ledger, types


def _case(*amounts: int) -> Ledger:
    led = Ledger()
    for i, amount in enumerate(amounts):
        led.invoice(f"I{i}", amount, due="2026-01-10")
    led.close_day("2026-03-01")
    assert led.state.accounts[STREAM].case is not None
    return led


def test_paid_outcome_with_payment_applied_to_case() -> None:
    led = _case(6000, 6000)
    out = led.pay("P1", 5000, at="2026-03-02")
    assert types(out) == ["PaymentReceived", "PaymentAppliedToCase"]
    assert (out[1]["document_id"], out[1]["amount_minor"], out[1]["case_id"]) == ("P1", 5000, "USMF/C-1/1")
    out = led.pay("P2", 7500, at="2026-03-03")
    assert types(out) == ["PaymentReceived", "PaymentAppliedToCase", "CaseClosed"]
    assert out[1]["amount_minor"] == 7000  # what it settled of attached invoices, not the unapplied 500
    closed = out[2]
    assert (closed["outcome"], closed["status"], closed["case_id"]) == ("paid", "Closed", "USMF/C-1/1")
    assert led.state.accounts[STREAM].case is None


def test_credited_outcome_includes_interest_waivers() -> None:
    led = _case(20000)
    out = led.interest("IN1", 100, "I0", at="2026-03-02")
    assert types(out) == ["InterestAssessed", "InterestAdjusted"]
    assert (out[1]["document_id"], out[1]["invoice_id"], out[1]["amount_minor"]) == ("IN1", "I0", 100)
    led.credit("CN", 20000, "I0", at="2026-03-03")
    out = led.interest("IN2", -100, "I0", at="2026-03-04")
    assert types(out) == ["InterestAssessed", "InterestAdjusted", "CaseClosed"]
    assert out[2]["outcome"] == "credited"


def test_written_off_outcome() -> None:
    led = _case(20000)
    out = led.write_off("W", "I0", 20000, at="2026-03-02")
    assert types(out) == ["WriteOffPosted", "CaseClosed"]
    assert out[1]["outcome"] == "written_off"


def test_mixed_outcome() -> None:
    led = _case(20000)
    led.pay("P", 15000, at="2026-03-02")
    out = led.write_off("W", "I0", 5000, at="2026-03-03")
    assert out[-1]["outcome"] == "mixed"


def test_reversed_payment_does_not_count_toward_outcome() -> None:
    led = _case(20000)
    led.pay("P", 15000, at="2026-03-02")
    led.reverse("P", at="2026-03-03")
    out = led.credit("CN", 20000, "I0", at="2026-03-04")
    assert out[-1]["outcome"] == "credited"


def test_payment_before_case_does_not_count() -> None:
    led = Ledger()
    led.invoice("I0", 20000, due="2026-01-10")
    led.pay("P", 5000)
    led.close_day("2026-03-01")
    out = led.credit("CN", 15000, "I0", at="2026-03-02")
    assert out[-1]["outcome"] == "credited"


def test_unattached_invoice_does_not_close_or_apply() -> None:
    led = _case(20000)
    led.invoice("NEW", 100, due="2026-04-01")
    out = led.pay("P", 100, [("NEW", 100)], at="2026-03-02")
    assert types(out) == ["PaymentReceived"]


def test_case_stays_open_while_anything_attached_is_open() -> None:
    led = _case(20000, 300)
    out = led.pay("P", 20000, [("I0", 20000)], at="2026-03-02")
    assert types(out) == ["PaymentReceived", "PaymentAppliedToCase"]


def test_manual_close() -> None:
    led = _case(20000)
    [rec] = led.status("Closed")
    assert (rec["event_type"], rec["outcome"], rec["status"], rec["reason"], rec["actor"], rec["case_id"]) == (
        "CaseClosed", "manual", "Closed", "r", "ann", "USMF/C-1/1")
    assert led.state.accounts[STREAM].case is None


def test_status_in_progress_and_assignment() -> None:
    led = _case(20000)
    [rec] = led.status("InProgress")
    assert (rec["event_type"], rec["status"], rec["actor"]) == ("CaseStatusChanged", "InProgress", "ann")
    [rec] = led.assign("bob")
    assert (rec["event_type"], rec["owner"], rec["case_id"]) == ("CaseAssigned", "bob", "USMF/C-1/1")
    case = led.state.accounts[STREAM].case
    assert case is not None and (case.status, case.owner) == ("InProgress", "bob")


def test_other_status_is_validation() -> None:
    led = _case(20000)
    with pytest.raises(Rejected) as exc:
        led.status("Open")
    assert exc.value.code == "validation"


@pytest.mark.parametrize("action", ["status", "assign"])
def test_status_or_assignment_without_case_is_unknown_reference(action: str) -> None:
    led = Ledger()
    with pytest.raises(Rejected) as exc:
        led.status("InProgress") if action == "status" else led.assign("bob")
    assert exc.value.code == "unknown_reference"


def test_waiver_then_payment_is_paid_not_mixed() -> None:
    led = _case(20000)
    led.interest("IN1", 1000, "I0", at="2026-03-02")
    led.interest("IN2", -1000, "I0", at="2026-03-03")
    out = led.pay("P", 20000, at="2026-03-04")
    assert out[-1]["event_type"] == "CaseClosed" and out[-1]["outcome"] == "paid"


def test_reversal_takes_back_what_the_payment_collected_for_the_case() -> None:
    led = _case(20000)
    out = led.pay("P1", 8000, at="2026-03-02")
    assert (out[1]["event_type"], out[1]["amount_minor"]) == ("PaymentAppliedToCase", 8000)
    out = led.reverse("P1", at="2026-03-03")
    assert types(out) == ["PaymentReversed", "PaymentAppliedToCase"]
    assert (out[1]["document_id"], out[1]["amount_minor"], out[1]["case_id"]) == ("P1", -8000, "USMF/C-1/1")
