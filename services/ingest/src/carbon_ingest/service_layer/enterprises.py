"""Use case: register or update an enterprise in the directory (名录库)."""

from __future__ import annotations

from carbon_common.events import EnterpriseRegistered, EnterpriseUpdated
from carbon_ingest.domain.enterprise import Change, Enterprise, apply_registration, new_enterprise
from carbon_ingest.service_layer.commands import RegisterEnterprise
from carbon_ingest.service_layer.errors import NotFoundError
from carbon_ingest.service_layer.ports import UnitOfWork


async def register_enterprise(cmd: RegisterEnterprise, uow: UnitOfWork) -> tuple[Change, Enterprise]:
    """Same content is a no-op (no event); a change bumps the revision and emits ``EnterpriseUpdated``.

    Raises ``DirectoryError`` (bad field) or ``NotFoundError`` (``must_exist`` and absent).
    """
    proposed = new_enterprise(
        credit_code=cmd.credit_code,
        name=cmd.name,
        region_code=cmd.region_code,
        industry_code=cmd.industry_code,
        size_class=cmd.size_class,
        transition_stage=cmd.transition_stage,
        ets_participant=cmd.ets_participant,
    )
    async with uow:
        await uow.repo.lock_enterprise(proposed.credit_code)
        current = await uow.repo.get_enterprise(proposed.credit_code)
        if cmd.must_exist and current is None:
            raise NotFoundError("enterprise", proposed.credit_code)
        change, saved = apply_registration(current, proposed)
        if change is Change.UNCHANGED:
            return change, saved
        await uow.repo.save_enterprise(saved)
        event_type = EnterpriseRegistered if change is Change.REGISTERED else EnterpriseUpdated
        uow.emit(
            event_type(
                credit_code=saved.credit_code,
                name=saved.name,
                region_code=saved.region_code,
                industry_code=saved.industry_code,
                size_class=saved.size_class,  # type: ignore[arg-type]
                transition_stage=saved.transition_stage,  # type: ignore[arg-type]
                ets_participant=saved.ets_participant,
                revision=saved.revision,
            )
        )
        await uow.commit()
    return change, saved
