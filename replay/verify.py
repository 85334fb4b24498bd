"""`casefile replay verify`: hash chains, rebuilt read models = live ones, reconciliation.

One pass over the log (up to the end offsets taken at start):
1. every record goes through the chain check (all of the log);
2. the records below the live database's stored position (`projection_offsets`) are folded into
   a rebuild in a temporary directory and into the log-side reconciliation totals — so the
   rebuild stands at exactly the live database's log position, even when its projector is
   behind the log. A live database *ahead* of the log, or projected from another topic, cannot
   be verified: one line, exit 1.
Then every table of READ_MODEL_TABLES is compared (order-independent checksums, row diffs on
mismatch) and the reconciliation rule is checked on the live database.

The live database is opened read-only for the whole run; if a projector holds it, its published
snapshot is verified instead (casefile.read_models.open_read_only says so on stderr).
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from casefile.errors import CasefileError
from casefile.read_models import READ_MODEL_TABLES, open_read_only
from casefile.settings import Settings
from processor.domain.policy import Policy
from replay.chain_check import ChainChecker
from replay.compare import compare_databases
from replay.log_reader import LogReader, Progress
from replay.rebuild import Rebuilder
from replay.reconcile import LogTotals, reconcile
from schemas.codec import DecodeError, log_codec


@dataclass
class VerifyReport:
    lines: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def ok(self, text: str) -> None:
        self.lines.append(text)

    def fail(self, check: str, text: str) -> None:
        self.failed.append(check)
        self.lines.append(text)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def _positions(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, int], int]:
    return {(t, p): o for t, p, o in con.execute("SELECT topic, partition, next_offset FROM projection_offsets").fetchall()}


def _where(positions: dict[int, int]) -> str:
    return ", ".join(f"p{p}@{o}" for p, o in sorted(positions.items())) or "nothing"


def verify(settings: Settings, policy: Policy, db_path: str, workdir: str | None = None,
) -> VerifyReport:
    report = VerifyReport()
    live: duckdb.DuckDBPyConnection | None = None
    if Path(db_path).exists():
        live = open_read_only(db_path)
    tmp = tempfile.mkdtemp(prefix="casefile-verify-", dir=workdir)
    try:
        with LogReader(settings) as reader:
            topic = reader.topic
            if live is not None:
                try:
                    stored = _positions(live)
                except duckdb.Error:
                    raise CasefileError(f"{db_path} is not a casefile read-model database (no projection_offsets)") from None
                others = sorted({t for t, _ in stored if t != topic})
                if others:
                    raise CasefileError(f"{db_path} was projected from {', '.join(others)}, not {topic} (see --log-topic)")
                bound = {p: stored.get((topic, p), 0) for p in reader.partitions}
                ahead = {p: o for p, o in bound.items() if o > reader.end_offsets[p]}
                if ahead:
                    raise CasefileError(f"{db_path} is ahead of the log ({_where(ahead)}; log ends at "
                                        f"{_where(reader.end_offsets)}): it was not projected from this log")
            else:
                bound = dict(reader.end_offsets)
            codec = log_codec()
            chain, totals = ChainChecker(codec), LogTotals()
            last_record: dict[int, int] = {}
            rebuilder = Rebuilder(str(Path(tmp) / "rebuilt.duckdb"), policy)
            progress = Progress("verify", reader.total_offsets)
            try:
                for msgs in reader.batches():
                    keep = []
                    for m in msgs:
                        p, offset, value = m.partition(), m.offset(), m.value()
                        try:
                            rec = codec.decode_avro(value)
                        except DecodeError as exc:
                            chain.undecodable(topic, p, offset, str(exc))
                            continue
                        rec["_topic"], rec["_partition"], rec["_offset"] = topic, p, offset
                        chain.check(rec, value)
                        last_record[p] = offset
                        if offset < bound[p]:
                            keep.append(rec)
                            totals.add(rec)
                    rebuilder.add(keep)
                    progress.advance(len(msgs))
                stats = rebuilder.finish()
            except BaseException:
                rebuilder.abort()
                raise
            end = reader.end_offsets
        streams = len(chain.heads)
        if chain.ok:
            report.ok(f"chain: ok ({chain.checked} records, {streams} streams, {topic} up to {_where(end)})")
        else:
            first = chain.first_break()
            assert first is not None
            report.fail("chain", f"chain: BROKEN at {chain.broken_count} record(s); first: {first.line()}")
            for b in sorted(chain.breaks, key=lambda b: (b.partition, b.offset))[1:10]:
                report.lines.append(f"  also: {b.line()}")
        if live is None:
            report.fail("read models", f"read models: no database at {db_path} to compare with "
                                       f"(run `casefile project --db {db_path}` first)")
            return report
        live.execute(f"ATTACH '{rebuilder.target.replace(chr(39), chr(39) * 2)}' AS rebuilt (READ_ONLY)")
        live_catalog = live.execute("SELECT current_database()").fetchone()[0]
        diffs = compare_databases(live, live_catalog, "rebuilt", READ_MODEL_TABLES)
        at = _where({p: o for p, o in bound.items() if o})
        behind = {p: o for p, o in last_record.items() if o >= bound.get(p, 0)}
        where = f"at {at}" + (" (the log goes on; the database is behind it)" if behind else "")
        bad = [d for d in diffs if not d.equal]
        if not bad:
            report.ok(f"read models: ok ({len(diffs)} tables equal to a rebuild of {stats.records_applied} records {where})")
        else:
            report.fail("read models", f"read models: {len(bad)} of {len(diffs)} tables differ from a rebuild {where}")
            for d in diffs:
                report.lines.append("  " + d.summary().replace("\n", "\n  "))
        result = reconcile(live, totals, live_catalog)
        if result.ok:
            report.ok(f"reconciliation: ok ({result.accounts} accounts: aging = invoices = log)")
        else:
            report.fail("reconciliation", f"reconciliation: {result.problem_count} problem(s) over {result.accounts} accounts")
            report.lines += [f"  {p}" for p in result.problems]
        live.execute("DETACH rebuilt")
        return report
    finally:
        if live is not None:
            live.close()
        shutil.rmtree(tmp, ignore_errors=True)
