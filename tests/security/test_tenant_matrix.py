"""Authentication, scopes and tenant isolation, as a matrix over every service's OpenAPI routes.

``RULES`` is the explicit access table (docs/security.md explains it). Every operation in every
app's OpenAPI schema must have a rule (a new endpoint without one fails here), and every rule must
match an operation. For each protected route: no/expired/forged/… token → 401, every other scope
→ 403, the rule's scope → through auth; the enterprise-own routes let the enterprise read itself
and nobody else. Then the tenant scenarios: bank B against bank A's business, enterprise against
enterprise, department against department and against ratings and loans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from carbon_common.auth import SELF_READ
from carbon_common.events import AccountUpdated, EnterpriseRegistered, RatingIssued

from .conftest import Service, bad_tokens, credit_code, token


@dataclass(frozen=True)
class Rule:
    """Any of ``scopes`` passes (none: any valid token); ``own``: the enterprise named by the
    ``credit_code`` path parameter also passes with ``self:read``."""

    scopes: tuple[str, ...] = ()
    own: bool = False


def R(*scopes: str, own: bool = False) -> Rule:
    return Rule(scopes, own)


RULES: dict[str, dict[tuple[str, str], Rule]] = {
    "ingest": {
        ("POST", "/v1/enterprises"): R("enterprises:write"),
        ("GET", "/v1/enterprises"): R("enterprises:read", "enterprises:write"),
        ("GET", "/v1/enterprises/{credit_code}"): R("enterprises:read", "enterprises:write", own=True),
        ("PUT", "/v1/enterprises/{credit_code}"): R("enterprises:write"),
        ("POST", "/v1/submissions"): R("submissions:write"),
        ("GET", "/v1/submissions/{submission_id}"): R("submissions:write", "audit:read"),
        ("GET", "/v1/catalogue/indicators"): R(),
        ("GET", "/v1/quality/flags"): R("audit:read"),
        ("GET", "/v1/quality/enterprises/{credit_code}"): R("audit:read", own=True),
        ("GET", "/v1/evidence/verify"): R("audit:read"),
    },
    "accounting": {
        ("GET", "/v1/accounts/{credit_code}"): R("accounts:read", own=True),
        ("GET", "/v1/accounts/{credit_code}/lineage"): R("accounts:read", own=True),
        ("GET", "/v1/accounts/{credit_code}/{period}/lineage"): R("accounts:read", own=True),
        ("GET", "/v1/emission-factors"): R(),
        ("GET", "/v1/factors"): R(),
        ("GET", "/v1/factor-sets"): R(),
        ("POST", "/v1/factor-sets"): R("factors:admin"),
        ("POST", "/v1/factor-sets/{set_id}/activate"): R("factors:admin"),
        ("GET", "/v1/factor-sets/changes"): R("factors:admin", "audit:read"),
    },
    "rating": {
        ("GET", "/v1/ratings/{credit_code}"): R("ratings:read", own=True),
        ("GET", "/v1/ratings/{credit_code}/history"): R("ratings:read", own=True),
        ("GET", "/v1/ratings/{credit_code}/report"): R("ratings:read", own=True),
        ("GET", "/v1/ratings/{credit_code}/queries"): R("audit:read", own=True),
        ("GET", "/v1/enterprises/{credit_code}/query-log"): R("audit:read", own=True),
        ("POST", "/v1/ratings/{credit_code}/objections"): R("objections:write"),
        ("POST", "/v1/objections"): R("objections:write"),
        ("GET", "/v1/objections"): R("objections:review", "objections:write", SELF_READ),
        ("GET", "/v1/objections/{objection_id}"): R("objections:review", "objections:write", SELF_READ),
        ("POST", "/v1/objections/{objection_id}/decision"): R("objections:review"),
        ("GET", "/v1/methodology"): R(),
        ("POST", "/v1/admin/rerate"): R("methodology:admin"),
        ("PUT", "/v1/admin/methodology"): R("methodology:admin"),
        ("GET", "/v1/admin/methodology/changes"): R("methodology:admin", "audit:read"),
    },
    "lending": {
        ("POST", "/v1/quotes"): R("quotes:write"),
        ("GET", "/v1/quotes/{quote_id}"): R("quotes:write"),
        ("POST", "/v1/projects/classify"): R("quotes:write"),
        ("POST", "/v1/loans"): R("loans:write"),
        ("GET", "/v1/loans"): R("loans:write"),
        ("GET", "/v1/loans/{loan_id}"): R("loans:write"),
        ("POST", "/v1/loans/{loan_id}/status"): R("loans:write"),
        ("GET", "/v1/loan-events"): R("loans:write"),
        ("GET", "/v1/portfolio"): R("portfolio:read"),
        ("POST", "/v1/market/cea-price"): R("market:write"),
        ("GET", "/v1/policy"): R("quotes:write", "loans:write", "portfolio:read"),
        ("GET", "/v1/policy/audit"): R("quotes:write", "loans:write", "portfolio:read"),
    },
}
#: answer without a token (probes, metrics, the OpenAPI docs)
PUBLIC = {("GET", "/livez"), ("GET", "/readyz")}
PUBLIC_URLS = ("/livez", "/readyz", "/metrics", "/openapi.json", "/docs")
ALL_SCOPES = frozenset(s for rules in RULES.values() for r in rules.values() for s in r.scopes) | {SELF_READ}
BANK = ("ratings:read", "quotes:write", "loans:write", "portfolio:read")

OWN, OTHER = credit_code(7001), credit_code(7002)
PARAMS = {
    "credit_code": OWN,
    "period": "2024-01",
    "set_id": "cn-default",
    "submission_id": "00000000-0000-0000-0000-000000000000",
    "objection_id": "00000000-0000-0000-0000-000000000000",
    "quote_id": "00000000-0000-0000-0000-000000000000",
    "loan_id": "00000000-0000-0000-0000-000000000000",
}
CASES = [(svc, m, p) for svc, rules in RULES.items() for (m, p) in rules]


def url(path: str, **params: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: {**PARAMS, **params}[m.group(1)], path)


def operations(app: Any) -> set[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {
        (m.upper(), p)
        for p, item in paths.items()
        for m in item
        if m in {"get", "post", "put", "patch", "delete"}
    }


# --- the rule table covers the API, and the API documents it --------------------------------------


@pytest.mark.parametrize("svc", list(RULES))
def test_every_operation_has_a_rule(services: dict[str, Service], svc: str) -> None:
    ops = operations(services[svc].app) - PUBLIC
    assert ops - set(RULES[svc]) == set(), "endpoints without an access rule: add them to RULES"
    assert set(RULES[svc]) - ops == set(), "rules for endpoints that no longer exist"


@pytest.mark.parametrize("svc", list(RULES))
def test_openapi_documents_bearer_scopes_and_problems(services: dict[str, Service], svc: str) -> None:
    schema = services[svc].app.openapi()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schema["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert "Problem" in schema["components"]["schemas"]
    for (method, path), rule in RULES[svc].items():
        op = schema["paths"][path][method.lower()]
        alternatives = [[s] for s in rule.scopes] + ([[SELF_READ]] if rule.own else [])
        assert op["security"] == ([{"bearer": a} for a in alternatives] or [{"bearer": []}]), path
        expected = {"401", "403"} if alternatives else {"401"}
        assert expected <= set(op["responses"]), path
        for code in expected:
            assert "application/problem+json" in op["responses"][code]["content"], path
    for method, path in PUBLIC:
        assert "security" not in schema["paths"][path][method.lower()]


@pytest.mark.parametrize("svc", list(RULES))
async def test_probes_metrics_and_docs_need_no_token(services: dict[str, Service], svc: str) -> None:
    for path in PUBLIC_URLS:
        r = await services[svc].client.get(path)
        assert r.status_code == 200, (path, r.status_code)


# --- 401 / 403 / pass for every protected route ----------------------------------------------------


@pytest.mark.parametrize(("svc", "method", "path"), CASES)
async def test_route_authentication_and_scopes(
    services: dict[str, Service], svc: str, method: str, path: str
) -> None:
    rule = RULES[svc][(method, path)]
    client = services[svc].client
    target = url(path)
    wrong: list[str] = []
    for kind, headers in bad_tokens("matrix-caller", *ALL_SCOPES).items():
        r = await client.request(method, target, headers=headers)
        if r.status_code != 401 or not r.headers["content-type"].startswith("application/problem+json"):
            wrong.append(f"{kind} token: {r.status_code}")
    if rule.scopes:
        others = sorted(ALL_SCOPES - set(rule.scopes) - {SELF_READ})
        r = await client.request(method, target, headers=token("intruder", *others))
        if r.status_code != 403:
            wrong.append(f"every other scope: {r.status_code}, wanted 403")
        elif "intruder" in r.text and "own" not in r.text:
            wrong.append("the 403 echoes more than the caller's own org")
    for scope in rule.scopes or ("",):
        r = await client.request(method, target, headers=token("matrix-caller", *filter(None, [scope])))
        if r.status_code in (401, 403):
            wrong.append(f"scope {scope!r}: {r.status_code} {r.text[:200]}")
    assert wrong == [], f"{method} {path}"


OWN_CASES = [(svc, m, p) for svc, m, p in CASES if RULES[svc][(m, p)].own]


@pytest.mark.parametrize(("svc", "method", "path"), OWN_CASES)
async def test_enterprise_reads_itself_and_nobody_else(
    services: dict[str, Service], svc: str, method: str, path: str
) -> None:
    client = services[svc].client
    me = token(OWN, SELF_READ, "objections:write")
    own = await client.request(method, url(path, credit_code=OWN), headers=me)
    other = await client.request(method, url(path, credit_code=OTHER), headers=me)
    assert own.status_code not in (401, 403), own.text
    assert other.status_code == 403, other.text
    # self:read alone, without the enterprise's own code, grants nothing
    r = await client.request(method, url(path, credit_code=OWN), headers=token("bank-a", SELF_READ))
    assert r.status_code == 403


# --- tenant scenarios ------------------------------------------------------------------------------


def _enterprise(code: str) -> EnterpriseRegistered:
    return EnterpriseRegistered(
        credit_code=code,
        name=f"隔离测试企业 {code[-4:]}",
        region_code="140400",
        industry_code="4411",
        size_class="large",
        transition_stage="mid",
        revision=1,
    )


def _rating(code: str, label: str, issued: datetime) -> RatingIssued:
    return RatingIssued(
        rating_id=f"r-{code}-{label}",
        credit_code=code,
        as_of_period="2024-12",
        score=Decimal("85" if label == "light_green" else "40"),
        label=label,  # type: ignore[arg-type]
        transition_stage="mid",
        confidence=Decimal("0.9"),
        methodology_version="m-test@1",
        issued_at=issued,
    )


def _scrub(text: str, *ids: str) -> str:
    for i in ids:
        text = text.replace(i, "<id>")
    return text


async def test_bank_b_cannot_read_list_change_or_infer_bank_a_business(services: dict[str, Service]) -> None:
    lending = services["lending"]
    c = lending.client
    a, b = token("bank-iso-a", *BANK), token("bank-iso-b", *BANK)
    code = credit_code(7101)
    lists = ("/v1/loans", f"/v1/loans?credit_code={code}", "/v1/loan-events", "/v1/portfolio")
    before = {u: (await c.get(u, headers=b)).text for u in lists}

    await lending.publish(_enterprise(code), _rating(code, "light_green", datetime(2025, 1, 2, tzinfo=UTC)))
    body = {"credit_code": code, "product": "carbon_linked_loan", "amount_cny": "2000000", "term_months": 24}
    q = await c.post("/v1/quotes", json=body, headers=a | {"Idempotency-Key": "shared-key"})
    assert q.status_code == 201, q.text
    quote_id = q.json()["quote_id"]
    loan = {
        "quote_id": quote_id,
        "bank_loan_ref": "A-1",
        "drawn_amount_cny": "2000000",
        "drawn_on": "2025-01-15",
    }
    r = await c.post("/v1/loans", json=loan, headers=a)
    assert r.status_code == 201, r.text
    loan_id = r.json()["loan_id"]
    await lending.publish(_rating(code, "red", datetime.now(UTC)))  # a downgrade: repricing and alerts
    events = (await c.get("/v1/loan-events", headers=a)).json()["items"]
    assert events and all(e["loan_id"] == loan_id for e in events), events
    assert (await c.get(f"/v1/loans/{loan_id}", headers=a)).status_code == 200

    # lists, events and the portfolio of bank B do not move when bank A does business
    assert {u: (await c.get(u, headers=b)).text for u in lists} == before
    assert (await c.get(f"/v1/loan-events?loan_id={loan_id}", headers=b)).json()["items"] == []
    # reading or changing A's quote/loan answers exactly like a quote/loan that does not exist
    ghost = "11111111-1111-1111-1111-111111111111"
    for method, path, payload in [
        ("GET", "/v1/quotes/{}", None),
        ("GET", "/v1/loans/{}", None),
        ("POST", "/v1/loans/{}/status", {"status": "overdue"}),
    ]:
        real_id = quote_id if "quotes" in path else loan_id
        theirs = await c.request(method, path.format(real_id), json=payload, headers=b)
        nothing = await c.request(method, path.format(ghost), json=payload, headers=b)
        assert theirs.status_code == nothing.status_code == 404, (path, theirs.text)
        assert _scrub(theirs.text, real_id) == _scrub(nothing.text, ghost)
        assert "bank-iso-a" not in theirs.text and code not in theirs.text
    stolen = await c.post("/v1/loans", json=loan | {"bank_loan_ref": "B-1"}, headers=b)
    ghost_loan = await c.post("/v1/loans", json=loan | {"bank_loan_ref": "B-1", "quote_id": ghost}, headers=b)
    assert stolen.status_code == ghost_loan.status_code == 404
    assert _scrub(stolen.text, quote_id) == _scrub(ghost_loan.text, ghost)
    # the same Idempotency-Key is B's own: a new quote, not A's
    mine = await c.post("/v1/quotes", json=body, headers=b | {"Idempotency-Key": "shared-key"})
    assert mine.status_code == 201 and mine.json()["quote_id"] != quote_id
    # a bank cannot move the CEA market (every bank's pledge loans)
    cea = {"price_cny": "1", "as_of": "2025-01-20"}
    assert (await c.post("/v1/market/cea-price", json=cea, headers=b)).status_code == 403


async def test_enterprises_see_only_themselves(services: dict[str, Service]) -> None:
    rating = services["rating"]
    c = rating.client
    e1, e2 = credit_code(7201), credit_code(7202)
    for code in (e1, e2):
        account = AccountUpdated(
            credit_code=code,
            period="2024-06",
            industry_code="4411",
            scope1_combustion_tco2=Decimal(80000),
            total_tco2=Decimal(80000),
            output_quantity=Decimal(100000),
            output_unit="MWh",
            data_quality_score=Decimal(2),
            factor_set="cn-default@1",
            calculation_version=1,
        )
        await rating.publish(_enterprise(code), account)
    me, them = token(e1, SELF_READ, "objections:write"), token(e2, SELF_READ, "objections:write")
    assert (await c.get(f"/v1/ratings/{e1}", headers=me)).status_code == 200
    filed = await c.post(f"/v1/ratings/{e2}/objections", json={"reason": "wrong coal figure"}, headers=them)
    assert filed.status_code == 201, filed.text
    theirs = filed.json()["objection_id"]
    assert filed.json()["filed_by"] == e2

    # e1 cannot file for e2, see e2's objections, rating or who queried e2
    assert (
        await c.post("/v1/objections", json={"credit_code": e2, "reason": "wrong coal figure"}, headers=me)
    ).status_code == 403
    assert (
        await c.post(f"/v1/ratings/{e2}/objections", json={"reason": "wrong coal figure"}, headers=me)
    ).status_code == 403
    assert (await c.get("/v1/objections", headers=me)).json() == []
    assert (await c.get(f"/v1/objections?credit_code={e2}", headers=me)).status_code == 403
    hidden = await c.get(f"/v1/objections/{theirs}", headers=me)
    absent = await c.get("/v1/objections/00000000-0000-0000-0000-000000000000", headers=me)
    assert hidden.status_code == absent.status_code == 404
    assert [o["objection_id"] for o in (await c.get("/v1/objections", headers=them)).json()] == [theirs]
    for path in (f"/v1/ratings/{e2}", f"/v1/ratings/{e2}/report", f"/v1/ratings/{e2}/queries"):
        assert (await c.get(path, headers=me)).status_code == 403, path

    # a bank's read is logged under the token's org (not a header); the bank cannot read the log
    bank = token("bank-iso-a", *BANK)
    spoof = {"X-Org": "bank-someone-else"}
    assert (await c.get(f"/v1/ratings/{e1}", headers=bank | spoof)).status_code == 200
    log = (await c.get(f"/v1/ratings/{e1}/queries", headers=me)).json()["queries"]
    assert [q["org"] for q in log] == ["bank-iso-a"]
    assert (await c.get(f"/v1/ratings/{e1}/queries", headers=bank)).status_code == 403
    # reviewers decide; the decision names the reviewer from the token
    review = token("bureau-staff", "objections:review", subject="analyst-li")
    assert (
        await c.post(
            f"/v1/objections/{theirs}/decision", json={"outcome": "in_review", "reason": "ok"}, headers=them
        )
    ).status_code == 403
    decided = await c.post(
        f"/v1/objections/{theirs}/decision",
        json={"outcome": "rejected", "reason": "unfounded"},
        headers=review,
    )
    assert decided.status_code == 200 and decided.json()["reviewer"] == "analyst-li", decided.text


async def test_departments_submit_as_themselves_and_read_no_ratings_or_loans(
    services: dict[str, Service],
) -> None:
    ingest = services["ingest"]
    c = ingest.client
    code = credit_code(7301)
    directory = token("directory-feed", "enterprises:write")
    reg = {
        "credit_code": code,
        "name": "隔离测试钢铁有限公司",
        "region_code": "140400",
        "industry_code": "3120",
        "size_class": "large",
        "transition_stage": "mid",
        "ets_participant": False,
    }
    assert (await c.post("/v1/enterprises", json=reg, headers=directory)).status_code == 201
    stats, grid = token("stats-140400", "submissions:write"), token("grid-140400", "submissions:write")
    record = {"record_id": "iso-1", "credit_code": code, "indicator": "energy.raw_coal", "period": "2024-03",
              "value": "10", "unit": "t"}  # fmt: skip

    posed = await c.post(
        "/v1/submissions", json={"department": "stats-140400", "records": [record]}, headers=grid
    )
    assert posed.status_code == 403 and posed.json()["errors"][0]["field"] == "department"
    ok = await c.post(
        "/v1/submissions", json={"department": "stats-140400", "records": [record]}, headers=stats
    )
    assert ok.status_code == 200 and ok.json()["accepted"] == 1, ok.text
    sid = ok.json()["submission_id"]
    # the department kind rule still applies to the authenticated department
    elec = record | {"record_id": "iso-2", "indicator": "heat.purchased", "unit": "GJ"}
    refused = await c.post(
        "/v1/submissions", json={"department": "grid-140400", "records": [elec]}, headers=grid
    )
    assert refused.status_code == 200 and refused.json()["accepted"] == 0, refused.text

    assert (await c.get(f"/v1/submissions/{sid}", headers=stats)).status_code == 200
    theirs = await c.get(f"/v1/submissions/{sid}", headers=grid)
    ghost = await c.get("/v1/submissions/00000000-0000-0000-0000-000000000000", headers=grid)
    assert theirs.status_code == ghost.status_code == 404
    assert _scrub(theirs.text, sid) == _scrub(ghost.text, "00000000-0000-0000-0000-000000000000")

    for svc, path in [
        ("rating", f"/v1/ratings/{code}"),
        ("rating", f"/v1/ratings/{code}/report"),
        ("lending", "/v1/loans"),
        ("lending", "/v1/portfolio"),
        ("accounting", f"/v1/accounts/{code}"),
    ]:
        r = await services[svc].client.get(path, headers=stats)
        assert r.status_code == 403, (svc, path, r.status_code)
