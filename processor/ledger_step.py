"""One ledger record through the processor: decode, validate, de-duplicate, decide, record.

No Kafka here: the caller passes the record's bytes and coordinates and writes what comes back
(log records or a DLQ entry) inside its transaction. An event is applied entirely or not at all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processor.domain import PartitionState, decide, evolve
from processor.domain.policy import Policy
from processor.domain.rejection import Rejected
from processor.idempotency import classify
from processor.log_records import Cause, build_records
from schemas.codec import AvroCodec, DecodeError, decode_ledger_bytes
from schemas.ledger_models import InvalidEvent, digest, validate_ledger_event


@dataclass(frozen=True, slots=True)
class DeadLetter:
    code: str
    reason: str


@dataclass(slots=True)
class StepResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    encoded: list[bytes] = field(default_factory=list)  # each record's single-object encoding
    dead_letter: DeadLetter | None = None
    duplicate: bool = False
    event_type: str | None = None


def step(state: PartitionState, value: bytes | None, topic: str, partition: int, offset: int, timestamp_ms: int,
         policy: Policy, ledger_codec: AvroCodec, log_codec: AvroCodec) -> StepResult:
    """Apply one ledger record to `state`; the returned records are already folded into it."""
    try:
        event = validate_ledger_event(decode_ledger_bytes(ledger_codec, value))
    except DecodeError as exc:
        return StepResult(dead_letter=DeadLetter("decode", str(exc)))
    except InvalidEvent as exc:
        return StepResult(dead_letter=DeadLetter(exc.code, exc.reason))
    event_digest = digest(event)
    seen = classify(state.seen, event.event_id, event_digest)
    if seen == "duplicate":
        return StepResult(duplicate=True, event_type=event.type)
    if seen == "conflict":
        return StepResult(dead_letter=DeadLetter(
            "duplicate_conflict", f"event_id {event.event_id!r} was applied before with different content"),
            event_type=event.type)
    try:
        decisions = decide(state, event, policy, partition)
    except Rejected as exc:
        return StepResult(dead_letter=DeadLetter(exc.code, exc.reason), event_type=event.type)
    cause = Cause(event.event_id, event_digest, topic, partition, offset, timestamp_ms)
    built = build_records(decisions, cause, policy.version, state.heads, log_codec)
    for record, _ in built:
        evolve(state, record)
    return StepResult(records=[r for r, _ in built], encoded=[e for _, e in built], event_type=event.type)
