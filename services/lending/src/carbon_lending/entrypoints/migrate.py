"""``python -m carbon_lending.entrypoints.migrate``: upgrade lending's database to head."""

from __future__ import annotations

from pathlib import Path

from carbon_common.migrations import upgrade_head_sync
from carbon_lending.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def main() -> None:
    settings = Settings()
    upgrade_head_sync(MIGRATIONS, settings.postgres.url.get_secret_value())


if __name__ == "__main__":
    main()
