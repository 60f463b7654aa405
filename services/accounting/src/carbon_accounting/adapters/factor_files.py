"""Factor sets shipped as package data (``carbon_accounting/factors/<id>@<version>.yaml``)."""

from __future__ import annotations

from importlib import resources

import yaml

from carbon_accounting.domain.factors import FactorSet

SEED = "cn-default@1"


def load_packaged(ref: str = SEED) -> FactorSet:
    text = resources.files("carbon_accounting.factors").joinpath(f"{ref}.yaml").read_text(encoding="utf-8")
    return FactorSet.from_dict(yaml.safe_load(text))


def packaged_refs() -> list[str]:
    return sorted(
        p.name.removesuffix(".yaml")
        for p in resources.files("carbon_accounting.factors").iterdir()
        if p.name.endswith(".yaml")
    )
