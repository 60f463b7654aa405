"""Industries (GB/T 4754-2017) and the physical model of each: what a plant reports per unit.

Coefficients are canonical units per unit of activity (the production indicator) and are chosen
so that the intensities land on the public benchmarks of domain-data.md §4 when multiplied by
the factors in ``factors.py``:

- coal power: 305.5 gce/kWh / 0.7143 kgce/kg raw coal (GB/T 2589) = 0.4277 t raw coal/MWh,
  × 1.9003 tCO2/t ≈ 0.81 tCO2/MWh;
- steel (BF-BOF, per t crude steel): 0.41 t coke + 0.225 t coal + 6 Nm3 gas + 0.12 t flux +
  0.46 MWh ≈ 1.9 tCO2/t in 2021, falling with the trajectories (worldsteel 1.85–1.91);
- cement (per t clinker): 0.52 calcination + 0.152 t coal + 0.075 MWh ≈ 0.85 tCO2/t (0.8534);
- aluminium (per t): 14.5 MWh + 0.45 t anode carbon (reported as coke) ≈ 9.1 tCO2/t (9.1132);
- coking reports only the coal burnt for heating (feedstock coal is transformed, not burnt);
  there is no public benchmark, the peer group defines it.
"""

from __future__ import annotations

from dataclasses import dataclass

INDUSTRY_SEASON = (0.97, 0.85, 1.0, 1.02, 1.03, 1.0, 0.98, 1.0, 1.03, 1.02, 1.05, 1.05)
POWER_SEASON = (1.15, 1.02, 0.95, 0.88, 0.9, 1.0, 1.1, 1.12, 0.95, 0.92, 1.0, 1.13)
HEATING_SEASON = (1.9, 1.6, 1.1, 0.25, 0.08, 0.08, 0.08, 0.08, 0.08, 0.3, 1.2, 1.9)
SOLAR_SEASON = (0.7, 0.8, 1.0, 1.15, 1.25, 1.25, 1.2, 1.15, 1.05, 0.9, 0.75, 0.65)
WIND_SEASON = (1.15, 1.1, 1.25, 1.2, 1.0, 0.8, 0.7, 0.7, 0.85, 1.0, 1.1, 1.15)
FLAT_SEASON = (1.0,) * 12
WINTER_MONTHS = frozenset((1, 2, 3, 11, 12))

RAW_COAL_PER_MWH = 0.3055 / 0.7143  # t raw coal per MWh supplied at 305.5 gce/kWh

# Fuels most firms burn besides their process: company vehicles and canteens, per 10k CNY of
# revenue, with the share of firms that report them.
# (Share 0.5: traded from 0.6 to keep the pilot at ~420,000 records once balance sheets and
# exported energy were added.)
PER_REVENUE: tuple[tuple[str, float, float], ...] = (
    ("energy.gasoline", 0.0004, 0.5),
    ("energy.lpg", 0.00015, 0.5),
)


@dataclass(frozen=True, slots=True)
class Input:
    """An input reported per unit of activity."""

    indicator: str
    per_unit: float
    share: float = 1.0  # probability that an enterprise of the profile reports it
    fossil: bool = True  # follows the enterprise's decarbonisation trajectory
    winter: float = 1.0  # extra multiplier Nov–Mar (space heating)


@dataclass(frozen=True, slots=True)
class Profile:
    """How one kind of plant behaves month by month."""

    key: str
    output: str | None  # production indicator; None when the activity is internal (heat, services)
    sme: tuple[float, float]  # monthly activity range, SME
    large: tuple[float, float]  # monthly activity range, large
    inputs: tuple[Input, ...]
    price: float  # 10k CNY per unit of activity
    season: tuple[float, ...] = INDUSTRY_SEASON
    growth: tuple[float, float] = (-0.01, 0.06)  # yearly output growth range
    carbon: str = "high"  # high / medium / low: drives stage and trajectory mix
    transition_scale: float = 1.0  # how much of the decarbonisation rate is physically possible
    output_kind: str = "stats"  # department kind that reports the output
    co_outputs: tuple[tuple[str, float, float], ...] = ()  # (indicator, ratio lo, ratio hi)
    jitter: float = 0.05  # plant-to-plant spread of the coefficients


