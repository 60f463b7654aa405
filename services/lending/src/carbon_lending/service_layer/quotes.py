"""Use cases: request a quote (idempotent per bank and key), read a quote (own bank only)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from carbon_common.events import LoanQuoted
from carbon_lending.domain.classification import Catalogue, Classification, classify
from carbon_lending.domain.errors import Conflict, NotFound
from carbon_lending.domain.policy import PolicyBook
from carbon_lending.domain.pricing import QuoteRequest, price_quote
from carbon_lending.service_layer.documents import quote_document
from carbon_lending.service_layer.ports import Document, StoredQuote, UnitOfWorkPort

UowFactory = Callable[[], UnitOfWorkPort]
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class RequestQuote:
    request: QuoteRequest
    idempotency_key: str | None = None
    purpose: str | None = None
    activity_code: str | None = None
    expected_annual_reduction_t: Decimal | None = None


def request_hash(cmd: RequestQuote) -> str:
    """Stable hash of what was asked, to tell a retry from a different request under one key."""
    body = asdict(cmd)
    body.pop("idempotency_key")
    return hashlib.sha256(json.dumps(body, default=str, sort_keys=True).encode()).hexdigest()


def classify_purpose(cmd: RequestQuote, catalogue: Catalogue) -> Classification | None:
    if not (cmd.purpose or cmd.activity_code):
        return None
    return classify(catalogue, cmd.purpose, cmd.activity_code, cmd.expected_annual_reduction_t)


async def request_quote(
    cmd: RequestQuote, uow: UnitOfWorkPort, book: PolicyBook, catalogue: Catalogue, now: datetime
) -> tuple[Document, bool]:
    """Price and record a quote, emit ``LoanQuoted``. Returns (document, created)."""
    req = cmd.request
    digest = request_hash(cmd)
    async with uow:
        if cmd.idempotency_key:
            earlier = await uow.repo.quote_by_key(req.bank_id, cmd.idempotency_key)
            if earlier is not None:
                return _replay(earlier, digest), False
        enterprise, rating = await uow.repo.enterprise_and_rating(req.credit_code)
        if enterprise is None:
            raise NotFound(f"enterprise {req.credit_code} is not in the directory", field="credit_code")
        policy = book.for_bank(req.bank_id)
        used = await uow.repo.subsidy_committed(req.bank_id)
        priced = price_quote(
            req,
            enterprise,
            rating,
            policy,
            classification=classify_purpose(cmd, catalogue),
            subsidy_budget_left=policy.subsidy_budget_cny - used,
            now=now,
        )
        quote_id = str(uuid.uuid4())
        doc = quote_document(priced, quote_id)
        stored = StoredQuote(
            quote_id=quote_id,
            bank_id=req.bank_id,
            idempotency_key=cmd.idempotency_key,
            request_hash=digest,
            credit_code=req.credit_code,
            product=req.product,
            amount_cny=req.amount,
            annual_rate_pct=priced.annual_rate_pct,
            rating_id=rating.rating_id if rating else None,
            label=rating.label if rating else None,
            approval_track=priced.approval.track,
            quoted_at=now,
            valid_until=priced.valid_until,
            document=doc,
        )
        if not await uow.repo.add_quote(stored):
            # a concurrent retry with the same key won the insert: answer with its quote
            earlier = await uow.repo.quote_by_key(req.bank_id, cmd.idempotency_key or "")
            if earlier is None:  # pragma: no cover - the conflicting row must exist
                raise Conflict("idempotency key collision")
            return _replay(earlier, digest), False
        uow.emit(
            LoanQuoted(
                quote_id=quote_id,
                bank_id=req.bank_id,
                credit_code=req.credit_code,
                product=req.product,
                amount_cny=req.amount,
                term_months=req.term_months,
                annual_rate_pct=priced.annual_rate_pct,
                base_rate_pct=priced.components.base_rate_pct,
                rating_adjustment_bp=priced.components.rating_adjustment_bp,
                approval_track=priced.approval.track,
                rating_id=stored.rating_id,
                label=rating.label if rating else None,
                quoted_at=now,
            )
        )
        await uow.commit()
        return doc, True


def _replay(earlier: StoredQuote, digest: str) -> Document:
    if earlier.request_hash != digest:
        raise Conflict("this Idempotency-Key was already used for a different quote request")
    return earlier.document


async def get_quote(bank_id: str, quote_id: str, uow: UnitOfWorkPort) -> dict[str, Any]:
    async with uow:
        q = await uow.repo.get_quote(bank_id, quote_id)
    if q is None:
        raise NotFound(f"quote {quote_id} not found", field="quote_id")
    return q.document
