"""A snapshot restores exactly the live state, orders included, and decides the same afterwards."""
from __future__ import annotations

from casefile.synthetic_ledger import synthetic_ledger
from processor.domain import Rejected, canonical_state, decide, evolve, new_partition_state
from processor.domain.policy import Policy
from processor.log_records import Cause, build_records
from processor.snapshot_codec import dump_state, load_state
from schemas.codec import log_codec
from schemas.ledger_models import digest, validate_ledger_event


def _run(state, events, policy):
    out = []
    for i, raw in enumerate(events):
        event = validate_ledger_event(raw)
        try:
            decisions = decide(state, event, policy, 0)
        except Rejected:
            continue
        for record, _ in build_records(decisions, Cause(event.event_id, digest(event), "t", 0, i, 0), policy.version,
                                    state.heads, log_codec()):
            evolve(state, record)
            out.append(record["hash"])
    return out


def test_snapshot_round_trip_then_same_decisions() -> None:
    policy = Policy()
    events = list(synthetic_ledger(6000, accounts=60, events_per_day=150, seed=3))
    live = new_partition_state()
    _run(live, events[:3000], policy)
    restored = load_state(dump_state(live))
    assert canonical_state(restored) == canonical_state(live)
    for acct_id, acct in live.accounts.items():  # orders the canonical dump sorts away
        assert list(restored.accounts[acct_id].credits) == list(acct.credits)
        for pid, pay in acct.payments.items():
            assert list(restored.accounts[acct_id].payments[pid].settled) == list(pay.settled)
    assert _run(restored, events[3000:], policy) == _run(live, events[3000:], policy)
