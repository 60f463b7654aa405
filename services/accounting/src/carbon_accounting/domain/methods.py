"""Industry accounting methods: which output is the intensity denominator, and what else differs.

Denominators follow the MEE enterprise GHG accounting guidelines (企业温室气体排放核算方法与报告指南,
power generation / iron & steel / coking (within the guideline for independent coking) / cement)
and issue 3: coal power tCO2/MWh supplied, steel tCO2/t crude steel, coking tCO2/t coke, cement
tCO2/t clinker; aluminium per t aluminium (domain-data.md §4 benchmark unit). Other industries are
measured per 10k CNY of revenue and value added. Industry codes are GB/T 4754-2017.

Exported electricity and heat: the MEE guidelines for iron & steel, coking, cement, electrolytic
aluminium and "other industrial enterprises" (工业其他行业) account scope 2 from NET purchased
electricity and heat (净购入电力/热力 = purchased − exported), so ``electricity.exported`` and
``heat.exported`` are deducted there. The power-generation guideline does not: a power plant's
exported electricity is its product (``production.power_supplied``, the intensity denominator),
not a deduction from the electricity it buys, so ``nets_exports`` is False for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class IndustryMethod:
    name: str
    output_indicator: str | None
    output_unit: str | None
    #: cement: when no ``process.clinker`` fact is reported, calcination is computed from the
    #: clinker produced (IPCC 2006 Vol. 3 Ch. 2 Tier 1 is per tonne of clinker produced)
    calcination_from_output: bool = False
    #: scope 2 from net purchased electricity/heat (purchased − exported); see module docstring
    nets_exports: bool = True
    guideline: str = ""


GENERIC = IndustryMethod(
    "generic",
    None,
    None,
    guideline="generic fuel combustion + purchased electricity/heat (MEE guidelines, common part)",
)

#: longest matching GB/T 4754-2017 prefix wins
METHODS: dict[str, IndustryMethod] = {
    "441": IndustryMethod(
        "power",
        "production.power_supplied",
        "MWh",
        nets_exports=False,
        guideline="MEE power generation facilities guideline (exported power is the product)",
    ),
    "311": IndustryMethod("steel", "production.crude_steel", "t", guideline="MEE iron & steel guideline"),
    "312": IndustryMethod("steel", "production.crude_steel", "t", guideline="MEE iron & steel guideline"),
    "2521": IndustryMethod(
        "coking", "production.coke", "t", guideline="MEE coking (independent coking) guideline"
    ),
    "3011": IndustryMethod(
        "cement",
        "production.clinker",
        "t",
        calcination_from_output=True,
        guideline="MEE cement guideline; calcination IPCC 2006 Vol. 3 Ch. 2",
    ),
    "3216": IndustryMethod(
        "aluminium", "production.aluminium", "t", guideline="MEE electrolytic aluminium guideline"
    ),
}


@lru_cache(maxsize=4096)
def method_for(industry_code: str | None) -> IndustryMethod:
    """The method for an industry; ``GENERIC`` when the enterprise is unknown or unclassified."""
    if not industry_code:
        return GENERIC
    for length in range(len(industry_code), 0, -1):
        method = METHODS.get(industry_code[:length])
        if method is not None:
            return method
    return GENERIC
