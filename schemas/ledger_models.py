"""The trust boundary for ledger events: pydantic models that turn bad input into a reason.

A failure names the field and says what was wrong, with the contract's error code: `schema`
for a wrong shape (missing or unknown field, wrong type, unknown `type`), `validation` for a
value that breaks a rule.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timezone
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator, model_validator

from processor.domain.ledger_event import LedgerEvent

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

# pydantic error types that mean "the shape is wrong" rather than "a value breaks a rule"
_SHAPE_ERRORS = {"missing", "extra_forbidden", "model_type", "dict_type", "list_type", "union_tag_invalid",
                 "string_type", "int_type", "bool_type", "float_type", "model_attributes_type"}


class InvalidEvent(ValueError):
    def __init__(self, code: Literal["schema", "validation"], reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date YYYY-MM-DD: {value!r}") from None
    if len(value) != 10:
        raise ValueError(f"not a date YYYY-MM-DD: {value!r}")
    return value


def _check_currency(value: str) -> str:
    if not _CURRENCY.match(value):
        raise ValueError(f"not an ISO-4217 currency code: {value!r}")
    return value


Id = Annotated[StrictStr, Field(min_length=1)]
Positive = Annotated[StrictInt, Field(gt=0)]
NonNegative = Annotated[StrictInt, Field(ge=0)]


class _Money(_Strict):
    @field_validator("currency", check_fields=False)
    @classmethod
    def _currency(cls, v: str) -> str:
        return _check_currency(v)


class InvoicePosted(_Money):
    invoice_id: Id
    invoice_date: StrictStr
    due_date: StrictStr
    amount_minor: Positive
    currency: StrictStr

    @field_validator("invoice_date", "due_date")
    @classmethod
    def _dates(cls, v: str) -> str:
        return _check_date(v)

    @model_validator(mode="after")
    def _due_after_invoice(self) -> "InvoicePosted":
        if self.due_date < self.invoice_date:
            raise ValueError(f"due_date {self.due_date} is before invoice_date {self.invoice_date}")
        return self


class CreditNotePosted(_Money):
    credit_note_id: Id
    amount_minor: Positive
    currency: StrictStr
    invoice_id: Optional[Id] = None


class Allocation(_Strict):
    invoice_id: Id
    amount_minor: Positive


class PaymentReceived(_Money):
    payment_id: Id
    amount_minor: Positive
    currency: StrictStr
    # allocations beyond the amount are the domain's `over_application`, not a shape or value error
    allocations: list[Allocation] = []


class PaymentReversed(_Strict):
    payment_id: Id
    reason: StrictStr


class InterestAssessed(_Money):
    interest_note_id: Id
    invoice_id: Optional[Id] = None
    amount_minor: StrictInt
    currency: StrictStr

    @field_validator("amount_minor")
    @classmethod
    def _non_zero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("interest amount must not be 0")
        return v

    @model_validator(mode="after")
    def _waiver_names_invoice(self) -> "InterestAssessed":
        if self.amount_minor < 0 and self.invoice_id is None:
            raise ValueError("a negative interest (waiver) must name the invoice_id")
        return self


class WriteOffPosted(_Money):
    write_off_id: Id
    invoice_id: Id
    amount_minor: Positive
    currency: StrictStr
    reason: StrictStr


class DisputeOpened(_Strict):
    invoice_id: Id
    reason: StrictStr


class DisputeResolved(_Strict):
    invoice_id: Id
    resolution: StrictStr


class PromiseToPayRecorded(_Money):
    promise_id: Id
    promised_amount_minor: Positive
    currency: StrictStr
    promised_date: StrictStr
    recorded_by: StrictStr

    @field_validator("promised_date")
    @classmethod
    def _date(cls, v: str) -> str:
        return _check_date(v)


class CollectionLetterSent(_Strict):
    letter_id: Id
    letter_code: Id
    fee_minor: NonNegative


class CollectionNoteAdded(_Strict):
    note_id: Id
    author: StrictStr
    text: StrictStr


class CaseStatusSet(_Strict):
    status: Literal["InProgress", "Closed"]
    reason: StrictStr
    set_by: StrictStr


class CaseAssigned(_Strict):
    owner: Id


class RiskScoreChanged(_Strict):
    score: Annotated[StrictInt, Field(ge=0, le=100)]
    model: StrictStr


class BusinessDayClosed(_Strict):
    business_date: StrictStr

    @field_validator("business_date")
    @classmethod
    def _date(cls, v: str) -> str:
        return _check_date(v)


PAYLOADS: dict[str, type[_Strict]] = {
    m.__name__: m
    for m in (InvoicePosted, CreditNotePosted, PaymentReceived, PaymentReversed, InterestAssessed,
              WriteOffPosted, DisputeOpened, DisputeResolved, PromiseToPayRecorded, CollectionLetterSent,
              CollectionNoteAdded, CaseStatusSet, CaseAssigned, RiskScoreChanged, BusinessDayClosed)
}


class Envelope(_Strict):
    event_id: Id
    type: StrictStr
    company: Id
    customer_account: StrictStr
    occurred_at: StrictStr
    source: StrictStr
    payload: dict[str, Any]

    @field_validator("occurred_at")
    @classmethod
    def _timestamp(cls, v: str) -> str:
        if not _RFC3339.match(v):
            raise ValueError(f"not an RFC 3339 timestamp: {v!r}")
        try:
            datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an RFC 3339 timestamp: {v!r}") from None
        return v


def _first_error(exc: ValidationError, prefix: str = "") -> InvalidEvent:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    field = f"{prefix}{where}" if where else prefix.rstrip(".") or "event"
    code: Literal["schema", "validation"] = "schema" if err["type"] in _SHAPE_ERRORS else "validation"
    msg = err["msg"].removeprefix("Value error, ")
    return InvalidEvent(code, f"{field}: {msg}")


def _utc(occurred_at: str) -> str:
    """Normalise an RFC 3339 timestamp to UTC `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`."""
    if occurred_at.endswith("Z"):
        return occurred_at
    dt = datetime.fromisoformat(occurred_at).astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{dt.microsecond:06d}" if dt.microsecond else "") + "Z"


def validate_ledger_event(obj: Any) -> LedgerEvent:
    """Check one decoded ledger event (a JSON object, or an Avro record whose payload is `(name, dict)`)."""
    if not isinstance(obj, dict):
        raise InvalidEvent("schema", "event: not an object")
    payload = obj.get("payload")
    branch = None
    if isinstance(payload, tuple):  # Avro union branch as (full name, fields)
        branch, payload = payload[0].rsplit(".", 1)[-1], payload[1]
        obj = {**obj, "payload": payload}
    try:
        env = Envelope.model_validate(obj)
    except ValidationError as exc:
        raise _first_error(exc) from None
    model = PAYLOADS.get(env.type)
    if model is None:
        raise InvalidEvent("schema", f"type: unknown event type {env.type!r}")
    if branch is not None and branch != env.type:
        raise InvalidEvent("schema", f"type: {env.type!r} does not match the Avro payload {branch!r}")
    try:
        body = model.model_validate(env.payload)
    except ValidationError as exc:
        raise _first_error(exc, "payload.") from None
    if env.type == "BusinessDayClosed":
        if env.customer_account:
            raise InvalidEvent("validation", "customer_account: must be empty for BusinessDayClosed")
    elif not env.customer_account:
        raise InvalidEvent("validation", "customer_account: must not be empty")
    return LedgerEvent(
        event_id=env.event_id, type=env.type, company=env.company, customer_account=env.customer_account,
        occurred_at=_utc(env.occurred_at), source=env.source, payload=body.model_dump(),
    )


def canonical_json(event: LedgerEvent) -> str:
    """The canonical form of a validated event: same facts → same text, Avro or JSON input alike."""
    doc = {"event_id": event.event_id, "type": event.type, "company": event.company,
           "customer_account": event.customer_account, "occurred_at": event.occurred_at,
           "source": event.source, "payload": event.payload}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(event: LedgerEvent) -> str:
    return hashlib.sha256(canonical_json(event).encode()).hexdigest()


def to_avro_record(event: LedgerEvent) -> dict[str, Any]:
    """The event as a record for the ledger schema (payload as a named union branch)."""
    return {"event_id": event.event_id, "type": event.type, "company": event.company,
            "customer_account": event.customer_account, "occurred_at": event.occurred_at,
            "source": event.source, "payload": (f"casefile.ledger.{event.type}", dict(event.payload))}
