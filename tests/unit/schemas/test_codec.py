"""Single-object encoding, JSON input, and the boundary's reasons for bad input."""
from __future__ import annotations

import copy
import json

import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas import LEDGER_SCHEMA_FILE, load_schema_json
from schemas.codec import DecodeError, decode_ledger_bytes, ledger_codec, log_codec
from schemas.fingerprint import crc64_avro
from schemas.ledger_models import InvalidEvent, canonical_json, digest, to_avro_record, validate_ledger_event

EVENT = {"event_id": "e-000123", "type": "InvoicePosted", "company": "USMF", "customer_account": "C-0042",
         "occurred_at": "2026-01-05T10:00:00Z", "source": "d365",
         "payload": {"invoice_id": "INV-9", "invoice_date": "2026-01-05", "due_date": "2026-02-04",
                     "amount_minor": 125000, "currency": "USD"}}


def test_fingerprint_matches_the_avro_specification() -> None:
    # the spec's fingerprint of "int", cross-checked with fastavro's independent implementation
    assert crc64_avro(b'"int"').to_bytes(8, "little").hex() == fingerprint('"int"', "CRC-64-AVRO")
    canonical = to_parsing_canonical_form(load_schema_json(LEDGER_SCHEMA_FILE))
    assert ledger_codec().header == b"\xc3\x01" + bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


def test_avro_and_json_decode_to_the_same_event() -> None:
    event = validate_ledger_event(EVENT)
    avro = ledger_codec().encode(to_avro_record(event))
    assert avro[:2] == b"\xc3\x01"
    from_avro = validate_ledger_event(decode_ledger_bytes(ledger_codec(), avro))
    from_json = validate_ledger_event(decode_ledger_bytes(ledger_codec(), json.dumps(EVENT).encode()))
    assert from_avro == from_json == event
    assert digest(from_avro) == digest(from_json)


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02", b"\xc3\x01" + b"\x00" * 8 + b"x", b"[1,2]", b"{not json"])
def test_undecodable_bytes_are_decode_errors(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_ledger_bytes(ledger_codec(), data)


def test_truncated_avro_body_is_a_decode_error() -> None:
    avro = ledger_codec().encode(to_avro_record(validate_ledger_event(EVENT)))
    with pytest.raises(DecodeError):
        decode_ledger_bytes(ledger_codec(), avro[:30])


@pytest.mark.parametrize("change, code, field", [
    (lambda e: e.pop("source"), "schema", "source"),
    (lambda e: e.__setitem__("type", "Nope"), "schema", "type"),
    (lambda e: e["payload"].__setitem__("extra", 1), "schema", "payload.extra"),
    (lambda e: e["payload"].__setitem__("amount_minor", 12.5), "schema", "payload.amount_minor"),
    (lambda e: e["payload"].__setitem__("amount_minor", "100"), "schema", "payload.amount_minor"),
    (lambda e: e["payload"].__setitem__("amount_minor", 0), "validation", "payload.amount_minor"),
    (lambda e: e["payload"].__setitem__("currency", "US"), "validation", "payload.currency"),
    (lambda e: e["payload"].__setitem__("due_date", "2025-12-31"), "validation", "due_date"),
    (lambda e: e.__setitem__("event_id", ""), "validation", "event_id"),
    (lambda e: e.__setitem__("occurred_at", "yesterday"), "validation", "occurred_at"),
    (lambda e: e.__setitem__("customer_account", ""), "validation", "customer_account"),
])
def test_bad_input_gets_a_code_and_names_the_field(change, code: str, field: str) -> None:
    bad = copy.deepcopy(EVENT)
    change(bad)
    with pytest.raises(InvalidEvent) as err:
        validate_ledger_event(bad)
    assert err.value.code == code
    assert field in err.value.reason


def test_timestamps_are_normalised_to_utc() -> None:
    event = validate_ledger_event({**EVENT, "occurred_at": "2026-01-05T23:30:00-02:00"})
    assert event.occurred_at == "2026-01-06T01:30:00Z"
    assert event.business_date == "2026-01-06"


def test_canonical_form_ignores_key_order() -> None:
    shuffled = dict(reversed(list(EVENT.items())))
    assert canonical_json(validate_ledger_event(shuffled)) == canonical_json(validate_ledger_event(EVENT))


def test_log_schema_round_trips_a_record() -> None:
    fields = log_codec().schema_json["fields"]
    record = {f["name"]: f.get("default") for f in fields}
    record.update(event_id="x#USMF/C#0", stream_id="USMF/C", stream_version=1, event_type="InvoicePosted",
                  company="USMF", customer_account="C", occurred_at="2026-01-05T10:00:00Z", recorded_at=1,
                  source_event_id="x", source_digest="d", source_topic="t", source_partition=0, source_offset=0,
                  policy_version="p", prev_hash="0" * 64, hash="h",
                  applications=[{"invoice_id": "I", "amount_minor": -5, "document_id": "P", "kind": "payment"}])
    assert log_codec().decode_avro(log_codec().encode(record)) == record
