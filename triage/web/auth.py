"""Who may use the maintainer dashboard, and proof that a form was posted by the dashboard itself.

Two modes, chosen with ``TRIAGE_DASHBOARD_AUTH``:

* ``token`` (default; local and embedded use): the maintainer opens ``/api/dashboard?token=…`` once
  (``TRIAGE_DASHBOARD_TOKEN``); the server answers with a signed session cookie (HMAC-SHA256 over the
  identity and the expiry) and a redirect that drops the token from the URL. Embedded (no
  ``TRIAGE_STORAGE``), an unset token is generated once and kept in ``{home}/dashboard-secrets.json``.
* ``easyauth`` (Azure): App Service Authentication with Entra ID signs the user in in front of the app
  and passes the identity in ``X-MS-CLIENT-PRINCIPAL-NAME`` / ``-ID`` (the platform removes copies a
  client sends). Only identities in ``TRIAGE_DASHBOARD_MAINTAINERS`` get in, and only while the
  platform reports the feature on (``WEBSITE_AUTH_ENABLED=True``).

Forms carry a synchronizer token: an HMAC of the identity and the session with
``TRIAGE_DASHBOARD_SECRET`` (token mode derives one from the token when it is unset).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from triage.app.settings import DASHBOARD_MODES, DashboardSettings
from triage.domain.errors import ConfigError

COOKIE = "triage_dashboard"
COOKIE_PATH = "/api/dashboard"
SESSION_SECONDS = 12 * 3600
TOKEN_IDENTITY = "token-holder"
SECRETS_FILE = "dashboard-secrets.json"


class Request(Protocol):
    """What authentication reads from a request (see :class:`triage.dashboard.WebRequest`)."""

    scheme: str

    def header(self, name: str) -> str | None:
        """A header's value, or None."""
        ...

    def cookie(self, name: str) -> str | None:
        """A cookie's value, or None."""
        ...


@dataclass(frozen=True)
class Session:
    """An authenticated maintainer: who, until when (epoch seconds), and a per-login id."""

    identity: str
    expires: int
    sid: str = ""


@dataclass(frozen=True)
class Denied:
    """Why a request is refused, as an HTTP status and a message for the page."""

    status: int
    message: str


