"""Columnar decoding of log values (projections.decode_batch) and when it hands over to fastavro."""
from __future__ import annotations

import pytest

from projections.arrow_io import rows
from projections.decode_batch import BatchDecoder
from projections.testing import FIELDS, LogBuilder
from schemas.codec import log_codec


def _values(n: int) -> list[bytes]:
    log = LogBuilder()
    for i in range(n):
        log.add("NoteLogged", "A", f"2026-01-0{i + 1}T00:00:00Z", case_id="K", document_id=f"N{i}", text=f"n{i}")
    codec = log_codec()
    return [codec.encode({f: r[f] for f in FIELDS}) for r in log.records]


def test_values_decode_in_columns_in_log_order():
    table = BatchDecoder(log_codec()).decode(_values(4))
    assert table is not None and table.column("text").to_pylist() == ["n0", "n1", "n2", "n3"]
    assert table.column_names == [f["name"] for f in log_codec().schema_json["fields"]]


def test_a_value_that_is_not_exactly_one_record_is_left_to_fastavro():
    """Two records in one value would shift every record after it (and drop the last one)."""
    v = _values(4)
    decoder = BatchDecoder(log_codec())
    assert decoder.decode([v[0] + v[1], v[2], v[3]]) is None
    assert decoder.decode([v[0], v[1][:-3], v[2]]) is None  # one cut short
    assert decoder.decode([v[0], b"\\xc3\\x01" + b"\\x00" * 8 + v[1][10:]]) is None  # another schema's header


def test_rows_of_the_wrong_width_are_refused():
    with pytest.raises(ValueError):
        rows("clock_state", [("USMF", 0)])
