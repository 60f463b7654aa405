"""The raw pass-through (the bench's ceiling) runs in a process of its own against the real broker
and reports what it moved and what it cost."""

from __future__ import annotations

import pytest

from carbon_bureau.bench.passthrough import passthrough_isolated
from carbon_common.testing import kafka_bootstrap

pytestmark = pytest.mark.integration


async def test_the_isolated_pass_through_moves_every_message_and_reports_its_cpu() -> None:
    result = await passthrough_isolated(kafka_bootstrap(), 3_000, 200)
    assert result["messages"] == 3_000 and result["message_bytes"] == 200
    assert result["process"] == "separate"
    assert result["messages_per_s"] > 0 and result["seconds"] > 0
    assert 0 < result["client_cpu_s"] < 120


async def test_a_failing_pass_through_raises_with_its_error() -> None:
    with pytest.raises(RuntimeError, match="raw pass-through failed"):
        await passthrough_isolated(kafka_bootstrap(), -1, 200)
