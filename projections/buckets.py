"""An account's aging row: its open receivables spread over the policy's buckets."""
from __future__ import annotations

from typing import Any

from processor.domain.aging import age_in_days, bucket_index
from processor.domain.policy import Policy
from projections.state import Account


def account_buckets(acct: Account, as_of: str | None, policy: Policy) -> list[int]:
    """[current, b1, b2, b3, b4, beyond] open amounts as of `as_of`.

    With no closed business day yet (`as_of` None) nothing is past due: all is `current`.
    Age and bucket come from `processor.domain.aging` (the policy's basis and bounds).
    """
    sums = [0, 0, 0, 0, 0, 0]
    for invoice_id in acct.open_ids:
        inv = acct.invoices[invoice_id]
        if as_of is None or inv["due_date"] is None or inv["invoice_date"] is None:
            sums[0] += inv["open_minor"]
        else:
            age = age_in_days(inv["invoice_date"], inv["due_date"], as_of, policy)
            sums[bucket_index(age, policy)] += inv["open_minor"]
    return sums


def aging_row(acct: Account, as_of: str | None, policy: Policy) -> tuple[Any, ...]:
    """A row of `aging` / `aging_history`, in `schema.AGING_COLUMNS` order."""
    sums = account_buckets(acct, as_of, policy)
    return (acct.company, acct.customer_account, as_of, *sums, sum(sums), acct.unapplied)
