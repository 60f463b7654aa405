"""Carbon intensity over a window, on a basis that peers can be compared on.

The basis is output (tCO2 per unit of physical output, e.g. MWh or t crude steel) when the
enterprise reports output in every account that has emissions, otherwise revenue (tCO2 per 10k
CNY). Windows sum emissions and the denominator first and divide once (a ratio of sums, not a mean
of monthly ratios), so a month with tiny output cannot dominate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal

from carbon_rating.domain.inputs import AccountMonth, Intensity, PeerTotals

_ZERO = Decimal(0)


def _in(accounts: Iterable[AccountMonth], periods: AbstractSet[str]) -> list[AccountMonth]:
    return [a for a in accounts if a.period in periods]


def choose_basis(accounts: Sequence[AccountMonth]) -> str | None:
    """``per_output:<unit>`` when every account has one output unit and a positive output."""
    if not accounts:
        return None
    units = {a.output_unit for a in accounts}
    if len(units) == 1 and None not in units and all((a.output_quantity or 0) > 0 for a in accounts):
        return f"per_output:{next(iter(units))}"
    if all((a.revenue_10k_cny or 0) > 0 for a in accounts):
        return "per_revenue"
    return None


def intensity_on(accounts: Sequence[AccountMonth], periods: AbstractSet[str], basis: str) -> Decimal | None:
    """The window's intensity on ``basis``, or None when the window lacks the denominator."""
    rows = _in(accounts, periods)
    if not rows:
        return None
    total = sum((a.total_tco2 for a in rows), Decimal(0))
    if basis == "per_revenue":
        denom = sum((a.revenue_10k_cny or Decimal(0) for a in rows), Decimal(0))
    else:
        unit = basis.split(":", 1)[1]
        if any(a.output_unit != unit for a in rows):
            return None
        denom = sum((a.output_quantity or Decimal(0) for a in rows), Decimal(0))
    if denom <= 0:
        return None
    return total / denom


def own_intensity(accounts: Sequence[AccountMonth], periods: AbstractSet[str]) -> Intensity | None:
    rows = _in(accounts, periods)
    basis = choose_basis(rows)
    if basis is None:
        return None
    value = intensity_on(rows, periods, basis)
    return None if value is None else Intensity(basis, value)


def window_intensity(rows: Sequence[AccountMonth]) -> Intensity | None:
    """``own_intensity`` of months already cut to the window (``rows``), in fewer passes: the same
    basis rule, the same sums added in the same order from ``Decimal(0)``, the same division.

    The rating calls this once per re-rating; ``own_intensity`` filtered the months twice and
    summed them in generator expressions (tested equal)."""
    if not rows:
        return None
    unit = rows[0].output_unit
    if (
        unit is not None
        and all(a.output_unit == unit for a in rows)  # == len({units}) == 1, no None
        and all((a.output_quantity or 0) > 0 for a in rows)
    ):
        total = denom = _ZERO
        for a in rows:
            total += a.total_tco2
            denom += a.output_quantity or _ZERO
        return Intensity(f"per_output:{unit}", total / denom) if denom > 0 else None
    if all((a.revenue_10k_cny or 0) > 0 for a in rows):
        total = denom = _ZERO
        for a in rows:
            total += a.total_tco2
            denom += a.revenue_10k_cny or _ZERO
        return Intensity("per_revenue", total / denom) if denom > 0 else None
    return None


def basis_unit(basis: str) -> str | None:
    return basis.split(":", 1)[1] if basis.startswith("per_output:") else None


def peer_intensity(t: PeerTotals, basis: str) -> Decimal | None:
    """A peer's window intensity on ``basis`` (the same rules as ``intensity_on``, from sums)."""
    if basis == "per_revenue":
        denom = t.revenue_10k_cny
    elif t.output_unit is not None and t.output_unit == basis_unit(basis):
        denom = t.output_quantity
    else:
        return None
    return t.total_tco2 / denom if denom > 0 else None


def totals(credit_code: str, accounts: Sequence[AccountMonth], periods: AbstractSet[str]) -> PeerTotals:
    """``PeerTotals`` from monthly accounts (what the repository computes in SQL; used by tests)."""
    rows = _in(accounts, periods)
    units = {a.output_unit for a in rows}
    return PeerTotals(
        credit_code=credit_code,
        total_tco2=sum((a.total_tco2 for a in rows), Decimal(0)),
        output_unit=next(iter(units)) if len(units) == 1 else None,
        output_quantity=sum((a.output_quantity or Decimal(0) for a in rows), Decimal(0)),
        revenue_10k_cny=sum((a.revenue_10k_cny or Decimal(0) for a in rows), Decimal(0)),
    )


class PeerRanking:
    """A peer group's window intensities on each basis, sorted once for all of the group's members.

    ``rate`` compares an enterprise with its peers minus itself. Computing every peer's intensity
    and sorting them again for each member made rating a group quadratic; a ranking built once per
    group gives each member the identical list (a stable sort of the peers in input order, with the
    member's own entry removed, is the stable sort of the peers without it)."""

    __slots__ = ("_by_basis", "peers")

    def __init__(self, peers: tuple[PeerTotals, ...]) -> None:
        self.peers = peers
        self._by_basis: dict[str, tuple[list[Decimal], list[str]]] = {}

    def excluding(self, credit_code: str, basis: str) -> list[Decimal]:
        """Sorted intensities on ``basis`` of every peer but ``credit_code`` (a new list)."""
        ranked = self._by_basis.get(basis)
        if ranked is None:
            pairs = [(v, t.credit_code) for t in self.peers if (v := peer_intensity(t, basis)) is not None]
            pairs.sort(key=lambda p: p[0])  # stable: ties stay in input order, as sorted() keeps them
            ranked = self._by_basis[basis] = ([v for v, _ in pairs], [c for _, c in pairs])
        values, codes = ranked
        own = codes.count(credit_code)
        if own == 0:
            return list(values)
        if own == 1:
            i = codes.index(credit_code)
            return values[:i] + values[i + 1 :]
        return [v for v, c in zip(values, codes, strict=True) if c != credit_code]
