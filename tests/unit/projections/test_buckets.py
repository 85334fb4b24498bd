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


def test_book_equals_the_per_account_spread_through_changes_and_compaction(monkeypatch):
    import random
    from datetime import date, timedelta

    from projections.buckets import AgingBook
    from projections.state import ProjectionState

    monkeypatch.setattr(AgingBook, "COMPACT_AT", 16)
    rnd = random.Random(11)
    policy = Policy(bucket_bounds=(5, 17, 40, 41))
    state = ProjectionState()
    book = AgingBook("USMF", 0, policy)
    accounts = [state.add_account("USMF", f"C{n}", 0) for n in range(7)]
    day = date(2026, 1, 1)
    for step in range(400):
        acct = rnd.choice(accounts)
        invoice_id = f"i{rnd.randrange(3000)}"
        inv = acct.invoices.get(invoice_id)
        if inv is None:
            inv = acct.invoices[invoice_id] = new_invoice("USMF", acct.customer_account, invoice_id)
            start = day - timedelta(days=rnd.randrange(60))
            inv.update(invoice_date=start.isoformat(),
                       due_date=None if rnd.random() < 0.1 else
                       (start + timedelta(days=rnd.randrange(30))).isoformat())
        inv["open_minor"] = 0 if rnd.random() < 0.4 else rnd.randrange(-50, 999)
        if inv["open_minor"]:
            acct.open[invoice_id] = inv
        else:
            acct.open.pop(invoice_id, None)
        acct.dirty.append(inv)
        if rnd.random() < 0.05:
            acct.unapplied = rnd.randrange(-30, 1)
            acct.changed.add(acct.customer_account)
        if step % 7 == 0:
            day += timedelta(days=rnd.randrange(1, 4))
            as_of = day.isoformat()
            names, tails = book.close(state, as_of)
            expected = {a.customer_account: aging_row(a, as_of, policy)[3:] for a in accounts
                        if a.open or a.unapplied}
            assert dict(zip(names, (tuple(map(int, t)) for t in tails))) == expected
            assert book.total == sum(t[6] for t in expected.values())
            names, tails = book.aging(state, None)
            assert {n: tuple(map(int, t)) for n, t in zip(names, tails)} == {
                a.customer_account: aging_row(a, None, policy)[3:] for a in accounts}
    for acct in accounts:  # settle all but one receivable: the next syncs compact
        for inv in list(acct.open.values())[1:]:
            inv["open_minor"] = 0
            acct.dirty.append(inv)
            del acct.open[inv["invoice_id"]]
    slots_before = len(book.slot_open)
    book.close(state, "2027-01-01")
    names, tails = book.close(state, "2027-01-02")
    assert len(book.slot_open) == sum(len(a.open) for a in accounts) < slots_before
    assert dict(zip(names, (tuple(map(int, t)) for t in tails))) == {
        a.customer_account: aging_row(a, "2027-01-02", policy)[3:] for a in accounts
        if a.open or a.unapplied}
