"""Shared by the per-service fuzz modules: Schemathesis against every service's OpenAPI, with valid tokens, on the real PostgreSQL.

For each operation, ``CARBON_FUZZ_EXAMPLES`` generated requests (positive and negative data, plus
Schemathesis' explicit-example and coverage phases) are sent with a token that holds every scope
the operation accepts. Every response must: not be a 5xx; have a documented status code, content
type, headers and body schema; and, when it is a 4xx, be an RFC 9457 problem (structured body with
``title`` and ``status``), never a bare text page.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import requests
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from carbon_common.auth import SELF_READ

from .conftest import EXAMPLES, Stats
from .harness import BANK, CODE, DEPARTMENT, LiveService, token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=False,
    print_blob=True,
)
_SESSIONS: dict[str, requests.Session] = {}
_TOKENS: dict[tuple[str, str], list[str]] = {}


def _token_for(case: Any) -> str:
    """A token with every scope the operation accepts, from the caller who would use it: the
    department for submissions, the enterprise for its objections, else a bank/staff caller. On
    the enterprise-own routes (``self:read``) the seeded enterprise itself calls half of the
    time, chosen from the case's content so a failing case replays with the same token."""
    op = case.operation
    key = (op.method.upper(), op.path)
    if key not in _TOKENS:
        alternatives = op.definition.raw.get("security", [])
        scopes = sorted({s for alt in alternatives for scopes in alt.values() for s in scopes})
        org = BANK
        if key == ("POST", "/v1/submissions"):
            org = DEPARTMENT  # a department submits as itself
        elif "objections:write" in scopes and key[0] == "POST":
            org = CODE  # an enterprise files an objection for itself
        _TOKENS[key] = [token(org, scopes, subject="fuzz")]
        if SELF_READ in scopes:
            _TOKENS[key].append(token(CODE, [SELF_READ, "objections:write"], subject="fuzz-enterprise"))
    choices = _TOKENS[key]
    pick = zlib.crc32(repr((case.path_parameters, case.query)).encode()) % len(choices)
    return choices[pick]


def exercise(case: Any, svc: LiveService, stats: Stats) -> None:
    session = _SESSIONS.setdefault(svc.name, requests.Session())
    headers = {"Authorization": f"Bearer {_token_for(case)}"}
    response = case.call(base_url=svc.base_url, session=session, headers=headers, timeout=60)
    stats.record(
        svc.name,
        f"{case.operation.method.upper()} {case.operation.path}",
        response.status_code,
        response.content,
    )
    case.validate_response(response, checks=CHECKS)
    if 400 <= response.status_code < 500:
        kind = (response.headers.get("content-type") or [""])[0]
        assert kind.startswith("application/problem+json"), (
            f"a {response.status_code} that is not a problem document ({kind}): {response.content[:300]!r}"
        )
        problem = json.loads(response.content)
        assert isinstance(problem.get("title"), str) and problem.get("status") == response.status_code, (
            problem
        )
