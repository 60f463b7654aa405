"""Which factor set applies now: the active one in the database, cached per ``id@version``.

Factor-set versions are immutable, so caching the parsed set by its reference is always safe;
only the *pointer* to the active version is read per batch (one small query).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from carbon_accounting.domain.factors import FactorSet
from carbon_accounting.service_layer import factor_audit
from carbon_accounting.service_layer.commands import ChangedBy
from carbon_accounting.service_layer.ports import AccountingRepository


class FactorSetNotFound(LookupError):
    pass


@dataclass
class FactorSets:
    """The seed set shipped with the package, plus a cache of parsed sets."""

    seed: FactorSet
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _cache: dict[str, FactorSet] = field(default_factory=dict)

    async def ensure_seeded(self, repo: AccountingRepository) -> None:
        """Store the packaged set and activate it when nothing is active yet (first start).

        Each change is recorded in the audit trail with the deployment as actor (``seeded``,
        then ``activated``); a restart that changes nothing records nothing. Serialised by an
        advisory lock so that two replicas starting together record each change once.
        """
        await repo.lock_factor_sets()
        by = ChangedBy(factor_audit.DEPLOYMENT, None, self.clock())
        if await repo.add_factor_set(self.seed):
            await factor_audit.record(repo, factor_audit.SEEDED, self.seed, by)
        if await repo.active_factor_set_ref() is None:
            await repo.activate_factor_set(self.seed.id, self.seed.version)
            why = ChangedBy(by.actor, None, by.at, "nothing was active: the packaged seed set")
            await factor_audit.record(repo, factor_audit.ACTIVATED, self.seed, why)

    async def active(self, repo: AccountingRepository) -> FactorSet:
        ref = await repo.active_factor_set_ref()
        if ref is None:
            await self.ensure_seeded(repo)
            ref = (self.seed.id, self.seed.version)
        return await self.get(repo, *ref)

    async def get(self, repo: AccountingRepository, set_id: str, version: str) -> FactorSet:
        key = f"{set_id}@{version}"
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        loaded = await repo.factor_set(set_id, version)
        if loaded is None:
            raise FactorSetNotFound(f"factor set {key} is not stored")
        self._cache[key] = loaded
        return loaded
