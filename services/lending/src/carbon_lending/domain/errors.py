"""Domain errors: each names the field and the reason so the HTTP layer can say it precisely."""

from __future__ import annotations


class LendingError(Exception):
    """Base: a request the domain refuses (maps to 4xx)."""

    status = 422
    slug = "lending-rule"

    def __init__(self, reason: str, *, field: str = "body") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class InvalidRequest(LendingError):
    """The request breaks a product or policy rule (422)."""

    slug = "invalid-quote-request"


class NotFound(LendingError):
    """Unknown (or another bank's) quote, loan or enterprise (404): no existence leak."""

    status = 404
    slug = "not-found"


class Conflict(LendingError):
    """State forbids the action: expired quote, no rating yet, idempotency key reuse (409)."""

    status = 409
    slug = "conflict"
