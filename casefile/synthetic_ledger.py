"""A seeded synthetic AR ledger for tests and benchmarks: every payload type, some bad input.

The same seed gives the same events. Days run forward from `start`; after each day's events a
`BusinessDayClosed` (to every partition). About 1 % of events are deliberately rejectable
(unknown invoice, over-allocation, wrong currency) so the DLQ path is exercised too.
"""
from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any, Iterator

Event = dict[str, Any]


def synthetic_ledger(n_events: int, accounts: int = 200, events_per_day: int = 400, seed: int = 7,
                     company: str = "USMF", start: date = date(2026, 1, 1), bad_ratio: float = 0.01) -> Iterator[Event]:
    rng = random.Random(seed)
    open_invoices: dict[str, dict[str, int]] = {}  # account -> {invoice_id: rough open amount}
    payments: dict[str, list[str]] = {}
    seq = 0
    day = start
    emitted = 0

    def env(kind: str, account: str, payload: dict[str, Any], hour: int) -> Event:
        nonlocal seq
        seq += 1
        return {"event_id": f"syn-{seed}-{seq:08d}", "type": kind, "company": company, "customer_account": account,
                "occurred_at": f"{day}T{hour:02d}:{rng.randrange(60):02d}:00Z", "source": "synthetic",
                "payload": payload}

    while emitted < n_events:
        for i in range(min(events_per_day, n_events - emitted)):
            acct = f"C-{rng.randrange(accounts):05d}"
            invs = open_invoices.setdefault(acct, {})
            roll = rng.random()
            hour = 8 + (i * 10) // events_per_day
            if roll < bad_ratio:
                ev = env("PaymentReceived", acct, {"payment_id": f"P{seq}", "amount_minor": 100, "currency": "USD",
                                                   "allocations": [{"invoice_id": "NO-SUCH", "amount_minor": 100}]}, hour)
            elif roll < 0.40 or not invs:
                inv = f"INV-{seq + 1}"
                amount = rng.randrange(5_000, 500_000)
                terms = rng.choice((0, 15, 30, 45))
                ev = env("InvoicePosted", acct, {"invoice_id": inv, "invoice_date": str(day),
                                                 "due_date": str(day + timedelta(days=terms)),
                                                 "amount_minor": amount, "currency": "USD"}, hour)
                invs[inv] = amount
            elif roll < 0.62:
                target = rng.choice(sorted(invs))
                amount = rng.randrange(1_000, 400_000)
                alloc = [{"invoice_id": target, "amount_minor": min(amount, invs[target]) // 2}] if rng.random() < 0.3 else []
                alloc = [a for a in alloc if a["amount_minor"] > 0]
                pid = f"PAY-{seq + 1}"
                ev = env("PaymentReceived", acct, {"payment_id": pid, "amount_minor": amount, "currency": "USD",
                                                   "allocations": alloc}, hour)
                payments.setdefault(acct, []).append(pid)
                _settle(invs, amount)
            elif roll < 0.64 and payments.get(acct):
                pid = payments[acct].pop(rng.randrange(len(payments[acct])))
                ev = env("PaymentReversed", acct, {"payment_id": pid, "reason": "NSF"}, hour)
            elif roll < 0.68:
                ev = env("PromiseToPayRecorded", acct, {
                    "promise_id": f"PTP-{seq + 1}", "promised_amount_minor": rng.randrange(1_000, 200_000),
                    "currency": "USD", "promised_date": str(day + timedelta(days=rng.randrange(1, 20))),
                    "recorded_by": "collector"}, hour)
            elif roll < 0.72:
                ev = env("CollectionNoteAdded", acct, {"note_id": f"N-{seq + 1}", "author": "collector",
                                                       "text": "called the customer"}, hour)
            elif roll < 0.74:
                ev = env("CollectionLetterSent", acct, {"letter_id": f"L-{seq + 1}",
                                                        "letter_code": rng.choice(("L1", "L2", "L3")),
                                                        "fee_minor": rng.choice((0, 500))}, hour)
            elif roll < 0.78:
                ev = env("RiskScoreChanged", acct, {"score": rng.randrange(0, 101), "model": "risk-v1"}, hour)
            elif roll < 0.81:
                target = rng.choice(sorted(invs))
                if rng.random() < 0.5:
                    ev = env("DisputeOpened", acct, {"invoice_id": target, "reason": "pricing"}, hour)
                else:
                    ev = env("DisputeResolved", acct, {"invoice_id": target, "resolution": "accepted"}, hour)
            elif roll < 0.85:
                target = rng.choice(sorted(invs))
                ev = env("CreditNotePosted", acct, {"credit_note_id": f"CN-{seq + 1}",
                                                    "amount_minor": max(1, invs[target] // 4), "currency": "USD",
                                                    "invoice_id": target if rng.random() < 0.5 else None}, hour)
                _settle(invs, max(1, invs[target] // 4))
            elif roll < 0.89:
                target = rng.choice(sorted(invs))
                ev = env("InterestAssessed", acct, {"interest_note_id": f"INT-{seq + 1}",
                                                    "invoice_id": target if rng.random() < 0.7 else None,
                                                    "amount_minor": rng.randrange(100, 5_000), "currency": "USD"}, hour)
            elif roll < 0.92:
                target = rng.choice(sorted(invs))
                ev = env("WriteOffPosted", acct, {"write_off_id": f"WO-{seq + 1}", "invoice_id": target,
                                                  "amount_minor": max(1, invs[target] // 10), "currency": "USD",
                                                  "reason": "small balance"}, hour)
            elif roll < 0.94:
                ev = env("CaseAssigned", acct, {"owner": rng.choice(("ana", "bo", "cy"))}, hour)
            elif roll < 0.95:
                ev = env("CaseStatusSet", acct, {"status": rng.choice(("InProgress", "Closed")),
                                                 "reason": "collector", "set_by": "ana"}, hour)
            else:
                ev = env("PaymentReceived", acct, {"payment_id": f"PAY-{seq + 1}", "amount_minor": 2_000,
                                                   "currency": rng.choice(("USD", "USD", "EUR")), "allocations": []}, hour)
            yield ev
            emitted += 1
        yield {"event_id": f"close-day/{company}/{day}", "type": "BusinessDayClosed", "company": company,
               "customer_account": "", "occurred_at": f"{day}T23:59:59Z", "source": "synthetic",
               "payload": {"business_date": str(day)}}
        day += timedelta(days=1)


def _settle(invoices: dict[str, int], amount: int) -> None:
    for inv in sorted(invoices):
        if amount <= 0:
            break
        take = min(amount, invoices[inv])
        invoices[inv] -= take
        amount -= take
        if invoices[inv] <= 0:
            del invoices[inv]
