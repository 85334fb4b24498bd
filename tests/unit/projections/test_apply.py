"""Folding log records into the projection state (no database)."""
from __future__ import annotations

from processor.domain.policy import Policy
from projections.apply import apply_record
from projections.state import ProjectionState
from projections.testing import LogBuilder, app

POLICY = Policy()


def fold(log: LogBuilder) -> ProjectionState:
    state = ProjectionState()
    for rec in log.records:
        apply_record(state, rec, POLICY)
    return state


def invoice(state: ProjectionState, account: str, invoice_id: str) -> dict:
    return state.accounts[("USMF", account)].invoices[invoice_id]


def posted(log: LogBuilder, inv: str = "I1", due: str = "2026-01-10", amount: int = 1000,
           day: str = "2026-01-01") -> None:
    log.add("InvoicePosted", "A", f"{day}T00:00:00Z", document_id=inv, invoice_date=day,
            due_date=due, amount_minor=amount)


def test_payment_settles_with_days_late_and_reversal_reopens():
    log = LogBuilder()
    posted(log)
    log.add("PaymentReceived", "A", "2026-01-15T12:00:00Z", document_id="P", amount_minor=1200,
            applications=[app("I1", -1000, "P", "payment")], unapplied_minor=200)
    state = fold(log)
    inv = invoice(state, "A", "I1")
    assert (inv["status"], inv["settled_on"], inv["days_late"]) == ("settled", "2026-01-15", 5)
    assert state.accounts[("USMF", "A")].unapplied == 200
    assert state.late_stats["USMF"]["2026-01"] == [1, 5, 5000, 1000]
    log.add("PaymentReversed", "A", "2026-02-01T00:00:00Z", document_id="P", amount_minor=1200,
            applications=[app("I1", 1000, "P", "reversal")], unapplied_minor=-200)
    state = fold(log)
    inv = invoice(state, "A", "I1")
    assert (inv["status"], inv["open_minor"], inv["settled_on"], inv["days_late"]) == (
        "open", 1000, None, None)
    assert state.late_stats["USMF"]["2026-01"] == [0, 0, 0, 0]
    assert state.accounts[("USMF", "A")].unapplied == 0


def test_credit_and_write_off_settle_without_days_late():
    log = LogBuilder()
    posted(log, "I1")
    posted(log, "I2")
    log.add("CreditNotePosted", "A", "2026-02-01T00:00:00Z", document_id="CN", invoice_id="I1",
            amount_minor=1000, applications=[app("I1", -1000, "CN", "credit")])
    log.add("WriteOffPosted", "A", "2026-02-02T00:00:00Z", document_id="W", invoice_id="I2",
            amount_minor=1000, applications=[app("I2", -1000, "W", "write_off")])
    state = fold(log)
    assert [(i["status"], i["settled_on"], i["days_late"]) for i in
            (invoice(state, "A", "I1"), invoice(state, "A", "I2"))] == [
        ("settled", "2026-02-01", None), ("settled", "2026-02-02", None)]
    assert not state.accounts[("USMF", "A")].open


def test_interest_on_an_invoice_and_its_waiver():
    log = LogBuilder()
    posted(log)
    log.add("InterestAssessed", "A", "2026-02-01T00:00:00Z", document_id="N", invoice_id="I1",
            amount_minor=50, applications=[app("I1", 50, "N", "interest")])
    log.add("InterestAssessed", "A", "2026-02-02T00:00:00Z", document_id="N2", invoice_id="I1",
            amount_minor=-20, applications=[app("I1", -20, "N2", "interest")])
    inv = invoice(fold(log), "A", "I1")
    assert (inv["amount_minor"], inv["interest_minor"], inv["open_minor"]) == (1000, 30, 1030)


def test_own_interest_receivable_is_a_row_settled_at_once_by_unapplied_credit():
    log = LogBuilder()
    log.add("PaymentReceived", "A", "2026-01-01T00:00:00Z", document_id="P", amount_minor=100,
            unapplied_minor=100)
    log.add("InterestAssessed", "A", "2026-01-05T00:00:00Z", document_id="N", amount_minor=60,
            applications=[app("N", -60, "P", "payment")], unapplied_minor=-60)
    state = fold(log)
    inv = invoice(state, "A", "N")
    assert (inv["kind"], inv["due_date"], inv["amount_minor"], inv["open_minor"],
            inv["status"], inv["days_late"]) == ("interest", "2026-01-05", 60, 0, "settled", 0)
    assert state.accounts[("USMF", "A")].unapplied == 40


