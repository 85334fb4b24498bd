"""A ledger event once it has passed the trust boundary: plain, frozen, validated values."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """One validated ledger fact (contract §2).

    `payload` holds the payload's fields with validated values: money as int minor units,
    dates as ``YYYY-MM-DD`` strings, optional ids as ``None``, allocations as a list of
    ``{"invoice_id": str, "amount_minor": int}``.
    """

    event_id: str
    type: str
    company: str
    customer_account: str
    occurred_at: str
    source: str
    payload: Mapping[str, Any]

    @property
    def stream_id(self) -> str:
        return f"{self.company}/{self.customer_account}"

    @property
    def business_date(self) -> str:
        """The date part of `occurred_at` (RFC 3339, UTC)."""
        return self.occurred_at[:10]
