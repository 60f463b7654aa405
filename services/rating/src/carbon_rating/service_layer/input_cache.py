"""Account months kept between consumer batches, so a batch reads in full only what changed.

During a replay, each consumer batch re-rates a few hundred enterprises, and each rating needs the
enterprise's last 24 account months, of which typically one changed since its previous rating.
Reading all 24 rows again (and building 24 ``AccountMonth``s from them) was a third of rating's
batch CPU. With the cache, a batch reads only ``(period, calculation_version)`` of every touched
enterprise's window, and the full row only of the months the cache does not hold at exactly that
version.

Why a cached month can never be stale:

- It is validated on every use against the stored version, read inside the batch's own
  transaction; a cached month is used only when its ``calculation_version`` equals the stored one.
- A stored version's figures never change: the upsert replaces a month only with a *higher*
  ``calculation_version`` (a restatement), so an equal version means equal figures — whoever
  wrote it (another replica, a redelivery, a batch after a rebalance).
- Rows read by a transaction enter the cache only after that transaction commits
  (``AccountReads.publish``), so a rolled-back batch leaves nothing behind.

The cache is per process and bounded (least recently rated enterprises are dropped first).
"""

from __future__ import annotations

from collections import OrderedDict

from carbon_rating.service_layer.ports import AccountRow, RatingRepository


class AccountCache:
    def __init__(self, max_enterprises: int = 20_000) -> None:
        self.max_enterprises = max_enterprises
        self._months: OrderedDict[str, dict[str, AccountRow]] = OrderedDict()
        #: months served from the cache / read in full (for benchmarks and tests)
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._months)

    def begin(self) -> AccountReads:
        """A reader for one transaction; ``publish()`` it after the commit."""
        return AccountReads(self)

    def clear(self) -> None:
        self._months.clear()

    def _store(self, code: str, months: dict[str, AccountRow]) -> None:
        self._months[code] = months
        self._months.move_to_end(code)
        while len(self._months) > self.max_enterprises:
            self._months.popitem(last=False)


class AccountReads:
    """The account months one transaction used; they enter the cache only on ``publish()``."""

    def __init__(self, cache: AccountCache) -> None:
        self.cache = cache
        self._used: dict[str, dict[str, AccountRow]] = {}

    async def load(
        self, repo: RatingRepository, codes: list[str], span: int
    ) -> tuple[dict[str, str], dict[str, list[AccountRow]]]:
        """(latest period, account rows of the ``span`` months ending there, oldest first) for each
        of ``codes`` that has accounts — what ``latest_account_periods`` + ``accounts_for`` give."""
        versions = await repo.account_versions(codes, span)
        cached = self.cache._months
        missing: list[tuple[str, str]] = []
        for code, periods in versions.items():
            have = cached.get(code, {})
            for period, version in periods.items():
                row = have.get(period)
                if row is None or row.month.calculation_version != version:
                    missing.append((code, period))
        fresh = {(r.credit_code, r.month.period): r for r in await repo.account_rows(sorted(missing))}
        self.cache.misses += len(fresh)
        latest: dict[str, str] = {}
        rows: dict[str, list[AccountRow]] = {}
        for code, periods in versions.items():
            if not periods:
                continue
            have = cached.get(code, {})
            used: dict[str, AccountRow] = {}
            for period in sorted(periods):
                row = fresh.get((code, period))
                if row is None:
                    row = have.get(period)
                    if row is None or row.month.calculation_version != periods[period]:
                        continue  # not readable any more (cannot happen: accounts are never deleted)
                    self.cache.hits += 1
                used[period] = row
            if used:
                latest[code] = max(periods)
                rows[code] = list(used.values())
                self._used[code] = used
        return latest, rows

    def publish(self) -> None:
        """After the transaction committed: keep what it read for the next batches."""
        for code, used in self._used.items():
            self.cache._store(code, used)
        self._used = {}
