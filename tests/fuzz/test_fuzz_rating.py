"""Schemathesis against the rating service's OpenAPI (see ``fuzzing``): no 5xx, every response as
documented, every 4xx a problem document."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Stats, openapi_schema
from .fuzzing import FUZZ, exercise
from .harness import LiveService

pytestmark = [
    pytest.mark.integration,
    # the services' own threads use `random` while Hypothesis draws a case: not the strategies' doing
    pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies"),
]

api = openapi_schema("rating")


@api.parametrize()
@FUZZ
def test_rating_api(case: Any, rating: LiveService, fuzz_stats: Stats) -> None:
    exercise(case, rating, fuzz_stats)
