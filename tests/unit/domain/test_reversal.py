"""A payment reversal reopens exactly what that payment settled, through its credit too."""
from .helpers import STREAM, Ledger, apps


def test_reversal_reopens_direct_and_credit_settlements() -> None:
    led = Ledger()
    led.invoice("A", 100, due="2026-01-20")
    led.invoice("B", 100, due="2026-01-25")
    led.pay("P", 250)  # A 100, B 100, 50 unapplied
    led.invoice("C", 80, at="2026-01-22")  # settled 50 by P's credit
    led.credit("CN", 10, "C")  # C open 20
    [rec] = led.reverse("P")
    assert apps(rec) == [("A", 100, "P", "reversal"), ("B", 100, "P", "reversal"), ("C", 50, "P", "reversal")]
    assert rec["unapplied_minor"] is None  # its credit was all used
    assert (led.open_of("A"), led.open_of("B"), led.open_of("C")) == (100, 100, 70)


def test_reversal_removes_still_unapplied_credit_only() -> None:
    led = Ledger()
    led.pay("P1", 30)
    led.pay("P2", 40)
    led.invoice("I", 50)  # P1 30 + P2 20
    [rec] = led.reverse("P2")
    assert apps(rec) == [("I", 20, "P2", "reversal")]
    assert rec["unapplied_minor"] == -20
    assert led.state.accounts[STREAM].credits == {}
    assert led.open_of("I") == 20


def test_reversal_keeps_other_payments() -> None:
    led = Ledger()
    led.invoice("A", 100)
    led.pay("P1", 60)
    led.pay("P2", 40)
    led.reverse("P1")
    assert led.open_of("A") == 60
    assert led.state.accounts[STREAM].payments["P1"].reversed
