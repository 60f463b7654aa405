"""Topic names: one per stream, versioned. Each consumer has its own ``<topic>.dlq``."""

from __future__ import annotations


class Topics:
    DEPT_SUBMISSIONS = "dept.submissions.v1"
    ENTERPRISES = "ingest.enterprises.v1"
    FACTS = "ingest.facts.v1"
    ACCOUNTS = "accounting.accounts.v1"
    RATINGS = "rating.ratings.v1"
    LOANS = "lending.loans.v1"

    ALL: tuple[str, ...] = (DEPT_SUBMISSIONS, ENTERPRISES, FACTS, ACCOUNTS, RATINGS, LOANS)

    @staticmethod
    def dlq(topic: str) -> str:
        return f"{topic}.dlq"

    @classmethod
    def all_with_dlq(cls) -> tuple[str, ...]:
        return cls.ALL + tuple(cls.dlq(t) for t in cls.ALL)
