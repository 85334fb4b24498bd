"""Replay pieces without a broker: chain check, as-of parsing, table compare, archive, reconcile."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import fastavro
import pytest

from casefile.errors import CasefileError
from casefile.read_models import READ_MODEL_TABLES
from processor.domain.policy import load_policy
from processor.log_records import Cause, build_records
from projections.testing import collections_scenario
from replay.archive import ArchiveReader, ArchiveWriter, load_manifest
from replay.batches import TableBatch
from replay.chain_check import ChainChecker
from replay.compare import compare_files
from replay.log_reader import Progress
from replay.rebuild import check_new_target, format_ms, parse_as_of, rebuild
from replay.reconcile import LogTotals, reconcile, totals_from_db
from schemas.codec import log_codec

TOPIC = "collections.casefile.v1"


def chained(n: int, streams: tuple[str, ...] = ("USMF/C-1", "USMF/C-2")) -> list[dict]:
    """Real log records (processor's builder and hash chain), two streams on partition 0."""
    codec = log_codec()
    heads: dict[str, tuple[int, str]] = {}
    out = []
    for i in range(n):
        stream = streams[i % len(streams)]
        company, account = stream.split("/")
        cause = Cause(f"e-{i}", "d" * 64, "ar.ledger.v1", 0, i, 1_767_225_600_000 + i)
        ((rec, _),) = build_records([{"stream_id": stream, "event_type": "NoteLogged", "company": company,
                                 "customer_account": account, "occurred_at": "2026-01-01T10:00:00Z",
                                 "document_id": f"N-{i}", "text": "hello", "actor": "me"}],
                               cause, "p" * 16, heads, codec)
        heads[stream] = (rec["stream_version"], rec["hash"])
        out.append(rec)
    return out


def with_coords(recs: list[dict]) -> list[dict]:
    return [{**r, "_topic": TOPIC, "_partition": 0, "_offset": i} for i, r in enumerate(recs)]


def test_raw_fast_path_hash_equals_the_processors_hash() -> None:
    codec = log_codec()
    checker = ChainChecker(codec)
    for rec in with_coords(chained(20)):
        raw = codec.encode({k: v for k, v in rec.items() if not k.startswith("_")})
        assert checker.computed_hash(rec, raw) == rec["hash"] == checker.computed_hash(rec, None)
        assert checker.check(rec, raw)
    assert checker.ok and checker.checked == 20


@pytest.mark.parametrize("tamper,what", [("amount", "hash"), ("skip", "version"), ("swap", "version"),
                                         ("prev", "prev_hash"), ("partition", "partition")])
def test_first_break_is_named_once(tamper: str, what: str) -> None:
    recs = with_coords(chained(12))
    if tamper == "amount":
        recs[6]["text"] = "forged"
    elif tamper == "skip":
        del recs[6]
    elif tamper == "swap":
        recs[6], recs[8] = recs[8], recs[6]
    elif tamper == "prev":
        recs[6]["prev_hash"] = "f" * 64
    else:
        recs[6]["_partition"] = 1
    checker = ChainChecker(log_codec())
    for i, r in enumerate(recs):
        r["_offset"] = i
        checker.check(r)
    first = checker.first_break()
    at = 7 if tamper == "skip" else 6  # streams alternate: the skipped stream's next record
    assert first is not None and first.what == what and first.offset == at
    assert first.stream_id == recs[at]["stream_id"]
    assert f"offset {at} stream {first.stream_id}: {what} expected" in first.line()
    assert checker.broken_count <= 3  # re-synchronised: no cascade down the stream


def test_as_of_parsing() -> None:
    assert parse_as_of("1970-01-01T00:00:01Z") == 1000
    assert parse_as_of("2026-01-01T01:00:00.250+01:00") == parse_as_of("2026-01-01T00:00:00.250Z")
    assert format_ms(parse_as_of("2026-03-01T12:34:56.789Z")) == "2026-03-01T12:34:56.789Z"
    for bad in ("2026-01-01", "2026-01-01T00:00:00", "yesterday"):
        with pytest.raises(CasefileError):
            parse_as_of(bad)


def test_progress_reports_rate_and_remaining() -> None:
    now = [0.0]
    p = Progress("x", total=100, clock=lambda: now[0])
    now[0] = 2.0
    p.advance(40)
    assert p.figures() == {"step": "x", "records": 40, "records_per_s": 20, "elapsed_s": 2.0, "remaining": 60,
                           "eta_s": 3.0}


def _scenario_db(tmp_path: Path, name: str, records: list[dict] | None = None) -> Path:
    log = collections_scenario()
    db = tmp_path / name
    rebuild(str(db), load_policy(), [log.records if records is None else records])
    return db


def test_rebuild_compare_and_reconcile(tmp_path: Path) -> None:
    a, b = _scenario_db(tmp_path, "a.duckdb"), _scenario_db(tmp_path, "b.duckdb")
    assert all(d.equal for d in compare_files(str(a), str(b), READ_MODEL_TABLES))
    with pytest.raises(CasefileError, match="not empty"):
        check_new_target(str(a))
    con = duckdb.connect(str(b))
    assert reconcile(con, totals_from_db(con)).ok
    totals = LogTotals()
    for r in collections_scenario().records:
        totals.add(r)
    assert totals.open == totals_from_db(con).open and reconcile(con, totals).ok
    con.execute("UPDATE invoices SET open_minor = open_minor + 5 WHERE open_minor > 0 "
                "AND invoice_id = (SELECT min(invoice_id) FROM invoices WHERE open_minor > 0)")
    result = reconcile(con, totals)
    assert not result.ok and "Σ invoices.open_minor" in result.problems[0]
    con.close()
    diffs = {d.table: d for d in compare_files(str(a), str(b), READ_MODEL_TABLES)}
    assert not diffs["invoices"].equal and diffs["aging"].equal
    assert diffs["invoices"].only_left == diffs["invoices"].only_right == 1
    assert "open_minor" in diffs["invoices"].changed[0]


def test_archive_round_trip_and_refusals(tmp_path: Path) -> None:
    codec = log_codec()
    recs = chained(30)
    w = ArchiveWriter(str(tmp_path / "arch"), TOPIC, codec)
    offsets = [0, 1, 2, 4, 5, 9] + list(range(20, 44))  # gaps where transaction markers sit
    for off, rec in zip(offsets, recs):
        w.write(0, off, rec)
    manifest = w.finish([0, 1], {0: 45, 1: 0})
    assert manifest["partitions"][0]["offset_runs"] == [[0, 3], [4, 2], [9, 1], [20, 24]]
    assert manifest["partitions"][1]["records"] == 0
    with (tmp_path / "arch" / "log-p0000.avro").open("rb") as f:
        assert [r["hash"] for r in fastavro.reader(f)] == [r["hash"] for r in recs]
    reader = ArchiveReader(str(tmp_path / "arch"), codec, chunk=7)
    got = [r for batch in reader.batches() for r in batch]
    assert [r["_offset"] for r in got] == offsets
    assert [r["hash"] for r in got] == [r["hash"] for r in recs]
    tables = list(ArchiveReader(str(tmp_path / "arch"), codec).tables(chunk=1))  # >= 1 block each
    assert all(isinstance(t, TableBatch) for t in tables)
    assert [c[2] for t in tables for c in t.coords] == offsets
    assert [r for t in tables for r in t.table.to_pylist()] == [
        {k: v for k, v in r.items() if not k.startswith("_")} for r in got]

    m = json.loads((tmp_path / "arch" / "manifest.json").read_text())
    m["partitions"][0]["records"] += 1
    (tmp_path / "arch" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(CasefileError, match="manifest.json was altered"):
        load_manifest(str(tmp_path / "arch"))
    with pytest.raises(CasefileError, match="not an empty directory"):
        ArchiveWriter(str(tmp_path / "arch"), TOPIC, codec)
    with pytest.raises(CasefileError, match="no manifest.json"):
        load_manifest(str(tmp_path))


def test_an_archive_of_an_older_schema_is_read_through_schema_resolution(tmp_path: Path) -> None:
    from projections.prefetch import Columns, Values
    from replay.archive import ReadArchive
    from schemas.codec import AvroCodec

    codec = log_codec()
    older = dict(codec.schema_json, fields=[f for f in codec.schema_json["fields"] if f["name"] != "model"])
    recs = chained(5)
    w = ArchiveWriter(str(tmp_path / "old"), TOPIC, AvroCodec(older))
    for off, rec in enumerate(recs):
        w.write(0, off, {k: v for k, v in rec.items() if k != "model"})
    w.finish([0], {0: 5})
    events = list(ReadArchive(str(tmp_path / "old"), load_manifest(str(tmp_path / "old"))).events())
    assert events and all(isinstance(e, Values) for e in events)  # re-encoded in the log schema
    got = [codec.decode_avro(v) for e in events for v in e.values]
    assert [r["hash"] for r in got] == [r["hash"] for r in recs] and all(r["model"] is None for r in got)
    assert [o for e in events for o in e.offsets] == list(range(5))

    w = ArchiveWriter(str(tmp_path / "new"), TOPIC, codec)
    for off, rec in enumerate(recs):
        w.write(0, off, rec)
    w.finish([0], {0: 5})
    events = list(ReadArchive(str(tmp_path / "new"), load_manifest(str(tmp_path / "new"))).events())
    assert events and all(isinstance(e, Columns) for e in events)  # the log schema: columns as read
    assert [h for e in events for h in e.table.column("hash").to_pylist()] == [r["hash"] for r in recs]
