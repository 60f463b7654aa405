"""``python -m carbon_rating.entrypoints.migrate``: upgrade rating's database to head.

The URL comes from the settings (``RATING_POSTGRES__URL``), so deployment jobs (Kubernetes init
container, ``make up``) run migrations with the same configuration as the service.
"""

from __future__ import annotations

from pathlib import Path

from carbon_common.migrations import upgrade_head_sync
from carbon_rating.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def main() -> None:
    settings = Settings()
    upgrade_head_sync(MIGRATIONS_DIR, settings.postgres.url.get_secret_value())


if __name__ == "__main__":
    main()
