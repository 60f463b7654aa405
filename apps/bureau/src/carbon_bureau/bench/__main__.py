"""``python -m carbon_bureau.bench run ...`` (what ``scripts/bench.sh`` calls)."""

from carbon_bureau.bench.cli import app

app()
