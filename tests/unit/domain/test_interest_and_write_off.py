"""Interest (added, waived, own receivable) and write-offs."""
import pytest

from processor.domain import Rejected

from .helpers import STREAM, Ledger, apps


def test_positive_interest_adds_to_invoice() -> None:
    led = Ledger()
    led.invoice("A", 100)
    [rec] = led.interest("IN1", 15, "A")
    assert apps(rec) == [("A", 15, "IN1", "interest")]
    assert rec["invoice_id"] == "A" and rec["amount_minor"] == 15 and rec["unapplied_minor"] is None
    inv = led.state.accounts[STREAM].invoices["A"]
    assert (inv.open, inv.interest, inv.interest_open) == (115, 15, 15)


def test_waiver_removes_open_interest() -> None:
    led = Ledger()
    led.invoice("A", 100)
    led.interest("IN1", 15, "A")
    [rec] = led.interest("IN2", -10, "A")
    assert apps(rec) == [("A", -10, "IN2", "interest")]
    assert led.open_of("A") == 105
    assert led.state.accounts[STREAM].invoices["A"].interest_open == 5


def test_waiver_larger_than_open_interest_is_over_application() -> None:
    led = Ledger()
    led.invoice("A", 100)
    led.interest("IN1", 15, "A")
    with pytest.raises(Rejected) as exc:
        led.interest("IN2", -16, "A")
    assert exc.value.code == "over_application"


def test_interest_counts_as_paid_last() -> None:
    led = Ledger()
    led.invoice("A", 100)
    led.interest("IN1", 15, "A")
    led.pay("P", 105)  # open 10: only 10 of the interest can still be open
    with pytest.raises(Rejected) as exc:
        led.interest("IN2", -11, "A")
    assert exc.value.code == "over_application"
    led.interest("IN3", -10, "A")
    assert led.open_of("A") == 0


def test_waiver_needs_invoice() -> None:
    led = Ledger()
    with pytest.raises(Rejected) as exc:
        led.interest("IN1", -5)
    assert exc.value.code == "validation"


def test_interest_without_invoice_is_own_receivable() -> None:
    led = Ledger()
    [rec] = led.interest("IN1", 25, at="2026-01-15")
    assert rec["invoice_id"] is None and rec["unapplied_minor"] is None
    assert apps(rec) == [("IN1", 25, "IN1", "interest")]  # it starts at 0: this adds its amount
    inv = led.state.accounts[STREAM].invoices["IN1"]
    assert (inv.invoice_date, inv.due_date, inv.amount, inv.open, inv.kind, inv.interest) == (
        "2026-01-15", "2026-01-15", 25, 25, "interest", 25)
    # it is a receivable like any other: payments settle it
    [pay] = led.pay("P", 25, at="2026-01-16")
    assert apps(pay) == [("IN1", -25, "P", "payment")]


def test_own_interest_receivable_settled_by_unapplied_credit() -> None:
    led = Ledger()
    led.pay("P", 10)
    [rec] = led.interest("IN1", 25)
    assert apps(rec) == [("IN1", 25, "IN1", "interest"), ("IN1", -10, "P", "payment")]
    assert rec["unapplied_minor"] == -10
    assert led.open_of("IN1") == 15


def test_own_receivable_interest_can_be_waived() -> None:
    led = Ledger()
    led.interest("IN1", 25)
    led.interest("IN2", -25, "IN1")
    assert led.open_of("IN1") == 0


def test_write_off_removes_open_amount() -> None:
    led = Ledger()
    led.invoice("A", 100)
    [rec] = led.write_off("W1", "A", 40)
    assert (rec["document_id"], rec["invoice_id"], rec["amount_minor"], rec["reason"]) == ("W1", "A", 40, "bad debt")
    assert apps(rec) == [("A", -40, "W1", "write_off")]
    assert led.open_of("A") == 60


def test_write_off_larger_than_open_is_over_application() -> None:
    led = Ledger()
    led.invoice("A", 100)
    led.pay("P", 70)
    with pytest.raises(Rejected) as exc:
        led.write_off("W1", "A", 31)
    assert exc.value.code == "over_application"
