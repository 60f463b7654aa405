"""The indicator catalogue, as the submitters should read it."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from carbon_common.auth import require
from carbon_ingest.domain.catalogue import Catalogue, Indicator
from carbon_ingest.domain.units import canonical_decimal
from carbon_ingest.entrypoints.deps import ContainerDep
from carbon_ingest.entrypoints.schemas import CatalogueOut, IndicatorOut, PlausibilityOut

router = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])


def _out(i: Indicator, cat: Catalogue) -> IndicatorOut:
    rule = cat.plausibility_rules.get(i.code)
    return IndicatorOut(
        code=i.code,
        unit=i.unit,
        accepted_units=list(i.accepted_units),
        reported_by=sorted(i.kinds),
        authoritative=sorted(i.authoritative),
        not_correctable_by=sorted(i.not_correctable_by),
        min_value=None if i.min_value is None else canonical_decimal(i.min_value),
        integer=i.integer,
        attributes={
            name: {"required": r.required, "enum": list(r.enum), "type": r.type}
            for name, r in i.attributes.items()
        },
        cross_check_tolerance=None if i.cross_check_tolerance is None else str(i.cross_check_tolerance),
        plausibility=None
        if rule is None
        else PlausibilityOut(
            family=rule.family,
            max_ratio=canonical_decimal(rule.max_ratio),
            window_months=rule.window_months,
            min_history=rule.min_history,
        ),
    )


@router.get(
    "/indicators",
    summary="The indicator catalogue (versioned)",
    description="Every indicator with its canonical unit, accepted units, the department kinds "
    "that may report it, which kinds are authoritative, value rules, attribute rules, the "
    "cross-validation tolerance and the plausibility rule. Human summary: docs/indicators.md.",
    response_model=CatalogueOut,
    dependencies=[Depends(require())],
)
async def indicators(container: ContainerDep) -> CatalogueOut:
    cat = container.catalogue
    return CatalogueOut(version=cat.version, indicators=[_out(i, cat) for i in cat.indicators.values()])
