"""Full re-rating after a methodology change, and the repricing of linked loans it causes.

Before the change, bank-a books one ``carbon_linked_loan`` per enterprise that can get a quote
(quote → loan, over the API). Then methodology ``v2`` is put in force with ``rerate: true``:
rating re-rates every enterprise in the one request (its answer says how long that took and how
many ratings changed), publishes the changed ratings, and lending re-evaluates every linked loan
of those enterprises (``LoanRepriced`` / ``LoanAlert`` on ``lending.loans.v1``). Measured: the
re-rating itself, and from the request to the last loan event (lending in step with rating).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from .observer import TopicObserver
from .probes import Probe
from .stats import rounded

HEADERS = {"X-Org": "bank-a"}
STAFF = {"X-Org": "bureau-staff"}


async def book_loans(lending: str, codes: list[str], concurrency: int = 16) -> dict[str, Any]:
    """One carbon-linked loan per enterprise that gets a quote; returns counts by status."""
    statuses: dict[str, int] = {}
    booked = 0
    sem = asyncio.Semaphore(concurrency)

    async def one(client: httpx.AsyncClient, code: str) -> None:
        nonlocal booked
        async with sem:
            q = await client.post(
                f"{lending}/v1/quotes",
                json={"credit_code": code, "product": "carbon_linked_loan", "amount_cny": "20000000",
                      "term_months": 36},
                headers=HEADERS,
            )  # fmt: skip
            statuses[f"quote {q.status_code}"] = statuses.get(f"quote {q.status_code}", 0) + 1
            if q.status_code != 201:
                return
            loan = await client.post(
                f"{lending}/v1/loans",
                json={"quote_id": q.json()["quote_id"], "bank_loan_ref": f"BENCH-{code}",
                      "drawn_amount_cny": "20000000", "drawn_on": datetime.now(UTC).date().isoformat()},
                headers=HEADERS,
            )  # fmt: skip
            statuses[f"loan {loan.status_code}"] = statuses.get(f"loan {loan.status_code}", 0) + 1
            if loan.status_code == 201:
                booked += 1

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client, c) for c in codes))
    return {"loans_booked": booked, "statuses": dict(sorted(statuses.items()))}


async def methodology_change(
    rating: str, probe: Probe, observer: TopicObserver, version: str, timeout: float = 600
) -> dict[str, Any]:
    """Put ``version`` in force with a full re-rating; wait until lending is in step."""
    mark = observer.mark()
    t0_wall, t0 = time.time(), time.monotonic()
    async with httpx.AsyncClient(timeout=timeout) as client:
        r = await client.put(
            f"{rating}/v1/admin/methodology",
            json={"version": version, "reason": "make bench: full re-rating", "rerate": True},
            headers=STAFF,
        )
    request_s = time.monotonic() - t0
    if r.status_code != 200:
        return {"ok": False, "detail": f"HTTP {r.status_code}: {r.text[:300]}"}
    body = r.json()
    rerate = body.get("rerate") or {}
    in_step = False
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        p = await probe.progress()
        if p.outbox_pending == 0 and p.lending_in_step == p.rated:
            in_step = True
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(1.0)  # let the observer read the last loan events
    ratings = observer.since("ratings", mark)
    loans = [s for s in observer.since("loans", mark) if "repriced" in s.type or "alert" in s.type]
    repriced = sum(1 for s in loans if "repriced" in s.type)
    last_loan = max((s.ts for s in loans), default=None)
    return {
        "ok": in_step,
        "version": version,
        "enterprises_considered": rerate.get("enterprises_considered"),
        "ratings_issued": rerate.get("ratings_issued"),
        "rerate_s": rounded(float(rerate.get("seconds", 0)) if rerate else None, 2),
        "request_s": rounded(request_s, 2),
        "rating_events": len(ratings),
        "loans_repriced": repriced,
        "loan_alerts": len(loans) - repriced,
        "last_loan_event_s": rounded(last_loan - t0_wall if last_loan else None, 2),
        "lending_in_step": in_step,
    }
