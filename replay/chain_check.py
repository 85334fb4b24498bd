"""Tamper evidence: every stream's SHA-256 chain and gapless versions, recomputed from the log.

For each record, in the log order of its partition: its `stream_version` must be the stream's
previous version + 1 (1 for the first), its `prev_hash` the previous record's `hash` (64 zeros
for version 1), and its `hash` the SHA-256 of `prev_hash` + its Avro body with `hash` empty
(processor/log_records.record_hash). A stream lives on one partition; a stream seen on a second
partition is a break too.

After a break the checker re-synchronises on the record it found (its version and hash become
the stream's head), so one forged record is reported once, not as a cascade.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

from processor.log_records import GENESIS_HASH, record_hash
from schemas.codec import HEADER_LEN, AvroCodec

_HASH_SUFFIX_LEN = 66  # zig-zag varint 64 (b"\x80\x01") + 64 hex digits: `hash` is the last field


@dataclass(frozen=True)
class ChainBreak:
    topic: str
    partition: int
    offset: int
    stream_id: str
    what: str  # version | prev_hash | hash | partition | decode
    expected: str
    found: str

    def line(self) -> str:
        return (f"topic {self.topic} partition {self.partition} offset {self.offset} stream {self.stream_id}: "
                f"{self.what} expected {self.expected}, found {self.found}")


class ChainChecker:
    def __init__(self, codec: AvroCodec, max_breaks: int = 1000) -> None:
        self.codec = codec
        self.heads: dict[str, tuple[int, str, int]] = {}  # stream -> (version, hash, partition)
        self.breaks: list[ChainBreak] = []
        self.max_breaks = max_breaks
        self.broken_count = 0
        self.checked = 0

    @property
    def ok(self) -> bool:
        return self.broken_count == 0

    def first_break(self) -> ChainBreak | None:
        """The earliest break in log order (partition, then offset)."""
        return min(self.breaks, key=lambda b: (b.partition, b.offset)) if self.breaks else None

    def _break(self, rec: Mapping[str, Any], what: str, expected: object, found: object) -> None:
        self.broken_count += 1
        if len(self.breaks) < self.max_breaks:
            self.breaks.append(ChainBreak(rec["_topic"], rec["_partition"], rec["_offset"], rec.get("stream_id", "?"),
                                          what, str(expected), str(found)))

    def undecodable(self, topic: str, partition: int, offset: int, reason: str) -> None:
        self.checked += 1
        self._break({"_topic": topic, "_partition": partition, "_offset": offset, "stream_id": "?"},
                    "decode", "a case-file log record", reason)

    def computed_hash(self, rec: Mapping[str, Any], raw: bytes | None) -> str:
        """The record's hash as the processor computes it. With the raw single-object bytes of the
        current schema the body is hashed as stored (no re-encoding): the `hash` field is last, so
        the body with `hash` empty is the stored body minus its 66-byte tail plus one zero byte."""
        stored = rec["hash"]
        if (raw is not None and len(stored) == 64 and raw[:HEADER_LEN] == self.codec.header
                and raw.endswith(b"\x80\x01" + stored.encode())):
            body = memoryview(raw)[HEADER_LEN:len(raw) - _HASH_SUFFIX_LEN]
            h = hashlib.sha256(rec["prev_hash"].encode())
            h.update(body)
            h.update(b"\x00")
            return h.hexdigest()
        return record_hash(self.codec, {k: v for k, v in rec.items() if not k.startswith("_")})

    def check(self, rec: Mapping[str, Any], raw: bytes | None = None) -> bool:
        """Check one record (with `_topic`, `_partition`, `_offset`); True when it is intact."""
        self.checked += 1
        stream = rec["stream_id"]
        partition = rec["_partition"]
        version, prev, home = self.heads.get(stream) or (0, GENESIS_HASH, partition)
        intact = True
        if home != partition:
            self._break(rec, "partition", home, partition)
            intact = False
        elif rec["stream_version"] != version + 1:
            self._break(rec, "version", version + 1, rec["stream_version"])
            intact = False
        elif rec["prev_hash"] != prev:
            self._break(rec, "prev_hash", prev, rec["prev_hash"])
            intact = False
        else:
            computed = self.computed_hash(rec, raw)
            if computed != rec["hash"]:
                self._break(rec, "hash", computed, rec["hash"])
                intact = False
        self.heads[stream] = (rec["stream_version"], rec["hash"], home)
        return intact

    def stream_heads(self) -> dict[str, tuple[int, str]]:
        return {s: (v, h) for s, (v, h, _) in self.heads.items()}