class DashboardAuth:
    """Authentication of dashboard requests and the CSRF tokens of its forms."""

    def __init__(self, mode: str, *, token: str = "", secret: bytes = b"", maintainers: frozenset[str] = frozenset(),
                 disabled: str = "", session_seconds: int = SESSION_SECONDS) -> None:
        self.mode = mode
        self.token = token
        self._secret = secret
        self._maintainers = frozenset(m.strip().casefold() for m in maintainers if m.strip())
        self.disabled = disabled
        self.session_seconds = session_seconds

    @classmethod
    def from_settings(cls, settings: DashboardSettings, home: Path, *, embedded: bool) -> DashboardAuth:
        """The authentication the settings describe; a misconfiguration disables the dashboard with a reason."""
        mode = settings.auth or "token"
        if settings.unresolved:
            return cls(mode, disabled=f"dashboard disabled: {settings.unresolved[0]} is an unresolved Key Vault "
                                      "reference; check that the secret exists and the app's identity may read it")
        secret = settings.secret.encode()
        if mode not in DASHBOARD_MODES:
            return cls(mode, disabled=f"dashboard disabled: TRIAGE_DASHBOARD_AUTH={mode!r} is invalid; use token or easyauth")
        if mode == "easyauth":
            if not settings.platform_auth:
                # Without App Service Authentication in front, anyone could send the identity headers.
                return cls(mode, disabled="dashboard disabled: TRIAGE_DASHBOARD_AUTH=easyauth, but App Service "
                                          "Authentication is not enabled on this app (WEBSITE_AUTH_ENABLED is not "
                                          "True); enable it with Microsoft Entra ID")
            if len(secret) < 16:
                return cls(mode, disabled="dashboard disabled: TRIAGE_DASHBOARD_AUTH=easyauth needs TRIAGE_DASHBOARD_SECRET "
                                          "(at least 16 characters) to sign its forms")
            return cls(mode, secret=secret, maintainers=frozenset(settings.maintainers))
        token = settings.token
        if not token:
            if not embedded:
                return cls(mode, disabled="dashboard disabled: set TRIAGE_DASHBOARD_TOKEN or TRIAGE_DASHBOARD_AUTH=easyauth")
            try:
                token, generated = local_secrets(home)
            except ConfigError as exc:
                return cls(mode, disabled=f"dashboard disabled: {exc}")
            secret = secret or generated
        return cls(mode, token=token, secret=secret or _derive(token), maintainers=frozenset(settings.maintainers))

    # -- sessions ---------------------------------------------------------------------------------------------

    def login(self, offered: str, request: Request, path: str = COOKIE_PATH, now: float | None = None) -> str | None:
        """The ``Set-Cookie`` value of a new session (scoped to ``path``) if ``offered`` is the token (constant time)."""
        if self.mode != "token" or self.disabled or not self.token:
            return None
        if not hmac.compare_digest(offered.encode(), self.token.encode()):
            return None
        now = time.time() if now is None else now
        session = Session(TOKEN_IDENTITY, int(now) + self.session_seconds, secrets.token_urlsafe(12))
        payload = _b64(json.dumps({"sub": session.identity, "exp": session.expires, "sid": session.sid}).encode())
        value = f"{payload}.{self._mac('session', payload)}"
        secure = "; Secure" if request.scheme == "https" else ""
        return (f"{COOKIE}={value}; Path={path}; Max-Age={self.session_seconds}; HttpOnly; "
                f"SameSite=Strict{secure}")

    def session(self, request: Request, now: float | None = None) -> Session | Denied:
        """The maintainer making ``request``, or why the request is refused (401, 403 or 503)."""
        if self.disabled:
            return Denied(503, self.disabled)
        if self.mode == "easyauth":
            return self._easyauth(request, now)
        value = request.cookie(COOKIE)
        if not value:
            return Denied(401, "not signed in: open the login URL that `triage dashboard` prints "
                               "(/api/dashboard?token=<TRIAGE_DASHBOARD_TOKEN>)")
        session = self._verify_cookie(value, now)
        if session is None:
            return Denied(401, "the session is invalid or expired: open the login URL with the token again")
        return session

    def _easyauth(self, request: Request, now: float | None) -> Session | Denied:
        name = (request.header("X-MS-CLIENT-PRINCIPAL-NAME") or "").strip()
        oid = (request.header("X-MS-CLIENT-PRINCIPAL-ID") or "").strip()
        if not (name or oid):
            return Denied(401, "not signed in: this dashboard expects App Service Authentication (Entra ID) in front "
                               "of the app to sign maintainers in; enable it and require authentication")
        if not ({name.casefold(), oid.casefold()} - {""}) & self._maintainers:
            return Denied(403, f"{name or oid} is not a maintainer: add the name or object id to "
                               "TRIAGE_DASHBOARD_MAINTAINERS")
        now = time.time() if now is None else now
        # CSRF tokens are bound to the identity and a 12-hour window (there is no cookie of ours).
        window = int(now) // self.session_seconds
        return Session(name or oid, (window + 2) * self.session_seconds, oid)

    def _verify_cookie(self, value: str, now: float | None) -> Session | None:
        payload, _, mac = value.partition(".")
        if not payload or not hmac.compare_digest(mac.encode(), self._mac("session", payload).encode()):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(str(data["sub"]), int(data["exp"]), str(data["sid"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > (time.time() if now is None else now) else None

    # -- CSRF -------------------------------------------------------------------------------------------------

    def csrf_token(self, session: Session) -> str:
        """The synchronizer token that the session's forms carry."""
        return f"{session.expires}.{self._mac('csrf', session.identity, session.sid, str(session.expires))}"

    def check_post(self, session: Session, request: Request, offered: str, now: float | None = None) -> Denied | None:
        """None if a POST comes from this site with the session's CSRF token; else a 403."""
        site = (request.header("Sec-Fetch-Site") or "").lower()
        if site == "cross-site":
            return Denied(403, "refused: the form was posted from another site")
        origin = request.header("Origin")
        # Our pages send no referrer, so browsers post their forms with "Origin: null"; that is accepted only
        # where the browser vouches for the same origin (a sandboxed frame elsewhere is "cross-site").
        own_null = origin == "null" and site == "same-origin"
        if origin is not None and not own_null and not _same_origin(origin, request):
            return Denied(403, f"refused: the form was posted from another origin ({origin})")
        expires, _, _ = offered.partition(".")
        now = time.time() if now is None else now
        # The expiry travels in the token and is covered by its MAC: an easyauth page rendered in the previous
        # 12-hour window stays valid until then. ASCII digits only: str.isdigit() also accepts "²" or "٣".
        if not _epoch(expires) or int(expires) <= now or not hmac.compare_digest(
                offered.encode(), self.csrf_token(Session(session.identity, int(expires), session.sid)).encode()):
            return Denied(403, "refused: the form's CSRF token is missing, invalid or expired; reload the dashboard "
                               "and try again")
        return None

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._secret, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def local_secrets(home: Path) -> tuple[str, bytes]:
    """The embedded dashboard's token and secret, generated once into ``{home}/dashboard-secrets.json`` (0600).

    Raises :class:`ConfigError` naming the file when it cannot be made or does not hold a token and a secret.
    """
    path = home / SECRETS_FILE
    try:
        if not path.exists():
            _create_once(home, path)
        with open(path, "rb") as handle:
            raw = handle.read(4097)
        stored = json.loads(raw.decode("utf-8")) if len(raw) <= 4096 else None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read or created ({exc.strerror or exc}); point TRIAGE_HOME at a folder "
                          "this user may write to") from None
    except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deep
        stored = None
    token, secret = (stored.get("token"), stored.get("secret")) if isinstance(stored, dict) else (None, None)
    if not (isinstance(token, str) and isinstance(secret, str) and len(token) >= 16 and len(secret) >= 16
            and token.isascii() and token.isprintable() and secret.isascii()):
        raise ConfigError(f"{path} does not hold a dashboard token and secret; delete it and a new token is generated")
    return token, secret.encode()


def _create_once(home: Path, path: Path) -> None:
    """Write new secrets to ``path`` whole or not at all; if another process was first, keep theirs."""
    home.mkdir(parents=True, exist_ok=True)
    data = json.dumps({"token": secrets.token_urlsafe(24), "secret": secrets.token_hex(32)}).encode()
    draft = home / f".{SECRETS_FILE}.{secrets.token_hex(8)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(draft, path)  # atomic, and fails if the file exists: a reader never sees half a file
    except FileExistsError:
        pass  # another process wrote it first: use theirs
    finally:
        draft.unlink(missing_ok=True)


def _derive(token: str) -> bytes:
    return hmac.new(token.encode(), b"triage-dashboard-signing-key", hashlib.sha256).digest()


def _epoch(text: str) -> bool:
    return 0 < len(text) <= 12 and text.isascii() and text.isdigit()


DEFAULT_PORTS = {"http": "80", "https": "443"}


def _same_origin(origin: str, request: Request) -> bool:
    """Whether ``origin`` is this site: the request's scheme and its ``Host`` header, default ports aside.

    Only ``Host`` is trusted. On App Service the Functions host sets it from ``Disguised-Host``, the name the
    front end received the request for (AppServiceHeaderFixupMiddleware in github.com/Azure/azure-functions-host),
    before the worker sees the request. ``X-Forwarded-Host`` and ``X-Original-Host`` are set only by proxies
    such as Front Door or Application Gateway and otherwise pass through from the client unchanged, so they
    would let a client vouch for any origin it likes.
    """
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return False
    host = (request.header("Host") or "").strip().lower()
    if parts.scheme != request.scheme or not parts.hostname or not host or parts.username or parts.password:
        return False
    ours = (port and str(port)) or DEFAULT_PORTS.get(parts.scheme, "")
    name, _, given = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not name or not given.isdigit():  # no port in Host (or an IPv6 literal alone)
        name, given = host, DEFAULT_PORTS.get(parts.scheme, "")
    wanted = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return name == wanted and given.lstrip("0") == ours.lstrip("0")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
