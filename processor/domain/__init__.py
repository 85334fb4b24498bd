"""The pure domain core: `decide` what a ledger event causes, `evolve` the state by a log record.

No I/O, no clock, no randomness: replaying the same input gives the same log.
"""
from processor.domain.account_state import AccountState
from processor.domain.decide import decide
from processor.domain.evolve import evolve
from processor.domain.ledger_event import LedgerEvent
from processor.domain.partition_state import PartitionState, canonical_state, new_partition_state
from processor.domain.rejection import Rejected

__all__ = [
    "AccountState", "LedgerEvent", "PartitionState", "Rejected",
    "canonical_state", "decide", "evolve", "new_partition_state",
]
