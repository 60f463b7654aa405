"""Stored ratings → API models (label names and meanings come from the methodology)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from carbon_rating.domain import objections as obj
from carbon_rating.domain.methodology import Methodology
from carbon_rating.entrypoints.schemas import (
    DriverOut,
    GapOut,
    ObjectionOut,
    RatingOut,
    RatingSummary,
    SubScoreOut,
    VetoOut,
)
from carbon_rating.methodology import load
from carbon_rating.service_layer.ports import Objection, StoredRating
from carbon_rating.service_layer.queries import CurrentView


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(str(v))


def rating_out(view: CurrentView, lang: str = "en") -> RatingOut:
    r = view.rating
    m: Methodology = load(r.methodology_version)
    band = m.band(r.label)
    d = r.details
    gap = d.get("gap", {})
    stage = d.get("stage", {})  # absent in ratings issued before stage rules existed
    base = f"/v1/ratings/{r.credit_code}"
    return RatingOut(
        rating_id=r.rating_id,
        credit_code=r.credit_code,
        enterprise_name=None if view.enterprise is None else view.enterprise.name,
        industry_code=r.industry_code,
        as_of_period=r.as_of_period,
        score=r.score,
        label=r.label,  # type: ignore[arg-type]
        label_zh=band.name_zh,
        label_en=band.name_en,
        label_meaning=band.meaning_zh if lang == "zh" else band.meaning_en,
        uncapped_label=d.get("uncapped_label", r.label),
        previous_label=r.previous_label,  # type: ignore[arg-type]
        stage=r.stage,  # type: ignore[arg-type]
        stage_source=stage.get("source", "directory"),
        declared_stage=stage.get("declared", r.stage),
        stage_reason=stage.get("reason", ""),
        stage_evidence=stage.get("evidence", {}),
        confidence=r.confidence,
        methodology_version=r.methodology_version,
        sub_scores=[
            SubScoreOut(
                name=n,
                value=Decimal(s["value"]),
                weight=Decimal(s["weight"]),
                observed=s["observed"],
                applicable=s["applicable"],
                evidence=Decimal(s["evidence"]),
                note=s["note"],
                facts=s["facts"],
            )
            for n, s in d.get("sub_scores", {}).items()
        ],
        drivers_up=[
            DriverOut(sub_score=x["sub_score"], contribution=Decimal(x["contribution"]))
            for x in d.get("drivers_up", [])
        ],
        drivers_down=[
            DriverOut(sub_score=x["sub_score"], contribution=Decimal(x["contribution"]))
            for x in d.get("drivers_down", [])
        ],
        gap_to_next_label=GapOut(
            next_label=gap.get("next_label"),
            points_needed=_dec(gap.get("points_needed")),
            intensity_cut_pct=_dec(gap.get("intensity_cut_pct")),
            blocked_by=gap.get("blocked_by", []),
            note=gap.get("note", ""),
        ),
        vetoes=[
            VetoOut(
                code=v,
                caps_label_at=m.vetoes[v].cap,  # type: ignore[arg-type]
                description=m.vetoes[v].description,
            )
            for v in r.vetoes
            if v in m.vetoes
        ],
        intensity=_dec(d.get("intensity")),
        intensity_basis=d.get("intensity_basis"),
        account_ref=r.account_ref,
        reason=r.reason,
        objection_id=r.objection_id,
        open_objections=len(view.open_objections),
        issued_at=r.issued_at,
        links={
            "self": base,
            "history": f"{base}/history",
            "report": f"{base}/report",
            "queries": f"{base}/queries",
            "objections": f"{base}/objections",
        },
    )


def summary(r: StoredRating) -> RatingSummary:
    return RatingSummary(
        rating_id=r.rating_id,
        as_of_period=r.as_of_period,
        score=r.score,
        label=r.label,  # type: ignore[arg-type]
        stage=r.stage,
        confidence=r.confidence,
        methodology_version=r.methodology_version,
        vetoes=list(r.vetoes),
        reason=r.reason,
        objection_id=r.objection_id,
        issued_at=r.issued_at,
    )


def objection_out(o: Objection, now: Any) -> ObjectionOut:
    return ObjectionOut(
        objection_id=o.objection_id,
        credit_code=o.credit_code,
        rating_id=o.rating_id,
        filed_by=o.filed_by,
        reason=o.reason,
        evidence=o.evidence,
        status=o.status,
        filed_at=o.filed_at,
        due_at=o.due_at,
        overdue=obj.is_overdue(o.status, o.due_at, now),
        decided_at=o.decided_at,
        reviewer=o.reviewer,
        decision_reason=o.decision_reason,
        new_rating_id=o.new_rating_id,
    )
