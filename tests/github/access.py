"""Who a request is (token, installation token, App JWT or nobody) and the rate-limit buckets."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from tests.github.objects import user_object

ANONYMOUS_LIMIT_MESSAGE = ("API rate limit exceeded for {ip}. (But here's the good news: Authenticated requests get "
                           "a higher rate limit. Check out the documentation for more details.)")


@dataclass
class Actor:
    """The caller: ``kind`` is ``token`` (a personal token), ``installation`` or ``anonymous``."""

    login: str
    type: str  # "User" | "Bot"
    kind: str
    ident: int

    @property
    def anonymous(self) -> bool:
        """True for a caller without credentials."""
        return self.kind == "anonymous"

    def as_user(self) -> dict[str, Any]:
        """The caller as a ``simple-user``."""
        return user_object(self.login, self.type)


ANONYMOUS = Actor("", "User", "anonymous", 0)


class RateBucket:
    """One rate-limit window: ``limit`` requests per ``window`` seconds, starting at the first request."""

    def __init__(self, limit: int, window: int, resource: str = "core") -> None:
        self.limit, self.window, self.resource = limit, window, resource
        self.remaining = limit
        self.reset_at: int | None = None

    def refill_if_due(self, now: float) -> None:
        """Start a new window if none is running or the last one ended."""
        if self.reset_at is None or now >= self.reset_at:
            self.remaining = self.limit
            self.reset_at = int(now) + self.window

    def take(self) -> None:
        """Count one request."""
        self.remaining = max(0, self.remaining - 1)

    def snapshot(self) -> dict[str, int]:
        """``limit``, ``remaining``, ``reset`` and ``used``."""
        return {"limit": self.limit, "remaining": self.remaining, "reset": int(self.reset_at or 0),
                "used": self.limit - self.remaining}

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers of the bucket."""
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(int(self.reset_at or 0)), "X-RateLimit-Used": str(self.limit - self.remaining),
                "X-RateLimit-Resource": self.resource}


def credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(scheme, token) of an ``Authorization`` header, None when there is none at all."""
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return scheme.lower(), token.strip()


def jwt_problem(headers: Mapping[str, str], public_key: Any, app_id: int | str | None, now: float) -> str | None:
    """None if the request carries a valid App JWT (RS256, ``iss`` = app id, ``exp`` within 10 minutes), else
    the message GitHub answers with 401."""
    undecodable = "A JSON web token could not be decoded"
    found = credentials(headers)
    if found is None or found[0] != "bearer" or not found[1] or public_key is None or app_id is None:
        return undecodable
    try:
        claims = jwt.decode(found[1], public_key, algorithms=["RS256"],
                            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                     "require": ["iat", "exp", "iss"]})
        exp, iat = float(claims["exp"]), float(claims["iat"])
    except (jwt.PyJWTError, TypeError, ValueError, OverflowError):
        return undecodable
    if exp <= now:
        return ("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the "
                "assertion expires")
    if exp > now + 660:
        return "'Expiration time' claim ('exp') is too far in the future"
    if iat > now + 60:
        return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
    if str(claims["iss"]) != str(app_id):
        return undecodable
    return None


class AccessAPI:
    """Tokens, installation tokens and rate-limit buckets; mixed into :class:`tests.github.server.GitHubServer`."""

    _lock: threading.RLock
    _tokens: dict[str, Actor]
    _installation_tokens: dict[str, float]
    _tokens_issued: int
    _core: RateBucket
    _anonymous: RateBucket
    bot_login: str
    installation_id: int
    token_ttl_seconds: float
    clock: Callable[[], float]

    def add_token(self, token: str, login: str, actor_type: str = "User") -> None:
        """Accept another personal token, acting as ``login``."""
        with self._lock:
            self._tokens[token] = Actor(login, actor_type, "token", user_object(login, actor_type)["id"])

    def revoke_installation_tokens(self) -> None:
        """Forget every installation token (callers then get 401)."""
        with self._lock:
            self._installation_tokens.clear()

    @property
    def tokens_issued(self) -> int:
        """How many installation tokens were issued."""
        return self._tokens_issued

    @property
    def installation_tokens(self) -> dict[str, float]:
        """Issued installation tokens -> expiry (``clock()`` seconds)."""
        with self._lock:
            return dict(self._installation_tokens)

    def issue_installation_token(self) -> tuple[str, float]:
        """A new installation token and its expiry (``clock()`` seconds)."""
        self._tokens_issued += 1
        seed = f"{id(self)}:{self.installation_id}:{self._tokens_issued}".encode()
        token = "ghs_" + hashlib.sha1(seed).hexdigest()[:36]
        expires = self.clock() + self.token_ttl_seconds
        self._installation_tokens[token] = expires
        return token, expires

    def set_rate_limit(self, *, limit: int | None = None, remaining: int | None = None,
                       reset_at: float | None = None, window: int | None = None) -> None:
        """Change the authenticated bucket (e.g. ``remaining=0, reset_at=clock()+60`` to exhaust it)."""
        with self._lock:
            bucket = self._core
            bucket.refill_if_due(self.clock())
            if limit is not None:
                bucket.limit, bucket.remaining = limit, min(bucket.remaining, limit)
            if window is not None:
                bucket.window = window
            if remaining is not None:
                bucket.remaining = remaining
            if reset_at is not None:
                bucket.reset_at = int(reset_at)

    @property
    def rate_limit(self) -> dict[str, int]:
        """``{"limit", "remaining", "reset", "used"}`` of the authenticated bucket, as the headers would say now."""
        with self._lock:
            self._core.refill_if_due(self.clock())
            return self._core.snapshot()

    def bucket_of(self, actor: Actor | None) -> RateBucket:
        """The rate-limit bucket of a caller: anonymous or authenticated."""
        return self._anonymous if actor is not None and actor.anonymous else self._core

    def _identify(self, found: tuple[str, str]) -> Actor | None:
        scheme, token = found
        if scheme not in ("token", "bearer") or not token:
            return None
        if token in self._tokens:
            return self._tokens[token]
        expiry = self._installation_tokens.get(token)
        if expiry is not None and self.clock() < expiry:
            return Actor(self.bot_login, "Bot", "installation", self.installation_id)
        return None
