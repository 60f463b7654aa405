"""Approval track: which desk sees the application, and how many working days it may take.

The pilot cut approval from 30–45 working days to 15–20, and "a week" for the best-rated
(domain-data §1); the SLA ranges live in the bank policy. Rules, in order of precedence: no
rating, a veto, a red label, an open objection or a low-confidence rating → manual review;
dark green with high confidence → fast track; everything else → standard.
"""

from __future__ import annotations

from dataclasses import dataclass

from carbon_lending.domain.model import Rating, Track
from carbon_lending.domain.policy import BankPolicy


@dataclass(frozen=True, slots=True)
class Approval:
    track: Track
    sla_min_days: int
    sla_max_days: int
    reasons: tuple[str, ...]


def decide_track(rating: Rating | None, policy: BankPolicy) -> Approval:
    """The track and its reasons; the open objections are the ones held with ``rating``."""
    reasons: list[str] = []
    if rating is None:
        reasons.append(
            "no carbon credit rating yet: quoted without rating benefits, a credit officer must review"
        )
    else:
        if rating.vetoes:
            reasons.append(f"rating veto(es): {', '.join(rating.vetoes)}")
        if rating.label == "red":
            reasons.append("red label")
        if rating.open_objections:
            n = len(rating.open_objections)
            reasons.append(
                f"{'an objection to the rating is' if n == 1 else f'{n} objections to the rating are'} "
                f"open (异议复核: {', '.join(rating.open_objections)})"
            )
        if rating.confidence < policy.manual_review_below_confidence:
            reasons.append(
                f"rating confidence {rating.confidence} below {policy.manual_review_below_confidence}"
            )
    if reasons:
        track: Track = "manual_review"
    elif (
        rating is not None
        and rating.label == "dark_green"
        and rating.confidence >= policy.fast_track_min_confidence
    ):
        track = "fast_track"
        reasons.append(
            f"dark green label with confidence {rating.confidence} ≥ {policy.fast_track_min_confidence}"
        )
    else:
        track = "standard"
        assert rating is not None
        detail = f"{rating.label.replace('_', ' ')} label, confidence {rating.confidence}"
        reasons.append(detail)
    rule = policy.tracks[track]
    return Approval(track, rule.sla_min_days, rule.sla_max_days, tuple(reasons))
