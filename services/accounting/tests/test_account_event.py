"""``AccountUpdated`` written without the pydantic model (``account_record``, ``save_accounts``) is byte for byte the
record the model gives (``to_record(Envelope(data=account_event(...)))``), and decodes back to
the same event. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from carbon_accounting.adapters.unit_of_work import account_record
from carbon_accounting.domain.model import AccountFigures, CrossCheck
from carbon_accounting.service_layer.handlers import account_event
from carbon_common.bus.port import to_record
from carbon_common.events import AccountUpdated, Envelope, decode

decimals = st.decimals(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [Decimal("0"), Decimal("-0"), Decimal("1E+3"), Decimal("1900.30"), Decimal("0E-7"), Decimal("1e-9")]
)
optional = st.none() | decimals
texts = st.text(max_size=12)  # any string: escaping must agree as well
codes = st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=18, max_size=18)
periods = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(1900, 2100), st.integers(1, 12))
times = st.datetimes(timezones=st.just(UTC)) | st.builds(
    lambda d, m: d.replace(tzinfo=timezone(timedelta(minutes=m))),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),  # noqa: DTZ001
    st.integers(min_value=-1439, max_value=1439),
)
traceparents = st.none() | st.just("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")


def figures_strategy() -> st.SearchStrategy[AccountFigures]:
    return st.builds(
        AccountFigures,
        credit_code=codes,
        period=periods,
        industry_code=st.none() | texts,
        method=texts,
        scope1_combustion_tco2=decimals,
        scope1_process_tco2=decimals,
        scope2_location_tco2=decimals,
        scope2_market_tco2=decimals,
        scope3_tco2=decimals,
        total_tco2=decimals,
        output_quantity=optional,
        output_unit=st.none() | texts,
        intensity_per_output=optional,
        revenue_10k_cny=optional,
        intensity_per_revenue=optional,
        value_added_10k_cny=optional,
        intensity_per_value_added=optional,
        data_quality_score=decimals,
        fact_count=st.integers(min_value=0, max_value=2**40),
        factor_set=texts,
        cross_check=st.none()
        | st.builds(CrossCheck, decimals, texts, decimals, texts, st.just(Decimal("0.05"))),
    )


@settings(max_examples=300, deadline=None)
@given(
    figures=figures_strategy(),
    version=st.integers(min_value=1, max_value=2**31),
    event_id=st.uuids().map(str),
    time=times,
    traceparent=traceparents,
)
def test_account_record_writes_the_bytes_the_model_writes(
    figures: AccountFigures, version: int, event_id: str, time: datetime, traceparent: str | None
) -> None:
    model = account_event(figures, version)
    expected = to_record(
        Envelope(data=model, source="/accounting", id=event_id, time=time, traceparent=traceparent)
    )
    got = account_record(figures, version, "/accounting", event_id, time, traceparent)
    assert got == expected
    back = decode(got.value, got.headers, {AccountUpdated.ce_type: AccountUpdated})
    assert back.data == model and back.id == event_id and back.time == time


def test_a_typical_account_round_trips() -> None:
    fields: dict[str, Any] = dict(
        credit_code="91140400MA0GRE0A0W",
        period="2024-05",
        industry_code="4411",
        method="power",
        scope1_combustion_tco2=Decimal("1900.3"),
        scope1_process_tco2=Decimal(0),
        scope2_location_tco2=Decimal("5366.0"),
        scope2_market_tco2=Decimal("5856"),
        scope3_tco2=Decimal(0),
        total_tco2=Decimal("7266.3"),
        output_quantity=Decimal("2000"),
        output_unit="MWh",
        intensity_per_output=Decimal("3.633150"),
        revenue_10k_cny=None,
        intensity_per_revenue=None,
        value_added_10k_cny=None,
        intensity_per_value_added=None,
        data_quality_score=Decimal(2),
        fact_count=3,
        factor_set="cn-default@1",
    )
    figures = AccountFigures(**fields)
    now = datetime.now(UTC)
    rec = account_record(figures, 2, "/accounting", "e-1", now, None)
    assert rec.topic == AccountUpdated.topic and rec.key == b"91140400MA0GRE0A0W"
    event = decode(rec.value, rec.headers, {AccountUpdated.ce_type: AccountUpdated}).data
    assert isinstance(event, AccountUpdated)
    assert event.total_tco2 == Decimal("7266.3") and event.calculation_version == 2
    assert event.intensity_per_output == Decimal("3.633150") and event.revenue_10k_cny is None


async def test_save_accounts_stages_the_model_records_and_stores_the_rows(service: Any, b: Any) -> None:
    """``save_accounts``: every published account's outbox record equals the model's record (same
    id, time and trace as staged), unpublished ones stage nothing, and every account is stored
    with the figures it was given (real PostgreSQL)."""
    from carbon_accounting.service_layer.ports import StoredAccount

    container, _ = service
    code_a, code_b = b.credit_code(), b.credit_code()
    base: dict[str, Any] = dict(
        period="2024-05", industry_code="4411", method="power", scope1_combustion_tco2=Decimal("1900.30"),
        scope1_process_tco2=Decimal(0), scope2_location_tco2=Decimal("-0"), scope2_market_tco2=Decimal("5856"),
        scope3_tco2=Decimal("1E+3"), total_tco2=Decimal("7266.3"), output_quantity=Decimal("2000"),
        output_unit="MWh", intensity_per_output=Decimal("3.633150"), revenue_10k_cny=None,
        intensity_per_revenue=None, value_added_10k_cny=Decimal("12.5"),
        intensity_per_value_added=Decimal("581.304000"), data_quality_score=Decimal(2), fact_count=3,
        factor_set="cn-default@1",
    )  # fmt: skip
    first = AccountFigures(credit_code=code_a, **base)
    second = AccountFigures(
        credit_code=code_b,
        **{**base, "industry_code": None, "value_added_10k_cny": None, "intensity_per_value_added": None},
        cross_check=CrossCheck(
            Decimal("7000.5"), "eeb-140400", Decimal("7266.3"), "stats-140400", Decimal("0.05")
        ),
    )
    third = first._replace(period="2024-06", data_quality_score=Decimal("3"))
    accounts = [StoredAccount(first, 1), StoredAccount(second, 4), StoredAccount(third, 2)]
    async with container.uow() as uow:
        await uow.save_accounts(accounts, [True, True, False])
        staged = list(uow.session.info.get("outbox_pending", []))
        await uow.commit()
    assert len(staged) == 2
    for (event_id, topic, key, value, headers_text), stored in zip(staged, accounts[:2], strict=True):
        row = {
            "event_id": event_id,
            "topic": topic,
            "key": key,
            "value": value,
            "headers": orjson.loads(headers_text),
        }
        headers = {k: v for k, v in row["headers"]}
        expected = to_record(
            Envelope(
                data=account_event(stored.figures, stored.calculation_version),
                source="/accounting",
                id=row["event_id"],
                time=datetime.fromisoformat(headers["ce_time"]),
                traceparent=headers.get("traceparent"),
            )
        )
        assert (row["topic"], row["key"], row["value"]) == (expected.topic, expected.key, expected.value)
        assert [[k, v.decode()] for k, v in expected.headers] == row["headers"]
    async with container.uow() as uow:
        pairs = [(a.figures.credit_code, a.figures.period) for a in accounts]
        states = await uow.repo.account_states(pairs)
        full = await uow.repo.accounts(pairs)
        assert set(states) == set(full) == set(pairs)
        for pair, state in states.items():  # the recomputation's view of a stored account
            assert state.comparable == full[pair].figures.comparable()
            assert (state.factor_set, state.calculation_version) == (
                full[pair].figures.factor_set,
                full[pair].calculation_version,
            )
        for stored in accounts:
            got = await uow.repo.account(stored.figures.credit_code, stored.figures.period)
            assert got is not None and got.calculation_version == stored.calculation_version
            assert got.figures.comparable() == stored.figures.comparable()
            assert got.figures._replace(cross_check=None) == stored.figures._replace(cross_check=None)
            if stored.figures.cross_check is None:
                assert got.figures.cross_check is None
            else:
                assert got.figures.cross_check == stored.figures.cross_check
