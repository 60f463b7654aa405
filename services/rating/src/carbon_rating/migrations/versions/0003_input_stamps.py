"""account_stamps, fact_stamps: per enterprise (count, sum of versions) of its accounts and conduct
facts, kept by statement triggers on those tables (the input cache's check, one row per enterprise)

The input cache compares a (count, Σ calculation_version) stamp of every touched enterprise's
accounts, and a (count, Σ revision) stamp of its conduct facts, with what it holds. Aggregated from
the tables, those stamps cost 38 ms and 16 ms per batch at pilot scale (~19,000 account rows and
~35,000 fact rows of ~430 enterprises, scattered over the heap); kept as one row per enterprise
they are an index lookup. AFTER ... FOR EACH STATEMENT triggers with transition tables add what a
statement inserted, subtract what it deleted or replaced, whoever writes (the consumer's upserts,
another replica, a manual fix), in the writing transaction: the stamp commits with the rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (stamp table, source table, versioned column)
STAMPS = (("account_stamps", "accounts", "calculation_version"), ("fact_stamps", "conduct_facts", "revision"))


def _function(stamps: str, column: str) -> str:
    # one signed (count, sum) per enterprise and statement; rows merged in credit_code order, so two
    # writers of overlapping enterprises lock their stamp rows in the same order
    merge = f"""
        INSERT INTO {stamps} (credit_code, n, total)
        SELECT credit_code, sum(n), sum(total) FROM (%s) AS d(credit_code, n, total)
        GROUP BY credit_code ORDER BY credit_code
        ON CONFLICT (credit_code) DO UPDATE
        SET n = {stamps}.n + excluded.n, total = {stamps}.total + excluded.total"""
    added = f"SELECT credit_code, 1, {column}::bigint FROM new_rows"
    removed = f"SELECT credit_code, -1, -{column}::bigint FROM old_rows"
    return f"""
CREATE FUNCTION {stamps}_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {merge % added};
    ELSIF TG_OP = 'UPDATE' THEN
        {merge % (added + " UNION ALL " + removed)};
    ELSE
        {merge % removed};
    END IF;
    RETURN NULL;
END
$$"""


def upgrade() -> None:
    for stamps, table, column in STAMPS:
        op.create_table(
            stamps,
            sa.Column("credit_code", sa.String(length=18), nullable=False),
            sa.Column("n", sa.BigInteger(), nullable=False),
            sa.Column("total", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("credit_code", name=op.f(f"pk_{stamps}")),
        )
        op.execute(
            f"INSERT INTO {stamps} (credit_code, n, total) "
            f"SELECT credit_code, count(*), sum({column}) FROM {table} GROUP BY credit_code"
        )
        op.execute(_function(stamps, column))
        for event, refs in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            op.execute(
                f"CREATE TRIGGER {stamps}_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION {stamps}_apply()"
            )
        # TRUNCATE has no transition table: it empties the stamps too
        op.execute(
            f"CREATE FUNCTION {stamps}_clear() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN DELETE FROM {stamps}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {stamps}_truncate AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {stamps}_clear()"
        )


def downgrade() -> None:
    for stamps, table, _ in STAMPS:
        for event in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS {stamps}_{event} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {stamps}_apply()")
        op.execute(f"DROP FUNCTION IF EXISTS {stamps}_clear()")
        op.drop_table(stamps)
