"""Load the versioned policy and catalogue data (YAML) shipped in ``carbon_lending/products``.

``default.yaml`` is the policy of every bank without its own ``<bank_id>.yaml``;
``catalogue.yaml`` is the green/transition activity catalogue. A deployment may point
``LENDING_PRODUCTS_DIR`` at its own folder with the same layout.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from carbon_lending.domain.classification import Catalogue, parse_catalogue
from carbon_lending.domain.policy import BankPolicy, PolicyBook, parse_policy

PACKAGED = Path(__file__).resolve().parent.parent / "products"
CATALOGUE_FILE = "catalogue.yaml"


def load_policies(folder: Path | None = None) -> PolicyBook:
    folder = folder or PACKAGED
    policies: dict[str, BankPolicy] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == CATALOGUE_FILE:
            continue
        policy = parse_policy(yaml.safe_load(path.read_text(encoding="utf-8")))
        policies[policy.bank_id] = policy
    if "default" not in policies:
        raise ValueError(f"{folder} has no default.yaml bank policy")
    return PolicyBook(policies)


def load_catalogue(folder: Path | None = None) -> Catalogue:
    path = (folder or PACKAGED) / CATALOGUE_FILE
    return parse_catalogue(yaml.safe_load(path.read_text(encoding="utf-8")))
