"""Verified bearer tokens, remembered until they expire (ingest and lending use it).

A bank's core system or a department's sends the same token on every call until it renews it.
Verifying an EdDSA/RS256 signature and the claims costs more than pricing a quote (py-spy: ~6 %
of the quote path) or validating a 3-record submission, so a token that verified once is
remembered, by its exact text, until its ``exp``. Only
tokens that passed full verification are remembered, an invalid one is re-verified (and refused)
every time, and the memory is bounded. The trade-off, documented in docs/security.md terms: a
signing key withdrawn from the JWKS stops new tokens at once but not a token already seen,
which stays usable until its own expiry — as with any stateless bearer token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import jwt

from carbon_common.auth import Principal


class Verifier(Protocol):
    def verify(self, token: str) -> Principal: ...


class CachingVerifier:
    def __init__(
        self, inner: Verifier, max_entries: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.inner = inner
        self.max_entries = max_entries
        self.clock = clock
        self._cache: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        hit = self._cache.get(token)
        if hit is not None:
            if self.clock() < hit[1]:
                return hit[0]
            del self._cache[token]
        principal = self.inner.verify(token)  # raises (401) for anything invalid: never cached
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        exp = claims.get("exp")
        if isinstance(exp, int | float):
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[token] = (principal, float(exp))
        return principal


def cache_verified_tokens(state: Any) -> None:
    """Wrap the app's token verifier (when auth is on) in a :class:`CachingVerifier`."""
    verifier = getattr(state, "token_verifier", None)
    if verifier is not None and not isinstance(verifier, CachingVerifier):
        state.token_verifier = CachingVerifier(verifier)
