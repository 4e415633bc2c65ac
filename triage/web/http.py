"""HTTP as the dashboard sees it: request and response types, security headers, and the one mapping from the
product's errors to HTTP statuses (used by the dashboard and the Function triggers alike)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from triage.domain.errors import (
    ConcurrencyError,
    ConfigError,
    GitHubError,
    InputError,
    NotFoundError,
    TriageError,
)
from triage.web.page import render_error

MAX_BODY = 16 * 1024


def status_for(error: BaseException) -> int:
    """The HTTP status of an error raised by the core: 400 bad input, 404 missing, 409 lost race,
    502 GitHub, 503 misconfiguration, 500 anything else."""
    if isinstance(error, ConfigError):
        return 503
    if isinstance(error, InputError):
        return 400
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConcurrencyError):
        return 409
    if isinstance(error, GitHubError):
        return 502
    return 500 if not isinstance(error, TriageError) else 500


@dataclass(frozen=True)
class WebRequest:
    """An HTTP request as the dashboard sees it; header names are case-insensitive."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    scheme: str = "http"
    client: str = ""  # the peer's address when the server knows it; "" behind App Service (see triage.web.throttle)

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", {k.lower(): v for k, v in self.headers.items()})
        object.__setattr__(self, "method", self.method.upper())

    def header(self, name: str) -> str | None:
        """A header's value, or None."""
        return self.headers.get(name.lower())

    def cookie(self, name: str) -> str | None:
        """A cookie's value from the ``Cookie`` header, or None."""
        for part in (self.header("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    def form(self) -> dict[str, str]:
        """The ``application/x-www-form-urlencoded`` body (first value of each field)."""
        if len(self.body) > MAX_BODY:
            raise InputError(f"the form is larger than {MAX_BODY} bytes")
        try:
            pairs = parse_qsl(self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"the form is not URL-encoded UTF-8 ({exc})") from None
        form: dict[str, str] = {}
        for key, value in pairs:
            form.setdefault(key, value)
        return form


@dataclass
class WebResponse:
    """An HTTP response: status, body and headers (one ``Set-Cookie`` at most)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8")


def security_headers(nonce: str) -> dict[str, str]:
    """Headers of every dashboard response: a strict CSP (styles by nonce, no script), no sniffing, no referrer."""
    csp = (f"default-src 'none'; img-src data:; style-src 'nonce-{nonce}'; form-action 'self'; "
           "frame-ancestors 'none'; base-uri 'none'")
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store", "X-Frame-Options": "DENY"}


def page_response(status: int, html_text: str, nonce: str, **extra: str) -> WebResponse:
    """An HTML page with the security headers."""
    headers = {"Content-Type": "text/html; charset=utf-8", **security_headers(nonce), **extra}
    return WebResponse(status, html_text.encode("utf-8"), headers)


def error_response(status: int, message: str, *, hint: str = "", link: tuple[str, str] | None = None) -> WebResponse:
    """A small HTML page explaining a refused or failed request."""
    nonce = secrets.token_urlsafe(16)
    return page_response(status, render_error(status, message, nonce, hint=hint, link=link), nonce)


def safe_location(location: str) -> bool:
    """True if ``location`` is a path on this site that no browser reads as another site: it starts with one
    ``/`` (not ``//`` or ``/\\``, which are scheme-relative, nor these percent-encoded) and holds no backslash,
    control character, space or non-ASCII character."""
    path = unquote(location.partition("?")[0].partition("#")[0])
    return (location.startswith("/") and location.isascii() and location.isprintable() and " " not in location
            and "\\" not in location and not path.startswith(("//", "/\\")) and path.isprintable() and "\\" not in path)


def redirect(location: str, **extra: str) -> WebResponse:
    """A 303 to ``location``, which must be a same-site path (see :func:`safe_location`)."""
    if not safe_location(location):
        raise ValueError(f"refusing to redirect to {location[:80]!r}: not a same-site path")
    nonce = secrets.token_urlsafe(16)
    return WebResponse(303, b"", {"Location": location, **security_headers(nonce), **extra})


def too_many_requests(seconds: int, message: str) -> WebResponse:
    """A 429 telling the client to wait ``seconds`` (``Retry-After``)."""
    response = error_response(429, message, hint=f"Try again in {seconds} second{'s' if seconds != 1 else ''}.")
    response.headers["Retry-After"] = str(seconds)
    return response


