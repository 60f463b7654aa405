"""``python -m carbon_ingest.entrypoints.migrate``: upgrade the ingest database to head."""

from __future__ import annotations

from pathlib import Path

import carbon_ingest
from carbon_common.migrations import upgrade_head_sync
from carbon_ingest.settings import Settings

MIGRATIONS = Path(carbon_ingest.__file__).parent / "migrations"


def main() -> None:
    upgrade_head_sync(MIGRATIONS, Settings().postgres.url.get_secret_value())


if __name__ == "__main__":
    main()