def test_dispute_flag():
    log = LogBuilder()
    posted(log)
    log.add("DisputeOpened", "A", "2026-01-02T00:00:00Z", invoice_id="I1", reason="r",
            disputed=True)
    assert invoice(fold(log), "A", "I1")["disputed"] is True
    log.add("DisputeResolved", "A", "2026-01-03T00:00:00Z", invoice_id="I1", reason="ok",
            disputed=False)
    assert invoice(fold(log), "A", "I1")["disputed"] is False


def test_case_counters_version_and_last_activity():
    log = LogBuilder()
    posted(log)
    case = "USMF/A/1"
    log.add("CaseOpened", "A", "2026-02-10T23:00:00Z", case_id=case, trigger_rule="aging",
            amount_minor=1000, business_date="2026-02-10", status="Open")
    log.add("InvoiceAttached", "A", "2026-02-10T23:00:00Z", case_id=case, invoice_id="I1",
            amount_minor=1000)
    log.add("LetterLogged", "A", "2026-02-12T00:00:00Z", case_id=case, document_id="L",
            letter_code="D1", amount_minor=0)
    log.add("NoteLogged", "A", "2026-02-11T00:00:00Z", case_id=case, document_id="N",
            actor="x", text="t")  # out of time order: max counts
    log.add("PromiseRecorded", "A", "2026-02-12T00:00:00Z", case_id=case, document_id="PR",
            amount_minor=700, promised_date="2026-02-20")
    log.add("PromiseBroken", "A", "2026-02-24T23:00:00Z", case_id=case, document_id="PR",
            amount_minor=0, business_date="2026-02-24")
    log.add("CaseAssigned", "A", "2026-02-12T00:00:00Z", case_id=case, owner="ann")
    log.add("CaseStatusChanged", "A", "2026-02-12T00:00:00Z", case_id=case,
            status="InProgress")
    state = fold(log)
    row = state.cases[case]
    assert (row["status"], row["owner"], row["opened_on"], row["letters_sent"],
            row["notes_count"], row["promised_minor"], row["promises_broken"], row["version"],
            str(row["last_activity_at"])) == (
        "InProgress", "ann", "2026-02-10", 1, 1, 700, 1, 8, "2026-02-24 23:00:00")
    assert invoice(state, "A", "I1")["case_id"] == case
    assert state.case_invoices[case] == {"I1"}
    assert state.daily["USMF"]["2026-02-24"]["promises_broken"] == 1
    assert state.daily["USMF"]["2026-02-10"]["cases_opened"] == 1


def test_invoice_attached_to_a_new_case_leaves_the_old_one():
    log = LogBuilder()
    posted(log)
    for n in (1, 2):
        log.add("CaseOpened", "A", f"2026-02-1{n}T00:00:00Z", case_id=f"USMF/A/{n}",
                trigger_rule="risk", amount_minor=1000, status="Open")
        log.add("InvoiceAttached", "A", f"2026-02-1{n}T00:00:00Z", case_id=f"USMF/A/{n}",
                invoice_id="I1", amount_minor=1000)
        if n == 1:
            log.add("CaseClosed", "A", "2026-02-11T05:00:00Z", case_id="USMF/A/1",
                    outcome="manual", status="Closed")
    state = fold(log)
    assert state.case_invoices == {"USMF/A/1": set(), "USMF/A/2": {"I1"}}
    assert state.close_stats["USMF"]["2026-02"] == [1, 0, 0]


def test_a_business_day_snapshots_its_partition_once():
    log = LogBuilder()
    posted(log)  # account A on partition 0
    log.add("InvoicePosted", "B", "2026-01-01T00:00:00Z", partition=1, document_id="J",
            invoice_date="2026-01-01", due_date="2026-01-01", amount_minor=10)
    log.add("BusinessDayClosed", "", "2026-01-20T00:00:00Z", business_date="2026-01-20")
    log.add("BusinessDayClosed", "", "2026-01-20T00:00:00Z", business_date="2026-01-20")
    state = fold(log)
    assert state.touched.aging_history == [
        ("USMF", "A", "2026-01-20", 0, 1000, 0, 0, 0, 0, 1000, 0)]
    assert state.daily["USMF"]["2026-01-20"]["ar_total_minor"] == 1000
    assert state.company_dates == {"USMF": "2026-01-20"}
    log.add("BusinessDayClosed", "", "2026-01-20T00:00:00Z", partition=1,
            business_date="2026-01-20")
    state = fold(log)
    assert state.daily["USMF"]["2026-01-20"]["ar_total_minor"] == 1010
    assert state.clocks == {("USMF", 0): "2026-01-20", ("USMF", 1): "2026-01-20"}
