"""The three pilot cities and their county-level divisions (GB/T 2260, after the 2018 reforms).

The pilot monitored 1,122 enterprises: Changzhi 503, Datong 446, Yangquan 173
(domain-data.md §1); the generator keeps those proportions at any scale.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class City:
    code: str
    name: str
    pilot_enterprises: int
    counties: tuple[tuple[str, str], ...]  # (GB/T 2260 code, name)


PROVINCE_CODE = "140000"  # Shanxi 山西省

CITIES: tuple[City, ...] = (
    City(
        "140400",
        "长治市",
        503,
        (
            ("140403", "潞州区"),
            ("140404", "上党区"),
            ("140405", "屯留区"),
            ("140406", "潞城区"),
            ("140423", "襄垣县"),
            ("140425", "平顺县"),
            ("140426", "黎城县"),
            ("140427", "壶关县"),
            ("140428", "长子县"),
            ("140429", "武乡县"),
            ("140430", "沁县"),
            ("140431", "沁源县"),
        ),
    ),
    City(
        "140200",
        "大同市",
        446,
        (
            ("140212", "新荣区"),
            ("140213", "平城区"),
            ("140214", "云冈区"),
            ("140215", "云州区"),
            ("140221", "阳高县"),
            ("140222", "天镇县"),
            ("140223", "广灵县"),
            ("140224", "灵丘县"),
            ("140225", "浑源县"),
            ("140226", "左云县"),
        ),
    ),
    City(
        "140300",
        "阳泉市",
        173,
        (
            ("140302", "城区"),
            ("140303", "矿区"),
            ("140311", "郊区"),
            ("140321", "平定县"),
            ("140322", "盂县"),
        ),
    ),
)

PILOT_TOTAL = sum(c.pilot_enterprises for c in CITIES)  # 1,122


def largest_remainder(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (Hamilton's method, stable)."""
    wsum = sum(weights)
    quotas = [total * w / wsum for w in weights]
    counts = [int(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def city_of(region_code: str) -> City:
    """The city a county code belongs to."""
    prefix = region_code[:4]
    for city in CITIES:
        if city.code.startswith(prefix):
            return city
    raise KeyError(region_code)
