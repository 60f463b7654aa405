"""Which methodology is in force, and the append-only audit trail of every change to it.

Two ways change it, and both are recorded with who, when, from → to version and the sha256 of
each file (``methodology_changes``, which the database refuses to update or delete):

- the deployment: ``RATING_METHODOLOGY_VERSION`` at start-up. Recorded when it differs from what
  the deployment last asked for, or when that version's file changed (another digest under the
  same version: an edit without a version bump is visible in the trail);
- an admin activation over the API (``PUT /v1/admin/methodology``, scope ``methodology:admin``):
  recorded with the token's subject and organisation. It stays in force across restarts until the
  deployment's setting changes or another activation.

Replicas follow the latest recorded change (``in_force``); changes are serialised by an advisory
lock so that two replicas starting together record one change, not two.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from carbon_rating.domain.methodology import Methodology, MethodologyError
from carbon_rating.service_layer.ports import MethodologyChange, UnitOfWorkPort

CONFIGURATION = "configuration"
ADMIN_API = "admin_api"
DEPLOYMENT = "deployment (RATING_METHODOLOGY_VERSION)"


class AlreadyInForce(Exception):
    pass


def _change(
    new: Methodology,
    previous: MethodologyChange | None,
    now: datetime,
    actor: str,
    org: str | None,
    source: str,
    reason: str | None,
) -> MethodologyChange:
    return MethodologyChange(
        changed_at=now,
        actor=actor,
        actor_org=org,
        source=source,
        from_version=None if previous is None else previous.to_version,
        from_digest=None if previous is None else previous.to_digest,
        to_version=new.version,
        to_digest=new.digest,
        reason=reason,
    )


async def reconcile_at_start(
    uow: UnitOfWorkPort, configured: Methodology, load: Callable[[str], Methodology], now: datetime
) -> tuple[Methodology, MethodologyChange | None]:
    """The methodology to run under at start-up, and the change recorded for it (if any)."""
    repo = uow.repo
    await repo.lock_methodology()
    latest = await repo.latest_methodology_change()
    asked = await repo.latest_methodology_change(CONFIGURATION)
    if asked is None or (asked.to_version, asked.to_digest) != (configured.version, configured.digest):
        why = "first start" if latest is None else "the deployment's methodology setting or file changed"
        change = _change(configured, latest, now, DEPLOYMENT, None, CONFIGURATION, why)
        return configured, await repo.add_methodology_change(change)
    assert latest is not None  # ``asked`` is a recorded change
    if (latest.to_version, latest.to_digest) == (configured.version, configured.digest):
        return configured, None
    # the deployment asks for what it asked before: the later activation stays in force
    try:
        active = load(latest.to_version)
    except MethodologyError:
        why = f"activated version {latest.to_version} is not shipped any more: back to the deployment's"
        change = _change(configured, latest, now, DEPLOYMENT, None, CONFIGURATION, why)
        return configured, await repo.add_methodology_change(change)
    if active.digest != latest.to_digest:
        why = f"the file of the activated version {active.version} changed"
        change = _change(active, latest, now, DEPLOYMENT, None, CONFIGURATION, why)
        return active, await repo.add_methodology_change(change)
    return active, None


async def activate(
    uow: UnitOfWorkPort, new: Methodology, actor: str, org: str | None, reason: str | None, now: datetime
) -> MethodologyChange:
    """Record an admin activation of ``new``; refuse when it is already in force."""
    await uow.repo.lock_methodology()
    latest = await uow.repo.latest_methodology_change()
    if latest is not None and (latest.to_version, latest.to_digest) == (new.version, new.digest):
        raise AlreadyInForce(f"methodology {new.version} is already in force")
    return await uow.repo.add_methodology_change(_change(new, latest, now, actor, org, ADMIN_API, reason))


async def in_force(uow: UnitOfWorkPort) -> MethodologyChange | None:
    """The latest recorded change: what every replica should be running."""
    return await uow.repo.latest_methodology_change()


async def changes(uow: UnitOfWorkPort, limit: int) -> list[MethodologyChange]:
    return await uow.repo.methodology_changes(limit)
