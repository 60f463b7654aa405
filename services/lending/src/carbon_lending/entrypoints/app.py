"""The lending API: the uvicorn factory (``create_app``) and its lifespan.

The container is built in the lifespan when none is passed (separate process); the embedded
host passes an already-built container and starts/stops it itself, so then the lifespan leaves
it alone.
"""

from __future__ import annotations

from fastapi import FastAPI

from carbon_common.auth import install_auth
from carbon_common.http import container_lifespan, container_readiness, finish_app
from carbon_common.token_cache import cache_verified_tokens
from carbon_lending.bootstrap import Container, bootstrap
from carbon_lending.entrypoints import routes_loans, routes_policy, routes_quotes
from carbon_lending.entrypoints.deps import install_domain_errors
from carbon_lending.settings import Settings

DESCRIPTION = """
Ratings into loan pricing, approval and monitoring for bank core systems.

* **Identity**: `Authorization: Bearer <JWT>`; your bank is the token's `org`, the scopes are
  `quotes:write`, `loans:write` (loans and loan events) and `portfolio:read`. You only ever see
  your own quotes, loans, events and portfolio: another bank's answers 404, like a missing one.
  (With authentication disabled, in development only, the `X-Org` header names the bank.)
* **Money** and rates are decimal strings; rates in % quantised to 0.0001, components in bp.
* **Retries**: `Idempotency-Key` on `POST /v1/quotes`; `bank_loan_ref` on `POST /v1/loans`.
* **Configuration**: `GET /v1/policy` names the product/policy version that prices your quotes
  (with its digest); `GET /v1/policy/audit` is its append-only history (who, when, from → to).
* **Errors**: RFC 9457 problem details (`application/problem+json`).
"""


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or (container.settings if container is not None else Settings())
    app = FastAPI(
        title="Carbon Bureau — lending",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=container_lifespan(container, lambda: bootstrap(settings)),
    )
    app.state.container = container
    app.include_router(routes_quotes.router)
    app.include_router(routes_loans.router)
    app.include_router(routes_policy.router)
    install_domain_errors(app)
    install_auth(app, settings.auth, settings.environment)
    cache_verified_tokens(app.state)
    finish_app(app, container_readiness(app))
    return app
