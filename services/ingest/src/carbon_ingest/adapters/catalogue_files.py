"""Loads the versioned indicator catalogue data file (packaged YAML, or a path from settings)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from carbon_ingest.domain.catalogue import Catalogue, parse_catalogue

PACKAGED = "indicators-v2.yaml"


def load_catalogue(path: Path | None = None) -> Catalogue:
    if path is None:
        text = resources.files("carbon_ingest.catalogue").joinpath(PACKAGED).read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return parse_catalogue(yaml.safe_load(text))
