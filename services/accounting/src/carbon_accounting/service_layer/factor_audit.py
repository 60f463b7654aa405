"""The append-only audit trail of factor-set changes: who changed the factor library, and when.

Three changes are recorded, each in the same transaction as the change itself (a refused or
failed change records nothing, a committed one cannot lose its entry):

- ``published``: a new version stored over the API (``POST /v1/factor-sets``, ``factors:admin``);
- ``activated``: a version made the one every account uses (``POST /v1/factor-sets/{id}/activate``,
  or at the first start when nothing is active), with the set it replaced;
- ``seeded``: the packaged set (``ACCOUNTING_SEED_FACTOR_SET``) stored at start-up.

API changes record the token's subject and organisation; start-up changes record the deployment.
Every entry carries the sha256 of the set's canonical content (``FactorSet.digest``). The table
refuses UPDATE, DELETE and TRUNCATE (migration 0003).
"""

from __future__ import annotations

from carbon_accounting.domain.factors import FactorSet
from carbon_accounting.service_layer.commands import ChangedBy
from carbon_accounting.service_layer.ports import AccountingRepository, AccountingUnitOfWork, FactorSetChange

PUBLISHED = "published"
ACTIVATED = "activated"
SEEDED = "seeded"
#: the actor of start-up changes
DEPLOYMENT = "deployment (ACCOUNTING_SEED_FACTOR_SET)"
#: hard maximum of one page of the trail
MAX_PAGE = 200


async def record(
    repo: AccountingRepository,
    action: str,
    factor_set: FactorSet,
    by: ChangedBy,
    previous: tuple[str, str] | None = None,
) -> FactorSetChange:
    return await repo.add_factor_set_change(
        FactorSetChange(
            changed_at=by.at,
            actor=by.actor,
            actor_org=by.actor_org,
            action=action,
            set_id=factor_set.id,
            version=factor_set.version,
            digest=factor_set.digest,
            previous_set_id=None if previous is None else previous[0],
            previous_version=None if previous is None else previous[1],
            reason=by.reason,
        )
    )


async def changes(uow: AccountingUnitOfWork, limit: int, before: int | None = None) -> list[FactorSetChange]:
    """One page of the trail, newest first (``before``: the smallest id of the previous page)."""
    return await uow.repo.factor_set_changes(min(max(limit, 1), MAX_PAGE), before)
