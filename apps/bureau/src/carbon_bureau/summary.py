"""What the demo prints after the replay: a person's view of what the bureau did.

Everything here is read back through the services' public APIs (the same ones a bank or a
department would call), not from their databases.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

CITIES = {"1404": "长治 Changzhi", "1402": "大同 Datong", "1403": "阳泉 Yangquan"}
LABELS = ("dark_green", "light_green", "yellow", "red")
LABEL_ZH = {"dark_green": "深绿", "light_green": "浅绿", "yellow": "黄", "red": "红"}
STANDARD_LOAN = {"product": "green_loan", "amount_cny": "10000000", "term_months": 36}
# The demo bank books a sample of carbon-linked loans (not green-only, so no purpose is needed)
# so that its portfolio and financed emissions (PCAF) are not empty: about this many loans,
# evenly spread over the rated enterprises in credit-code order; large firms borrow more.
PORTFOLIO_LOANS = 60
PORTFOLIO_LOAN = {"product": "carbon_linked_loan", "term_months": 36}
PORTFOLIO_AMOUNT_CNY = {"large": "50000000", "sme": "5000000"}
BANK = {"X-Org": "bank-demo"}


class RejectionTally:
    """An httpx response hook counting rejected records by field, as ingest reported them."""

    def __init__(self) -> None:
        self.by_field: Counter[str] = Counter()
        self.accepted = self.duplicates = self.corrections = 0

    async def __call__(self, response: httpx.Response) -> None:
        if not response.request.url.path.endswith("/v1/submissions") or response.request.method != "POST":
            return
        await response.aread()
        if response.status_code >= 300:
            return
        body = response.json()
        self.accepted += int(body.get("accepted", 0))
        self.duplicates += int(body.get("duplicates", 0))
        self.corrections += int(body.get("corrections", 0))
        self.by_field.update(r["field"] for r in body.get("rejected", []))


async def _gather(
    items: list[Any], fn: Callable[[Any], Awaitable[Any]], label: str, console: Console | None, limit: int = 8
) -> list[Any]:
    sem = asyncio.Semaphore(limit)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(label, total=len(items))

        async def one(item: Any) -> Any:
            async with sem:
                try:
                    return await fn(item)
                finally:
                    progress.advance(task)

        return list(await asyncio.gather(*(one(i) for i in items)))


async def collect_summary(
    client: httpx.AsyncClient,
    dataset: Any,
    replay: Any,
    out: Path,
    *,
    tally: RejectionTally | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Read ratings, quotes, flags and reports back from the APIs and build the summary."""
    enterprises: list[dict[str, Any]] = dataset.enterprises
    by_code = {e["credit_code"]: e for e in enterprises}

    async def rating(code: str) -> dict[str, Any] | None:
        r = await client.get(f"/rating/v1/ratings/{code}", headers={"X-Org": "bureau-demo"})
        return dict(r.json()) if r.status_code == 200 else None

    async def flags(code: str) -> int:
        r = await client.get(f"/ingest/v1/quality/enterprises/{code}")
        return int(r.json().get("flags", 0)) if r.status_code == 200 else 0

    ratings = dict(
        zip(by_code, await _gather(list(by_code), rating, "reading ratings", console), strict=True)
    )
    flag_counts = await _gather(list(by_code), flags, "reading data-quality flags", console)
    rated = {c: r for c, r in ratings.items() if r}

    async def quote(code: str) -> dict[str, Any] | None:
        r = await client.post(
            "/lending/v1/quotes", headers={"X-Org": "bank-demo"}, json={"credit_code": code, **STANDARD_LOAN}
        )
        return dict(r.json()) if r.status_code in (200, 201) else None

    quotes = dict(
        zip(rated, await _gather(list(rated), quote, "quoting a standard green loan", console), strict=True)
    )

    labels_by_city: dict[str, Counter[str]] = defaultdict(Counter)
    labels_by_industry: dict[str, Counter[str]] = defaultdict(Counter)
    for code, r in rated.items():
        e = by_code[code]
        labels_by_city[CITIES.get(e["region_code"][:4], e["region_code"])][r["label"]] += 1
        labels_by_industry[e["industry_code"]][r["label"]] += 1

    pricing: dict[str, dict[str, Any]] = {}
    for label in LABELS:
        qs = [q for c, q in quotes.items() if q and rated[c]["label"] == label]
        if qs:
            rates = [Decimal(q["annual_rate_pct"]) for q in qs]
            tracks = Counter(q["approval"]["track"] for q in qs)
            days = [q["approval"]["sla_working_days_max"] for q in qs]
            pricing[label] = {
                "quotes": len(qs),
                "average_rate_pct": str((sum(rates, Decimal(0)) / len(rates)).quantize(Decimal("0.0001"))),
                "tracks": dict(tracks),
                "average_sla_days_max": round(sum(days) / len(days), 1),
            }

    def improvement(r: dict[str, Any]) -> Decimal:
        for s in r.get("sub_scores", []):
            if s["name"].startswith("improvement") and s.get("observed"):
                return Decimal(str(s["value"]))
        return Decimal(-1)

    improvers = sorted(
        ((c, r) for c, r in rated.items() if improvement(r) >= 0),
        key=lambda kv: (improvement(kv[1]), kv[0]),
        reverse=True,
    )[:5]
    accounts = await _check_accounts(client, dataset, console)
    portfolio = await _book_portfolio(client, dataset, sorted(rated), console)
    reports = await _write_reports(client, [c for c, _ in improvers], by_code, out)

    summary: dict[str, Any] = {
        "enterprises": {"generated": len(enterprises), "registered": replay.enterprises, "rated": len(rated)},
        "records": {
            "sent": replay.records,
            "accepted": tally.accepted if tally else replay.accepted,
            "duplicates": tally.duplicates if tally else None,
            "corrections": tally.corrections if tally else None,
            "rejected": replay.rejected,
            "rejected_by_field": dict(tally.by_field) if tally else {},
            "expected": dataset.expectations["counts"],
        },
        "cross_validation_flags": sum(flag_counts),
        "accounts_check": accounts,
        "portfolio": portfolio,
        "labels": dict(Counter(r["label"] for r in rated.values())),
        "labels_by_city": {k: dict(v) for k, v in sorted(labels_by_city.items())},
        "labels_by_industry": {k: dict(v) for k, v in sorted(labels_by_industry.items())},
        "standard_loan": STANDARD_LOAN,
        "pricing_by_label": pricing,
        "top_improvers": [
            {
                "credit_code": c,
                "name": by_code[c]["name"],
                "industry": by_code[c]["industry_code"],
                "label": r["label"],
                "score": str(r["score"]),
                "improvement": str(improvement(r)),
            }
            for c, r in improvers
        ],
        "reports": reports,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
    return summary


async def _check_accounts(client: httpx.AsyncClient, dataset: Any, console: Console | None) -> dict[str, Any]:
    """Compare every monthly account with the generator's independent recomputation."""
    expected: dict[str, dict[str, list[str]]] = dataset.expectations["emissions"]["by_enterprise"]
    columns = ("scope1_combustion_tco2", "scope1_process_tco2", "scope2_location_tco2", "total_tco2")
    tolerance = Decimal(
        "0.01"
    )  # tCO2: both sides round to 6 decimals per fact; sums may differ in the last digits

    async def one(code: str) -> list[str]:
        r = await client.get(f"/accounting/v1/accounts/{code}")
        got = {i["period"]: i for i in r.json()["items"]} if r.status_code == 200 else {}
        problems = []
        for period, row in expected[code].items():
            account = got.get(period)
            for col, want in zip(columns, row, strict=True):
                have = Decimal(str(account[col])) if account else Decimal(0)
                if abs(have - Decimal(want)) > tolerance:
                    problems.append(f"{code} {period} {col}: platform {have} vs expected {want}")
        return problems

    results = await _gather(sorted(expected), one, "checking accounts against the generator", console)
    mismatches = [p for ps in results for p in ps]
    total_expected = Decimal(dataset.expectations["emissions"]["total"]["total"])
    return {
        "enterprise_months": sum(len(v) for v in expected.values()),
        "mismatches": len(mismatches),
        "examples": mismatches[:10],
        "expected_total_tco2": str(total_expected),
    }


def _balance_sheet_codes(dataset: Any) -> set[str]:
    """Enterprises whose total debt and total equity the dataset reports (malformed copies aside)."""
    bad = {(m["department"], m["record_id"]) for m in dataset.expectations["malformed"]}
    seen: dict[str, set[str]] = defaultdict(set)
    for batch in dataset.submissions:
        for rec in batch["records"]:
            if rec["indicator"] in ("finance.total_debt", "finance.total_equity") and (
                (batch["department"], rec["record_id"]) not in bad
            ):
                seen[rec["credit_code"]].add(rec["indicator"])
    return {code for code, kinds in seen.items() if len(kinds) == 2}


async def _book_portfolio(
    client: httpx.AsyncClient, dataset: Any, rated: list[str], console: Console | None
) -> dict[str, Any]:
    """Quote and book a sample of loans for the demo bank, then read its PCAF financed emissions."""
    step = max(1, len(rated) // PORTFOLIO_LOANS)
    sample = rated[::step][:PORTFOLIO_LOANS]
    size = {e["credit_code"]: e["size_class"] for e in dataset.enterprises}
    drawn_on = datetime.now(UTC).date().isoformat()

    async def book(code: str) -> str | None:
        """The booked loan's credit code, or None (with the reason kept in ``errors``)."""
        amount = PORTFOLIO_AMOUNT_CNY.get(size.get(code, "sme"), PORTFOLIO_AMOUNT_CNY["sme"])
        q = await client.post(
            "/lending/v1/quotes",
            headers=BANK,
            json={"credit_code": code, "amount_cny": amount, **PORTFOLIO_LOAN},
        )
        if q.status_code not in (200, 201):
            errors.append(f"quote {code}: {q.status_code} {q.text[:200]}")
            return None
        loan = {
            "quote_id": q.json()["quote_id"],
            "bank_loan_ref": f"DEMO-{code}",
            "drawn_amount_cny": amount,
            "drawn_on": drawn_on,
        }
        r = await client.post("/lending/v1/loans", headers=BANK, json=loan)
        if r.status_code not in (200, 201):
            errors.append(f"loan {code}: {r.status_code} {r.text[:200]}")
            return None
        return code

    errors: list[str] = []
    booked = [c for c in await _gather(sample, book, "booking the demo bank's loans", console) if c]
    r = await client.get("/lending/v1/portfolio", headers=BANK)
    document = r.json() if r.status_code == 200 else {}
    with_balance_sheet = _balance_sheet_codes(dataset)
    return {
        "bank": BANK["X-Org"],
        "loans_booked": len(booked),
        "booking_errors": errors[:10],
        "outstanding_cny": (document.get("total") or {}).get("outstanding_cny"),
        "weighted_rate_pct": (document.get("total") or {}).get("weighted_rate_pct"),
        "financed_emissions": document.get("financed_emissions"),
        # generator side: loans whose borrower reported debt and equity (expected debt_plus_equity)
        "expected_debt_plus_equity_loans": sum(c in with_balance_sheet for c in booked),
    }


async def _write_reports(
    client: httpx.AsyncClient, codes: list[str], by_code: dict[str, dict[str, Any]], out: Path
) -> list[str]:
    folder = out / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for code in codes:
        for lang in ("zh", "en"):
            r = await client.get(f"/rating/v1/ratings/{code}/report", params={"lang": lang})
            if r.status_code == 200:
                path = folder / f"{code}.{lang}.html"
                path.write_text(r.text, encoding="utf-8")
                written.append(str(path))
    return written


def print_summary(summary: dict[str, Any], console: Console) -> None:
    rec = summary["records"]
    exp = rec["expected"]
    console.rule("[bold]Carbon Bureau 碳征信 — pilot replay summary")
    t = Table("", "this run", "generator expected", title="Data 数据")
    t.add_row(
        "enterprises registered", str(summary["enterprises"]["registered"]), str(exp.get("enterprises", ""))
    )
    t.add_row("records sent", str(rec["sent"]), str(exp.get("records", "")))
    t.add_row("accepted (facts + corrections)", str(rec["accepted"]), str(exp.get("expected_accepted", "")))
    t.add_row("duplicates (no-op)", str(rec["duplicates"]), str(exp.get("duplicates", "")))
    t.add_row("corrections", str(rec["corrections"]), str(exp.get("corrections", "")))
    t.add_row("rejected", str(rec["rejected"]), str(exp.get("rejected", "")))
    t.add_row(
        "cross-validation flags",
        str(summary["cross_validation_flags"]),
        str(exp.get("electricity_flags", "")),
    )
    t.add_row("enterprises rated", str(summary["enterprises"]["rated"]), str(exp.get("enterprises", "")))
    acc = summary["accounts_check"]
    t.add_row(
        "monthly accounts = independent recomputation",
        f"{acc['enterprise_months'] - acc['mismatches']} of {acc['enterprise_months']}",
        f"{acc['enterprise_months']} ({acc['expected_total_tco2']} tCO2 in all)",
    )
    console.print(t)
    if rec["rejected_by_field"]:
        r = Table("field", "rejected records", title="Rejections by field 拒收原因")
        for field, n in sorted(rec["rejected_by_field"].items(), key=lambda kv: -kv[1]):
            r.add_row(field, str(n))
        console.print(r)
    for title, rows in (
        ("Labels by city 按城市", summary["labels_by_city"]),
        ("Labels by industry 按行业", summary["labels_by_industry"]),
    ):
        lt = Table("", *(f"{LABEL_ZH[x]} {x}" for x in LABELS), title=title)
        for key, counts in rows.items():
            lt.add_row(key, *(str(counts.get(x, 0)) for x in LABELS))
        console.print(lt)
    pt = Table("label", "quotes", "average rate %", "approval tracks", "avg SLA (max days)",
               title="A standard green loan (10M CNY, 36 months) 标准绿色贷款")  # fmt: skip
    for label, p in summary["pricing_by_label"].items():
        tracks = ", ".join(f"{k} {v}" for k, v in p["tracks"].items())
        pt.add_row(
            f"{LABEL_ZH[label]} {label}",
            str(p["quotes"]),
            p["average_rate_pct"],
            tracks,
            str(p["average_sla_days_max"]),
        )
    console.print(pt)
    _print_portfolio(summary.get("portfolio"), console)
    it = Table("enterprise", "industry", "label", "score", "improvement", title="Top improvers 进步最快")
    for i in summary["top_improvers"]:
        it.add_row(f"{i['name']} {i['credit_code']}", i["industry"], i["label"], i["score"], i["improvement"])
    console.print(it)
    if summary["reports"]:
        console.print(f"HTML reports (中文 / English): {Path(summary['reports'][0]).parent}")
    console.print(f"Replay + processing: {summary.get('replay_seconds', '?')} s")


def _print_portfolio(portfolio: dict[str, Any] | None, console: Console) -> None:
    """The demo bank's book: loans, outstanding and PCAF financed emissions by attribution method."""
    if not portfolio or not portfolio.get("loans_booked"):
        return
    fe = portfolio.get("financed_emissions") or {}
    title = (
        f"The demo bank's portfolio 银行组合 ({portfolio['loans_booked']} carbon-linked loans, "
        f"{portfolio['outstanding_cny']} CNY at {portfolio['weighted_rate_pct']} %): financed emissions (PCAF)"
    )
    t = Table("attribution", "loans", "outstanding CNY", "financed tCO2/yr", title=title)
    names = {
        "debt_plus_equity": "outstanding / (reported debt + equity)",
        "revenue_proxy": "fallback: revenue × assets-per-revenue (score ≥ 4)",
        "not_covered": "not covered (no account, no figures)",
    }
    for method, row in (fe.get("by_method") or {}).items():
        t.add_row(names.get(method, method), str(row["loans"]), row["outstanding_cny"], row["financed_tco2"])
    t.add_row(
        "[bold]total",
        str(portfolio["loans_booked"]),
        portfolio["outstanding_cny"] or "",
        f"[bold]{fe.get('financed_tco2', '?')}",
    )
    console.print(t)
    console.print(
        f"PCAF data-quality score (1 best … 5, outstanding-weighted): {fe.get('weighted_data_quality_score')}; "
        f"coverage {fe.get('coverage_ratio')}"
    )
