"""A request as the handlers see it, their replies, and list paging as GitHub does it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from tests.github.access import Actor
from tests.github.objects import DOCS, parse_iso
from tests.github.repository import Invalid

if TYPE_CHECKING:
    from tests.github.repository import Repository

DEFAULT_PER_PAGE, MAX_PER_PAGE = 30, 100


@dataclass
class Reply:
    """An answer: status, JSON body (None for none) and extra headers."""
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    """One routed request: ``tail`` is the path after ``/repos/{o}/{r}`` or ``/repositories/{id}``."""

    method: str
    path: str
    query: dict[str, str]
    pairs: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any
    base: str
    params: dict[str, str] = field(default_factory=dict)
    actor: Actor | None = None
    repo: Repository | None = None
    tail: str = ""


class HTTPError(Exception):
    """Answer ``status`` with GitHub's error body (``message``, ``documentation_url``, ``status``)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.headers, self.extra = status, message, dict(headers or {}), extra

    def reply(self) -> Reply:
        """The answer to send."""
        return error(self.status, self.message, self.headers, **self.extra)


def error(status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any) -> Reply:
    """GitHub's error body: ``message``, ``documentation_url`` and ``status`` (a string)."""
    return Reply(status, {"message": message, "documentation_url": DOCS, "status": str(status), **extra},
                 dict(headers or {}))


def validation_failed(problem: Invalid) -> Reply:
    """422 with a ``validation-error`` body naming the resource and field."""
    item = {"resource": problem.resource, "code": problem.code, "message": problem.message}
    if problem.field:
        item["field"] = problem.field
    return error(422, "Validation Failed", errors=[item])


def choice(query: Mapping[str, str], name: str, allowed: Sequence[str], default: str) -> str:
    """A query parameter that must be one of ``allowed`` (422 otherwise)."""
    value = query.get(name, default)
    if value not in allowed:
        raise Invalid(f"{name} must be one of {', '.join(allowed)}, not {value!r}", name)
    return value


def since(query: Mapping[str, str]) -> float | None:
    """The ``since`` parameter as epoch seconds (422 if it is not an ISO 8601 time)."""
    if not query.get("since"):
        return None
    try:
        return parse_iso(query["since"])
    except ValueError:
        raise Invalid(f"since must be an ISO 8601 time (YYYY-MM-DDTHH:MM:SSZ), not {query['since']!r:.80}",
                      "since") from None


def _number(query: Mapping[str, str], name: str, default: int) -> int:
    """GitHub ignores a page or per_page that is not a positive integer."""
    text = query.get(name, "")
    if not (text.isascii() and text.isdigit()) or len(text) > 12 or int(text) < 1:
        return default
    return int(text)


def paginate(ctx: Ctx, items: Sequence[Any], render: Callable[[Any], Any]) -> Reply:
    """One page of ``items`` (``page``, ``per_page`` up to 100) with GitHub's ``Link`` header.

    Links of repository lists point at ``/repositories/{id}/...``, as GitHub's do.
    """
    per_page = min(MAX_PER_PAGE, _number(ctx.query, "per_page", DEFAULT_PER_PAGE))
    page = _number(ctx.query, "page", 1)
    last = max(1, math.ceil(len(items) / per_page))
    body = [render(item) for item in items[(page - 1) * per_page: page * per_page]]
    path = f"/repositories/{ctx.repo.id}{ctx.tail}" if ctx.repo is not None else ctx.path

    def link(target: int, rel: str) -> str:
        """One part of the ``Link`` header."""
        pairs = [(k, v) for k, v in ctx.pairs if k != "page"] + [("page", str(target))]
        return f'<{ctx.base}{path}?{urlencode(pairs)}>; rel="{rel}"'

    links = []
    if page > 1:
        links.append(link(min(page - 1, last), "prev"))
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links.append(link(1, "first"))
    return Reply(200, body, {"Link": ", ".join(links)} if links else {})
