"""The consumer's fast paths keep its meaning (issue 6): the header fast path decodes exactly what
carbon_common's decoder does, only the finance facts PCAF reads are kept, a batch ends where its
events applied one by one end, and a redelivered batch of ratings, accounts or facts (no inbox
claim) changes nothing. Real PostgreSQL, lending's own subscription driven directly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from carbon_common.bus.port import Decoded, Record, Subscription, to_record
from carbon_common.bus.processing import process_batch
from carbon_common.events import (
    AccountUpdated,
    ContractError,
    EnterpriseRegistered,
    Envelope,
    Event,
    FactRecorded,
    RatingIssued,
    Topics,
)
from carbon_common.events.examples import EXAMPLES
from carbon_lending.adapters.orm import (
    current_ratings,
    enterprise_emissions,
    enterprise_finance,
    loan_events,
    loans,
    outbox,
    quotes,
    ratings,
)
from carbon_lending.adapters.repository import current_rate
from carbon_lending.bootstrap import consumer_subscription
from carbon_lending.service_layer.consumers import GROUP, decoder, fast_decode, make_handler

A = {"X-Org": "bank-batches"}
D = Decimal
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def delivered(env: Envelope[Any]) -> Record:
    """``env`` as lending receives it: a fact on ``ingest.credit-facts.v1`` (ingest's copy of the
    credit families), anything else on its own topic."""
    r = to_record(env)
    return replace(r, topic=Topics.CREDIT_FACTS) if isinstance(env.data, FactRecorded) else r


def record(event: Event, **headers: bytes | str | None) -> Record:
    """``event`` as delivered, with some headers replaced (``None``: removed)."""
    r = delivered(Envelope(data=event, source="/test", traceparent=TRACE, tracestate="k=v"))
    hs = [(k, v) for k, v in r.headers if k not in headers]
    hs += [(k, v) for k, v in headers.items() if v is not None]
    return Record(r.topic, r.key, r.value, tuple(hs), 0, 0)  # type: ignore[arg-type]


def full_decode(r: Record) -> Envelope[Any] | str:
    try:
        return decoder()(r) or "skipped"
    except ContractError as exc:
        return f"contract error: {exc.reason}"


# --- decoding --------------------------------------------------------------------------------
@pytest.mark.parametrize("model", list(EXAMPLES))
def test_fast_path_decodes_every_contract_example_like_the_shared_decoder(model: type[Event]) -> None:
    from carbon_common.bus.port import envelope_decoder

    r = record(EXAMPLES[model])
    fast = fast_decode(r)
    assert fast is not None
    assert fast == envelope_decoder()(r)
    assert (fast.source, fast.traceparent, fast.tracestate) == ("/test", TRACE, "k=v")


@pytest.mark.parametrize(
    ("headers", "outcome"),
    [
        ({"ce_id": None}, "contract error"),
        ({"ce_id": b""}, "contract error"),
        ({"ce_specversion": b"0.3"}, "contract error"),
        ({"ce_type": b"com.example.other.v1"}, "contract error"),  # foreign: dead-lettered
        ({"ce_type": None}, "contract error"),
        ({"ce_time": b"yesterday"}, "contract error"),
        ({"ce_type": b"cn.carbonbureau.rating.future.v1"}, "skipped"),  # a newer bureau type
        ({"ce_id": b"\xff\xfe"}, "envelope"),  # not UTF-8: the shared decoder replaces it
        ({"ce_type": "cn.carbonbureau.rating.rating.issued.v1"}, "envelope"),  # str, not bytes
        ({"ce_source": b""}, "envelope"),
        ({"ce_source": None}, "envelope"),
    ],
)
def test_what_the_fast_path_does_not_take_is_decided_as_before(
    headers: dict[str, bytes | str | None], outcome: str
) -> None:
    """An unusual record either takes the fast path to the very envelope the shared decoder
    returns, or falls through to it (dead-letter reason, tolerant skip), never a third answer."""
    from carbon_common.bus.port import envelope_decoder

    r = record(EXAMPLES[RatingIssued], **headers)
    try:
        shared: Any = envelope_decoder()(r)
    except ContractError:
        shared = None
    fast = fast_decode(r)
    assert fast is None or fast == shared
    got = full_decode(r)
    if outcome == "envelope":
        assert isinstance(got, Envelope) and got == shared
    else:
        assert isinstance(got, str) and got.startswith(outcome)


def test_a_record_with_a_bad_body_is_still_dead_lettered_with_the_reason() -> None:
    r = record(EXAMPLES[AccountUpdated])
    broken = Record(r.topic, r.key, b'{"credit_code": "x"}', r.headers)
    assert fast_decode(broken) is None
    assert str(full_decode(broken)).startswith(
        "contract error: cn.carbonbureau.accounting.account.updated.v1"
    )


def fact_of(indicator: str, attributes: dict[str, Any] | None = None) -> FactRecorded:
    base = EXAMPLES[FactRecorded]
    assert isinstance(base, FactRecorded)
    return base.model_copy(update={"indicator": indicator, "attributes": attributes or {}})


def test_only_the_finance_facts_pcaf_reads_are_decoded() -> None:
    decode = decoder()
    for kept in ("finance.revenue", "finance.total_debt", "finance.total_equity"):
        env = decode(record(fact_of(kept)))
        assert env is not None and env.data.indicator == kept
    for skipped in (  # everything else on the credit stream (and a stray account-family fact)
        "energy.raw_coal",
        "finance.value_added",
        "finance.total_capex",
        "finance.reduction_capex",
        "compliance.env_penalty",
        "ets.surrendered",
        "transition.milestones_met",
    ):
        assert decode(record(fact_of(skipped))) is None, skipped


def test_lending_reads_the_credit_facts_stream_not_every_fact(app_env) -> None:  # type: ignore[no-untyped-def]
    sub = consumer_subscription(app_env[0])
    assert Topics.CREDIT_FACTS in sub.topics and Topics.FACTS not in sub.topics
    assert set(sub.topics) == {Topics.ENTERPRISES, Topics.RATINGS, Topics.ACCOUNTS, Topics.CREDIT_FACTS}


async def test_a_finance_fact_reaches_pcaf_only_through_the_credit_stream(app_env, up) -> None:  # type: ignore[no-untyped-def]
    """Published on ``ingest.facts.v1`` alone it is not lending's; its credit-stream copy is."""
    container, bus, _ = app_env
    code = up.code()
    debt = up.fact(code, "finance.total_debt", "2024-12", "123.45")
    await bus.publish([to_record(Envelope(data=debt, source="/test"))])  # the main stream only
    await bus.drain()

    async def stored() -> list[tuple[Any, ...]]:
        f = enterprise_finance.c
        async with container.uow() as uow:
            q = select(f.indicator, f.value, f.fact_id).where(f.credit_code == code)
            return [tuple(r) for r in (await uow.session.execute(q)).all()]

    assert await stored() == []
    await up.publish(debt)  # as ingest publishes it: both streams
    assert await stored() == [("finance.total_debt", D("123.45"), debt.fact_id)]


