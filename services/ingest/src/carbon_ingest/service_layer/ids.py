"""Time-ordered ids for facts and submissions (UUID version 7 text, RFC 9562).

A fact id is the primary key of ``facts`` and a unique key of ``evidence``, both written under the
evidence-chain lock. Random (version 4) ids put every insert on a random leaf page of those two
B-trees; version 7 ids start with the millisecond clock, so a transaction's ids sort together and
land on the right-most pages (the chain append: −19 to −23 % exec time at 113k facts in
docs/performance-notes.md, more as the indexes outgrow the cache). The rest is random, drawn like
``carbon_common.db.new_id`` (128 ids per ``os.urandom`` call). Ids sort by creation time only
roughly (same millisecond: random order; several processes: interleaved): nothing relies on their
order, only on their uniqueness (74 random bits per millisecond).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

_VARIANT = "89ab"


def _uuid7_strings() -> Iterator[str]:
    clock = time.time_ns
    while True:
        h = os.urandom(2048).hex()
        for i in range(0, 4096, 32):
            ms = f"{clock() // 1_000_000:012x}"
            yield f"{ms[:8]}-{ms[8:]}-7{h[i + 13 : i + 16]}-{_VARIANT[int(h[i + 16], 16) & 3]}{h[i + 17 : i + 20]}-{h[i + 20 : i + 32]}"


_stream = _uuid7_strings()


def _reseed_after_fork() -> None:
    global _stream
    _stream = _uuid7_strings()  # a forked child must not replay the parent's buffer


os.register_at_fork(after_in_child=_reseed_after_fork)


def time_ordered_id() -> str:
    """A UUID version 7 (canonical text): millisecond timestamp, then 74 random bits."""
    return next(_stream)
