"""Injected faults and the request log of the GitHub test server."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

SECONDARY_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                     "If you reach out to GitHub Support for help, please include the request ID 0000:TEST.")


@dataclass(frozen=True)
class Fault:
    """One injected fault; build it with the class methods (``Fault.status(503)``, ``Fault.drop()``...)."""

    kind: str  # "status" | "secondary_limit" | "primary_limit" | "drop" | "slow" | "truncate"
    code: int | None = None
    body: Any = None
    headers: Mapping[str, str] | None = None
    retry_after: float | None = None
    reset_in: float | None = None
    seconds: float = 0.0

    @classmethod
    def status(cls, code: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Fault:
        """Answer ``code`` with ``body`` (default ``{"message": <reason>}``) and extra ``headers``."""
        return cls("status", code=code, body=body, headers=dict(headers or {}))

    @classmethod
    def secondary_limit(cls, retry_after: float = 1, status: int = 403) -> Fault:
        """403 (or 429) with ``Retry-After`` and GitHub's secondary-rate-limit message."""
        return cls("secondary_limit", code=status, retry_after=retry_after)

    @classmethod
    def primary_limit(cls, reset_in: float = 60) -> Fault:
        """403 ``API rate limit exceeded``, ``X-RateLimit-Remaining: 0``, reset = clock() + reset_in."""
        return cls("primary_limit", code=403, reset_in=reset_in)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without any answer (the client sees a connection error)."""
        return cls("drop")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Sleep ``seconds``, then answer normally."""
        return cls("slow", seconds=seconds)

    @classmethod
    def truncate(cls) -> Fault:
        """Serve normally but send only half the body announced by Content-Length, then close."""
        return cls("truncate")


@dataclass
class Injected:
    """A queued fault and how many more requests it applies to."""

    method: str
    pattern: re.Pattern[str]
    fault: Fault
    remaining: int | None  # None = until cleared


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it.  Unpacks as ``(method, path, query, status, headers)``.

    ``path`` has no query; ``query`` maps names to their last value; ``status`` is None for a
    dropped connection; ``headers`` have lower-case names; ``body`` is the parsed JSON (or text);
    ``fault`` is the kind of the injected fault that applied, if any; ``at`` is ``clock()``.
    """

    method: str
    path: str
    query: dict[str, str]
    status: int | None
    headers: dict[str, str]
    body: Any = None
    fault: str | None = None
    at: float = 0.0

    def __iter__(self) -> Iterator[Any]:
        return iter((self.method, self.path, self.query, self.status, self.headers))
