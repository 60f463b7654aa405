"""What a consumer batch publishes, on a real PostgreSQL, through the batch handler itself (so the
test chooses where batches start and end): at most one ``AccountUpdated`` per enterprise-month a
batch touches, carrying the month's state after the whole batch; none for a month that did not
change (a redelivery, a stale or identical revision, a family accounting does not use); the
versions of a month count its changes; and the last event of every month is the account computed
from all its facts at once. Also: the facts upsert takes the shared accounts lock and writes the
facts in its own statement; a redelivered batch (a crash between the database commit and the
offset commit) changes nothing and emits nothing, with no inbox row per event."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from stdnum.cn import uscc

from carbon_accounting.adapters.consumer import Inbound, batch_handler, decode_record
from carbon_accounting.adapters.factor_files import load_packaged
from carbon_accounting.adapters.repository import ACCOUNTS_LOCK_KEY
from carbon_accounting.bootstrap import Container, bootstrap
from carbon_accounting.domain.calculation import compute_account
from carbon_accounting.domain.model import Fact
from carbon_accounting.service_layer.handlers import account_event
from carbon_accounting.settings import Settings
from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import Decoded, Record, to_record
from carbon_common.events import AccountUpdated, Envelope, FactRecorded, Topics, decode
from carbon_common.settings import PostgresSettings

FS = load_packaged()
_serial = itertools.count(1)
#: (indicator, unit, department): accounted families and one that accounting ignores
SPECS = [
    ("energy.raw_coal", "t", "stats-140400"),
    ("energy.natural_gas", "1e4 Nm3", "stats-140400"),
    ("electricity.purchased", "MWh", "grid-140400"),
    ("heat.purchased", "GJ", "stats-140400"),
    ("finance.revenue", "10k CNY", "tax-140400"),
    ("compliance.env_penalty", "count", "eeb-140400"),
]


def credit_code() -> str:
    base = f"911404{next(_serial):04d}{uuid.uuid4().int % 10**7:07d}"
    return base + uscc.calc_check_digit(base)


def fact_record(code: str, period: str, spec: int, revision: int, value: Decimal) -> Record:
    indicator, unit, dept = SPECS[spec]
    rid = f"{code}-{period}-{indicator}"
    event = FactRecorded(
        fact_id=uuid.uuid4().hex,
        fact_key=f"{dept}/{rid}",
        revision=revision,
        credit_code=code,
        department=dept,
        record_id=rid,
        indicator=indicator,
        period=period,
        value=value,
        unit=unit,
        evidence_hash="sha256:" + uuid.uuid4().hex,
        recorded_at=datetime.now(UTC),
    )
    return to_record(Envelope(data=event, source="/ingest"))


@pytest.fixture
async def quiet(db_url: str) -> AsyncIterator[tuple[Container, InMemoryBus]]:
    """The service without its background relay: the test relays after each batch itself."""
    bus = InMemoryBus()
    settings_ = Settings(
        postgres=PostgresSettings(url=db_url, pool_size=2, max_overflow=2), run_workers=False
    )  # type: ignore[arg-type]
    container = bootstrap(settings_, bus=bus)
    await container.start()
    try:
        yield container, bus
    finally:
        await container.stop()


async def run_batch(container: Container, bus: InMemoryBus, records: list[Record]) -> list[AccountUpdated]:
    """Apply one batch, relay what it owes; the AccountUpdated it published."""
    handle = batch_handler(container.uow, container.factor_sets)
    seen = {id(r) for r in bus.records(Topics.ACCOUNTS)}
    batch: list[Decoded[Inbound]] = [Decoded(r, decode_record(r)) for r in records]
    await handle(batch)
    while await container.runtime.relay.relay_once():
        pass
    out = []
    # bus.records lists partition by partition: the new records are the ones not seen before
    for rec in bus.records(Topics.ACCOUNTS):
        if id(rec) in seen:
            continue
        event = decode(rec.value, rec.headers, {AccountUpdated.ce_type: AccountUpdated}).data
        assert isinstance(event, AccountUpdated)
        out.append(event)
    return out


def comparable(e: AccountUpdated) -> dict[str, Any]:
    return e.model_dump(exclude={"calculation_version"})


#: one step of a stream: (enterprise 0/1, month 0/1, spec, revision 1-3, value) or a redelivery
steps = st.lists(
    st.one_of(
        st.tuples(
            st.integers(0, 1),
            st.integers(0, 1),
            st.integers(0, len(SPECS) - 1),
            st.integers(1, 3),
            st.sampled_from([Decimal("0"), Decimal("10"), Decimal("12.5"), Decimal("1000")]),
        ),
        st.integers(0, 40).map(lambda i: ("again", i)),  # redeliver an earlier record
    ),
    min_size=1,
    max_size=24,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=steps, cuts=st.lists(st.integers(0, 24), max_size=6))
async def test_a_batch_publishes_each_touched_month_once_and_only_when_it_changed(
    quiet: tuple[Container, InMemoryBus], stream: list[Any], cuts: list[int]
) -> None:
    container, bus = quiet
    codes = [credit_code(), credit_code()]
    periods = ["2024-01", "2024-02"]
    records: list[Record] = []
    for step in stream:
        if step[0] == "again":
            if records:
                records.append(records[step[1] % len(records)])
            continue
        e, m, spec, revision, value = step
        records.append(fact_record(codes[e], periods[m], spec, revision, value))
    bounds = sorted({0, len(records), *(c for c in cuts if c < len(records))})
    published: dict[tuple[str, str], list[AccountUpdated]] = {}
    for start, end in itertools.pairwise(bounds):
        events = await run_batch(container, bus, records[start:end])
        touched = [(ev.credit_code, ev.period) for ev in events]
        assert len(touched) == len(set(touched)), "a month published twice by one batch"
        for ev in events:
            history = published.setdefault((ev.credit_code, ev.period), [])
            if history:  # a new event only for a change, with the next version
                assert comparable(ev) != comparable(history[-1])
                assert ev.calculation_version == history[-1].calculation_version + 1
            else:
                assert ev.calculation_version == 1
            history.append(ev)
        # a redelivery of the whole batch changes nothing and publishes nothing
        assert await run_batch(container, bus, records[start:end]) == []

    # the last event of each month = the account computed from all its facts in one go
    facts: dict[tuple[str, str], list[Fact]] = {}
    for r in records:
        item = decode_record(r)
        if item.fact is not None:
            facts.setdefault((item.fact.credit_code, item.fact.period), []).append(item.fact)
    # highest revision per fact_key wins (the first one received among equal revisions)
    expected_pairs = set()
    for pair, fs in facts.items():
        current: dict[str, Fact] = {}
        for f in fs:
            if f.fact_key not in current or f.revision > current[f.fact_key].revision:
                current[f.fact_key] = f
        figures = compute_account(*pair, list(current.values()), None, FS).figures
        expected = account_event(figures, published[pair][-1].calculation_version)
        assert published[pair][-1] == expected
        expected_pairs.add(pair)
    assert set(published) == expected_pairs  # no event for a month with no accounted fact


async def test_the_facts_upsert_takes_the_shared_lock(quiet: tuple[Container, InMemoryBus]) -> None:
    container, _ = quiet
    code = credit_code()
    record = fact_record(code, "2024-03", 0, 1, Decimal("5"))
    item = decode_record(record)
    assert item.fact is not None
    for attempt in range(2):  # the second time nothing changes: the lock is taken all the same
        async with container.uow() as uow:
            changed = await uow.repo.upsert_facts([item.fact], lock_accounts=True)
            assert changed == ({(code, "2024-03")} if attempt == 0 else set())
            held = await uow.session.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock'"
                    " AND pid = pg_backend_pid() AND objid = :k"
                ),
                {"k": ACCOUNTS_LOCK_KEY},
            )
            assert held == 1
            await uow.commit()
    async with container.uow() as uow:
        history = await uow.repo.fact_history(item.fact.fact_key)
    assert [(f.revision, f.value) for f in history] == [(1, Decimal("5"))]


async def test_a_batch_of_ignored_families_stores_nothing(quiet: tuple[Container, InMemoryBus]) -> None:
    container, bus = quiet
    code = credit_code()
    records = [fact_record(code, "2024-04", 5, 1, Decimal("1")) for _ in range(3)]
    assert await run_batch(container, bus, records) == []
    async with container.uow() as uow:
        stored = await uow.session.scalar(
            text("SELECT count(*) FROM facts WHERE credit_code = :c"), {"c": code}
        )
        history = await uow.session.scalar(
            text("SELECT count(*) FROM fact_history WHERE credit_code = :c"), {"c": code}
        )
        inbox = await uow.session.scalar(text("SELECT count(*) FROM inbox"))
    assert stored == 0 and history == 0 and inbox == 0


async def _state(container: Container, codes: list[str]) -> tuple[Any, ...]:
    """Everything a batch can change for these enterprises (timestamps aside), and the outbox."""
    params = {"c": codes}
    async with container.uow() as uow:
        run = uow.session.execute
        facts = (
            await run(
                text(
                    "SELECT fact_key, fact_id, revision, value::text, received_at FROM facts"
                    " WHERE credit_code = ANY(:c) ORDER BY fact_key"
                ),
                params,
            )
        ).all()
        history = (
            await run(
                text(
                    "SELECT fact_key, revision, fact_id, value::text, received_at FROM fact_history"
                    " WHERE credit_code = ANY(:c) ORDER BY fact_key, revision"
                ),
                params,
            )
        ).all()
        accounts = (
            await run(
                text(
                    "SELECT credit_code, period, total_tco2::text, fact_count, calculation_version,"
                    " updated_at FROM accounts WHERE credit_code = ANY(:c) ORDER BY 1, 2"
                ),
                params,
            )
        ).all()
        outbox = await uow.session.scalar(text("SELECT count(*) FROM outbox_records"))
        inbox = await uow.session.scalar(text("SELECT count(*) FROM inbox"))
    return facts, history, accounts, outbox, inbox


def _quiet_container(db_url: str, bus: InMemoryBus) -> Container:
    settings_ = Settings(
        postgres=PostgresSettings(url=db_url, pool_size=2, max_overflow=2), run_workers=False
    )  # type: ignore[arg-type]
    return bootstrap(settings_, bus=bus)


async def test_a_batch_redelivered_after_a_crash_changes_nothing_and_emits_nothing(db_url: str) -> None:
    """A crash after the database commit but before the offset commit: the restarted consumer
    (a new container on the same database) gets the same batch again, and then a batch that
    overlaps it (a redelivery cut differently, with one new fact): only the new fact counts."""
    codes = [credit_code(), credit_code()]
    batch = [
        fact_record(codes[0], "2024-06", 0, 1, Decimal("10")),
        fact_record(codes[0], "2024-06", 2, 1, Decimal("100")),
        fact_record(codes[0], "2024-06", 0, 2, Decimal("11")),  # a correction in the same batch
        fact_record(codes[1], "2024-06", 1, 1, Decimal("3")),
        fact_record(codes[1], "2024-07", 5, 1, Decimal("1")),  # a family accounting ignores
    ]
    bus = InMemoryBus()
    container = _quiet_container(db_url, bus)
    await container.start()
    try:
        first = await run_batch(container, bus, batch)
        before = await _state(container, codes)
    finally:
        await container.stop()  # the crash: the offsets of ``batch`` were never committed
    assert sorted((e.credit_code, e.period) for e in first) == sorted(
        [(codes[0], "2024-06"), (codes[1], "2024-06")]
    )
    facts, history, accounts, outbox, inbox = before
    # the in-batch correction supersedes revision 1 before anything is stored
    assert (len(facts), len(history), len(accounts), inbox) == (3, 3, 2, 0)

    bus2 = InMemoryBus()
    restarted = _quiet_container(db_url, bus2)
    await restarted.start()
    try:
        assert await run_batch(restarted, bus2, batch) == []
        assert await _state(restarted, codes) == before  # not a row, not a timestamp changed
        new = fact_record(codes[1], "2024-06", 3, 1, Decimal("7"))
        [event] = await run_batch(restarted, bus2, [*batch[2:], new, *batch[:2]])
        after = await _state(restarted, codes)
    finally:
        await restarted.stop()
    assert (event.credit_code, event.period, event.calculation_version) == (codes[1], "2024-06", 2)
    assert event.fact_count == 2
    assert set(facts) < set(after[0]) and len(after[0]) == len(facts) + 1
    assert set(history) < set(after[1]) and len(after[1]) == len(history) + 1
    assert after[2][0] == accounts[0]  # the other enterprise's month is untouched
    assert after[3:] == (outbox + 1, 0)


async def test_no_event_for_a_batch_that_changes_nothing_and_one_for_many_changes(
    quiet: tuple[Container, InMemoryBus],
) -> None:
    container, bus = quiet
    code = credit_code()
    coal = fact_record(code, "2024-05", 0, 1, Decimal("10"))
    power = fact_record(code, "2024-05", 2, 1, Decimal("100"))
    [first] = await run_batch(container, bus, [coal, power])
    assert first.calculation_version == 1 and first.fact_count == 2
    # a redelivery, a correction to the same value and a family accounting ignores: nothing
    same = fact_record(code, "2024-05", 0, 2, Decimal("10"))
    penalty = fact_record(code, "2024-05", 5, 1, Decimal("1"))
    assert await run_batch(container, bus, [power, same, penalty]) == []
    # three changes to the month in one batch: one event, the state after all of them
    changes = [
        fact_record(code, "2024-05", 0, 3, Decimal("11")),
        fact_record(code, "2024-05", 2, 2, Decimal("90")),
        fact_record(code, "2024-05", 0, 4, Decimal("12")),
    ]
    [last] = await run_batch(container, bus, changes)
    assert last.calculation_version == 2 and last.fact_count == 2
    assert last.scope1_combustion_tco2 == Decimal("12") * Decimal("1.9003")
    assert last.scope2_location_tco2 == Decimal("90") * FS.by_code("grid.national_average", 2024).value
