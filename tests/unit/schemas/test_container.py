"""schemas.container: container files written from record bodies read back by any Avro reader."""
from __future__ import annotations

import io

import fastavro
import pytest

import schemas.container as container
from schemas.codec import HEADER_LEN, log_codec
from schemas.container import ContainerWriter, avro_long


def _record(i: int) -> dict:
    fields = log_codec().schema_json["fields"]
    record = {f["name"]: f.get("default") for f in fields}
    record.update(event_id=f"x#USMF/C#{i}", stream_id="USMF/C", stream_version=i, event_type="InvoicePosted",
                  company="USMF", customer_account="C", occurred_at="2026-01-05T10:00:00Z", recorded_at=i,
                  source_event_id=f"x{i}", source_digest="d", source_topic="t", source_partition=0,
                  source_offset=i, policy_version="p", prev_hash="0" * 64, hash=f"{i:064x}", amount_minor=i * 7,
                  applications=[{"invoice_id": "I", "amount_minor": -i, "document_id": "P", "kind": "payment"}])
    return record


def _file(records: list[dict], codec: str, name: str = "log-p0000.avro") -> bytes:
    log = log_codec()
    out = io.BytesIO()
    writer = ContainerWriter(out, log.schema_json, codec, name=name)
    writer.write(log.encode(r)[HEADER_LEN:] for r in records)  # bodies: single-object values minus header
    writer.flush()
    return out.getvalue()


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_any_avro_reader_reads_the_bodies_back_over_many_blocks(codec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container, "BLOCK_BYTES", 2_000)  # several blocks
    records = [_record(i) for i in range(1, 60)]
    data = _file(records, codec)
    reader = fastavro.reader(io.BytesIO(data))
    assert reader.codec == codec
    assert list(reader) == records
    assert sum(b.num_records for b in fastavro.block_reader(io.BytesIO(data))) == len(records)
    assert len(list(fastavro.block_reader(io.BytesIO(data)))) > 3


def test_same_records_same_bytes_and_files_differ_by_their_sync_marker() -> None:
    records = [_record(i) for i in range(1, 20)]
    assert _file(records, "deflate") == _file(records, "deflate")
    assert _file(records, "deflate", "log-p0001.avro") != _file(records, "deflate")


def test_an_empty_file_is_a_valid_container() -> None:
    assert list(fastavro.reader(io.BytesIO(_file([], "deflate")))) == []


def test_avro_longs_are_zig_zag_varints() -> None:
    assert [avro_long(n) for n in (0, -1, 1, -64, 64, 300)] == [b"\x00", b"\x01", b"\x02", b"\x7f", b"\x80\x01", b"\xd8\x04"]
    with pytest.raises(ValueError):
        ContainerWriter(io.BytesIO(), log_codec().schema_json, "snappy")
