"""Each ledger payload becomes the account fact / case event docs/log-events.md describes."""
from processor.domain import canonical_state, new_partition_state

from .helpers import ACCOUNT, COMPANY, STREAM, Ledger, apps, types


def test_invoice_posted_is_normalised() -> None:
    led = Ledger()
    [rec] = led.invoice("INV-1", 12500, "2026-02-04")
    assert rec == {
        "stream_id": STREAM, "event_type": "InvoicePosted", "case_id": None, "company": COMPANY,
        "customer_account": ACCOUNT, "occurred_at": "2026-01-05T10:00:00Z", "applications": [],
        "document_id": "INV-1", "invoice_date": "2026-01-05", "due_date": "2026-02-04",
        "amount_minor": 12500, "currency": "USD", "unapplied_minor": None,
    }
    inv = led.state.accounts[STREAM].invoices["INV-1"]
    assert (inv.amount, inv.open, inv.kind, inv.disputed) == (12500, 12500, "invoice", False)


def test_payment_received_record() -> None:
    led = Ledger()
    led.invoice("INV-1", 100)
    [rec] = led.pay("P-1", 150)
    assert rec["document_id"] == "P-1" and rec["amount_minor"] == 150 and rec["currency"] == "USD"
    assert apps(rec) == [("INV-1", -100, "P-1", "payment")]
    assert rec["unapplied_minor"] == 50


def test_credit_note_record_with_invoice() -> None:
    led = Ledger()
    led.invoice("INV-1", 100)
    [rec] = led.credit("CN-1", 30, "INV-1")
    assert rec["invoice_id"] == "INV-1" and rec["unapplied_minor"] is None
    assert apps(rec) == [("INV-1", -30, "CN-1", "credit")]
    assert led.open_of("INV-1") == 70


def test_payment_reversed_record() -> None:
    led = Ledger()
    led.invoice("INV-1", 100)
    led.pay("P-1", 120)
    [rec] = led.reverse("P-1")
    assert rec["event_type"] == "PaymentReversed" and rec["reason"] == "NSF" and rec["amount_minor"] == 120
    assert apps(rec) == [("INV-1", 100, "P-1", "reversal")]
    assert rec["unapplied_minor"] == -20


def test_dispute_records() -> None:
    led = Ledger()
    led.invoice("INV-1", 100)
    [opened] = led.dispute("INV-1")
    assert (opened["event_type"], opened["invoice_id"], opened["reason"], opened["disputed"]) == (
        "DisputeOpened", "INV-1", "damaged", True)
    assert led.state.accounts[STREAM].invoices["INV-1"].disputed
    [resolved] = led.resolve("INV-1")
    assert (resolved["reason"], resolved["disputed"]) == ("accepted", False)
    assert not led.state.accounts[STREAM].invoices["INV-1"].disputed


def test_risk_score_record() -> None:
    led = Ledger()
    [rec] = led.risk(40)
    assert (rec["event_type"], rec["score"], rec["model"]) == ("RiskScoreChanged", 40, "m1")
    assert led.state.accounts[STREAM].risk_score == 40


def test_letter_and_note_without_case() -> None:
    led = Ledger()
    [letter] = led.letter("L-1")
    [note] = led.note("N-1")
    assert (letter["event_type"], letter["document_id"], letter["letter_code"], letter["amount_minor"],
            letter["case_id"]) == ("LetterLogged", "L-1", "L1", 500, None)
    assert (note["event_type"], note["document_id"], note["actor"], note["text"], note["case_id"]) == (
        "NoteLogged", "N-1", "ann", "called", None)


def test_promise_recorded_record() -> None:
    led = Ledger()
    [rec] = led.promise("PR-1", 5000, "2026-03-10")
    assert (rec["event_type"], rec["document_id"], rec["amount_minor"], rec["currency"], rec["promised_date"],
            rec["actor"], rec["case_id"]) == ("PromiseRecorded", "PR-1", 5000, "USD", "2026-03-10", "ann", None)


