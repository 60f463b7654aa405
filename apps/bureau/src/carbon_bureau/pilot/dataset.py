"""The generated dataset and its file form (deterministic bytes: sorted keys, stable order).

Files: ``enterprises.jsonl`` (one ``POST /v1/enterprises`` body per line),
``submissions/<department>.jsonl`` (one record per line, in stream order, each tagged with its
``department``, global ``batch`` number and arrival ``slot`` so a replay can restore the exact
stream) and ``expectations.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

_STREAM_TAGS = ("department", "batch", "slot")


@dataclass(frozen=True, slots=True)
class PilotDataset:
    """Enterprises, submission batches in stream order, and what a correct platform must compute.

    ``submissions[i]`` is ``{"department", "records"}`` (the ``POST /v1/submissions`` body) and
    ``slots[i]`` its arrival slot (0 = first month of the window): a replay that sends slot by
    slot never lets a correction or duplicate overtake the record it refers to.
    """

    params: dict[str, Any]
    enterprises: list[dict[str, Any]]
    submissions: list[dict[str, Any]]
    slots: list[int]
    expectations: dict[str, Any]

    @property
    def record_count(self) -> int:
        return sum(len(b["records"]) for b in self.submissions)

    @property
    def departments(self) -> list[str]:
        return sorted({b["department"] for b in self.submissions})

    def waves(self) -> Iterator[list[dict[str, Any]]]:
        """Batches grouped by arrival slot, in stream order."""
        wave: list[dict[str, Any]] = []
        current: int | None = None
        for slot, batch in zip(self.slots, self.submissions, strict=True):
            if current is not None and slot != current and wave:
                yield wave
                wave = []
            current = slot
            wave.append(batch)
        if wave:
            yield wave

    def files(self) -> Iterator[tuple[str, bytes]]:
        """(relative path, bytes) of every output file, in a stable order."""
        yield (
            "enterprises.jsonl",
            b"".join(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) + b"\n" for e in self.enterprises),
        )
        lines: dict[str, list[bytes]] = {}
        for n, (slot, batch) in enumerate(zip(self.slots, self.submissions, strict=True)):
            dept = batch["department"]
            out = lines.setdefault(dept, [])
            for rec in batch["records"]:
                row = {**rec, "department": dept, "batch": n, "slot": slot}
                out.append(orjson.dumps(row, option=orjson.OPT_SORT_KEYS) + b"\n")
        for dept in sorted(lines):
            yield f"submissions/{dept}.jsonl", b"".join(lines[dept])
        meta = {"params": self.params, **self.expectations}
        yield "expectations.json", orjson.dumps(meta, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)

    def write(self, out: Path, on_file: Callable[[str], None] | None = None) -> list[Path]:
        """Write every file under ``out``; ``on_file`` is called after each (for a progress bar)."""
        written = []
        for rel, data in self.files():
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written.append(path)
            if on_file is not None:
                on_file(rel)
        return written

    @classmethod
    def load(cls, directory: Path) -> PilotDataset:
        """Read a dataset written by :meth:`write` back, stream order included."""
        enterprises = [
            orjson.loads(line) for line in (directory / "enterprises.jsonl").read_bytes().splitlines()
        ]
        batches: dict[int, tuple[int, str, list[dict[str, Any]]]] = {}
        for path in sorted((directory / "submissions").glob("*.jsonl")):
            for line in path.read_bytes().splitlines():
                row = orjson.loads(line)
                dept, n, slot = (row.pop(k) for k in _STREAM_TAGS)
                batches.setdefault(n, (slot, dept, []))[2].append(row)
        meta = orjson.loads((directory / "expectations.json").read_bytes())
        params = meta.pop("params")
        ordered = [batches[n] for n in sorted(batches)]
        return cls(
            params=params,
            enterprises=enterprises,
            submissions=[{"department": d, "records": r} for _, d, r in ordered],
            slots=[s for s, _, _ in ordered],
            expectations=meta,
        )
