"""``generate()``: the whole pilot dataset from one seed (same seed, same bytes).

Only ``random.Random(seed)`` is used (never the global generator, the clock or uuid4), and
every collection is built in a sorted or generation order, so the output is a pure function of
the arguments.
"""

from __future__ import annotations

import random
from typing import Any

from . import expectations
from .dataset import PilotDataset
from .enterprises import build_enterprises
from .facts import Calendar, build_facts
from .realism import Mishaps
from .regions import PILOT_TOTAL

PILOT_MONTHS = 45  # 2021-01 .. 2024-09 (the pilot's "to Q3 2024")


def generate(
    seed: int = 2021, enterprises: int = PILOT_TOTAL, months: int = PILOT_MONTHS, start: str = "2021-01"
) -> PilotDataset:
    """Generate the pilot dataset; smaller ``enterprises``/``months`` keep the proportions."""
    if enterprises < 1 or months < 1:
        raise ValueError("enterprises and months must be positive")
    rng = random.Random(seed)
    cal = Calendar(start, months)
    ents = build_enterprises(rng, enterprises)
    facts = build_facts(rng, cal, ents)
    mishaps = Mishaps(rng, ents)
    stream = mishaps.apply(facts)
    stream.sort(key=lambda s: (s.slot, s.department, s.seq))
    batches: list[tuple[str, list[dict[str, Any]]]] = []
    slots: list[int] = []
    last: tuple[int, str] | None = None
    for sent in stream:
        if (sent.slot, sent.department) != last:
            last = (sent.slot, sent.department)
            batches.append((sent.department, []))
            slots.append(sent.slot)
        batches[-1][1].append(sent.body)
    params = {
        "seed": seed,
        "enterprises": enterprises,
        "months": months,
        "start": start,
        "periods": [cal.periods[0], cal.periods[-1]],
    }
    return PilotDataset(
        params=params,
        enterprises=[e.public() for e in ents],
        submissions=[{"department": d, "records": r} for d, r in batches],
        slots=slots,
        expectations=expectations.compute(ents, batches, mishaps.malformed),
    )
