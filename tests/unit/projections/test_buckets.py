from processor.domain.policy import Policy
from projections.buckets import aging_row
from projections.state import Account, new_invoice


def account(*invoices: tuple[str, str, str, int]) -> Account:
    acct = Account("USMF", "A", 0, unapplied=7)
    for invoice_id, invoice_date, due_date, open_minor in invoices:
        inv = new_invoice("USMF", "A", invoice_id)
        inv.update(invoice_date=invoice_date, due_date=due_date, open_minor=open_minor)
        acct.invoices[invoice_id] = inv
        acct.open[invoice_id] = inv
    return acct


ACCT = account(("a", "2026-01-01", "2026-03-01", 1), ("b", "2026-01-01", "2026-02-28", 10),
               ("c", "2025-12-01", "2026-01-29", 100), ("d", "2025-10-01", "2025-10-31", 1000))


def test_buckets_by_due_date():
    # as of 2026-03-01: a current (0 days), b 1 day, c 31 days, d 121 days
    assert aging_row(ACCT, "2026-03-01", Policy()) == (
        "USMF", "A", "2026-03-01", 1, 10, 100, 0, 0, 1000, 1111, 7)


def test_buckets_by_invoice_date_and_other_bounds():
    policy = Policy(aging_basis="invoice_date", bucket_bounds=(10, 60, 90, 150))
    # ages 59, 59, 90, 151
    assert aging_row(ACCT, "2026-03-01", policy)[3:9] == (0, 0, 11, 100, 0, 1000)


def test_without_a_closed_day_all_is_current():
    assert aging_row(ACCT, None, Policy())[3:] == (1111, 0, 0, 0, 0, 0, 1111, 7)


def test_cached_spread_equals_age_in_days_day_after_day():
    import random
    from datetime import date, timedelta

    from processor.domain.aging import age_in_days, bucket_index

    rnd = random.Random(7)
    for basis in ("due_date", "invoice_date"):
        policy = Policy(aging_basis=basis, bucket_bounds=(5, 17, 40, 41))
        invoices = []
        for n in range(12):
            start = date(2026, 1, 1) + timedelta(days=rnd.randrange(60))
            due = start + timedelta(days=rnd.randrange(0, 45))
            invoices.append((f"i{n}", start.isoformat(), due.isoformat(), rnd.randrange(1, 999)))
        acct = account(*invoices)
        for offset in range(0, 150):
            as_of = (date(2026, 1, 1) + timedelta(days=offset)).isoformat()
            expected = [0] * 6
            for _, invoice_date, due_date, amount in invoices:
                expected[bucket_index(age_in_days(invoice_date, due_date, as_of, policy),
                                      policy)] += amount
            assert list(aging_row(acct, as_of, policy)[3:9]) == expected, (basis, as_of)
