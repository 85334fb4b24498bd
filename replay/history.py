"""An auditor's timeline from `casefile_events`: every record of a case or of a customer's
stream, in stream order, with the case status after it and the record's log coordinates."""
from __future__ import annotations

from typing import Any

import duckdb

from casefile.errors import CasefileError
from replay.rebuild import format_ms

COLUMNS = ("version", "occurred_at", "recorded_at", "event_type", "case_id", "document_id", "invoice_id",
           "amount_minor", "applied_minor", "unapplied_minor", "actor", "case_status", "source_event_id",
           "log_topic", "log_partition", "log_offset")
TABLE_COLUMNS = ("version", "occurred_at", "recorded_at", "event_type", "case_id", "document_id", "amount_minor",
                 "applied_minor", "actor", "case_status", "source_event_id", "log")

_SELECT = """SELECT stream_id, stream_version, occurred_at, recorded_at, event_type, case_id, document_id,
       invoice_id, amount_minor, applications, unapplied_minor, actor, owner, status, reason, outcome,
       trigger_rule, source_event_id, source_topic, source_partition, source_offset,
       log_topic, log_partition, log_offset, hash
FROM casefile_events"""


def parse_customer(customer: str, company: str | None) -> tuple[str | None, str]:
    """(company, account): `company/account`, or an account with --company, or an account alone
    (then it must be unique across companies)."""
    if "/" in customer:
        comp, _, account = customer.partition("/")
        if company and company != comp:
            raise CasefileError(f"--customer {customer} names company {comp}, --company says {company}")
    else:
        comp, account = company or None, customer
    if not account or comp == "":
        raise CasefileError("--customer takes company/account, or an account (with --company if it is ambiguous)")
    return comp, account


def timeline(con: duckdb.DuckDBPyConnection, *, case_id: str | None = None, company: str | None = None,
             account: str | None = None, as_of_ms: int | None = None) -> list[dict[str, Any]]:
    """The records, oldest first. `as_of_ms`: only records recorded at or before it (the
    timeline as it was known then)."""
    if case_id is not None:
        where, params = "case_id = ?", [case_id]
        # the status after each record comes from all the case's records, the filter applies after
        subject = f"case {case_id}"
    elif company is None:
        companies = [r[0] for r in con.execute(
            "SELECT DISTINCT company FROM casefile_events WHERE customer_account = ? ORDER BY 1", [account]).fetchall()]
        if len(companies) > 1:
            raise CasefileError(f"customer {account} exists in companies {', '.join(companies)}: "
                                "say company/account or --company")
        company = companies[0] if companies else "?"
        where, params = "stream_id = ?", [f"{company}/{account}"]
        subject = f"customer {account}"
    else:
        where, params = "stream_id = ?", [f"{company}/{account}"]
        subject = f"customer {company}/{account}"
    cur = con.execute(f"{_SELECT} WHERE {where} ORDER BY stream_id, stream_version", params)
    names = [d[0] for d in cur.description]
    records = [dict(zip(names, r)) for r in cur.fetchall()]
    if not records:
        raise CasefileError(f"no {subject} in the database")
    status: dict[str, str | None] = {}
    out = []
    for r in records:
        case = r["case_id"]
        if case is not None and r["status"] is not None:
            status[case] = r["status"]
        if as_of_ms is not None and r["recorded_at"] > as_of_ms:
            continue
        apps = r["applications"] or []
        out.append({
            "version": r["stream_version"], "stream_id": r["stream_id"], "occurred_at": r["occurred_at"],
            "recorded_at": format_ms(r["recorded_at"]), "event_type": r["event_type"], "case_id": case,
            "document_id": r["document_id"], "invoice_id": r["invoice_id"], "amount_minor": r["amount_minor"],
            "applied_minor": sum(a["amount_minor"] for a in apps) if apps else None,
            "unapplied_minor": r["unapplied_minor"], "actor": r["actor"] or r["owner"],
            "case_status": status.get(case) if case is not None else None,
            "source_event_id": r["source_event_id"], "log_topic": r["log_topic"],
            "log_partition": r["log_partition"], "log_offset": r["log_offset"],
            "log": f"{r['log_topic']}/{r['log_partition']}/{r['log_offset']}",
            "applications": [dict(a) for a in apps], "reason": r["reason"], "outcome": r["outcome"],
            "trigger_rule": r["trigger_rule"], "owner": r["owner"],
            "source": f"{r['source_topic']}/{r['source_partition']}/{r['source_offset']}", "hash": r["hash"]})
    return out
