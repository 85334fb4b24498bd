"""Who a payment or credit settles: allocations, oldest due first, unapplied credit."""
from .helpers import STREAM, Ledger, apps


def _three_invoices() -> Ledger:
    led = Ledger()
    led.invoice("B", 100, due="2026-02-01")
    led.invoice("A", 100, due="2026-02-01")
    led.invoice("C", 100, due="2026-01-20")
    return led


def test_remainder_settles_oldest_due_then_invoice_id() -> None:
    led = _three_invoices()
    [rec] = led.pay("P", 250)
    assert apps(rec) == [("C", -100, "P", "payment"), ("A", -100, "P", "payment"), ("B", -50, "P", "payment")]
    assert rec["unapplied_minor"] is None
    assert (led.open_of("A"), led.open_of("B"), led.open_of("C")) == (0, 50, 0)


def test_explicit_allocations_first_then_oldest() -> None:
    led = _three_invoices()
    [rec] = led.pay("P", 180, [("B", 60), ("B", 10)])
    assert apps(rec) == [("B", -60, "P", "payment"), ("B", -10, "P", "payment"),
                         ("C", -100, "P", "payment"), ("A", -10, "P", "payment")]
    assert (led.open_of("A"), led.open_of("B"), led.open_of("C")) == (90, 30, 0)


def test_disputed_invoices_are_settled_too() -> None:
    led = _three_invoices()
    led.dispute("C")
    [rec] = led.pay("P", 100)
    assert apps(rec) == [("C", -100, "P", "payment")]


def test_remainder_becomes_unapplied_credit() -> None:
    led = Ledger()
    led.invoice("A", 100)
    [rec] = led.pay("P", 130)
    assert rec["unapplied_minor"] == 30
    assert led.unapplied() == 30


def test_unapplied_credit_settles_later_invoice_oldest_credit_first() -> None:
    led = Ledger()
    led.pay("P1", 40)
    led.credit("CN1", 50)
    led.pay("P2", 30)
    [rec] = led.invoice("I", 100, at="2026-01-20")
    assert apps(rec) == [("I", -40, "P1", "payment"), ("I", -50, "CN1", "credit"), ("I", -10, "P2", "payment")]
    assert rec["unapplied_minor"] == -100
    assert led.open_of("I") == 0
    assert led.state.accounts[STREAM].credits == {("payment", "P2"): 20}
    assert led.state.accounts[STREAM].payments["P1"].settled == {"I": 40}


def test_existing_credit_does_not_settle_reopened_or_older_invoices() -> None:
    led = Ledger()
    led.invoice("A", 100)
    led.pay("P1", 150)  # A settled, 50 unapplied
    led.pay("P2", 100)  # all unapplied (nothing open)
    led.reverse("P1")  # A reopened; P2's credit stays unapplied
    assert led.open_of("A") == 100 and led.unapplied() == 100


def test_credit_note_without_invoice_settles_like_payment_remainder() -> None:
    led = _three_invoices()
    [rec] = led.credit("CN", 350)
    assert apps(rec) == [("C", -100, "CN", "credit"), ("A", -100, "CN", "credit"), ("B", -100, "CN", "credit")]
    assert rec["unapplied_minor"] == 50
    assert led.state.accounts[STREAM].credits == {("credit", "CN"): 50}


def test_settled_invoice_leaves_open_set() -> None:
    led = Ledger()
    led.invoice("A", 100)
    led.pay("P", 100)
    assert led.state.accounts[STREAM].open_ids == set()
