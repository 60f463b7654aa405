# Carbon Bureau — every target installs what it needs (virtualenv, packages, Kafka jars, PostgreSQL).
SHELL := /bin/bash
PYTHON ?= python3.11
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
export UV_PYTHON := $(PYTHON)
UV := .tools/bin/uv
VENV := .venv/.synced

.PHONY: help install demo up down status check lint typecheck imports test test-unit fuzz bench clean logs

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

$(VENV): $(UV) uv.lock pyproject.toml libs/common/pyproject.toml services/*/pyproject.toml apps/bureau/pyproject.toml
	$(UV) sync --frozen --all-packages
	@touch $(VENV)

install: $(VENV) ## create .venv with every package (uv, one lock file)

demo: $(VENV) ## the embedded default: one process, embedded PostgreSQL, in-process bus, pilot replay, APIs on :8000
	bash scripts/ensure-fonts.sh >/dev/null  # the CJK font embedded in the PDF reports
	.venv/bin/bureau demo $(DEMO_ARGS)

up: $(VENV) ## the real local stack: Kafka (KRaft) + PostgreSQL + the four services on :8001-8004
	.venv/bin/bureau stack up
	.venv/bin/bureau services start

down: $(VENV) ## stop everything `make up` started
	-.venv/bin/bureau services stop
	.venv/bin/bureau stack down

status: $(VENV) ## what is running
	.venv/bin/bureau stack status
	.venv/bin/bureau services status

logs: ## where the logs are
	@ls -1 var/log 2>/dev/null || echo "no logs yet: var/log/ is created by make up / make test"

lint: $(VENV)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: $(VENV) ## one mypy run per package: each is checked as it is installed, against the others' types
	.venv/bin/mypy libs/common/src
	for pkg in services/*/src apps/bureau/src; do .venv/bin/mypy $$pkg || exit 1; done

imports: $(VENV)
	.venv/bin/lint-imports

check: lint typecheck imports ## ruff, mypy (strict), import-linter boundaries

test: $(VENV) check ## everything: checks, unit, contract, integration and e2e against real Kafka + PostgreSQL
	bash scripts/test.sh

test-unit: $(VENV) ## fast tests only (no Kafka, no PostgreSQL; kustomize is installed for the manifest tests)
	bash scripts/ensure-kustomize.sh
	bash scripts/ensure-fonts.sh >/dev/null  # the rating PDF report tests need the CJK font
	PATH="$${CARBON_CACHE:-$$HOME/.cache/carbon-bureau}/bin:$$PATH" .venv/bin/pytest -q -m "not integration and not e2e"

fuzz: $(VENV) ## Schemathesis on every service's OpenAPI at a large budget (CARBON_FUZZ_EXAMPLES, default 300); starts the stack if needed and leaves it up
	.venv/bin/bureau stack up
	eval "$$(.venv/bin/bureau stack env)" && CARBON_FUZZ_EXAMPLES=$${CARBON_FUZZ_EXAMPLES:-300} \
		.venv/bin/pytest -p no:cacheprovider --durations=10 tests/fuzz $(FUZZ_ARGS)

bench: $(VENV) ## pilot replay through the real stack; writes docs/benchmarks.md
	bash scripts/bench.sh

clean: down
	rm -rf var .venv .tools
