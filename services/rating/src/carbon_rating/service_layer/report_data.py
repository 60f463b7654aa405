"""Everything the carbon credit report shows, gathered in one read (the rendering is an entrypoint)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from carbon_rating.domain.inputs import AccountMonth
from carbon_rating.domain.intensity import peer_intensity
from carbon_rating.domain.methodology import Methodology
from carbon_rating.domain.periods import window
from carbon_rating.service_layer.ports import StoredRating, UnitOfWorkPort
from carbon_rating.service_layer.queries import CurrentView, read_current


@dataclass(frozen=True, slots=True)
class ReportData:
    view: CurrentView
    history: list[StoredRating]
    months: list[AccountMonth]
    peer_intensities: list[Decimal]


async def gather(
    uow: UnitOfWorkPort, credit_code: str, org: str | None, purpose: str | None, now: datetime, m: Methodology
) -> ReportData:
    view = await read_current(uow, credit_code, org, purpose, "report", now)
    r = view.rating
    history = await uow.repo.history(credit_code, 24)
    periods = window(r.as_of_period, 24)
    months = [a.month for a in (await uow.repo.accounts_for([credit_code], periods)).get(credit_code, [])]
    basis = r.details.get("intensity_basis")
    peers: list[Decimal] = []
    if basis:
        recent = set(window(r.as_of_period, m.window_months))
        for t in await uow.repo.industry_totals(r.industry_code, sorted(recent)):
            if t.credit_code != credit_code and (v := peer_intensity(t, basis)) is not None:
                peers.append(v)
    return ReportData(view, history, months, peers)
