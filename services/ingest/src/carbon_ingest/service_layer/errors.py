"""Errors the use cases raise; entrypoints map them to problem details or dead letters."""

from __future__ import annotations


class NotFoundError(LookupError):
    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} {key} not found")
        self.what = what
        self.key = key