PROFILES: dict[str, Profile] = {
    p.key: p
    for p in (
        Profile(
            "power_coal",
            "production.power_supplied",
            (5_000, 40_000),
            (60_000, 350_000),
            (
                Input("energy.raw_coal", RAW_COAL_PER_MWH),
                Input("energy.diesel", 0.00003, 0.8),
                Input("electricity.purchased", 0.003, fossil=False),
            ),
            0.033,
            POWER_SEASON,
            (-0.02, 0.03),
            transition_scale=0.15,
            output_kind="grid",
            jitter=0.023,
        ),
        Profile(
            "steel",
            "production.crude_steel",
            (5_000, 25_000),
            (40_000, 150_000),
            (
                Input("energy.coke", 0.41),
                Input("energy.raw_coal", 0.225, winter=1.03),
                Input("energy.natural_gas", 0.0006),
                Input("process.carbonate", 0.12, fossil=False),
                Input("electricity.purchased", 0.46, fossil=False),
                Input("energy.diesel", 0.0004, 0.6),
            ),
            0.42,
            jitter=0.03,
        ),
        Profile(
            "iron",
            "production.other",
            (5_000, 25_000),
            (30_000, 120_000),
            (
                Input("energy.coke", 0.36),
                Input("energy.raw_coal", 0.16, winter=1.03),
                Input("process.carbonate", 0.10, fossil=False),
                Input("electricity.purchased", 0.08, fossil=False),
            ),
            0.30,
        ),
        Profile(
            "coking",
            "production.coke",
            (8_000, 30_000),
            (40_000, 120_000),
            (
                Input("energy.raw_coal", 0.11, winter=1.1),
                Input("energy.natural_gas", 0.0002, 0.5),
                Input("electricity.purchased", 0.035, fossil=False),
                Input("energy.diesel", 0.0003, 0.7),
            ),
            0.25,
        ),
        Profile(
            "cement",
            "production.clinker",
            (8_000, 30_000),
            (40_000, 120_000),
            (
                Input("energy.raw_coal", 0.152),
                Input("energy.diesel", 0.0002, 0.7),
                Input("electricity.purchased", 0.075, fossil=False),
            ),
            0.055,
            co_outputs=(("process.clinker", 1.0, 1.0), ("production.cement", 1.25, 1.45)),
            jitter=0.03,
        ),
        Profile(
            "aluminium",
            "production.aluminium",
            (2_000, 6_000),
            (8_000, 25_000),
            (
                Input("electricity.purchased", 14.5),
                Input("energy.coke", 0.45, fossil=False),
                Input("energy.natural_gas", 0.005),
            ),
            1.8,
            FLAT_SEASON,
            jitter=0.02,
        ),
        Profile(
            "chemicals",
            "production.chemicals",
            (3_000, 15_000),
            (20_000, 80_000),
            (
                Input("energy.raw_coal", 1.1, winter=1.05),
                Input("energy.natural_gas", 0.01, 0.6),
                Input("electricity.purchased", 0.45),
                Input("heat.purchased", 1.5, 0.3),
                Input("energy.diesel", 0.001, 0.5),
            ),
            0.30,
        ),
        Profile(
            "coal_mining",
            "production.coal_mined",
            (20_000, 90_000),
            (150_000, 600_000),
            (
                Input("electricity.purchased", 0.022),
                Input("energy.diesel", 0.0005),
                Input("energy.raw_coal", 0.003, 0.8, winter=2.5),
                Input("energy.gasoline", 0.00005, 0.4),
            ),
            0.08,
        ),
        Profile(
            "solar",
            "production.power_supplied",
            (1_000, 6_000),
            (8_000, 30_000),
            (Input("electricity.purchased", 0.01),),
            0.035,
            SOLAR_SEASON,
            (0.04, 0.15),
            carbon="low",
            output_kind="grid",
        ),
        Profile(
            "wind",
            "production.power_supplied",
            (2_000, 8_000),
            (10_000, 40_000),
            (Input("electricity.purchased", 0.008),),
            0.035,
            WIND_SEASON,
            (0.04, 0.15),
            carbon="low",
            output_kind="grid",
        ),
        Profile(
            "recycling",
            "production.other",
            (500, 4_000),
            (5_000, 20_000),
            (
                Input("electricity.purchased", 0.08),
                Input("energy.diesel", 0.004),
                Input("heat.purchased", 0.5, 0.3, winter=2.0),
            ),
            0.25,
            carbon="low",
        ),
        Profile(
            "services",
            None,
            (50, 400),
            (800, 3_000),
            (
                Input("electricity.purchased", 0.05),
                Input("energy.gasoline", 0.0008, 0.8),
                Input("heat.purchased", 0.6, 0.5, winter=3.0),
            ),
            1.0,
            FLAT_SEASON,
            (0.03, 0.15),
            carbon="low",
        ),
        Profile(
            "glass",
            "production.other",
            (3_000, 10_000),
            (15_000, 40_000),
            (
                Input("energy.natural_gas", 0.018),
                Input("energy.fuel_oil", 0.01, 0.5),
                Input("process.carbonate", 0.2, fossil=False),
                Input("electricity.purchased", 0.05),
            ),
            0.15,
            carbon="medium",
        ),
        Profile(
            "bricks",
            "production.other",
            (3_000, 20_000),
            (30_000, 80_000),
            (
                Input("energy.raw_coal", 0.02, winter=1.2),
                Input("electricity.purchased", 0.012),
                Input("energy.diesel", 0.0006, 0.6),
            ),
            0.02,
            carbon="medium",
        ),
        Profile(
            "metalwork",
            "production.other",
            (200, 2_000),
            (3_000, 12_000),
            (
                Input("electricity.purchased", 0.35),
                Input("energy.natural_gas", 0.006, 0.7),
                Input("energy.diesel", 0.002, 0.6),
                Input("heat.purchased", 1.0, 0.3, winter=3.0),
                Input("energy.lpg", 0.0005, 0.2),
            ),
            0.8,
            carbon="medium",
        ),
        Profile(
            "heat",
            None,
            (20_000, 150_000),
            (300_000, 1_200_000),
            (
                Input("energy.raw_coal", 0.058),
                Input("electricity.purchased", 0.003, fossil=False),
                Input("energy.natural_gas", 0.0012, 0.3),
            ),
            0.0045,
            HEATING_SEASON,
            (0.0, 0.04),
        ),
        Profile(
            "rolling",
            "production.other",
            (5_000, 30_000),
            (50_000, 150_000),
            (
                Input("electricity.purchased", 0.11),
                Input("energy.natural_gas", 0.004),
                Input("energy.diesel", 0.0005, 0.5),
            ),
            0.45,
            carbon="medium",
        ),
    )
}


