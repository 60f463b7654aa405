"""Schemathesis against the accounting service's OpenAPI (see ``fuzzing``): no 5xx, every response as
documented, every 4xx a problem document."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Stats, openapi_schema
from .fuzzing import FUZZ, exercise
from .harness import LiveService

pytestmark = pytest.mark.integration

api = openapi_schema("accounting")


@api.parametrize()
@FUZZ
def test_accounting_api(case: Any, accounting: LiveService, fuzz_stats: Stats) -> None:
    exercise(case, accounting, fuzz_stats)
