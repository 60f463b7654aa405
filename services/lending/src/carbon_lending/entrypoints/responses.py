"""A JSON response rendered with orjson (the documents are plain dicts of strings and ints)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response


class FastJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
