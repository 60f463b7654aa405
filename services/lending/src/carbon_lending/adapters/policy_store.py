"""Load the versioned policy and catalogue data (YAML) shipped in ``carbon_lending/products``,
and record every policy version a process runs with in the append-only ``policy_audit``.

``default.yaml`` is the policy of every bank without its own ``<bank_id>.yaml``;
``catalogue.yaml`` is the green/transition activity catalogue. A deployment may point
``LENDING_PRODUCTS_DIR`` at its own folder with the same layout.

Audit (issue 7, "product-configuration changes are recorded with who and when"): at start-up
each bank's policy is digested (SHA-256 of its canonical JSON); a digest that differs from the
bank's last recorded one is appended with who changed it (the file's ``changed_by``, else
``LENDING_POLICY_CHANGED_BY``), when (the database clock at first use), the previous version and
digest, the file, and the whole document, so any two versions can be compared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from carbon_lending.domain.classification import Catalogue, parse_catalogue
from carbon_lending.domain.policy import BankPolicy, PolicyBook, parse_policy
from carbon_lending.service_layer.ports import UnitOfWorkPort

PACKAGED = Path(__file__).resolve().parent.parent / "products"
CATALOGUE_FILE = "catalogue.yaml"


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    policy: BankPolicy
    raw: dict[str, Any]
    source: str
    digest: str


def digest_of(raw: dict[str, Any]) -> str:
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_policy_documents(folder: Path | None = None) -> list[PolicyDocument]:
    folder = folder or PACKAGED
    docs = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name == CATALOGUE_FILE:
            continue
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        docs.append(PolicyDocument(parse_policy(raw), raw, path.name, digest_of(raw)))
    return docs


def book_of(docs: list[PolicyDocument], folder: Path | None = None) -> PolicyBook:
    policies = {d.policy.bank_id: d.policy for d in docs}
    if "default" not in policies:
        raise ValueError(f"{folder or PACKAGED} has no default.yaml bank policy")
    return PolicyBook(policies)


def load_policies(folder: Path | None = None) -> PolicyBook:
    return book_of(load_policy_documents(folder), folder)


def load_catalogue(folder: Path | None = None) -> Catalogue:
    path = (folder or PACKAGED) / CATALOGUE_FILE
    return parse_catalogue(yaml.safe_load(path.read_text(encoding="utf-8")))


async def record_policy_versions(
    uow_factory: Callable[[], UnitOfWorkPort], docs: list[PolicyDocument], changed_by: str
) -> int:
    """Append each policy whose digest is new for its bank; returns how many were appended."""
    appended = 0
    async with uow_factory() as uow:
        for d in docs:
            appended += await uow.repo.record_policy_version(
                {
                    "bank_id": d.policy.bank_id,
                    "version": d.policy.version,
                    "digest": d.digest,
                    "changed_by": str(d.raw.get("changed_by") or changed_by),
                    "source": d.source,
                    "document": json.loads(json.dumps(d.raw, default=str)),
                }
            )
        await uow.commit()
    return appended
