"""Read-side use cases for the API: current rating (recording a bank's read), history, query log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from carbon_rating.domain import objections as obj
from carbon_rating.domain.inputs import EnterpriseProfile
from carbon_rating.service_layer.handlers import NotFound
from carbon_rating.service_layer.ports import Objection, QueryEntry, StoredRating, UnitOfWorkPort


@dataclass(frozen=True, slots=True)
class CurrentView:
    rating: StoredRating
    enterprise: EnterpriseProfile | None
    open_objections: list[Objection]


async def read_current(
    uow: UnitOfWorkPort, credit_code: str, org: str | None, purpose: str | None, resource: str, now: datetime
) -> CurrentView:
    """The current rating; a read on behalf of another organisation (a bank) is logged in the same
    transaction, so there is no read without its log entry."""
    current = (await uow.repo.current_ratings([credit_code])).get(credit_code)
    if current is None:
        raise NotFound(f"no rating for {credit_code}: unknown enterprise or no carbon account yet")
    profile = (await uow.repo.enterprises([credit_code])).get(credit_code)
    pending = await uow.repo.objections(credit_code, [obj.OPEN, obj.IN_REVIEW])
    if org and org != credit_code:
        await uow.repo.log_query(QueryEntry(credit_code, org, current.rating_id, resource, purpose, now))
    await uow.commit()
    return CurrentView(current, profile, pending)


async def history(uow: UnitOfWorkPort, credit_code: str, limit: int) -> list[StoredRating]:
    rows = await uow.repo.history(credit_code, limit)
    if not rows:
        raise NotFound(f"no rating for {credit_code}")
    return rows


async def query_log(uow: UnitOfWorkPort, credit_code: str, limit: int) -> list[QueryEntry]:
    return await uow.repo.queries(credit_code, limit)
