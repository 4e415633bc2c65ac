"""What comes back over the wire from GitHub: one answer, its JSON body, its Date header."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any


@dataclass(frozen=True)
class Response:
    """A GitHub answer: status, lower-cased headers, parsed JSON (None when empty), and whether it was redirected."""

    status: int
    headers: dict[str, str]
    data: Any
    redirected: bool = False

    @property
    def has_next(self) -> bool:
        """True if the ``Link`` header names a next page."""
        return bool(re.search(r'<[^>]+>;\s*rel="next"', self.headers.get("link", "")))


def iso_date(http_date: str | None) -> str | None:
    """An HTTP ``Date`` header as ``YYYY-MM-DDTHH:MM:SSZ``, or None if missing or unreadable."""
    if not http_date:
        return None
    try:
        return parsedate_to_datetime(http_date).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return None


def parse_json(text: str) -> Any:
    """A body as JSON: None when empty, ``{"message": …}`` when it is not JSON (a proxy's HTML error page)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {"message": text[:500]}
