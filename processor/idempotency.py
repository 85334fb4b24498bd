"""Has this ledger event been applied before? Same id and content: a duplicate to skip; same id,
other content: a conflict for the DLQ."""
from __future__ import annotations

from typing import Literal, Mapping

Seen = Literal["new", "duplicate", "conflict"]


def classify(seen: Mapping[str, str], event_id: str, digest: str) -> Seen:
    known = seen.get(event_id)
    if known is None:
        return "new"
    return "duplicate" if known == digest else "conflict"
