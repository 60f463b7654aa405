"""Re-run the plausibility checks for the enterprise-months a batch touched (one query per batch).

The history is read from the current fact heads (this transaction's own upserts included), the
flags of the checked months are replaced: a later correction back into range clears its flag.
"""

from __future__ import annotations

from collections.abc import Sequence

from carbon_ingest.domain import plausibility
from carbon_ingest.domain.catalogue import Catalogue
from carbon_ingest.domain.facts import Fact
from carbon_ingest.service_layer.metrics import PLAUSIBILITY_FLAGS
from carbon_ingest.service_layer.ports import UnitOfWork


async def check_plausibility(uow: UnitOfWork, catalogue: Catalogue, new: Sequence[Fact]) -> None:
    rules = catalogue.plausibility_rules
    targets = plausibility.targets_for(
        ((f.credit_code, f.indicator, f.department, f.period) for f in new), rules
    )
    if not targets:
        return
    flags = [
        flag
        for s in await uow.repo.month_summaries_for_recheck(targets)  # their old flags deleted
        if (flag := plausibility.evaluate(s, rules[s.indicator])) is not None
    ]
    await uow.repo.add_flags(flags)
    for f in flags:
        PLAUSIBILITY_FLAGS.labels(f.indicator).inc()
