"""A partition's decision state as bytes and back (JSON, zlib), keeping every order that matters:
unapplied credits oldest first and each payment's settlements in the order it made them."""
from __future__ import annotations

import json
import zlib
from typing import Any

from processor.domain.account_state import AccountState, Case, Invoice, Payment, Promise
from processor.domain.partition_state import PartitionState

FORMAT = 1


def dump_state(state: PartitionState) -> bytes:
    doc = {"format": FORMAT, "clocks": state.clocks, "seen": state.seen,
           "heads": {k: list(v) for k, v in state.heads.items()},
           "accounts": [_dump_account(a) for a in state.accounts.values()]}
    return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 3)


def load_state(data: bytes) -> PartitionState:
    doc = json.loads(zlib.decompress(data))
    if doc.get("format") != FORMAT:
        raise ValueError(f"unknown snapshot format {doc.get('format')!r}")
    state = PartitionState(clocks=doc["clocks"], seen=doc["seen"],
                           heads={k: (v[0], v[1]) for k, v in doc["heads"].items()})
    for raw in doc["accounts"]:
        acct = _load_account(raw)
        state.accounts[acct.stream_id] = acct
        state.by_company.setdefault(acct.company, {})[acct.stream_id] = acct
    return state


def _dump_account(a: AccountState) -> dict[str, Any]:
    case, promise = a.case, a.promise
    return {
        "c": a.company, "a": a.customer_account,
        "inv": [[v.invoice_id, v.invoice_date, v.due_date, v.amount, v.open, v.kind, v.interest, v.disputed]
                for v in a.invoices.values()],
        "open": list(a.open_ids),
        "credits": [[k[0], k[1], r] for k, r in a.credits.items()],
        "pay": [[p, v.amount, v.reversed, list(v.settled.items())] for p, v in a.payments.items()],
        "cn": list(a.credit_note_ids), "wo": list(a.write_off_ids), "int": list(a.interest_note_ids),
        "risk": a.risk_score, "cases": a.case_count,
        "case": None if case is None else [case.case_id, case.opened_on, case.trigger_rule, case.status,
                                           case.owner, list(case.attached), case.cleared],
        "promise": None if promise is None else [promise.promise_id, promise.amount, promise.promised_date,
                                                 promise.recorded_on, [[k, *v] for k, v in promise.payments.items()]],
    }


def _load_account(d: dict[str, Any]) -> AccountState:
    acct = AccountState(d["c"], d["a"])
    acct.invoices = {row[0]: Invoice(*row) for row in d["inv"]}
    acct.open_ids = set(d["open"])
    acct.credits = {(k, doc): r for k, doc, r in d["credits"]}
    acct.payments = {p: Payment(amount, rev, dict((i, amt) for i, amt in settled)) for p, amount, rev, settled in d["pay"]}
    acct.credit_note_ids, acct.write_off_ids, acct.interest_note_ids = set(d["cn"]), set(d["wo"]), set(d["int"])
    acct.risk_score, acct.case_count = d["risk"], d["cases"]
    if d["case"] is not None:
        cid, opened, rule, status, owner, attached, cleared = d["case"]
        acct.case = Case(cid, opened, rule, status, owner, set(attached), dict(cleared))
    if d["promise"] is not None:
        pid, amount, date, recorded, payments = d["promise"]
        acct.promise = Promise(pid, amount, date, recorded, {k: (dt, amt) for k, dt, amt in payments})
    return acct
