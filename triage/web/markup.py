"""The dashboard's small HTML helpers: escaping, numbers, times and tables (every value goes through :func:`e`)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any


def e(value: Any) -> str:
    """HTML-escaped text of any value (None becomes an em dash)."""
    return "—" if value is None else html.escape(str(value), quote=True)


def pct(value: float | None) -> str:
    """A share as a percentage with one decimal, or an em dash."""
    return "—" if value is None else f"{100 * float(value):.1f}%"


def num(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` decimals, or an em dash."""
    return "—" if value is None else f"{float(value):.{digits}f}"


def when(value: Any) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM UTC`` (anything else escaped as it is)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return e(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return f"<time datetime=\"{e(value)}\">{moment:%Y-%m-%d %H:%M} UTC</time>"


def table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: frozenset[int] = frozenset()) -> str:
    """An HTML table of already-escaped cells; columns in ``numeric`` are right-aligned."""
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class=\"n\">{c}</td>" if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
