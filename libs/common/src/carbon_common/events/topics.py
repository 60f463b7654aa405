"""Topic names: one per stream, versioned. Each consumer has its own ``<topic>.dlq``."""

from __future__ import annotations


class Topics:
    DEPT_SUBMISSIONS = "dept.submissions.v1"
    ENTERPRISES = "ingest.enterprises.v1"
    FACTS = "ingest.facts.v1"
    #: The subset of ``ingest.facts.v1`` that rating and lending read (same ``FactRecorded``
    #: events, same ids and keys): the families the catalogue puts on the credit stream
    #: (conduct, ETS, transition, finance). Consumers that need only these need not read every
    #: fact of the account families.
    CREDIT_FACTS = "ingest.credit-facts.v1"
    ACCOUNTS = "accounting.accounts.v1"
    RATINGS = "rating.ratings.v1"
    LOANS = "lending.loans.v1"

    ALL: tuple[str, ...] = (DEPT_SUBMISSIONS, ENTERPRISES, FACTS, CREDIT_FACTS, ACCOUNTS, RATINGS, LOANS)

    @staticmethod
    def dlq(topic: str) -> str:
        return f"{topic}.dlq"

    @classmethod
    def all_with_dlq(cls) -> tuple[str, ...]:
        return cls.ALL + tuple(cls.dlq(t) for t in cls.ALL)
