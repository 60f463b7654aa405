"""Issuing ratings: load inputs in bulk, rate, and issue only what changed.

Coalescing: callers pass the set of enterprises a batch touched; each is rated once, as of its
latest period with an account. A new rating is stored and ``RatingIssued`` emitted only when the
outcome differs from the current rating (score, label, vetoes, stage, methodology version), so a
redelivered or repeated input changes nothing. Peers are loaded in one query per batch and ranked
once per peer group (``PeerRanking``). The consumer passes its input cache (``input_cache``), so a batch
reads in full only the account months and facts that changed since the enterprise was last rated.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from carbon_common.events import RatingIssued
from carbon_rating.domain.inputs import ConductFact, EnterpriseProfile, PeerTotals, RatingInputs
from carbon_rating.domain.intensity import PeerRanking
from carbon_rating.domain.methodology import Methodology
from carbon_rating.domain.periods import window
from carbon_rating.domain.rating import assess
from carbon_rating.domain.result import RatingResult
from carbon_rating.service_layer.input_cache import InputCache, InputReads
from carbon_rating.service_layer.metrics import RATINGS_ISSUED
from carbon_rating.service_layer.ports import AccountRow, StoredRating, UnitOfWorkPort
from carbon_rating.service_layer.serialize import result_details

_NS = uuid.UUID("6f1d3c2e-8b1a-4c57-9a0e-2f4d6b8c0a11")


_NS_BYTES = _NS.bytes


def rating_id(credit_code: str, seq: int) -> str:
    """Deterministic: a replay after a crash issues the same ids.

    ``str(uuid.uuid5(_NS, f"{credit_code}/{seq}"))`` (RFC 4122 §4.3: SHA-1 of namespace and name,
    version 5, RFC variant), without building the ``UUID`` object (tested equal)."""
    h = bytearray(hashlib.sha1(_NS_BYTES + f"{credit_code}/{seq}".encode()).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50
    h[8] = (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def to_event(r: StoredRating) -> RatingIssued:
    """The published event of a stored rating (and the count of issued ratings)."""
    RATINGS_ISSUED.labels(r.reason or "unknown", r.label).inc()
    subs = r.details.get("sub_scores", {})
    return RatingIssued(
        rating_id=r.rating_id,
        credit_code=r.credit_code,
        as_of_period=r.as_of_period,
        score=r.score,
        label=r.label,  # type: ignore[arg-type]
        previous_label=r.previous_label,  # type: ignore[arg-type]
        transition_stage=r.stage,  # type: ignore[arg-type]
        confidence=r.confidence,
        methodology_version=r.methodology_version,
        sub_scores={k: v["value"] for k, v in sorted(subs.items())},
        vetoes=list(r.vetoes),
        industry_code=r.industry_code,
        issued_at=r.issued_at,
    )


#: the smallest step PostgreSQL's ``timestamptz`` keeps
_TICK = timedelta(microseconds=1)


def issue_time(candidate: datetime, current: StoredRating | None) -> datetime:
    """``issued_at`` of the rating that supersedes ``current``: ``candidate``, but always later
    than ``current.issued_at``.

    Consumers (lending) keep the newest rating by ``(issued_at, rating_id)``, so the order of
    ``issued_at`` must be the order of issue. The candidate is the newest input event's time,
    and inputs do not arrive in event-time order: a batch of ``ingest.credit-facts.v1`` can be applied
    after a batch of ``accounting.accounts.v1`` whose events are newer (the two topics lag
    differently, markedly after a broker outage). Without the floor, the next rating would
    carry an earlier ``issued_at`` than the current one and lending would keep the old one.
    """
    if current is not None and candidate <= current.issued_at:
        return current.issued_at + _TICK
    return candidate


def stored(
    result: RatingResult,
    current: StoredRating | None,
    account_ref: str | None,
    reason: str,
    issued_at: datetime,
    objection_id: str | None = None,
) -> StoredRating:
    seq = 1 if current is None else current.seq + 1
    return StoredRating(
        rating_id=rating_id(result.credit_code, seq),
        credit_code=result.credit_code,
        seq=seq,
        as_of_period=result.as_of_period,
        industry_code=result.industry_code,
        stage=result.stage,
        score=result.score,
        label=result.label,
        previous_label=None if current is None else current.label,
        confidence=result.confidence,
        methodology_version=result.methodology_version,
        vetoes=result.vetoes,
        details=result_details(result),
        account_ref=account_ref,
        reason=reason,
        issued_at=issue_time(issued_at, current),
        objection_id=objection_id,
    )


#: peer totals per (industry, last period of the window), shared by the chunks of one full cycle
PeerCache = dict[tuple[str, str], tuple[PeerTotals, ...]]


async def rerate(
    uow: UnitOfWorkPort,
    codes: Iterable[str],
    m: Methodology,
    issued_at: datetime,
    reason: str,
    peer_cache: PeerCache | None = None,
    reads: InputReads | None = None,
) -> list[StoredRating]:
    """Rate ``codes`` (inside the caller's unit of work); return the ratings newly issued.

    Peer totals of every (industry, window) the batch needs are loaded in one query; a full cycle
    passes ``peer_cache`` so that its chunks share them (the cycle rates against one snapshot of
    its peers rather than re-aggregating the same industry for every chunk).

    ``reads``: the consumer's input cache for this transaction (``input_cache``): account months
    and facts are then read in full only where the cache lacks their stored state. The caller
    publishes it after the commit."""
    repo = uow.repo
    wanted = sorted(set(codes))
    span = max(m.window_months + 12, 24)
    own: dict[str, list[AccountRow]]
    if reads is not None:
        latest, own = await reads.load(repo, wanted, span)
    else:
        latest = await repo.latest_account_periods(wanted)
    profiles = await repo.enterprises(wanted)
    rateable = [c for c in wanted if c in latest and c in profiles]
    if not rateable:
        return []
    if reads is None:
        all_periods = sorted({p for c in rateable for p in window(latest[c], span)})
        own = await repo.accounts_for(rateable, all_periods)
    facts: dict[str, list[ConductFact]]
    if reads is not None:
        facts = await reads.load_facts(repo, rateable)  # all periods: ``rate`` keeps its window's
    else:
        facts = await repo.facts_for(
            rateable, sorted({p for c in rateable for p in window(latest[c], m.window_months)})
        )
    current = await repo.current_ratings(rateable, lock=True, details=False)  # outcomes only
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for c in rateable:
        groups[(profiles[c].industry_code, latest[c])].append(c)
    cache: PeerCache = {} if peer_cache is None else peer_cache
    missing = []
    for industry, period in groups:
        if (industry, period) not in cache:
            w = window(period, m.window_months)
            missing.append((industry, w[0], w[-1]))
    cache.update(await repo.peer_totals(missing))
    memo = None if reads is None else reads.cache
    issued = _rate_groups(groups, cache, own, facts, profiles, current, m, reason, issued_at, memo)
    if issued:
        await repo.add_ratings(issued)
        for s in issued:
            uow.emit(to_event(s))
    return issued


def _rate_groups(
    groups: dict[tuple[str, str], list[str]],
    cache: PeerCache,
    own: dict[str, list[AccountRow]],
    facts: dict[str, list[ConductFact]],
    profiles: dict[str, EnterpriseProfile],
    current: dict[str, StoredRating],
    m: Methodology,
    reason: str,
    issued_at: datetime,
    memo: InputCache | None = None,
) -> list[StoredRating]:
    """Rate each group's members against the group's peers; the ratings whose outcome changed.

    ``memo``: the consumer's input cache, which also keeps each enterprise's conduct part of the
    rating (``InputCache.conduct``) while its facts, period, flags and methodology stay the same."""
    issued: list[StoredRating] = []
    for (industry, period), members in sorted(groups.items()):
        peers = cache[(industry, period)]
        ranking = PeerRanking(peers)  # the group's peers ranked once for all its members
        for c in members:
            rows = own.get(c, [])
            inputs = RatingInputs(
                enterprise=profiles[c],
                as_of_period=period,
                accounts=tuple([r.month for r in rows]),
                facts=tuple(facts.get(c, ())),
                peers=peers,
            )
            known = None if memo is None else memo.conduct(inputs, m)
            outcome = assess(inputs, m, ranking, known)
            cur = current.get(c)
            if cur is not None and outcome.same_outcome(
                cur.score, cur.label, cur.vetoes, cur.methodology_version, cur.stage
            ):
                continue
            result = outcome.result()  # drivers and the gap: only for a rating that is issued
            ref = next(
                (
                    f"{c}/{r.month.period}@v{r.month.calculation_version}"
                    for r in reversed(rows)  # oldest first: the rating's own period is the last one
                    if r.month.period == period
                ),
                None,
            )
            issued.append(stored(result, cur, ref, reason, issued_at))
    return issued
