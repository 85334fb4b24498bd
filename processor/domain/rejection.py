"""Why the domain refuses a ledger event: one machine code of contract §1 and a human reason."""
from __future__ import annotations

from typing import Final, Literal

ErrorCode = Literal[
    "decode",
    "schema",
    "validation",
    "unknown_reference",
    "currency_mismatch",
    "over_application",
    "duplicate_document",
    "duplicate_conflict",
]
ERROR_CODES: Final[tuple[str, ...]] = (
    "decode", "schema", "validation", "unknown_reference", "currency_mismatch",
    "over_application", "duplicate_document", "duplicate_conflict",
)


class Rejected(Exception):
    """The event cannot be applied; it goes to the DLQ with `code` and `reason`."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code: ErrorCode = code
        self.reason = reason