# Balance sheets (yearly, at December): total assets = annual revenue × assets per revenue (per
# profile, × a plant spread 0.75–1.3), debt = assets × leverage (drifting a little each year),
# equity = assets − debt. Our calibration, in the spirit of listed Chinese peers (coal power and
# renewables are capital-heavy and highly levered; coking, steel and rolling turn their assets
# over fast; heavy industry 40–75 % leverage): (assets per revenue, leverage lo, leverage hi).
BALANCE_SHEET: dict[str, tuple[float, float, float]] = {
    "power_coal": (3.0, 0.55, 0.80),
    "steel": (1.0, 0.45, 0.75),
    "iron": (0.9, 0.45, 0.75),
    "coking": (0.9, 0.45, 0.75),
    "cement": (1.4, 0.35, 0.60),
    "aluminium": (1.3, 0.50, 0.70),
    "chemicals": (1.3, 0.45, 0.70),
    "coal_mining": (1.8, 0.50, 0.75),
    "solar": (4.5, 0.60, 0.80),
    "wind": (4.5, 0.60, 0.80),
    "recycling": (0.8, 0.30, 0.60),
    "services": (1.0, 0.20, 0.50),
    "glass": (1.4, 0.40, 0.65),
    "bricks": (1.2, 0.30, 0.60),
    "metalwork": (1.0, 0.35, 0.60),
    "heat": (2.5, 0.50, 0.75),
    "rolling": (0.9, 0.40, 0.70),
}
# Share of high-carbon SMEs whose liabilities exceed their assets (negative equity).
INSOLVENT_SHARE = 0.01

