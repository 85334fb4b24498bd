"""DDL of the read models (contract §5) and of the projector's own state tables.

Column order is the order of each table's tuple in `COLUMNS`; the contract's columns come
first, extra columns after them. Money is BIGINT minor units, days are DATE, rates DOUBLE.
"""
from __future__ import annotations

AGING_COLUMNS = (
    "company", "customer_account", "as_of",
    "current_minor", "d1_30_minor", "d31_60_minor", "d61_90_minor", "d91_120_minor",
    "over_120_minor", "total_open_minor", "unapplied_credit_minor",
)

_AGING_DDL = """(
    company VARCHAR NOT NULL,
    customer_account VARCHAR NOT NULL,
    as_of DATE,
    current_minor BIGINT NOT NULL,
    d1_30_minor BIGINT NOT NULL,
    d31_60_minor BIGINT NOT NULL,
    d61_90_minor BIGINT NOT NULL,
    d91_120_minor BIGINT NOT NULL,
    over_120_minor BIGINT NOT NULL,
    total_open_minor BIGINT NOT NULL,
    unapplied_credit_minor BIGINT NOT NULL
)"""

DDL: dict[str, str] = {
    "cases": """(
        case_id VARCHAR NOT NULL,
        company VARCHAR NOT NULL,
        customer_account VARCHAR NOT NULL,
        status VARCHAR,
        opened_on DATE,
        trigger_rule VARCHAR,
        owner VARCHAR,
        closed_on DATE,
        outcome VARCHAR,
        overdue_at_open_minor BIGINT,
        open_minor BIGINT NOT NULL,
        collected_minor BIGINT NOT NULL,
        written_off_minor BIGINT NOT NULL,
        promised_minor BIGINT NOT NULL,
        promises_kept INTEGER NOT NULL,
        promises_broken INTEGER NOT NULL,
        letters_sent INTEGER NOT NULL,
        notes_count INTEGER NOT NULL,
        last_activity_at TIMESTAMP,
        version BIGINT NOT NULL,
        promises_partially_kept INTEGER NOT NULL,
        score_at_open INTEGER
    )""",
    "invoices": """(
        company VARCHAR NOT NULL,
        customer_account VARCHAR NOT NULL,
        invoice_id VARCHAR NOT NULL,
        invoice_date DATE,
        due_date DATE,
        amount_minor BIGINT NOT NULL,
        open_minor BIGINT NOT NULL,
        disputed BOOLEAN NOT NULL,
        status VARCHAR NOT NULL,
        settled_on DATE,
        days_late INTEGER,
        case_id VARCHAR,
        kind VARCHAR NOT NULL,
        interest_minor BIGINT NOT NULL
    )""",
    "aging": _AGING_DDL,
    "aging_history": _AGING_DDL,
    "recovery_daily": """(
        company VARCHAR NOT NULL,
        business_date DATE NOT NULL,
        cases_opened INTEGER NOT NULL,
        cases_closed INTEGER NOT NULL,
        open_cases INTEGER NOT NULL,
        collected_minor BIGINT NOT NULL,
        written_off_minor BIGINT NOT NULL,
        promises_made INTEGER NOT NULL,
        promises_kept INTEGER NOT NULL,
        promises_broken INTEGER NOT NULL,
        ar_total_minor BIGINT,
        ar_current_minor BIGINT,
        credit_sales_minor BIGINT NOT NULL,
        promises_partially_kept INTEGER NOT NULL
    )""",
    "recovery_metrics": """(
        company VARCHAR NOT NULL,
        month DATE NOT NULL,
        dso_standard DOUBLE,
        dso_countback DOUBLE,
        cei DOUBLE,
        "add" DOUBLE,
        avg_days_late DOUBLE,
        weighted_avg_days_late DOUBLE,
        promise_kept_rate DOUBLE,
        cure_rate DOUBLE,
        avg_days_to_close DOUBLE,
        credit_sales_minor BIGINT NOT NULL,
        beginning_ar_minor BIGINT,
        ending_ar_minor BIGINT,
        ending_current_ar_minor BIGINT,
        dso DOUBLE
    )""",
    "casefile_events": """(
        log_topic VARCHAR NOT NULL,
        log_partition INTEGER NOT NULL,
        log_offset BIGINT NOT NULL,
        event_id VARCHAR NOT NULL,
        stream_id VARCHAR NOT NULL,
        stream_version BIGINT NOT NULL,
        case_id VARCHAR,
        event_type VARCHAR NOT NULL,
        company VARCHAR NOT NULL,
        customer_account VARCHAR NOT NULL,
        occurred_at VARCHAR NOT NULL,
        recorded_at BIGINT NOT NULL,
        source_event_id VARCHAR NOT NULL,
        source_digest VARCHAR NOT NULL,
        source_topic VARCHAR NOT NULL,
        source_partition INTEGER NOT NULL,
        source_offset BIGINT NOT NULL,
        policy_version VARCHAR NOT NULL,
        document_id VARCHAR,
        invoice_id VARCHAR,
        amount_minor BIGINT,
        currency VARCHAR,
        invoice_date VARCHAR,
        due_date VARCHAR,
        business_date VARCHAR,
        promised_date VARCHAR,
        applications STRUCT(invoice_id VARCHAR, amount_minor BIGINT, document_id VARCHAR, kind VARCHAR)[],
        unapplied_minor BIGINT,
        reason VARCHAR,
        status VARCHAR,
        actor VARCHAR,
        owner VARCHAR,
        trigger_rule VARCHAR,
        outcome VARCHAR,
        letter_code VARCHAR,
        model VARCHAR,
        text VARCHAR,
        score INTEGER,
        disputed BOOLEAN,
        prev_hash VARCHAR NOT NULL,
        hash VARCHAR NOT NULL
    )""",
    "projection_offsets": """(
        topic VARCHAR NOT NULL,
        partition INTEGER NOT NULL,
        next_offset BIGINT NOT NULL
    )""",
    # The projector's own state, beyond what the read models hold.
    "account_state": """(
        company VARCHAR NOT NULL,
        customer_account VARCHAR NOT NULL,
        log_partition INTEGER NOT NULL,
        unapplied_credit_minor BIGINT NOT NULL
    )""",
    "clock_state": """(
        company VARCHAR NOT NULL,
        log_partition INTEGER NOT NULL,
        last_business_date DATE NOT NULL
    )""",
}


def _columns(ddl: str) -> tuple[str, ...]:
    cols = []
    for line in ddl.strip().strip("()").splitlines():
        line = line.strip()
        if line:
            cols.append(line.split()[0].strip('"'))
    return tuple(cols)


COLUMNS: dict[str, tuple[str, ...]] = {name: _columns(ddl) for name, ddl in DDL.items()}

# Primary keys of the tables rewritten by key (delete touched keys, insert their new rows).
KEYS: dict[str, tuple[str, ...]] = {
    "cases": ("case_id",),
    "invoices": ("company", "customer_account", "invoice_id"),
    "aging": ("company", "customer_account"),
    "account_state": ("company", "customer_account"),
    "clock_state": ("company", "log_partition"),
    "recovery_daily": ("company", "business_date"),
}


def create_all(con) -> None:  # type: ignore[no-untyped-def]
    for name, ddl in DDL.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} {ddl}")
