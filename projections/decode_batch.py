"""Decode a batch of case-file log values (Avro single-object encoding) in one columnar pass.

A single-object value is a 10-byte header (marker and schema fingerprint) and the Avro body.
Read with a schema that starts with a `fixed(10)` field, the whole value IS a record body, so a
batch of values joined as they are is the block of an Avro object container file (header
`Obj\\x01`, that schema in the metadata, a sync marker, the record count, the values, the sync
marker again) which polars' native Avro reader decodes straight into columns (~1.7 µs a record
instead of fastavro's ~16 µs; cutting the headers off first cost more than the decoding).
Before polars sees the bytes, every value's header is checked (one vectorised gather) to be the
reader schema's; after it, a sentinel record appended behind the values must come out last, so
values that do not hold exactly one record each (which would shift every record after them)
are caught too. The result is a pyarrow table of the log schema's fields.

A batch holding a value of another writer schema (or anything polars refuses) is decoded value
by value with fastavro instead, so schema resolution and `DecodeError` behave as in
`AvroCodec.decode_avro`.
"""
from __future__ import annotations

import io
import os
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from schemas.codec import HEADER_LEN, AvroCodec, DecodeError
from schemas.container import avro_long, container_header

try:  # polars is optional: without it every batch takes the fastavro path
    import polars as _pl
except ImportError:  # pragma: no cover - exercised only where polars is absent
    _pl = None


SENTINEL_ID = "\x00casefile-decode-sentinel"  # no log record has it: event ids are made by the processor


def _sentinel_record(schema_json: dict[str, Any]) -> dict[str, Any]:
    """A record of the schema with every field empty (null where it may be) but its event id."""
    empty = {"string": "", "long": 0, "int": 0, "boolean": False, "double": 0.0}
    rec: dict[str, Any] = {}
    for f in schema_json["fields"]:
        t = f["type"]
        if isinstance(t, list):
            rec[f["name"]] = None if "null" in t else empty[t[0]]
        elif isinstance(t, dict):
            rec[f["name"]] = [] if t.get("type") == "array" else None
        else:
            rec[f["name"]] = empty[t]
    rec["event_id"] = SENTINEL_ID
    return rec


class BatchDecoder:
    """Columnar decoding of log values of one codec's reader schema."""

    _HEADER_FIELD = "_single_object_header"

    def __init__(self, codec: AvroCodec) -> None:
        self.codec = codec
        self.header = codec.header
        self.field_names = tuple(f["name"] for f in codec.schema_json["fields"])
        self._sync = os.urandom(16)
        self._file_header = self._container_header(codec.schema_json)
        headed = dict(codec.schema_json, fields=[
            {"name": self._HEADER_FIELD, "type": {"type": "fixed", "name": "SingleObjectHeader", "size": HEADER_LEN}},
            *codec.schema_json["fields"]])
        self._values_header = self._container_header(headed)
        self._sentinel = codec.encode(_sentinel_record(codec.schema_json))

    def _container_header(self, schema_json: dict[str, Any]) -> bytes:
        return container_header(schema_json, self._sync)

    @property
    def columnar(self) -> bool:
        return _pl is not None

    def _container_of(self, bodies: Sequence[Any], size: int, count: int) -> bytes:
        return b"".join([self._file_header, avro_long(count), avro_long(size), *bodies, self._sync])

    def decode(self, values: Sequence[bytes]) -> pa.Table | None:
        """The values as an Arrow table of the schema's fields (log order), or None when the
        batch must be decoded value by value (`decode_records`): a value of another writer
        schema, or not Avro at all."""
        if _pl is None or not values:
            return None
        lengths = np.fromiter(map(len, values), np.int64, len(values))
        if lengths.min() < HEADER_LEN:
            return None
        # ONE block: the values whole (headers included), then the sentinel record
        prefix = self._values_header + avro_long(len(values) + 1) + avro_long(int(lengths.sum()) + len(self._sentinel))
        container = b"".join([prefix, *values, self._sentinel, self._sync])
        # every value's first bytes, read off the container in one vectorised gather: polars
        # is only handed values of this schema (it can panic on other bytes)
        starts = len(prefix) + np.cumsum(lengths) - lengths
        heads = np.frombuffer(container, np.uint8)[starts[:, None] + np.arange(HEADER_LEN)]
        if not (heads == np.frombuffer(self.header, np.uint8)).all():
            return None
        frame = self._frame(container, len(values) + 1, (self._HEADER_FIELD, *self.field_names))
        if frame is None or frame.get_column("event_id")[-1] != SENTINEL_ID:
            return None
        return frame.head(len(values)).drop(self._HEADER_FIELD).to_arrow()

    def decode_bodies(self, bodies: Sequence[bytes], count: int) -> pa.Table | None:
        """`count` records written with this schema, as concatenated Avro bodies (e.g. the
        blocks of an object container file), in one columnar pass; None when polars cannot."""
        if _pl is None or not count:
            return None
        return self._read(self._container_of(bodies, sum(map(len, bodies)), count), count)

    def _read(self, container: bytes, count: int) -> pa.Table | None:
        frame = self._frame(container, count, self.field_names)
        return None if frame is None else frame.to_arrow()

    @staticmethod
    def _frame(container: bytes, count: int, names: tuple[str, ...]) -> Any:
        try:
            frame = _pl.read_avro(io.BytesIO(container))
        except Exception:  # noqa: BLE001 - corrupt data: fastavro says exactly which value
            return None
        except BaseException as exc:  # pyo3's PanicException (polars on malformed bytes) is one
            if type(exc).__name__ != "PanicException":
                raise
            return None
        if frame.height != count or tuple(frame.columns) != names:
            return None
        return frame

    def decode_records(self, values: Sequence[bytes]) -> list[dict[str, Any]]:
        """fastavro, value by value (raises `DecodeError` on the first bad value)."""
        decode = self.codec.decode_avro
        return [decode(v) for v in values]


__all__ = ["BatchDecoder", "DecodeError"]
