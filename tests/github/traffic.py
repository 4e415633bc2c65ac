"""Injected faults and the request log: the traffic side of the GitHub test server."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

from tests.github.access import RateBucket
from tests.github.faults import SECONDARY_MESSAGE, Fault, Injected, RequestRecord
from tests.github.replies import Reply, error

_REASONS = {400: "Bad Request", 401: "Bad credentials", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
            422: "Validation Failed", 500: "Internal Server Error", 502: "Server Error",
            503: "Service Unavailable", 504: "Gateway Timeout"}


class TrafficAPI:
    """Faults to inject and the log of requests; mixed into :class:`tests.github.server.GitHubServer`."""

    _lock: threading.RLock
    _faults: list[Injected]
    _log: list[RequestRecord]
    clock: Callable[[], float]

    def inject(self, method: str, path_regex: str, fault: Fault | int, times: int | None = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests (None: until cleared) matching
        ``method`` (``"*"`` = any) and ``re.search(path_regex, path)``; an int is ``Fault.status(int)``."""
        if isinstance(fault, int):
            fault = Fault.status(fault)
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        with self._lock:
            self._faults.append(Injected(method.upper(), re.compile(path_regex), fault, times))

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> list[tuple[str, str, Fault, int | None]]:
        """Queued faults: (method, path regex, fault, remaining)."""
        with self._lock:
            return [(f.method, f.pattern.pattern, f.fault, f.remaining) for f in self._faults]

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def count(self, method: str | None = None, path_regex: str | None = None, status: int | None = None) -> int:
        """How many logged requests match (``re.search`` on the path; None matches anything)."""
        return len(self.find(method, path_regex, status))

    def find(self, method: str | None = None, path_regex: str | None = None,
             status: int | None = None) -> list[RequestRecord]:
        """Logged requests that match (``re.search`` on the path; None matches anything)."""
        pattern = re.compile(path_regex) if path_regex is not None else None
        return [r for r in self.requests
                if (method is None or r.method == method.upper())
                and (pattern is None or pattern.search(r.path))
                and (status is None or r.status == status)]

    def reset_log(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._log.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for index, item in enumerate(self._faults):
                if item.method in ("*", method) and item.pattern.search(path):
                    if item.remaining is not None:
                        item.remaining -= 1
                        if item.remaining <= 0:
                            del self._faults[index]
                    return item.fault
        return None

    def _fault_reply(self, fault: Fault, bucket: RateBucket) -> Reply:
        if fault.kind == "secondary_limit":
            return error(fault.code or 403, SECONDARY_MESSAGE, {"Retry-After": _num(fault.retry_after or 0)})
        if fault.kind == "primary_limit":
            reset = int(self.clock() + (fault.reset_in or 0))
            return error(403, "API rate limit exceeded for user ID 1.",
                         {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset),
                          "X-RateLimit-Used": str(bucket.limit)})
        code = fault.code or 500
        if fault.body is not None:
            return Reply(code, fault.body, dict(fault.headers or {}))
        return error(code, _REASONS.get(code, "Error"), fault.headers)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