def test_business_day_closed_clock_record() -> None:
    led = Ledger(partition=3)
    [rec] = led.close_day("2026-01-31")
    assert rec == {"stream_id": "USMF/#p3", "event_type": "BusinessDayClosed", "case_id": None,
                   "company": "USMF", "customer_account": "", "occurred_at": "2026-01-31T23:59:59Z",
                   "business_date": "2026-01-31", "applications": []}
    assert led.state.clocks == {"USMF": "2026-01-31"}
    assert led.state.accounts == {}


def test_clock_never_moves_back() -> None:
    led = Ledger()
    led.close_day("2026-01-31")
    led.close_day("2026-01-20")
    assert led.state.clocks["USMF"] == "2026-01-31"


def test_evolve_sets_heads_and_seen() -> None:
    led = Ledger()
    led.invoice("INV-1", 100, event_id="ev-a")
    led.invoice("INV-2", 100, event_id="ev-b")
    assert led.state.heads[STREAM][0] == 2
    assert led.state.heads[STREAM][1] == led.log[-1]["hash"]
    assert set(led.state.seen) == {"ev-a", "ev-b"}


def test_decide_does_not_mutate_state() -> None:
    led = Ledger()
    led.invoice("INV-1", 20000, due="2026-01-10")
    led.pay("P-1", 30)
    led.promise("PR", 100, "2026-03-20", at="2026-03-01")
    led.close_day("2026-03-01")
    assert led.state.accounts[STREAM].case is not None
    before = canonical_state(led.state)
    from processor.domain import LedgerEvent, decide
    for ev in [
        LedgerEvent("x1", "PaymentReceived", COMPANY, ACCOUNT, "2026-03-02T00:00:00Z", "t",
                    {"payment_id": "P-9", "amount_minor": 500, "currency": "USD", "allocations": []}),
        LedgerEvent("x2", "InvoicePosted", COMPANY, ACCOUNT, "2026-03-02T00:00:00Z", "t",
                    {"invoice_id": "INV-9", "invoice_date": "2026-03-02", "due_date": "2026-03-02",
                     "amount_minor": 10, "currency": "USD"}),
        LedgerEvent("x3", "PaymentReversed", COMPANY, ACCOUNT, "2026-03-02T00:00:00Z", "t",
                    {"payment_id": "P-1", "reason": "NSF"}),
        LedgerEvent("x4", "BusinessDayClosed", COMPANY, "", "2026-06-02T00:00:00Z", "t",
                    {"business_date": "2026-06-01"}),
        LedgerEvent("x5", "CaseStatusSet", COMPANY, ACCOUNT, "2026-03-02T00:00:00Z", "t",
                    {"status": "Closed", "reason": "r", "set_by": "a"}),
    ]:
        decide(led.state, ev, led.policy, 0)
    assert canonical_state(led.state) == before


def test_unknown_account_decision_creates_nothing() -> None:
    state = new_partition_state()
    from processor.domain import LedgerEvent, decide
    from processor.domain.policy import Policy
    decide(state, LedgerEvent("x", "CollectionNoteAdded", COMPANY, ACCOUNT, "2026-01-01T00:00:00Z", "t",
                              {"note_id": "N", "author": "a", "text": "t"}), Policy(), 0)
    assert state.accounts == {}


def test_event_ids_would_be_unique_per_stream() -> None:
    led = Ledger()
    led.invoice("INV-1", 20000, due="2026-01-10")
    led.close_day("2026-03-01")
    assert types(led.log) == ["InvoicePosted", "BusinessDayClosed", "CaseOpened", "InvoiceAttached"]
    assert [r["event_id"] for r in led.log[1:]] == [
        "e-2#USMF/#p0#0", "e-2#USMF/C-1#0", "e-2#USMF/C-1#1"]
