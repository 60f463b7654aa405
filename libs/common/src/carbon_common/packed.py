"""Bulk statement parameters as delimited text: one ``text`` per column, split by PostgreSQL.

The hot statements take a whole batch as column arrays (``unnest($1::text[], $2::text[], ...)``).
asyncpg encodes an array parameter element by element, and for every element asks two
``collections.abc`` ``isinstance`` questions through the Python-level ``ABCMeta.__instancecheck__``
(to tell a nested array from a scalar): ~0.22 µs of the client's CPU per element on the bench
machine, ~40 elements per accepted fact in ingest alone. A column joined into one string is one C
call (~0.03 µs per element), and ``string_to_array`` splits it on the server no slower than the
binary array is received (measured: 12 columns × 5,000 elements, 15.5 ms per statement as arrays,
4.3 ms packed; docs/performance-notes.md, eighth pass).

The separator is a parameter of the statement, chosen per call among a few control characters as
one that occurs in no value of any column (:func:`pack`), so every string can travel, whatever it
holds. ``string_to_array`` gives an empty array for an empty text, so a column of one empty string
cannot be told from an empty column: :func:`pack` refuses it rather than lose the element.

In SQL::

    unnest(string_to_array($2::text, $1::text), string_to_array($3::text, $1::text)::int[])

Non-text columns travel as their text input form, cast after the split (``::int[]``, ``::bool[]``,
``::numeric[]``, ``::timestamptz[]``, ``::json[]``); see :func:`texts` and :func:`unique_texts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: candidate separators, in order of preference: control characters, which identifiers, decimals,
#: hashes, ISO times and JSON text (control characters are escaped in JSON strings) never contain
SEPARATORS = ("\x1f", "\x1e", "\x1d", "\x1c", "\x1b", "\x1a", "\x19", "\x18")


def pack(*columns: Sequence[str] | Sequence[bytes]) -> tuple[str, ...]:
    """``(separator, column 1 joined, column 2 joined, ...)``: one separator that no value of any
    column contains. A column of ``bytes`` (UTF-8 text, such as encoded JSON events) is joined as
    bytes and decoded once; the statement turns its elements back into ``bytea`` with
    ``convert_to(..., 'UTF8')``. Raises ``ValueError`` when every candidate occurs in the values
    (no silent corruption), for a column of exactly one empty value (see the module's note) and
    for bytes that are not UTF-8."""
    for column in columns:
        if len(column) == 1 and not column[0]:
            raise ValueError("a column of one empty value cannot be packed")
    for sep in SEPARATORS:
        out: list[str] = [sep]
        for column in columns:
            if column and isinstance(column[0], bytes):
                raw = sep.encode().join(column)  # type: ignore[arg-type]
                joined = raw.decode()
            else:
                joined = sep.join(column)  # type: ignore[arg-type]
            # each value holds the separator zero times exactly when the count is len - 1
            if joined.count(sep) != max(len(column) - 1, 0):
                break
            out.append(joined)
        else:
            return tuple(out)
    raise ValueError(f"every separator candidate occurs in the values: {SEPARATORS!r}")


def texts(values: Iterable[object]) -> list[str]:
    """Each value's text input form (``str``): for int, bool (``True``/``False``, which
    PostgreSQL's boolean input reads), Decimal columns."""
    return list(map(str, values))


def unique_texts(values: Sequence[object]) -> list[str]:
    """``texts`` for a column with few distinct values (a batch's timestamps): each distinct value
    converted once."""
    spelled = {v: str(v) for v in set(values)}
    return list(map(spelled.__getitem__, values))
