"""Throttling of dashboard sign-in attempts: wrong tokens cost time, per client address and for everyone together.

Per client address, the first :data:`FREE_FAILURES` wrong tokens are free; after that each wrong token locks
the address out for twice as long as the one before (1 s, 2 s, 4 s … at most :data:`MAX_LOCKOUT` seconds), and a
right token clears its record. Across all addresses, wrong tokens draw from one token bucket
(:data:`GLOBAL_BURST` at once, refilled at :data:`GLOBAL_PER_MINUTE` a minute), so that guesses spread over
many addresses are slowed down as well. While either says wait, a sign-in is answered 429 with
``Retry-After`` before the token is even compared, so a locked-out guess tells nothing.

The state lives in the process (a Function app instance or ``triage dashboard``); each instance throttles its
own share. The number of addresses remembered is bounded, so that made-up addresses cannot exhaust memory.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

FREE_FAILURES = 5
BASE_LOCKOUT = 1.0
MAX_LOCKOUT = 15 * 60.0
GLOBAL_BURST = 30
GLOBAL_PER_MINUTE = 30.0
MAX_CLIENTS = 10_000


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0


class LoginThrottle:
    """Exponential backoff per client address and a global token bucket of wrong sign-ins (thread-safe)."""

    def __init__(self, *, free_failures: int = FREE_FAILURES, base_lockout: float = BASE_LOCKOUT,
                 max_lockout: float = MAX_LOCKOUT, burst: int = GLOBAL_BURST, per_minute: float = GLOBAL_PER_MINUTE,
                 max_clients: int = MAX_CLIENTS) -> None:
        self.free_failures = free_failures
        self.base_lockout = base_lockout
        self.max_lockout = max_lockout
        self.burst = float(burst)
        self.per_second = per_minute / 60.0
        self.max_clients = max_clients
        self._clients: OrderedDict[str, _Record] = OrderedDict()
        self._tokens = float(burst)
        self._refilled_at: float | None = None
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float | None = None) -> int:
        """Whole seconds ``client`` must wait before its next sign-in attempt (0: it may try now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._refill(now)
            record = self._clients.get(client)
            wait = record.locked_until - now if record else 0.0
            if self._tokens < 1.0:
                wait = max(wait, (1.0 - self._tokens) / self.per_second if self.per_second > 0 else self.max_lockout)
            return max(0, math.ceil(wait))

    def failed(self, client: str, now: float | None = None) -> int:
        """Count a wrong token from ``client``; return the seconds it must now wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._refill(now)
            self._tokens = max(0.0, self._tokens - 1.0)
            record = self._clients.pop(client, None) or _Record()
            record.failures += 1
            beyond = record.failures - self.free_failures
            if beyond > 0:
                record.locked_until = now + min(self.max_lockout, self.base_lockout * 2.0 ** min(beyond - 1, 60))
            self._clients[client] = record  # most recently failed last
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
        return self.retry_after(client, now)

    def succeeded(self, client: str) -> None:
        """A right token from ``client``: forget its failures."""
        with self._lock:
            self._clients.pop(client, None)

    def reset(self) -> None:
        """Forget every failure (a fresh process's state)."""
        with self._lock:
            self._clients.clear()
            self._tokens, self._refilled_at = self.burst, None

    def _refill(self, now: float) -> None:
        if self._refilled_at is not None and now > self._refilled_at:
            self._tokens = min(self.burst, self._tokens + (now - self._refilled_at) * self.per_second)
        if self._refilled_at is None or now > self._refilled_at:
            self._refilled_at = now


#: The process's throttle of token sign-ins (the dashboard's handlers use it unless given another).
LOGIN_THROTTLE = LoginThrottle()


def client_address(peer: str, platform_client_ip: str | None) -> str:
    """The address to throttle: the socket's peer when the server knows it (``triage dashboard``), else the
    ``Client-IP`` header of App Service's front end, without its port.

    App Service's front end adds ``Client-IP`` while routing and overwrites any copy a client sends, so it
    cannot be spoofed (github.com/Azure/app-service-linux-docs, Things_You_Should_Know/headers.md);
    ``X-Forwarded-For`` is not used because its first entries come from the client.
    """
    if peer:
        return peer
    text = (platform_client_ip or "").strip()
    if text.startswith("["):  # [v6]:port
        return text[1:].partition("]")[0] or "unknown"
    if text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    return text[:64] or "unknown"
