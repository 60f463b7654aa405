"""Use cases of the accounting service. The table at the bottom is the one place they are listed.

Handlers change state and stage the events they owe (``uow.save_accounts``); the caller commits once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from carbon_accounting.domain.calculation import account_figures
from carbon_accounting.domain.factors import FactorSet
from carbon_accounting.domain.model import AccountFigures, Fact
from carbon_accounting.domain.quality import TOLERANCE
from carbon_accounting.service_layer import factor_audit
from carbon_accounting.service_layer.commands import ActivateFactorSet, ApplyBatch, PublishFactorSet
from carbon_accounting.service_layer.factor_sets import FactorSets
from carbon_accounting.service_layer.ports import AccountingUnitOfWork, Pair, StoredAccount
from carbon_common.events import AccountUpdated

#: enterprise-months recomputed per query round during a full restatement
RESTATE_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class Outcome:
    recomputed: int
    restated: int


def latest_revisions(facts: Iterable[Fact]) -> list[Fact]:
    """Within one batch, keep only the highest revision per fact_key (a correction supersedes)."""
    best: dict[str, Fact] = {}
    for f in facts:
        cur = best.get(f.fact_key)
        if cur is None or f.revision > cur.revision:
            best[f.fact_key] = f
    return list(best.values())


def account_event(figures: AccountFigures, calculation_version: int) -> AccountUpdated:
    """The contract event of one account (the reference mapping: ``uow.save_accounts`` writes the
    same bytes without building the model, tested against this)."""
    return AccountUpdated(
        credit_code=figures.credit_code,
        period=figures.period,
        industry_code=figures.industry_code,
        scope1_combustion_tco2=figures.scope1_combustion_tco2,
        scope1_process_tco2=figures.scope1_process_tco2,
        scope2_location_tco2=figures.scope2_location_tco2,
        scope2_market_tco2=figures.scope2_market_tco2,
        scope3_tco2=figures.scope3_tco2,
        total_tco2=figures.total_tco2,
        output_quantity=figures.output_quantity,
        output_unit=figures.output_unit,
        intensity_per_output=figures.intensity_per_output,
        revenue_10k_cny=figures.revenue_10k_cny,
        intensity_per_revenue=figures.intensity_per_revenue,
        data_quality_score=figures.data_quality_score,
        fact_count=figures.fact_count,
        factor_set=figures.factor_set,
        calculation_version=calculation_version,
    )


async def recompute(
    uow: AccountingUnitOfWork, pairs: Iterable[Pair], factors: FactorSet, tolerance: Decimal = TOLERANCE
) -> Outcome:
    """Recompute each enterprise-month once; store and emit only those whose figures changed.

    A duplicate or no-op correction yields the same figures, so no new ``AccountUpdated``; a
    change increments ``calculation_version`` (1 for a first figure), so consumers can tell a
    restatement from a first figure. A factor-set change that leaves every number equal only
    updates the stored ``factor_set`` label (documented: no event for a label-only change).

    A month with an account but no current fact left (a correction moved its last fact to
    another month or enterprise) is recomputed from no facts: a zero account (``fact_count`` 0)
    stored and published with the next version, so no reader keeps the figures of facts that
    are no longer there. A month without facts and without an account is skipped.
    """
    wanted = sorted(set(pairs))
    if not wanted:
        return Outcome(0, 0)
    facts, enterprises = await uow.repo.figure_rows_and_enterprises(wanted)
    existing = await uow.repo.account_states(wanted)
    missing = {code for code, period in existing if (code, period) not in facts} - enterprises.keys()
    if missing:
        # the directory entries come with the facts; an emptied month's enterprise may have none
        # left (only corrections that move facts get here)
        enterprises = {**enterprises, **await uow.repo.enterprises(missing)}
    to_store: list[StoredAccount] = []
    publish: list[bool] = []
    restated = 0
    for pair in wanted:
        pair_facts = facts.get(pair)
        if not pair_facts and pair not in existing:
            continue
        code, period = pair
        # figures only (the lineage endpoint recomputes the lines with ``compute_account``)
        figures = account_figures(code, period, pair_facts or (), enterprises.get(code), factors, tolerance)
        prev = existing.get(pair)
        if prev is not None and prev.comparable == figures.comparable():
            if prev.factor_set != figures.factor_set:
                to_store.append(StoredAccount(figures, prev.calculation_version))
                publish.append(False)
            continue
        version = 1 if prev is None else prev.calculation_version + 1
        to_store.append(StoredAccount(figures, version))
        publish.append(True)
        restated += 1
    await uow.save_accounts(to_store, publish)
    return Outcome(len(wanted), restated)


async def apply_batch(
    uow: AccountingUnitOfWork, cmd: ApplyBatch, factor_sets: FactorSets, tolerance: Decimal = TOLERANCE
) -> Outcome:
    """Directory changes and facts of one batch; each touched enterprise-month computed once."""
    if not cmd.facts and not cmd.enterprises:
        return Outcome(0, 0)
    changed: set[str] = set()
    if cmd.enterprises:
        await uow.repo.lock_accounts(exclusive=False)
        changed = await uow.repo.upsert_enterprises(cmd.enterprises)
    # only months whose current facts changed, including a month a correction moved a fact out
    # of (a redelivered or stale revision changes nothing);
    # the upsert takes the shared accounts lock itself, before the factor set is read below
    pairs = await uow.repo.upsert_facts(latest_revisions(cmd.facts), lock_accounts=not cmd.enterprises)
    if changed:
        # an enterprise that arrives (or changes industry) after its facts: restate its months
        pairs.update(await uow.repo.fact_pairs(changed))
    if not pairs:
        return Outcome(0, 0)
    return await recompute(uow, pairs, await factor_sets.active(uow.repo), tolerance)


async def publish_factor_set(uow: AccountingUnitOfWork, cmd: PublishFactorSet) -> bool:
    """Store the version and record who published it; False (nothing recorded) if it exists."""
    created = await uow.repo.add_factor_set(cmd.factor_set)
    if created:
        await factor_audit.record(uow.repo, factor_audit.PUBLISHED, cmd.factor_set, cmd.by)
    return created


async def activate_factor_set(
    uow: AccountingUnitOfWork,
    cmd: ActivateFactorSet,
    factor_sets: FactorSets,
    tolerance: Decimal = TOLERANCE,
) -> Outcome:
    """Switch the active set, record who did it (and the set it replaced), and restate every
    enterprise-month it changes (in chunks) — all in the caller's one transaction."""
    await uow.repo.lock_accounts(exclusive=True)
    await uow.repo.lock_factor_sets()
    factors = await factor_sets.get(uow.repo, cmd.set_id, cmd.version)  # FactorSetNotFound → 404
    previous = await uow.repo.active_factor_set_ref()
    await uow.repo.activate_factor_set(cmd.set_id, cmd.version)
    await factor_audit.record(uow.repo, factor_audit.ACTIVATED, factors, cmd.by, previous)
    all_pairs = await uow.repo.fact_pairs()
    recomputed = restated = 0
    for start in range(0, len(all_pairs), RESTATE_CHUNK):
        out = await recompute(uow, all_pairs[start : start + RESTATE_CHUNK], factors, tolerance)
        recomputed += out.recomputed
        restated += out.restated
    return Outcome(recomputed, restated)


#: the use cases, in one visible table (command type → handler)
HANDLERS = {
    ApplyBatch: apply_batch,
    PublishFactorSet: publish_factor_set,
    ActivateFactorSet: activate_factor_set,
}
