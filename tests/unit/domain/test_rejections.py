"""Every rejection code decide raises, and that a rejected event changes nothing."""
from typing import Callable

import pytest

from processor.domain import Rejected, canonical_state

from .helpers import Ledger


def _base() -> Ledger:
    led = Ledger()
    led.invoice("A", 100)
    led.pay("P", 50)
    led.credit("CN", 10, "A")
    led.write_off("W", "A", 5)
    led.interest("IN", 7, "A")
    return led


CASES: dict[str, tuple[str, Callable[[Ledger], object]]] = {
    "invoice currency": ("currency_mismatch", lambda l: l.invoice("B", 1, currency="EUR")),
    "payment currency": ("currency_mismatch", lambda l: l.pay("P2", 1, currency="EUR")),
    "credit currency": ("currency_mismatch", lambda l: l.credit("CN2", 1, currency="EUR")),
    "interest currency": ("currency_mismatch", lambda l: l.interest("IN2", 1, "A", currency="EUR")),
    "write-off currency": ("currency_mismatch", lambda l: l.write_off("W2", "A", 1, currency="EUR")),
    "promise currency": ("currency_mismatch", lambda l: l.promise("PR", 1, "2026-03-01", currency="EUR")),
    "allocation unknown invoice": ("unknown_reference", lambda l: l.pay("P2", 10, [("X", 10)])),
    "allocation over open": ("over_application", lambda l: l.pay("P2", 100, [("A", 43)])),
    "allocations over amount": ("over_application", lambda l: l.pay("P2", 10, [("A", 11)])),
    "allocation not positive": ("validation", lambda l: l.pay("P2", 10, [("A", 0)])),
    "credit unknown invoice": ("unknown_reference", lambda l: l.credit("CN2", 1, "X")),
    "credit over open": ("over_application", lambda l: l.credit("CN2", 43, "A")),
    "reversal unknown payment": ("unknown_reference", lambda l: l.reverse("X")),
    "interest unknown invoice": ("unknown_reference", lambda l: l.interest("IN2", 1, "X")),
    "waiver without invoice": ("validation", lambda l: l.interest("IN2", -1)),
    "waiver over interest": ("over_application", lambda l: l.interest("IN2", -8, "A")),
    "zero interest": ("validation", lambda l: l.interest("IN2", 0, "A")),
    "write-off unknown invoice": ("unknown_reference", lambda l: l.write_off("W2", "X", 1)),
    "write-off over open": ("over_application", lambda l: l.write_off("W2", "A", 43)),
    "dispute unknown invoice": ("unknown_reference", lambda l: l.dispute("X")),
    "resolve unknown invoice": ("unknown_reference", lambda l: l.resolve("X")),
    "duplicate invoice": ("duplicate_document", lambda l: l.invoice("A", 1)),
    "duplicate payment": ("duplicate_document", lambda l: l.pay("P", 1)),
    "duplicate credit note": ("duplicate_document", lambda l: l.credit("CN", 1)),
    "duplicate write-off": ("duplicate_document", lambda l: l.write_off("W", "A", 1)),
    "duplicate interest note": ("duplicate_document", lambda l: l.interest("IN", 1, "A")),
    "own receivable id taken by an invoice": ("duplicate_document", lambda l: l.interest("A", 1)),
    "status without case": ("unknown_reference", lambda l: l.status("Closed")),
    "bad status": ("validation", lambda l: l.status("Reopened")),
    "assignment without case": ("unknown_reference", lambda l: l.assign("bob")),
    "unknown type": ("schema", lambda l: l.send("Nonsense", {})),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rejection_code_and_nothing_changes(name: str) -> None:
    code, action = CASES[name]
    led = _base()
    before = canonical_state(led.state)
    log_len = len(led.log)
    with pytest.raises(Rejected) as exc:
        action(led)
    assert exc.value.code == code
    assert exc.value.reason
    assert canonical_state(led.state) == before and len(led.log) == log_len


def test_reversal_twice_is_unknown_reference() -> None:
    led = _base()
    led.reverse("P")
    with pytest.raises(Rejected) as exc:
        led.reverse("P")
    assert exc.value.code == "unknown_reference"


def test_company_currency_from_policy() -> None:
    from processor.domain.policy import Policy
    led = Ledger(Policy(company_currencies={"DEMF": "EUR"}))
    led.invoice("A", 1, company="DEMF", currency="EUR")
    with pytest.raises(Rejected):
        led.invoice("B", 1, company="DEMF", currency="USD")


def test_same_document_ids_in_other_accounts_are_fine() -> None:
    led = Ledger()
    led.invoice("A", 1, account="C-1")
    led.invoice("A", 1, account="C-2")
    led.pay("P", 1, account="C-1")
    led.pay("P", 1, account="C-2")
