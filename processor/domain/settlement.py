"""Who settles what: allocation order, unapplied credit, reversals (pure: state is only read).

`opens` is an overlay invoice_id -> open amount for invoices this event already changed, so
several steps of one event see each other's effect without mutating the account.
"""
from __future__ import annotations

from typing import Any

from processor.domain.account_state import AccountState, Payment
from processor.domain.records import application

Application = dict[str, Any]


def open_of(account: AccountState, invoice_id: str, opens: dict[str, int]) -> int:
    got = opens.get(invoice_id)
    return account.invoices[invoice_id].open if got is None else got


def settle_oldest_first(account: AccountState, amount: int, document_id: str, kind: str,
                        opens: dict[str, int]) -> tuple[list[Application], int]:
    """Settle open invoices (disputed too: settlement is accounting) oldest due date first,
    then invoice_id. Returns the applications and what is left over."""
    apps: list[Application] = []
    if amount <= 0:
        return apps, amount
    for inv in account.open_invoices_by_due():
        current = open_of(account, inv.invoice_id, opens)
        if current <= 0:
            continue
        take = current if current < amount else amount
        opens[inv.invoice_id] = current - take
        apps.append(application(inv.invoice_id, -take, document_id, kind))
        amount -= take
        if amount == 0:
            break
    return apps, amount


def settle_from_credit(account: AccountState, invoice_id: str, amount: int) -> list[Application]:
    """A new receivable is settled from the account's unapplied credit, oldest credit first;
    each application names the payment / credit note whose credit it was."""
    apps: list[Application] = []
    for (kind, document_id), remaining in account.credits.items():
        if amount == 0:
            break
        take = remaining if remaining < amount else amount
        if take > 0:
            apps.append(application(invoice_id, -take, document_id, kind))
            amount -= take
    return apps


def reversal_applications(payment_id: str, payment: Payment) -> list[Application]:
    """Reopen every settlement the payment made, its unapplied credit's included."""
    return [application(inv, amt, payment_id, "reversal") for inv, amt in payment.settled.items() if amt > 0]


def unapplied_of_payment(account: AccountState, payment_id: str) -> int:
    return account.credits.get(("payment", payment_id), 0)