# --- a batch = its events one by one -----------------------------------------------------------
T0 = datetime(2025, 2, 5, tzinfo=UTC)
RATE_DATES = (
    date(2025, 2, 10),
    date(2025, 4, 15),
    date(2025, 7, 15),
    date(2026, 1, 15),
)  # after the ratings ``up.rated`` issues
LABELS = ("dark_green", "light_green", "yellow", "red")


def upstream_events(codes: Sequence[str], tag: str, seed: int) -> dict[str, list[Event]]:
    """Restated accounts in shuffled order, finance facts with corrections and ties, ratings
    issued out of order (per enterprise), deterministic from ``seed`` whatever the codes."""
    rng = random.Random(seed)
    out: dict[str, list[Event]] = {Topics.RATINGS: [], Topics.ACCOUNTS: [], Topics.CREDIT_FACTS: []}
    for i, code in enumerate(codes):
        for n in range(6):
            label = rng.choice(LABELS)
            out[Topics.RATINGS].append(
                RatingIssued(
                    rating_id=f"{tag}-r{i}-{n}",
                    credit_code=code,
                    as_of_period="2024-12",
                    score=D(rng.randint(20, 95)),
                    label=label,  # type: ignore[arg-type]
                    transition_stage="mid",
                    confidence=D("0.9"),
                    methodology_version="m@1",
                    vetoes=["penalty"] if rng.random() < 0.2 else [],
                    issued_at=T0 + timedelta(hours=rng.randint(0, 4)),  # ties on issued_at too
                )
            )
        for period in (f"2024-{m:02d}" for m in range(1, 13)):
            for version in rng.sample([1, 2, 3], rng.randint(1, 3)):
                total = D(rng.randint(50, 150))
                out[Topics.ACCOUNTS].append(
                    AccountUpdated(
                        credit_code=code,
                        period=period,
                        scope1_combustion_tco2=total,
                        total_tco2=total,
                        output_quantity=D(rng.randint(1, 5)),
                        output_unit="t",
                        data_quality_score=D(rng.randint(1, 5)),
                        factor_set="f@1",
                        calculation_version=version,
                    )
                )
        for indicator in ("finance.revenue", "finance.total_debt", "finance.total_equity"):
            for k in range(3):
                out[Topics.CREDIT_FACTS].append(
                    FactRecorded(
                        fact_id=f"{tag}-f{i}-{indicator}-{k}",
                        fact_key=f"tax/{tag}-{i}-{indicator}",
                        revision=k + 1,
                        credit_code=code,
                        department="tax",
                        record_id=f"{i}-{indicator}",
                        indicator=indicator,
                        period="2024-12",
                        value=D(rng.randint(100, 999)),
                        unit="10k CNY",
                        evidence_hash="0" * 64,
                        authoritative=rng.random() < 0.7,
                        recorded_at=T0 + timedelta(days=rng.randint(0, 2)),
                    )
                )
    for topic_events in out.values():
        rng.shuffle(topic_events)
    return out


