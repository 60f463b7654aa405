"""Methodology files (versioned data) and their loader.

``load(version)`` reads ``<version>.yaml`` shipped in this package and validates it with
``carbon_rating.domain.methodology.parse_methodology``; a file that does not validate is refused
at load with the offending field named.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

import yaml

from carbon_rating.domain.methodology import Methodology, MethodologyError, parse_methodology

CURRENT_VERSION = "v1"


def digest(text: str) -> str:
    """sha256 of a methodology file's text: two files with the same version but different numbers
    have different digests, which the audit trail of activations records."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_text(text: str) -> Methodology:
    data: Any = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise MethodologyError("(document)", "must be a YAML mapping")
    return replace(parse_methodology(data), digest=digest(text))


def available() -> list[str]:
    """The versions shipped in this package."""
    return sorted(
        r.name.removesuffix(".yaml")
        for r in resources.files(__package__).iterdir()
        if r.name.endswith(".yaml")
    )


@cache
def load(version: str = CURRENT_VERSION) -> Methodology:
    """The methodology of ``version`` (cached: files are immutable once published)."""
    ref = resources.files(__package__).joinpath(f"{version}.yaml")
    if "/" in version or "\\" in version or version.startswith(".") or not ref.is_file():
        raise MethodologyError("version", f"no methodology file for {version!r}")
    return parse_text(ref.read_text(encoding="utf-8"))
