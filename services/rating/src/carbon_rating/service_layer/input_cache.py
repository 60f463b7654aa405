"""Rating inputs kept between consumer batches, so a batch reads in full only what changed.

During a replay, each consumer batch re-rates a few hundred enterprises, and each rating needs the
enterprise's last 24 account months, of which typically one changed since its previous rating, and
its conduct facts, which usually did not change at all. Reading all of them again (and building
``AccountMonth``s and ``ConductFact``s from them) was about 40 % of rating's batch CPU. With the
cache, a batch reads a (count, sum of calculation versions) stamp of every touched enterprise's
account months and a (count, sum of revisions) stamp of its facts (one row per enterprise in
``account_stamps`` / ``fact_stamps``, kept by statement triggers on the tables, migration 0003, so
they hold for every writer); the stored versions of its
months are read only when the account stamp differs from what the cache plus the batch's own
writes predict (``InputReads.load``), and full rows only where the cache does not hold exactly the
stored state.

Why a cached input can never be stale:

- It is validated on every use against the database, read inside the batch's own transaction: a
  cached account month is used only when its ``calculation_version`` equals the stored one (known
  from the account stamp, or read), and cached facts only when the enterprise's fact stamp equals
  the stored one.
- Stored state only grows: an account month is replaced only by a *higher* calculation_version
  (a restatement), a fact only by a higher revision, and rows are never deleted. So an equal
  version means the same figures, and an equal (count, sum of revisions) over all of an
  enterprise's facts means the same facts (any change adds a row or raises a revision, and so
  raises the count or the sum) — whoever wrote them: another replica, a redelivery, a batch
  after a partition rebalance.
- The stamp (or versions) is read before the rows; a write committed in between makes the cached
  rows newer than their stamp, which only causes a reload next time.
- What a transaction read enters the cache only after that transaction commits
  (``InputReads.publish``), so a rolled-back batch leaves nothing behind.

The cache is per process and bounded (``RATING_INPUT_CACHE_ENTERPRISES``, ≈ 16 kB per enterprise
with 24 months and 20 facts; least recently rated enterprises are dropped first; 0 keeps nothing).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from carbon_rating.domain.inputs import ConductFact, RatingInputs
from carbon_rating.domain.methodology import Methodology
from carbon_rating.domain.periods import window
from carbon_rating.domain.rating import Conduct, conduct, window_facts
from carbon_rating.service_layer.ports import AccountRow, RatingRepository

FactStamp = tuple[int, int]
_NONE: dict[str, AccountRow] = {}


class InputCache:
    def __init__(self, max_enterprises: int = 5000) -> None:
        self.max_enterprises = max_enterprises
        self._months: OrderedDict[str, dict[str, AccountRow]] = OrderedDict()
        #: per enterprise: the calculation version of every stored period, oldest first
        self._versions: dict[str, dict[str, int]] = {}
        self._facts: OrderedDict[str, tuple[FactStamp, list[ConductFact]]] = OrderedDict()
        #: rows served from the cache / read in full (for benchmarks and tests)
        self.hits = 0
        self.misses = 0
        #: enterprises whose account versions were known from their stamp (not read)
        self.stamp_hits = 0
        #: per enterprise, the ``Conduct`` last computed and what it was computed from
        self._conduct: OrderedDict[str, tuple[list[ConductFact], bool, str, Methodology, Conduct]] = (
            OrderedDict()
        )
        #: ratings whose conduct part was reused / computed
        self.conduct_hits = 0
        self.conduct_misses = 0

    def __len__(self) -> int:
        return len(self._months)

    def begin(self) -> InputReads:
        """A reader for one transaction; ``publish()`` it after the commit."""
        return InputReads(self)

    def clear(self) -> None:
        self._months.clear()
        self._versions.clear()
        self._facts.clear()
        self._conduct.clear()

    def conduct(self, inputs: RatingInputs, m: Methodology) -> Conduct:
        """``rating.conduct(inputs, m)``, reused while nothing it depends on changed.

        ``conduct`` is a pure function of the facts in the rating window, the enterprise's ETS
        flag and declared stage, and the methodology. The facts are compared by identity: the
        fact objects are the cached ones as long as the enterprise's fact stamp is unchanged
        (``load_facts``), and any change reads them anew (new objects); the entry holds them, so
        an identity cannot be reused by another object. So the *same fact objects* in the window
        (or none, both times), the same flags and the same methodology object mean the same
        result — also when the window moved by a month without a fact entering or leaving it.
        Nothing here depends on the transaction committing: a memo of a pure function."""
        ent = inputs.enterprise
        code = ent.credit_code
        in_window = window_facts(inputs, m)
        entry = self._conduct.get(code)
        if entry is not None:
            old, ets, stage, old_m, known = entry
            if (
                len(old) == len(in_window)
                and all(a is b for a, b in zip(old, in_window, strict=True))
                and ets == ent.ets_participant
                and stage == ent.transition_stage
                and old_m is m
            ):
                self._conduct.move_to_end(code)
                self.conduct_hits += 1
                return known
        known = conduct(inputs, m, in_window)
        self.conduct_misses += 1
        self._conduct[code] = (in_window, ent.ets_participant, ent.transition_stage, m, known)
        self._conduct.move_to_end(code)
        while len(self._conduct) > self.max_enterprises:
            self._conduct.popitem(last=False)
        return known

    def _store(
        self, code: str, months: dict[str, AccountRow], versions: dict[str, int] | None = None
    ) -> None:
        self._months[code] = months
        self._months.move_to_end(code)
        if versions is None:
            self._versions.pop(code, None)
        else:
            self._versions[code] = versions
        while len(self._months) > self.max_enterprises:
            dropped, _ = self._months.popitem(last=False)
            self._versions.pop(dropped, None)

    def _store_facts(self, code: str, stamp: FactStamp, facts: list[ConductFact]) -> None:
        self._facts[code] = (stamp, facts)
        self._facts.move_to_end(code)
        while len(self._facts) > self.max_enterprises:
            self._facts.popitem(last=False)


class InputReads:
    """The inputs one transaction used; they enter the cache only on ``publish()``."""

    def __init__(self, cache: InputCache) -> None:
        self.cache = cache
        self._used: dict[str, tuple[dict[str, int], dict[str, AccountRow]]] = {}
        self._facts: dict[str, tuple[FactStamp, list[ConductFact]]] = {}
        self._written: dict[str, dict[str, AccountRow]] = {}

    def wrote(self, rows: Sequence[AccountRow]) -> None:
        """The account rows this transaction upserted: where the stored version equals one of them,
        it *is* that row (an equal version means the same figures), so ``load`` need not read it
        back. (Where another writer stored a higher version, the versions differ and it is read.)"""
        for r in rows:
            by_period = self._written.setdefault(r.credit_code, {})
            old = by_period.get(r.month.period)
            if old is None or r.month.calculation_version > old.month.calculation_version:
                by_period[r.month.period] = r

    async def load(
        self, repo: RatingRepository, codes: list[str], span: int
    ) -> tuple[dict[str, str], dict[str, list[AccountRow]]]:
        """(latest period, account rows of the ``span`` months ending there, oldest first) for each
        of ``codes`` that has accounts — what ``latest_account_periods`` + ``accounts_for`` give.

        The stored versions of every period of an enterprise are known without reading them when
        its (count, sum of calculation versions) stamp equals the stamp of what the cache holds
        merged with the rows this transaction wrote (``wrote``): stored versions only rise, so each
        stored version is ≥ the predicted one and every predicted period exists; equal count and
        sum then mean equal versions, period by period. Otherwise they are read (all periods)."""
        stamps = await repo.account_stamps(codes)
        cached_versions = self.cache._versions
        versions: dict[str, dict[str, int]] = {}
        unknown: list[str] = []
        for code, (count, total) in stamps.items():
            predicted = cached_versions.get(code)
            mine = self._written.get(code)
            if mine is not None:
                merged = dict(predicted) if predicted is not None else {}
                last = next(reversed(merged), None)  # periods stay oldest first while new ones
                in_order = True  # only ever come after the last (the usual case: a new month)
                for period, written in mine.items():
                    v = written.month.calculation_version
                    old = merged.get(period)
                    if old is None:
                        merged[period] = v
                        if last is None or period > last:
                            last = period
                        else:
                            in_order = False
                    elif old < v:
                        merged[period] = v
                predicted = merged if in_order else dict(sorted(merged.items()))
            if predicted is not None and len(predicted) == count and sum(predicted.values()) == total:
                versions[code] = predicted
                self.cache.stamp_hits += 1
            else:
                unknown.append(code)
        if unknown:
            versions.update(await repo.account_versions(unknown))  # per code: periods oldest first
        cached = self.cache._months
        missing: list[tuple[str, str]] = []
        hits = 0
        used_by_code: dict[str, dict[str, AccountRow | None]] = {}
        for code, every in versions.items():
            if not every:
                continue
            have = cached.get(code, _NONE)
            # the stored periods among the ``span`` months to the latest (periods are valid
            # ``YYYY-MM``: the same as ``period >= latest − (span − 1) months``), oldest first
            used: dict[str, AccountRow | None] = {}
            for period in window(next(reversed(every)), span):
                version = every.get(period)
                if version is not None:
                    row = have.get(period)
                    # None: read below (it keeps the period's place in the order)
                    used[period] = (
                        row if row is not None and row.month.calculation_version == version else None
                    )
            mine = self._written.get(code)
            if mine is not None:
                for period, row in mine.items():
                    if (
                        period in used
                        and used[period] is None
                        and every[period] == row.month.calculation_version
                    ):
                        used[period] = row
            stale = [(code, period) for period, row in used.items() if row is None]
            hits += len(used) - len(stale)
            missing += stale
            used_by_code[code] = used
        self.cache.hits += hits
        if missing:
            fresh = {(r.credit_code, r.month.period): r for r in await repo.account_rows(missing)}
            self.cache.misses += len(fresh)
            for code, period in missing:
                used = used_by_code[code]
                row = fresh.get((code, period))
                if row is None:
                    del used[period]  # not readable any more (cannot happen: accounts are never deleted)
                else:
                    used[period] = row
        latest: dict[str, str] = {}
        rows: dict[str, list[AccountRow]] = {}
        for code, maybe in used_by_code.items():
            if not maybe:
                continue
            complete: dict[str, AccountRow] = maybe  # type: ignore[assignment]  # every None replaced above
            latest[code] = next(reversed(versions[code]))
            rows[code] = list(complete.values())
            self._used[code] = (versions[code], complete)
        return latest, rows

    async def load_facts(self, repo: RatingRepository, codes: Sequence[str]) -> dict[str, list[ConductFact]]:
        """Every conduct fact of each of ``codes`` (ordered by period, fact key), from the cache
        where the enterprise's fact stamp is unchanged. The rating filters them to its window."""
        stamps = await repo.fact_stamps(codes)
        cached = self.cache._facts
        out: dict[str, list[ConductFact]] = {}
        stale: list[str] = []
        for code in codes:
            stamp = stamps.get(code, (0, 0))
            entry = cached.get(code)
            if entry is not None and entry[0] == stamp:
                out[code] = entry[1]
                self._facts[code] = entry
                self.cache.hits += len(entry[1])
            elif stamp == (0, 0):
                out[code] = []
                self._facts[code] = (stamp, [])
            else:
                stale.append(code)
        if stale:
            fresh = await repo.facts_for(stale, None)
            for code in stale:
                facts = fresh.get(code, [])
                out[code] = facts
                self._facts[code] = (stamps[code], facts)
                self.cache.misses += len(facts)
        return out

    def publish(self) -> None:
        """After the transaction committed: keep what it read for the next batches."""
        for code, (versions, used) in self._used.items():
            self.cache._store(code, used, versions)
        for code, (stamp, facts) in self._facts.items():
            self.cache._store_facts(code, stamp, facts)
        self._used = {}
        self._facts = {}
        self._written = {}
