"""RatingResult ⇄ JSON (decimal strings): the stored ``details`` and the API read the same shape."""

from __future__ import annotations

from typing import Any

from carbon_rating.domain.result import RatingResult


def result_details(r: RatingResult) -> dict[str, Any]:
    return {
        "uncapped_label": r.uncapped_label,
        "intensity": None if r.intensity is None else str(r.intensity),
        "intensity_basis": r.intensity_basis,
        "stage": {
            "source": r.stage_source,
            "declared": r.declared_stage,
            "reason": r.stage_reason,
            "evidence": dict(sorted(r.stage_evidence.items())),
        },
        "sub_scores": {
            name: {
                "value": str(v.value),
                "observed": v.observed,
                "weight": str(v.weight),
                "evidence": str(v.evidence),
                "applicable": v.applicable,
                "note": v.note,
                "facts": v.facts,
            }
            for name, v in r.sub_scores.items()
        },
        "drivers_up": [{"sub_score": d.sub_score, "contribution": str(d.contribution)} for d in r.drivers_up],
        "drivers_down": [
            {"sub_score": d.sub_score, "contribution": str(d.contribution)} for d in r.drivers_down
        ],
        "gap": {
            "next_label": r.gap.next_label,
            "points_needed": None if r.gap.points_needed is None else str(r.gap.points_needed),
            "intensity_cut_pct": None if r.gap.intensity_cut_pct is None else str(r.gap.intensity_cut_pct),
            "blocked_by": list(r.gap.blocked_by),
            "note": r.gap.note,
        },
    }
