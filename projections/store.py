"""ProjectionStore: the DuckDB adapter of the read models.

A batch is folded into the in-memory state first; then, in ONE DuckDB transaction, the rows
it touched replace their old versions (delete by key, insert from an Arrow view), the
append-only tables get their new rows, and `projection_offsets` moves on. If the write fails
the state is reloaded from the database, so memory never runs ahead of what is committed.
"""
from __future__ import annotations

import gc
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Sequence

import duckdb
import numpy as np
import pyarrow as pa

from processor.domain.policy import Policy
from projections import arrow_io
from projections.apply import apply_record
from projections.buckets import book_of
from projections.batch_fold import fold_batch
from projections.decode_batch import BatchDecoder
from projections.load import load_offsets, load_state
from projections.log_positions import next_positions, unapplied
from projections.metrics import daily_rows, metrics_rows
from projections.schema import KEYS, create_all
from projections.state import HistoryRows, ProjectionState, Touched
from schemas.codec import log_codec

Position = tuple[str, int]
# (operation, table, rows, key columns): see ProjectionStore._execute
Write = tuple[str, str, "pa.Table | None", Sequence[str]]
CHECKPOINT_THRESHOLD = "512MB"


class ProjectionStore:
    def __init__(self, db_path: str, policy: Policy, background_writes: bool = False) -> None:
        """`background_writes`: a batch's DuckDB transaction runs on a writer thread while
        the caller goes on with the next batch (its errors surface at the next call)."""
        self._policy = policy
        self._writer = ThreadPoolExecutor(1, "duckdb-writer") if background_writes else None
        self._pending: Future[None] | None = None
        self._con = duckdb.connect(db_path)
        # DuckDB checkpoints once the WAL passes 16 MB, i.e. after nearly every large batch;
        # a checkpoint rewrites touched row groups, so let the WAL grow longer between them.
        self._con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        create_all(self._con)
        self._offsets = load_offsets(self._con)
        self._state = load_state(self._con)
        self._decoder = BatchDecoder(log_codec())

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        self.flush()
        return self._con

    def stored_offsets(self) -> dict[Position, int]:
        """(topic, partition) -> the next offset to read (of what is committed)."""
        self.flush()
        return dict(self._offsets)

    def apply_batch(self, records: list[dict], positions: dict[Position, int]) -> None:
        """Fold `records` (log order; each with `_topic`, `_partition`, `_offset`) and commit
        their rows with the new positions. Records below the stored offset are skipped; a
        partition's next offset never moves back and is at least its last applied offset + 1."""
        gc_was_enabled = gc.isenabled()
        gc.disable()  # a batch allocates ~10 objects a record, none cyclic: skip the scans
        try:
            self._apply(records, positions)
        finally:
            if gc_was_enabled:
                gc.enable()

    def apply_encoded(self, values: Sequence[bytes], coords: Sequence[tuple[str, int, int]],
                      positions: dict[Position, int]) -> None:
        """`apply_batch` for the log values as read (Avro single-object encoding), with their
        (topic, partition, offset): the batch is decoded in one columnar pass, the fold gets
        only the fields it reads, and `casefile_events` is written from the columns."""
        table = self.decode(values)
        topics = {c[0] for c in coords}
        if table is None or len(topics) != 1:  # another writer schema, corrupt data, or no polars
            records = self._decoder.decode_records(values)
            for rec, (topic, partition, offset) in zip(records, coords):
                rec["_topic"], rec["_partition"], rec["_offset"] = topic, partition, offset
            self.apply_batch(records, positions)
        else:
            self.apply_table(table, topics.pop(), [c[1] for c in coords], [c[2] for c in coords], positions)

    def decode(self, values: Sequence[bytes]) -> pa.Table | None:
        """The values as one Arrow table of the log schema's fields, or None when they must
        be decoded one by one (see `decode_batch.BatchDecoder.decode`)."""
        return self._decoder.decode(values)

    def apply_table(self, table: pa.Table, topic: str, partitions: Sequence[int] | np.ndarray,
                    offsets: Sequence[int] | np.ndarray, positions: dict[Position, int]) -> None:
        """`apply_batch` for records of `topic` already decoded into columns (`decode`, or an
        archive's container file read with the log schema), with each one's partition and
        offset (arrays: no per-record Python work)."""
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._apply_columns(table, topic, np.asarray(partitions, np.int64), np.asarray(offsets, np.int64),
                                positions)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _apply(self, records: list[dict], positions: dict[Position, int]) -> None:
        next_offsets = dict(self._offsets)
        applied = []
        state, policy = self._state, self._policy
        for rec in records:
            position = (rec["_topic"], rec["_partition"])
            offset = rec["_offset"]
            if offset < next_offsets.get(position, 0):
                continue
            apply_record(state, rec, policy)
            applied.append(rec)
            next_offsets[position] = offset + 1
        events = arrow_io.event_rows(applied) if applied else None
        self._commit(events, next_offsets, positions)

    def _apply_columns(self, table: pa.Table, topic: str, partitions: np.ndarray, offsets: np.ndarray,
                       positions: dict[Position, int]) -> None:
        next_offsets = dict(self._offsets)
        keep = unapplied(partitions, offsets, {p: o for (t, p), o in next_offsets.items() if t == topic})
        if keep is not None:
            table = table.take(pa.array(keep, pa.int64()))
            partitions, offsets = partitions[keep], offsets[keep]
        events = None
        if len(partitions):
            next_offsets.update(((topic, p), o) for p, o in next_positions(partitions, offsets).items())
            fold_batch(self._state, table, partitions, self._policy)
            events = arrow_io.event_columns(table, topic, partitions, offsets)
        self._commit(events, next_offsets, positions)

    def _commit(self, events: pa.Table | None, next_offsets: dict[Position, int],
                positions: dict[Position, int]) -> None:
        state = self._state
        for position, offset in positions.items():
            if offset > next_offsets.get(position, -1):
                next_offsets[position] = offset
        if events is None and next_offsets == self._offsets:
            return
        try:
            writes = self._prepare(events, next_offsets)
            self._wait()  # the previous batch's transaction is committed (or raises)
            if self._writer is None:
                self._execute(writes)
            else:  # DuckDB runs without the GIL: the next batch is decoded and folded meanwhile
                self._pending = self._writer.submit(self._execute, writes)
        except BaseException:
            self._recover()
            raise
        finally:
            state.touched = Touched()
        self._offsets = next_offsets

    def flush(self) -> None:
        """Wait for the batch being written in the background; its error is raised here (the
        state is then reloaded from the database, as after any failed write)."""
        try:
            self._wait()
        except BaseException:
            self._recover()
            raise

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def checkpoint(self) -> None:
        """Fold the WAL into the database file (before copying the file)."""
        self.flush()
        self._con.execute("CHECKPOINT")

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._writer is not None:
                self._writer.shutdown()
            self._con.close()

    # --- writing ----------------------------------------------------------------------------
    # A batch's writes are prepared from the state first (Arrow tables: copies), then executed
    # as ONE transaction, here or on the writer thread.

    def _prepare(self, events: pa.Table | None, next_offsets: dict[Position, int]) -> list[Write]:
        state = self._state
        touched = state.touched
        writes: list[Write] = [("replace", name, table, KEYS[name])
                               for name, table in self._touched_rows(state, touched).items()]
        if touched.companies:
            daily = [row for c in sorted(touched.companies) for row in daily_rows(state, c)]
            writes.append(("replace", "recovery_daily", arrow_io.rows("recovery_daily", daily), ("company",)))
        if touched.metrics_from:
            starts = arrow_io.tuple_rows(
                [(c, f"{d[:7]}-01") for c, d in touched.metrics_from.items()], ("company", "month"))
            writes.append(("delete_from_month", "recovery_metrics", starts, ()))
            rows = []
            for company in sorted(touched.metrics_from):
                rows.extend(metrics_rows(state, company, touched.metrics_from[company]))
            if rows:
                writes.append(("append", "recovery_metrics", arrow_io.rows("recovery_metrics", rows), ()))
        if touched.aging_history:
            writes.append(("append", "aging_history", arrow_io.history_rows(touched.aging_history), ()))
        if events is not None:
            writes.append(("append", "casefile_events", events, ()))
        offsets = sorted((t, p, o) for (t, p), o in next_offsets.items())
        writes.append(("delete_all", "projection_offsets", None, ()))
        writes.append(("append", "projection_offsets", arrow_io.rows("projection_offsets", offsets), ()))
        return writes

    def _execute(self, writes: list[Write]) -> None:
        con = self._con
        con.execute("BEGIN TRANSACTION")
        for op, name, table, keys in writes:
            if op == "replace":
                self._replace(name, table, keys)
            elif op == "append":
                self._append(name, table)
            elif op == "delete_all":
                con.execute(f"DELETE FROM {name}")
            else:  # delete_from_month: a company's months from the first one touched on
                self._delete_from_month(name, table)
        con.execute("COMMIT")

    def _touched_rows(self, state: ProjectionState, touched: Touched) -> dict[str, pa.Table]:
        out: dict[str, pa.Table] = {}
        accounts = state.accounts
        if touched.invoices:
            rows = [accounts[(c, a)].invoices[i] for c, a, i in touched.invoices]
            out["invoices"] = arrow_io.rows("invoices", rows)
        if touched.cases:
            rows = []
            for case_id in touched.cases:
                case = state.cases.get(case_id)
                if case is None:
                    continue
                acct = accounts[(case["company"], case["customer_account"])]
                invoices = acct.invoices
                case["open_minor"] = sum([invoices[i]["open_minor"] for i in state.case_invoices.get(case_id, ())])
                rows.append(case)
            out["cases"] = arrow_io.rows("cases", rows)
        # `aging`: every account of each (company, partition) with a touched account or a
        # new company date, as of the company's date, from the partition's aging book.
        parts = {(c, accounts[(c, a)].partition) for c, a in touched.accounts}
        parts.update(key for key in state.partition_accounts
                     if key[0] in touched.aging_companies)
        if parts:
            blocks = HistoryRows()
            for company, partition in sorted(parts):
                as_of = state.company_dates.get(company)
                names, tails = book_of(state, company, partition, self._policy).aging(state, as_of)
                blocks.add_block(company, as_of, names, tails)
            out["aging"] = arrow_io.history_rows(blocks, "aging")
        if touched.accounts:
            out["account_state"] = arrow_io.rows("account_state", [
                (c, a, accounts[(c, a)].partition, accounts[(c, a)].unapplied)
                for c, a in touched.accounts])
        if touched.clocks:
            out["clock_state"] = arrow_io.rows("clock_state", [
                (c, p, state.clocks[(c, p)]) for c, p in touched.clocks])
        return out

    def _delete_from_month(self, name: str, starts: pa.Table) -> None:
        self._con.register("_months_from", starts)
        try:
            self._con.execute(
                f"DELETE FROM {name} USING _months_from f WHERE {name}.company = f.company "
                f"AND {name}.month >= CAST(f.month AS DATE)")
        finally:
            self._con.unregister("_months_from")

    def _replace(self, name: str, table: pa.Table, keys: Sequence[str]) -> None:
        view = f"_new_{name}"
        self._con.register(view, table)
        try:
            match = " AND ".join(f"{name}.{k} = {view}.{k}" for k in keys)
            if len(keys) == 1:
                self._con.execute(
                    f"DELETE FROM {name} WHERE {keys[0]} IN (SELECT {keys[0]} FROM {view})")
            else:
                self._con.execute(f"DELETE FROM {name} USING {view} WHERE {match}")
            self._con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM {view}")
        finally:
            self._con.unregister(view)

    def _append(self, name: str, table: pa.Table) -> None:
        view = f"_new_{name}"
        self._con.register(view, table)
        try:
            self._con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM {view}")
        finally:
            self._con.unregister(view)

    def _recover(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:  # let the writer thread finish before rolling back
            wait([pending])
        try:
            self._con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # no transaction was open
        self._offsets = load_offsets(self._con)
        self._state = load_state(self._con)