async def book(client, code: str, kpi: bool) -> str:  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {
        "credit_code": code,
        "product": "carbon_linked_loan",
        "amount_cny": "2000000",
        "term_months": 24,
    }
    if kpi:
        body["kpi_targets"] = [{"metric": "total_tco2", "target": "1100"}]
    q = await client.post("/v1/quotes", json=body, headers=A)
    assert q.status_code == 201, q.text
    r = await client.post(
        "/v1/loans",
        json={
            "quote_id": q.json()["quote_id"],
            "bank_loan_ref": f"{code}-{kpi}",
            "drawn_amount_cny": "2000000",
            "drawn_on": "2025-01-15",
        },
        headers=A,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["loan_id"])


async def state(container, codes: Sequence[str], tag: str) -> dict[str, list[tuple[Any, ...]]]:  # type: ignore[no-untyped-def]
    """The read models and loans of ``codes``, with codes and ids made comparable across sets."""
    index = {c: i for i, c in enumerate(codes)}

    def plain(v: Any) -> Any:
        if isinstance(v, str):
            return index.get(v, v.replace(tag, "#"))
        return v

    async def rows(q: Any) -> list[tuple[Any, ...]]:
        async with container.uow() as uow:
            result = (await uow.session.execute(q)).all()
        return sorted(tuple(plain(v) for v in r) for r in result)

    e, f, c, h = enterprise_emissions.c, enterprise_finance.c, current_ratings.c, ratings.c
    lo = loans.c
    kpi_linked = func.coalesce(func.jsonb_typeof(lo.kpi_targets), "none") == "array"
    return {
        "emissions": await rows(
            select(
                e.credit_code,
                e.period,
                e.total_tco2,
                e.output_quantity,
                e.data_quality_score,
                e.calculation_version,
            ).where(e.credit_code.in_(codes))
        ),
        "finance": await rows(
            select(
                f.credit_code, f.indicator, f.period, f.value, f.authoritative, f.recorded_at, f.fact_id
            ).where(f.credit_code.in_(codes))
        ),
        "current": await rows(
            select(c.credit_code, c.rating_id, c.label, c.score, c.vetoes, c.issued_at).where(
                c.credit_code.in_(codes)
            )
        ),
        "history": await rows(
            select(h.credit_code, func.count()).where(h.credit_code.in_(codes)).group_by(h.credit_code)
        ),
        "loans": await rows(
            select(lo.credit_code, kpi_linked, lo.ratchet_bp, lo.current_label, lo.rating_id).where(
                lo.credit_code.in_(codes)
            )
        ),
        # the rate in force on each date (a one-by-one run may leave a pending change equal to the
        # rate already in force where a batch leaves none: the same rates either way)
        "rates": await rows(
            select(lo.credit_code, kpi_linked, *(current_rate(d) for d in RATE_DATES)).where(
                lo.credit_code.in_(codes)
            )
        ),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_batch_ends_where_its_events_one_by_one_end(app_env, up, seed: int) -> None:  # type: ignore[no-untyped-def]
    container, _, client = app_env
    sub = consumer_subscription(container)

    async def dead(rs: Sequence[Record]) -> None:
        raise AssertionError(f"dead-lettered: {rs}")

    sets = {}
    for mode in ("batch", "one_by_one"):
        codes = [await up.rated("light_green") for _ in range(3)]
        for code in codes:
            await book(client, code, kpi=False)
            await book(client, code, kpi=True)
        tag = f"{mode}-{seed}-{codes[0]}"
        events = upstream_events(codes, tag, seed)
        for topic in (Topics.RATINGS, Topics.ACCOUNTS, Topics.CREDIT_FACTS):
            rs = [delivered(Envelope(data=ev, source="/test")) for ev in events[topic]]
            if mode == "batch":
                await process_batch(sub, rs, dead)
            else:
                for r in rs:
                    await process_batch(sub, [r], dead)
        sets[mode] = await state(container, codes, tag)
    batch, one_by_one = sets["batch"], sets["one_by_one"]
    assert batch["emissions"] and batch["finance"] and batch["loans"]
    # some loan did move, on each basis: the comparison is not vacuous
    assert any(r[2] != 0 and r[1] for r in batch["loans"]) and any(
        r[2] != 0 and not r[1] for r in batch["loans"]
    )
    for part in batch:
        assert batch[part] == one_by_one[part], part


async def test_redelivered_ratings_accounts_and_facts_change_nothing(app_env, up) -> None:  # type: ignore[no-untyped-def]
    """No inbox claim for these three: the upserts themselves are idempotent, and a rating
    reprices or alerts only when it becomes current, which a redelivered one does not."""
    container, _, client = app_env
    sub = consumer_subscription(container)

    async def dead(rs: Sequence[Record]) -> None:
        raise AssertionError(f"dead-lettered: {rs}")

    code = await up.rated("light_green")
    await book(client, code, kpi=True)
    await book(client, code, kpi=False)
    events = upstream_events([code], f"redelivery-{code}", seed=7)
    batches = {
        t: [delivered(Envelope(data=ev, source="/test")) for ev in events[t]]
        for t in (Topics.RATINGS, Topics.ACCOUNTS, Topics.CREDIT_FACTS)
    }

    async def outbox_rows() -> int:
        async with container.uow() as uow:
            return int((await uow.session.execute(select(func.count()).select_from(outbox))).scalar_one())

    for rs in batches.values():
        await process_batch(sub, rs, dead)
    before, events_before = await state(container, [code], "x"), await outbox_rows()
    assert any(r[2] != 0 and r[1] for r in before["loans"])  # the KPI loan was repriced once
    assert before["history"] == [(0, 7)]  # up.rated's rating and the six
    assert "-r0-" in str(before["current"][0][1])  # one of the six became current
    for rs in batches.values():  # the same envelopes again (a redelivery after a lost offset commit)
        await process_batch(sub, rs, dead)
    for rs in batches.values():  # and one by one
        for r in rs:
            await process_batch(sub, [r], dead)
    assert await state(container, [code], "x") == before
    assert await outbox_rows() == events_before  # no second LoanRepriced or LoanAlert


async def test_only_enterprises_whose_current_rating_changed_are_dropped_from_the_quote_cache(
    app_env, up
) -> None:  # type: ignore[no-untyped-def]
    container, _, _ = app_env
    code = await up.rated("light_green")  # current: issued 2025-02-01
    dropped: list[set[str]] = []
    sub = Subscription(
        group=GROUP,
        topics=[Topics.RATINGS],
        decoder=decoder(),
        handler=make_handler(
            container.uow, container.policies, container.now, on_applied=lambda c: dropped.append(set(c))
        ),
    )

    async def dead(rs: Sequence[Record]) -> None:
        raise AssertionError(f"dead-lettered: {rs}")

    older = up.rating(code, "red", issued_at=datetime(2025, 1, 1, tzinfo=UTC))
    await process_batch(sub, [to_record(Envelope(data=older, source="/test"))], dead)
    assert dropped == []  # history only: the cached current rating is still right
    newer = up.rating(code, "yellow", issued_at=datetime(2025, 2, 9, tzinfo=UTC))
    await process_batch(sub, [to_record(Envelope(data=newer, source="/test"))], dead)
    assert dropped == [{code}]


async def test_a_full_batch_is_one_statement_per_table_whatever_its_size(app_env) -> None:  # type: ignore[no-untyped-def]
    """5,000 directory events, then 5,000 ratings that reprice 3,000 loans (6,000 loan events):
    as multi-row VALUES those were 40,000, 55,000 and 36,000 bound values, which asyncpg refuses
    past 32,767 (and the bus retried the batch forever, taking the error for a transient one)."""
    container, _, _ = app_env
    sub = consumer_subscription(container)
    assert sub.max_batch == 5000
    assert sub.burst_linger_ms == container.settings.burst_linger_ms == 1000  # LENDING_BURST_LINGER_MS
    codes = [f"9114049{n:010d}X" for n in range(5000)]
    directory = [
        EXAMPLES[EnterpriseRegistered].model_copy(update={"credit_code": c, "revision": 7}) for c in codes
    ]
    rated = [
        EXAMPLES[RatingIssued].model_copy(
            update={
                "credit_code": c,
                "rating_id": f"big-{c}",
                "issued_at": T0,
                "label": "yellow",
                "vetoes": [],
            }
        )
        for c in codes
    ]
    await sub.handler([Decoded(r, sub.decoder(r)) for r in (record(e) for e in directory)])
    async with container.uow() as uow:  # 3,000 light-green carbon-linked loans
        await uow.session.execute(
            insert(quotes),
            [
                {
                    "quote_id": f"bq-{c}",
                    "bank_id": "bank-big",
                    "request_hash": "",
                    "credit_code": c,
                    "product": "carbon_linked_loan",
                    "amount_cny": D(10**6),
                    "annual_rate_pct": D("3.3"),
                    "approval_track": "standard",
                    "quoted_at": T0,
                    "valid_until": T0,
                    "document": {},
                }
                for c in codes[:3000]
            ],
        )
        await uow.session.execute(
            insert(loans),
            [
                {
                    "loan_id": f"bl-{c}",
                    "bank_id": "bank-big",
                    "quote_id": f"bq-{c}",
                    "bank_loan_ref": c,
                    "credit_code": c,
                    "product": "carbon_linked_loan",
                    "industry_code": "4411",
                    "principal_cny": D(10**6),
                    "outstanding_cny": D(10**6),
                    "drawn_on": date(2025, 1, 15),
                    "term_months": 24,
                    "status": "performing",
                    "rate_pct": D("3.3"),
                    "base_rate_pct": D("3.0"),
                    "components": {},
                    "origin_label": "light_green",
                    "current_label": "light_green",
                    "approval_track": "standard",
                    "approval_sla_days": 15,
                }
                for c in codes[:3000]
            ],
        )
        await uow.commit()
    # raises if a statement is refused (no retry loop when the handler is called directly)
    await sub.handler([Decoded(r, sub.decoder(r)) for r in (record(e) for e in rated)])
    async with container.uow() as uow:
        s = uow.session
        assert (
            await s.execute(select(func.count()).where(current_ratings.c.rating_id.like("big-%")))
        ).scalar_one() == 5000
        assert (
            await s.execute(
                select(func.count()).where(loans.c.bank_id == "bank-big", loans.c.ratchet_bp == 10)
            )
        ).scalar_one() == 3000
        kinds = (
            await s.execute(
                select(loan_events.c.kind, func.count())
                .where(loan_events.c.bank_id == "bank-big")
                .group_by(loan_events.c.kind)
            )
        ).all()
    assert sorted(kinds) == [("downgrade", 3000), ("repriced", 3000)]


async def test_a_rating_that_keeps_the_label_reevaluates_only_what_it_can_move(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, _, client = app_env
    code = await up.rated("light_green")  # issued 2025-02-01
    loan_id = await book(client, code, kpi=False)

    async def loan() -> dict[str, Any]:
        return dict((await client.get(f"/v1/loans/{loan_id}", headers=A)).json())

    async def kinds() -> list[str]:
        r = await client.get("/v1/loan-events", params={"loan_id": loan_id}, headers=A)
        return [e["type"] for e in r.json()["items"]]

    same = up.rating(code, "light_green", issued_at=datetime(2025, 2, 2, tzinfo=UTC))
    await up.publish(same)
    held = await loan()
    assert (held["rating_id"], held["current_label"], held["ratchet_bp"]) == (
        same.rating_id,
        "light_green",
        "0.00",
    )
    assert await kinds() == []  # not re-evaluated: nothing to move
    vetoed = up.rating(code, "light_green", issued_at=datetime(2025, 2, 3, tzinfo=UTC), vetoes=["penalty"])
    await up.publish(vetoed)
    assert await kinds() == ["veto"]  # same label, but vetoes to report
    # a loan booked on a quote older than the current rating carries another label: re-evaluated
    async with container.uow() as uow:
        await uow.session.execute(
            update(loans).where(loans.c.loan_id == loan_id).values(current_label="dark_green")
        )
        await uow.commit()
    await up.publish(up.rating(code, "light_green", issued_at=datetime(2025, 2, 4, tzinfo=UTC)))
    assert await kinds() == ["veto", "downgrade"]
    assert (await loan())["current_label"] == "light_green"


async def test_the_consumers_loan_reads_see_a_loan_as_the_api_does(app_env, up) -> None:  # type: ignore[no-untyped-def]
    """``relabel_loans`` and ``open_kpi_loans_for`` read loans with a fixed asyncpg statement;
    the state they build is the one ``loan_state`` (SQLAlchemy) builds, on every date, with rate
    changes pending and in force."""
    from carbon_lending.service_layer.ingestion import to_rating

    container, _, client = app_env
    sub = consumer_subscription(container)

    async def dead(rs: Sequence[Record]) -> None:
        raise AssertionError(f"dead-lettered: {rs}")

    code = await up.rated("light_green")
    kpi_loan, label_loan = await book(client, code, kpi=True), await book(client, code, kpi=False)
    events = upstream_events([code], f"reads-{code}", seed=5)
    for topic in (Topics.RATINGS, Topics.ACCOUNTS, Topics.CREDIT_FACTS):
        await process_batch(sub, [delivered(Envelope(data=ev, source="/test")) for ev in events[topic]], dead)
    vetoed, _ = to_rating(up.rating(code, "red", vetoes=["penalty"]))  # vetoes: every open loan moves
    for day in (date(2025, 1, 20), *RATE_DATES):
        async with container.uow() as uow:  # not committed: the relabelling is rolled back
            expected = {i: await uow.repo.loan_state(A["X-Org"], i, day) for i in (kpi_loan, label_loan)}
            assert all(expected.values())
            # as before: ``kpi_targets IS NOT NULL``, which a loan without targets (JSON null) passes
            kpi = await uow.repo.open_kpi_loans_for([code], day)
            assert sorted(kpi, key=lambda s: s.loan_id) == sorted(expected.values(), key=lambda s: s.loan_id)  # type: ignore[union-attr]
            assert [s.kpi_targets != () for s in kpi if s.loan_id == kpi_loan] == [True]
            moved = await uow.repo.relabel_loans([vetoed], day)
            assert sorted(moved, key=lambda s: s.loan_id) == sorted(
                expected.values(), key=lambda s: s.loan_id
            )  # type: ignore[union-attr]
    assert any(s is not None and s.ratchet_bp != 0 for s in expected.values())  # not all at origination


async def test_the_statements_sent_to_asyncpg_are_spans_under_the_batch_span(app_env, up) -> None:  # type: ignore[no-untyped-def]
    """The consumer's statements bypass SQLAlchemy (and its instrumentation): they get the same
    CLIENT spans, children of the bus's processing span, so a trace still shows lending's SQL."""
    from opentelemetry.trace import SpanKind

    from carbon_common.telemetry import capture_spans

    container, _, _ = app_env
    sub = consumer_subscription(container)

    async def dead(rs: Sequence[Record]) -> None:
        raise AssertionError(f"dead-lettered: {rs}")

    code = up.code()
    with capture_spans() as exporter:
        await process_batch(sub, [delivered(Envelope(data=up.rating(code, "yellow"), source="/test"))], dead)
    spans = exporter.get_finished_spans()
    (batch,) = [s for s in spans if s.kind is SpanKind.CONSUMER]
    sql = [
        str((s.attributes or {}).get("db.statement"))
        for s in spans
        if s.kind is SpanKind.CLIENT
        and (s.attributes or {}).get("db.system") == "postgresql"
        and s.parent is not None
        and s.parent.span_id == batch.context.span_id
    ]
    assert any(q.startswith("WITH history AS (INSERT INTO ratings") for q in sql), sql
    assert any("UPDATE loans SET current_label" in q for q in sql), sql
