"""`casefile replay` and `casefile history` against a real broker: one synthetic ledger processed
and projected once for the module; rebuild, promote, verify, tamper, archive and history on it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import fastavro
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from casefile.kafka.topics import ensure_topic
from casefile.read_models import READ_MODEL_TABLES
from casefile.synthetic_ledger import synthetic_ledger
from processor.log_records import record_hash
from replay.compare import compare_files
from schemas.codec import log_codec
from tests.integration.kafka_read import read_all

pytestmark = pytest.mark.kafka
PARTITIONS = 4


class Base:
    def __init__(self, bootstrap: str, work: Path) -> None:
        tag = uuid.uuid4().hex[:10]
        self.bootstrap = bootstrap
        self.work = work
        self.topics = {"ledger": f"r{tag}.ledger", "log": f"r{tag}.casefile", "dlq": f"r{tag}.dlq"}
        self.live = work / "live.duckdb"

    def env(self, **topics: str) -> dict[str, str]:
        t = {**self.topics, **topics}
        return {**os.environ, "CASEFILE_BOOTSTRAP_SERVERS": self.bootstrap, "CASEFILE_LEDGER_TOPIC": t["ledger"],
                "CASEFILE_LOG_TOPIC": t["log"], "CASEFILE_DLQ_TOPIC": t["dlq"]}

    def cli(self, *args: str, check: bool = True, **topics: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "casefile", *args], cwd=self.work, env=self.env(**topics),
                              capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"casefile {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc


@pytest.fixture(scope="module")
def base(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Base:
    b = Base(kafka_bootstrap, tmp_path_factory.mktemp("replay"))
    ledger = b.work / "ledger.jsonl"
    ledger.write_text("".join(json.dumps(e) + "\n" for e in synthetic_ledger(3000, accounts=120, seed=5)))
    b.cli("publish", str(ledger), "--partitions", str(PARTITIONS))
    b.cli("process", "--once", "--partitions", str(PARTITIONS))
    b.cli("project", "--once", "--db", str(b.live))
    return b


def assert_same_tables(a: Path, b: Path) -> None:
    diffs = compare_files(str(a), str(b), READ_MODEL_TABLES)
    assert all(d.equal for d in diffs), "\n".join(d.summary() for d in diffs if not d.equal)
    con = duckdb.connect()  # independently of the checksums: EXCEPT ALL both ways
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
    for t in READ_MODEL_TABLES:
        for x, y in (("a", "b"), ("b", "a")):
            assert con.execute(f"SELECT count(*) FROM (SELECT * FROM {x}.{t} EXCEPT ALL SELECT * FROM {y}.{t})"
                               ).fetchone()[0] == 0, t
    con.close()


def one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


# --- rebuild -----------------------------------------------------------------------------------

def test_rebuild_equals_the_live_database_table_for_table(base: Base) -> None:
    new = base.work / "rebuilt.duckdb"
    out = json.loads(base.cli("replay", "rebuild", "--db", str(new)).stdout)["rebuild"]
    assert out["records_read"] == out["records_applied"] > 2500
    assert_same_tables(base.live, new)
    assert not list(base.work.glob("rebuilt.duckdb.building-*"))
    one_line_error(base.cli("replay", "rebuild", "--db", str(new), check=False), "already exists")


def test_promote_replaces_the_live_file_and_its_snapshot(base: Base) -> None:
    live = base.work / "promote" / "live.duckdb"
    live.parent.mkdir()
    con = duckdb.connect(str(live))  # a stale live database: one table, nothing else
    con.execute("CREATE TABLE cases (x INT)")
    con.close()
    snap = live.parent / "live.snapshot.duckdb"
    shutil.copyfile(live, snap)
    green = live.parent / "green.duckdb"
    out = json.loads(base.cli("replay", "rebuild", "--db", str(green), "--promote", str(live)).stdout)["rebuild"]
    assert out["promoted"] == {"live": str(live), "snapshot": str(snap)}
    assert not green.exists()
    assert_same_tables(base.live, live)
    assert_same_tables(base.live, snap)
    # a database held by another process (a running projector) is refused before any work
    holder = duckdb.connect(str(live))
    try:
        proc = base.cli("replay", "rebuild", "--db", str(live.parent / "blue.duckdb"), "--promote", str(live),
                        check=False)
        one_line_error(proc, "in use")
    finally:
        holder.close()
    one_line_error(base.cli("replay", "rebuild", "--db", str(live.parent / "x.duckdb"), "--promote", str(live),
                            "--as-of", "2026-01-01T00:00:00Z", check=False), "as-of")


def test_missing_topic_and_bad_as_of_are_one_line_errors(base: Base) -> None:
    proc = base.cli("replay", "rebuild", "--db", str(base.work / "none.duckdb"), check=False,
                    log=f"nosuch-{uuid.uuid4().hex[:6]}")
    one_line_error(proc, "does not exist")
    assert not (base.work / "none.duckdb").exists()
    one_line_error(base.cli("replay", "rebuild", "--db", str(base.work / "n2.duckdb"), "--as-of", "2026-01-01",
                            check=False), "RFC 3339")


# --- verify ------------------------------------------------------------------------------------

def test_verify_passes_on_the_untouched_log_and_database(base: Base) -> None:
    proc = base.cli("replay", "verify", "--db", str(base.live))
    assert "chain: ok" in proc.stdout and "read models: ok" in proc.stdout
    assert "reconciliation: ok" in proc.stdout and proc.stdout.strip().endswith("verify: ok")


def test_verify_names_a_database_row_that_differs(base: Base) -> None:
    db = base.work / "altered.duckdb"
    shutil.copyfile(base.live, db)
    con = duckdb.connect(str(db))
    company, account = con.execute("SELECT company, customer_account FROM aging WHERE total_open_minor > 0 "
                                   "ORDER BY 1, 2 LIMIT 1").fetchone()
    con.execute("UPDATE aging SET total_open_minor = total_open_minor + 1 WHERE company = ? AND customer_account = ?",
                [company, account])
    con.close()
    proc = base.cli("replay", "verify", "--db", str(db), check=False)
    assert proc.returncode == 1
    assert "aging: DIFFERENT" in proc.stdout and f"{company}/{account}" in proc.stdout
    assert "chain: ok" in proc.stdout and "reconciliation: 3 problem" in proc.stdout  # ≠ invoices, log, buckets
    assert "total_open_minor 1" not in proc.stdout or "!= Σ invoices.open_minor" in proc.stdout


def test_verify_compares_at_the_live_databases_position_when_it_is_behind(base: Base) -> None:
    """A database projected from a prefix (here: a rebuild as of the middle) is compared there."""
    con = duckdb.connect(str(base.live), read_only=True)
    mid = con.execute("SELECT quantile_disc(recorded_at, 0.5) FROM casefile_events").fetchone()[0]
    con.close()
    from replay.rebuild import format_ms

    prefix = base.work / "prefix.duckdb"
    base.cli("replay", "rebuild", "--db", str(prefix), "--as-of", format_ms(mid))
    proc = base.cli("replay", "verify", "--db", str(prefix))
    assert "read models: ok" in proc.stdout and "behind" in proc.stdout


# --- tamper ------------------------------------------------------------------------------------

def _copy_log(base: Base, kafka_bootstrap: str) -> tuple[str, list, Producer]:
    """A copy of the base log in a fresh topic (same partitions), ready for a forgery."""
    topic = f"{base.topics['log']}.tamper{uuid.uuid4().hex[:6]}"
    ensure_topic(AdminClient({"bootstrap.servers": kafka_bootstrap}), topic, PARTITIONS)
    msgs = read_all(kafka_bootstrap, base.topics["log"])
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    for m in msgs:
        producer.produce(topic, value=m.value(), key=m.key(), partition=m.partition(), timestamp=m.timestamp()[1])
    producer.flush(30)
    return topic, msgs, producer


def _forge_base(msgs: list) -> tuple[dict, int, int]:
    """The last record of an account stream, its partition and the next offset there."""
    codec = log_codec()
    last = {}
    for m in msgs:
        rec = codec.decode_avro(m.value())
        if rec["customer_account"]:
            last[rec["stream_id"]] = (rec, m.partition())
    rec, partition = last[sorted(last)[0]]
    next_offset = sum(1 for m in msgs if m.partition() == partition)
    return rec, partition, next_offset


def _next(rec: dict, n: int, **changes) -> dict:
    codec = log_codec()
    out = {**rec, "event_id": f"forged-{n}", "event_type": "NoteLogged", "stream_version": rec["stream_version"] + 1,
           "prev_hash": rec["hash"], "document_id": f"N-forged-{n}", "text": "forged", "applications": []}
    out.update(changes)
    out["hash"] = record_hash(codec, out)
    return out


@pytest.mark.parametrize("kind", ["bad_hash", "skipped_version", "reordered_pair"])
def test_verify_names_the_first_forged_record(base: Base, kafka_bootstrap: str, kind: str) -> None:
    topic, msgs, producer = _copy_log(base, kafka_bootstrap)
    head, partition, offset = _forge_base(msgs)
    codec = log_codec()
    stream = head["stream_id"]
    first = _next(head, 1)
    if kind == "bad_hash":
        forged = [{**first, "amount_minor": 99_999}]  # altered after hashing
        expected = (f"hash expected {record_hash(codec, forged[0])}", f"found {first['hash']}")
    elif kind == "skipped_version":
        forged = [_next(head, 1, stream_version=head["stream_version"] + 2)]
        expected = (f"version expected {head['stream_version'] + 1}", f"found {head['stream_version'] + 2}")
    else:
        second = _next(first, 2)
        forged = [second, first]
        expected = (f"version expected {head['stream_version'] + 1}", f"found {head['stream_version'] + 2}")
    for rec in forged:
        producer.produce(topic, value=codec.encode(rec), key=stream.encode(), partition=partition)
    producer.flush(30)
    proc = base.cli("replay", "verify", "--db", str(base.work / f"absent-{kind}.duckdb"), check=False, log=topic)
    assert proc.returncode == 1
    line = next(x for x in proc.stdout.splitlines() if x.startswith("chain:"))
    assert "BROKEN" in line
    assert f"topic {topic} partition {partition} offset {offset} stream {stream}:" in line, line
    for e in expected:
        assert e in line, line


# --- archive -----------------------------------------------------------------------------------

def test_archive_round_trip_without_kafka_and_refusal_of_an_altered_byte(base: Base) -> None:
    out = base.work / "archive"
    exported = json.loads(base.cli("replay", "export", "--out", str(out)).stdout)["export"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["partitions"]) == PARTITIONS
    total = 0
    for part in manifest["partitions"]:
        with (out / part["file"]).open("rb") as f:  # any Avro reader, only the embedded schema
            records = list(fastavro.reader(f))
        assert len(records) == part["records"]
        total += len(records)
        for rec in records:
            assert rec["hash"] == record_hash(log_codec(), rec)
    assert total == exported["records"] == manifest["records"]

    kafka_db, archive_db = base.work / "k.duckdb", base.work / "a.duckdb"
    base.cli("replay", "rebuild", "--db", str(kafka_db))
    base.cli("--bootstrap-servers", "127.0.0.1:1", "replay", "rebuild", "--from-archive", str(out),
             "--db", str(archive_db))  # a broker that cannot answer: no Kafka is touched
    assert_same_tables(kafka_db, archive_db)

    for victim in ("log-p0001.avro", "manifest.json"):
        bad = base.work / f"bad-{victim}"
        shutil.copytree(out, bad)
        data = bytearray((bad / victim).read_bytes())
        i = len(data) // 2
        data[i] = (data[i] + 1) % 256 if victim.endswith(".avro") else ord("7") if data[i] != ord("7") else ord("8")
        (bad / victim).write_bytes(bytes(data))
        target = base.work / f"from-bad-{victim}.duckdb"
        proc = base.cli("--bootstrap-servers", "127.0.0.1:1", "replay", "rebuild", "--from-archive", str(bad),
                        "--db", str(target), check=False)
        one_line_error(proc, "archive")
        assert not target.exists()
    one_line_error(base.cli("replay", "export", "--out", str(out), check=False), "not an empty directory")


# --- history -----------------------------------------------------------------------------------

def test_history_of_a_case_and_of_a_customer(base: Base) -> None:
    con = duckdb.connect(str(base.live), read_only=True)
    case_id, company, account, status = con.execute(
        "SELECT case_id, company, customer_account, status FROM cases ORDER BY version DESC LIMIT 1").fetchone()
    coords = con.execute("SELECT log_topic, log_partition, log_offset FROM casefile_events WHERE case_id = ? "
                         "ORDER BY stream_version", [case_id]).fetchall()
    n_account = con.execute("SELECT count(*) FROM casefile_events WHERE stream_id = ?",
                            [f"{company}/{account}"]).fetchone()[0]
    con.close()
    rows = json.loads(base.cli("history", "--case", case_id, "--db", str(base.live), "--format", "json").stdout)
    assert [(r["log_topic"], r["log_partition"], r["log_offset"]) for r in rows] == coords
    assert rows[0]["event_type"] == "CaseOpened" and rows[0]["case_status"] == "Open"
    assert rows[-1]["case_status"] == status
    assert all(r["source_event_id"] and r["occurred_at"] and r["recorded_at"].endswith("Z") for r in rows)
    by_path = json.loads(base.cli("history", "--customer", f"{company}/{account}", "--db", str(base.live),
                                  "--format", "json").stdout)
    by_flag = json.loads(base.cli("history", "--customer", account, "--company", company, "--db", str(base.live),
                                  "--format", "json").stdout)
    assert by_path == by_flag and len(by_path) == n_account
    assert [r["version"] for r in by_path] == list(range(1, n_account + 1))
    early = json.loads(base.cli("history", "--customer", f"{company}/{account}", "--db", str(base.live),
                                "--format", "json", "--as-of", by_path[0]["recorded_at"]).stdout)
    assert 1 <= len(early) < n_account or early == by_path[:len(early)]
    table = base.cli("history", "--case", case_id, "--db", str(base.live)).stdout
    assert f"{base.topics['log']}/{coords[0][1]}/{coords[0][2]}" in table
    one_line_error(base.cli("history", "--case", "NOPE/1", "--db", str(base.live), check=False), "no case")