# Exported electricity (monthly, metered by the grid): self-generation surplus sold to the grid
# by steel mills (blast-furnace gas / TRT power) and coking plants (coke-oven gas and dry-quench
# power, which often exceeds what the plant buys). (probability large, probability SME, exported
# share of the month's grid purchases lo, hi); a share above 1 exports more than it buys, and the
# account floors the net at zero (docs/accounting.md §2).
POWER_EXPORT: dict[str, tuple[float, float, float, float]] = {
    "steel": (0.35, 0.10, 0.05, 0.25),
    "coking": (0.50, 0.15, 0.40, 1.80),
}
# Exported heat (monthly): coking plants selling dry-quench steam to neighbours, declared by the
# enterprise, GJ per t coke (probability large, probability SME, lo, hi); chemical plants passing
# part of the heat they buy on to park neighbours, in the energy statistics (probability among
# those that buy heat, share of purchased heat lo, hi).
HEAT_EXPORT: dict[str, tuple[float, float, float, float]] = {"coking": (0.20, 0.05, 0.8, 1.6)}
HEAT_RESALE: dict[str, tuple[float, float, float]] = {"chemicals": (0.20, 0.10, 0.35)}


@dataclass(frozen=True, slots=True)
class Industry:
    """A GB/T 4754-2017 class with its share of the pilot and its physical profile."""

    code: str
    name: str
    words: tuple[str, ...]  # industry words for enterprise names
    profile: str
    weight: float  # relative share of the pilot's enterprises
    large_share: float
    ets_when: str = ""  # "all": every enterprise is in the ETS; "large": large ones only


INDUSTRIES: tuple[Industry, ...] = (
    Industry("4411", "火力发电", ("发电", "热电", "电力"), "power_coal", 95, 0.4, "all"),
    Industry("3120", "炼钢", ("钢铁", "特钢", "钢业"), "steel", 55, 0.3, "large"),
    Industry("3110", "炼铁", ("铁业", "冶炼"), "iron", 30, 0.3),
    Industry("2521", "炼焦", ("焦化", "煤焦", "焦化"), "coking", 95, 0.35),
    Industry("3011", "水泥制造", ("水泥", "建材"), "cement", 65, 0.35, "large"),
    Industry("2614", "有机化学原料制造", ("化工", "化学"), "chemicals", 50, 0.3),
    Industry("2621", "氮肥制造", ("化肥", "化工"), "chemicals", 35, 0.3),
    Industry("0610", "烟煤和无烟煤开采洗选", ("煤业", "煤矿", "矿业"), "coal_mining", 165, 0.35),
    Industry("4415", "太阳能发电", ("光伏", "新能源"), "solar", 45, 0.2),
    Industry("4414", "风力发电", ("风电", "新能源"), "wind", 40, 0.2),
    Industry("4210", "金属废料和碎屑加工处理", ("再生资源", "资源回收"), "recycling", 35, 0.05),
    Industry("7514", "节能技术推广服务", ("节能科技", "节能服务"), "services", 30, 0.05),
    Industry("3216", "铝冶炼", ("铝业",), "aluminium", 12, 0.8, "large"),
    Industry("3041", "平板玻璃制造", ("玻璃",), "glass", 15, 0.3),
    Industry("3031", "粘土砖瓦及建筑砌块制造", ("建材", "新型墙材"), "bricks", 60, 0.05),
    Industry("3311", "金属结构制造", ("钢结构", "重工"), "metalwork", 70, 0.1),
    Industry("3670", "汽车零部件及配件制造", ("汽车零部件", "机械"), "metalwork", 45, 0.1),
    Industry("4430", "热力生产和供应", ("热力", "供热"), "heat", 60, 0.3),
    Industry("3130", "钢压延加工", ("轧钢", "型材"), "rolling", 45, 0.2),
)

INDUSTRY_BY_CODE: dict[str, Industry] = {i.code: i for i in INDUSTRIES}
