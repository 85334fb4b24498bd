"""Avro single-object encoding (and JSON input) for ledger events and case-file log records.

Schemas are parsed once. A codec knows one reader schema (the current one) and any number of
writer schemas, found by the fingerprint in the single-object header, so data written with an
older or newer compatible schema is resolved to the reader's shape (Avro schema resolution).
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form

from schemas import LEDGER_SCHEMA_FILE, LOG_SCHEMA_FILE, load_schema_json
from schemas.fingerprint import single_object_header

MAGIC = b"\xc3\x01"
HEADER_LEN = 10


class DecodeError(ValueError):
    """The bytes are neither single-object Avro of a known schema nor a JSON object."""


class AvroCodec:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema_json = schema
        self.parsed = parse_schema(schema)
        self.canonical_form = to_parsing_canonical_form(schema)
        self.header = single_object_header(self.canonical_form)
        self._writers: dict[bytes, Any] = {self.header: self.parsed}

    @classmethod
    def from_file(cls, path: str | Path) -> "AvroCodec":
        return cls(load_schema_json(path))

    def register_writer_schema(self, schema: dict[str, Any]) -> bytes:
        """Accept data written with `schema` too (e.g. a newer or older version)."""
        header = single_object_header(to_parsing_canonical_form(schema))
        self._writers[header] = parse_schema(schema)
        return header

    def encode(self, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(self.header)
        schemaless_writer(buf, self.parsed, record)
        return buf.getvalue()

    def encode_body(self, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        schemaless_writer(buf, self.parsed, record)
        return buf.getvalue()

    def decode_avro(self, data: bytes, **reader_options: Any) -> dict[str, Any]:
        if len(data) < HEADER_LEN or data[:2] != MAGIC:
            raise DecodeError("not Avro single-object encoding (no C3 01 marker)")
        writer = self._writers.get(data[:HEADER_LEN])
        if writer is None:
            raise DecodeError(f"unknown schema fingerprint {data[2:HEADER_LEN].hex()}")
        try:
            if writer is self.parsed:
                return schemaless_reader(io.BytesIO(data[HEADER_LEN:]), writer, None, **reader_options)
            return schemaless_reader(io.BytesIO(data[HEADER_LEN:]), writer, self.parsed, **reader_options)
        except Exception as exc:  # fastavro raises many types for truncated or corrupt bodies
            raise DecodeError(f"corrupt Avro body: {exc.__class__.__name__}: {exc}") from exc


def decode_ledger_bytes(codec: AvroCodec, data: bytes | None) -> dict[str, Any]:
    """A ledger record's value as a dict: Avro single-object, or a JSON object (value starts with `{`).

    Avro payloads come back as ``(record_name, fields)`` so the branch can be checked against `type`.
    """
    if not data:
        raise DecodeError("empty value")
    if data[:1] == b"{":
        try:
            obj = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DecodeError(f"invalid JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise DecodeError("JSON value is not an object")
        return obj
    return codec.decode_avro(data, return_record_name=True)


_ledger: AvroCodec | None = None
_log: AvroCodec | None = None


def ledger_codec() -> AvroCodec:
    global _ledger
    if _ledger is None:
        _ledger = AvroCodec.from_file(LEDGER_SCHEMA_FILE)
    return _ledger


def log_codec() -> AvroCodec:
    global _log
    if _log is None:
        _log = AvroCodec.from_file(LOG_SCHEMA_FILE)
    return _log
