"""A small in-memory GitHub REST API server for tests (test infrastructure, not product code).

Tests talk to it on loopback exactly as to GitHub Enterprise Server, for example through PyGithub::

    fixture = build_fixture()                        # the bundled dotnet/corefx issues as REST objects
    with GitHubServer(fixture) as server:            # binds 127.0.0.1 on a free port
        gh = Github(auth=Auth.Token("test-token"), base_url=server.url, retry=None)
        gh.get_repo("dotnet/corefx").get_issues(state="all")
        gh.requester.requestJson("GET", "/repos/dotnet/corefx/issues", {"per_page": 100})

Fixture (:func:`build_fixture`)
    The bundled issues ordered by number, with deterministic (``seed``) extra fields: ``created_at``
    one hour apart from 2018-01-01T00:00:00Z, ``updated_at`` 25 to 55 minutes after ``created_at``
    (so ``updated_at`` is unique and strictly increasing with the number too), ~30 % closed,
    ~5 % pull requests, 0-3 stub comments, one ``labeled`` event per label by a human maintainer
    (2, 3, ... minutes after ``created_at``).  There are no other kinds of fixture events.

State and time
    The server deep-copies the fixture; everything changes in memory under one lock.  Mutations
    (through the API or the mutators) are stamped by a mutation clock that is independent of
    :attr:`GitHubServer.clock`: it starts one hour after the newest fixture timestamp and moves one
    minute per mutation, so every mutation has a unique ``updated_at`` after all fixture timestamps.
    Events created by one mutation (e.g. one POST of two labels) share its timestamp.
    :attr:`GitHubServer.clock` (epoch seconds, default :func:`time.time`) drives the rate-limit
    window and installation-token expiry; :attr:`GitHubServer.jwt_clock` (default :func:`time.time`)
    checks app JWTs, which PyGithub signs with the real time.

Auth
    ``Authorization: token X`` or ``Bearer X`` with a personal token (``token``, login ``token_login``,
    more with :meth:`GitHubServer.add_token`) or a non-expired installation token; otherwise 401
    ``{"message": "Bad credentials"}``.  ``/app/...`` and ``GET /repos/{o}/{r}/installation`` need
    ``Bearer <JWT>`` signed RS256 by the app's key with ``iss`` = app id.  Actions by an installation
    token are done by ``fixture.bot_login`` (type ``Bot``); by a personal token, by its login (``User``).

Rate limit (one ``core`` bucket for all credentials)
    Every response carries ``X-RateLimit-*`` headers.  Counted: authenticated token requests except
    ``GET /rate_limit``, 304 answers, 401s, rate-limit 403s and injected faults; JWT (``/app``)
    requests are not counted.  The window (``rate_limit_window`` seconds) starts at the first request
    and refills when ``clock() >= reset``.  At 0 remaining: 403 ``API rate limit exceeded for ...``.

Faults (:class:`Fault`, queued with :meth:`GitHubServer.inject`, matched in order with
``re.search(path_regex, path)`` against the path without its query, method ``"*"`` = any):
    ``Fault.status(code, body=None, headers=None)``, ``Fault.secondary_limit(retry_after=1, status=403)``,
    ``Fault.primary_limit(reset_in=60)``, ``Fault.drop()``, ``Fault.slow(seconds)``, ``Fault.truncate()``.
    ``status``/``*_limit`` answer instead of the endpoint (nothing changes, nothing is counted);
    ``drop`` reads the request and closes the connection without an answer; ``slow`` sleeps then
    answers normally; ``truncate`` serves the request normally (state changes apply and it is
    counted) but sends only half of the body declared by ``Content-Length``, then closes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
import random
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ISSUES = "data/corefx-area/issues.jsonl"

# Canonical bases of every URL stored in fixtures and server state; rewritten to the server's URL
# when a response is rendered (only in values of keys named ``url`` or ``*_url``).
API_BASE = "https://api.github.com"
HTML_BASE = "https://github.com"

START = 1514764800  # 2018-01-01T00:00:00Z
HOUR = 3600
MINUTE = 60

USERS: dict[str, str] = {  # fake issue authors -> author_association
    "alice-dev": "NONE",
    "bob-contrib": "CONTRIBUTOR",
    "carol-oss": "NONE",
    "dave-user": "FIRST_TIME_CONTRIBUTOR",
    "erin-net": "MEMBER",
}
MAINTAINERS: tuple[str, ...] = ("maintainer-a", "maintainer-b", "maintainer-c")
COMMENT_TEXTS: tuple[str, ...] = (
    "Thanks for the report, we will take a look.",
    "Can you share a minimal repro?",
    "I can reproduce this on the latest build.",
    "Moving to the next milestone.",
)
SECONDARY_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                     "If you reach out to GitHub Support for help, please include the request ID 0000:TEST.")
DOCS = "https://docs.github.com/rest"


# --------------------------------------------------------------------------------------------- helpers

def iso(epoch: float) -> str:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def parse_iso(text: str) -> float:
    """ISO 8601 (``Z``, offsets and fractions accepted; naive = UTC) -> epoch seconds."""
    text = text.strip()
    if "T" in text:  # a "+hh:mm" offset arrives as " hh:mm" when a client did not percent-encode the "+"
        date, _, rest = text.partition("T")
        text = date + "T" + rest.replace(" ", "+").replace("Z", "+00:00")
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _stable_int(*parts: object, digits: int = 8) -> int:
    return int(hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:digits], 16)


def _node_id(kind: str, ident: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


def user_object(login: str, actor_type: str = "User") -> dict[str, Any]:
    """A REST user (or bot) object."""
    ident = 10_000_000 + _stable_int("user", login, digits=6)
    return {"login": login, "id": ident, "node_id": _node_id(actor_type, ident), "type": actor_type,
            "site_admin": False, "url": f"{API_BASE}/users/{quote(login)}", "html_url": f"{HTML_BASE}/{quote(login)}"}


def label_object(repo: str, name: str, color: str | None = None, description: str | None = None) -> dict[str, Any]:
    """A REST label object with a stable id (a hash of the name) and color."""
    digest = hashlib.sha1(name.encode()).hexdigest()
    ident = 1_000_000_000 + int(digest[:7], 16)
    return {"id": ident, "node_id": _node_id("Label", ident), "url": f"{API_BASE}/repos/{repo}/labels/{quote(name)}",
            "name": name, "color": color or digest[8:14], "default": False, "description": description}


def issue_urls(repo: str, number: int) -> dict[str, str]:
    url = f"{API_BASE}/repos/{repo}/issues/{number}"
    return {"url": url, "repository_url": f"{API_BASE}/repos/{repo}", "labels_url": url + "/labels{/name}",
            "comments_url": url + "/comments", "events_url": url + "/events", "timeline_url": url + "/timeline",
            "html_url": f"{HTML_BASE}/{repo}/issues/{number}"}


def _rebase(obj: Any, api: str, html: str, key: str = "") -> Any:
    """Deep copy of ``obj`` with URL values (keys ``url``/``*_url``) moved to the given bases."""
    if isinstance(obj, dict):
        return {k: _rebase(v, api, html, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rebase(v, api, html, key) for v in obj]
    if isinstance(obj, str) and (key == "url" or key.endswith("_url") or key == "href"):
        if obj.startswith(API_BASE):
            return api + obj[len(API_BASE):]
        if obj.startswith(HTML_BASE):
            return html + obj[len(HTML_BASE):]
    return obj


# --------------------------------------------------------------------------------------------- fixture

@dataclass
class FixtureRepo:
    """Issues of one repository as GitHub REST objects (URLs use ``https://api.github.com``).

    ``issues``: number -> issue, ascending number (= ascending created_at and updated_at);
    ``events``: number -> its events, oldest first (no ``issue`` key);
    ``repo_events``: every event, oldest first, each with an ``issue`` key (the issue object);
    ``labels``: name -> label object, by name; ``comments``: number -> its comments, oldest first.
    """

    repo: str
    bot_login: str
    issues: dict[int, dict[str, Any]]
    events: dict[int, list[dict[str, Any]]]
    repo_events: list[dict[str, Any]]
    labels: dict[str, dict[str, Any]]
    comments: dict[int, list[dict[str, Any]]]
    seed: int = 0

    @property
    def numbers(self) -> list[int]:
        return list(self.issues)

    def label_names(self, number: int) -> list[str]:
        return [label["name"] for label in self.issues[number]["labels"]]


def build_fixture(path: str | Path = DEFAULT_ISSUES, repo: str = "dotnet/corefx", limit: int | None = None,
                  bot_login: str = "issue-triage[bot]", seed: int = 0) -> FixtureRepo:
    """Read the bundled issues (relative paths are from the repository root) and make REST objects.

    Deterministic for a given ``seed``; each issue's extras depend only on (seed, repo, number),
    so ``limit`` (the ``limit`` lowest numbers) does not change the issues it keeps.
    """
    source = Path(path)
    if not source.is_absolute():
        source = ROOT / source
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [row for row in rows if row.get("repo", repo) == repo]
    rows.sort(key=lambda row: int(row["number"]))
    if limit is not None:
        rows = rows[:limit]

    issues: dict[int, dict[str, Any]] = {}
    events: dict[int, list[dict[str, Any]]] = {}
    comments: dict[int, list[dict[str, Any]]] = {}
    labels: dict[str, dict[str, Any]] = {}
    repo_events: list[dict[str, Any]] = []
    event_id, comment_id = 5_000_000_000, 700_000_000
    for rank, row in enumerate(rows):
        number = int(row["number"])
        rng = random.Random(f"{seed}:{repo}:{number}")
        created = START + rank * HOUR
        closed = rng.random() < 0.30
        is_pr = rng.random() < 0.05
        login = rng.choice(sorted(USERS))
        n_comments = rng.choice((0, 0, 1, 1, 2, 3))
        updated = created + rng.randint(25, 55) * MINUTE
        names = [str(name) for name in row.get("labels") or ()]
        issue_labels = []
        for name in names:
            if name not in labels:
                labels[name] = label_object(repo, name, description=f"{name} issues")
            issue_labels.append(copy.deepcopy(labels[name]))
        ident = 200_000_000 + number
        issue: dict[str, Any] = {
            **issue_urls(repo, number), "id": ident, "node_id": _node_id("Issue", ident), "number": number,
            "title": row.get("title") or "", "user": user_object(login), "labels": issue_labels,
            "state": "closed" if closed else "open", "locked": False, "assignee": None, "assignees": [],
            "milestone": None, "comments": n_comments, "created_at": iso(created), "updated_at": iso(updated),
            "closed_at": iso(updated) if closed else None, "author_association": USERS[login],
            "active_lock_reason": None, "body": row.get("body") or "",
            "state_reason": "completed" if closed else None,
        }
        if is_pr:
            pulls = f"{repo}/pull/{number}"
            issue["pull_request"] = {"url": f"{API_BASE}/repos/{repo}/pulls/{number}",
                                     "html_url": f"{HTML_BASE}/{pulls}", "diff_url": f"{HTML_BASE}/{pulls}.diff",
                                     "patch_url": f"{HTML_BASE}/{pulls}.patch",
                                     "merged_at": None}
        issues[number] = issue
        events[number] = []
        for index, name in enumerate(names):
            event_id += 1
            event = _event_object(repo, event_id, "labeled", user_object(rng.choice(MAINTAINERS)), labels[name],
                                  iso(created + (2 + index) * MINUTE))
            events[number].append(event)
            repo_events.append({**event, "issue": issue})
        comments[number] = []
        for j in range(n_comments):
            comment_id += 1
            author = rng.choice(MAINTAINERS + (login,))
            at = iso(created + (10 + 4 * j) * MINUTE)
            comments[number].append(_comment_object(repo, number, comment_id, rng.choice(COMMENT_TEXTS),
                                                    user_object(author), at,
                                                    "MEMBER" if author in MAINTAINERS else USERS[login]))
    labels = dict(sorted(labels.items()))
    return FixtureRepo(repo, bot_login, issues, events, repo_events, labels, comments, seed)


def _event_object(repo: str, ident: int, kind: str, actor: dict[str, Any], label: Mapping[str, Any] | None,
                  at: str) -> dict[str, Any]:
    event: dict[str, Any] = {"id": ident, "node_id": _node_id("LabeledEvent" if kind == "labeled" else "Event", ident),
                             "url": f"{API_BASE}/repos/{repo}/issues/events/{ident}", "actor": actor, "event": kind,
                             "commit_id": None, "commit_url": None, "created_at": at,
                             "performed_via_github_app": None}
    if label is not None:
        event["label"] = {"name": label["name"], "color": label["color"]}
    return event


def _comment_object(repo: str, number: int, ident: int, body: str, user: dict[str, Any], at: str,
                    association: str) -> dict[str, Any]:
    return {"id": ident, "node_id": _node_id("IssueComment", ident),
            "url": f"{API_BASE}/repos/{repo}/issues/comments/{ident}",
            "html_url": f"{HTML_BASE}/{repo}/issues/{number}#issuecomment-{ident}",
            "issue_url": f"{API_BASE}/repos/{repo}/issues/{number}", "body": body, "user": user,
            "created_at": at, "updated_at": at, "author_association": association}


# --------------------------------------------------------------------------------------------- faults

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
class _Injected:
    method: str
    pattern: re.Pattern[str]
    fault: Fault
    remaining: int | None  # None = until cleared


# --------------------------------------------------------------------------------------------- request log

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


@dataclass
class _Actor:
    login: str
    type: str  # "User" | "Bot"
    kind: str  # "token" | "installation"
    ident: int

    def as_user(self) -> dict[str, Any]:
        return user_object(self.login, self.type)


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Ctx:
    method: str
    path: str
    query: dict[str, str]
    pairs: list[tuple[str, str]]
    headers: dict[str, str]
    body: Any
    params: dict[str, str]
    actor: _Actor | None = None


class _NotFound(Exception):
    def __init__(self, message: str = "Not Found") -> None:
        super().__init__(message)
        self.message = message


class _Invalid(Exception):
    pass


def _not_found(message: str = "Not Found") -> _Reply:
    return _Reply(404, {"message": message, "documentation_url": DOCS})


# --------------------------------------------------------------------------------------------- server

class GitHubServer:
    """An in-memory GitHub REST API on 127.0.0.1 (see the module docstring)."""

    def __init__(self, fixture: FixtureRepo, *, app_id: int | str | None = None,
                 private_key_pem: str | bytes | None = None, public_key_pem: str | bytes | None = None,
                 installation_id: int = 1, token: str | None = "test-token", token_login: str = "test-user",
                 token_ttl_seconds: float = 3600, rate_limit: int = 5000, rate_limit_window: int = 3600,
                 clock: Callable[[], float] = time.time, jwt_clock: Callable[[], float] = time.time) -> None:
        self.fixture = fixture
        self.repo = fixture.repo
        self.bot_login = fixture.bot_login
        self.app_id = app_id
        self.installation_id = installation_id
        self.token_ttl_seconds = token_ttl_seconds
        self.clock = clock
        self.jwt_clock = jwt_clock
        self._public_key: Any = None
        if public_key_pem is not None:
            self._public_key = public_key_pem.decode() if isinstance(public_key_pem, bytes) else public_key_pem
        elif private_key_pem is not None:
            pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
            self._public_key = serialization.load_pem_private_key(pem, password=None).public_key()

        self._lock = threading.RLock()
        self._tokens: dict[str, _Actor] = {}
        if token:
            self.add_token(token, token_login)
        self._installation_tokens: dict[str, float] = {}  # token -> expiry (clock seconds)
        self._tokens_issued = 0
        self._rate_limit = rate_limit
        self._rate_window = rate_limit_window
        self._remaining = rate_limit
        self._reset_at: int | None = None
        self._faults: list[_Injected] = []
        self._log: list[RequestRecord] = []
        self.errors: list[str] = []  # tracebacks of handler crashes (answered 500)
        self._files: dict[str, str] = {}
        self._request_no = 0

        self._issues: dict[int, dict[str, Any]] = copy.deepcopy(fixture.issues)
        self._events: dict[int, list[dict[str, Any]]] = {n: copy.deepcopy(fixture.events.get(n, []))
                                                         for n in self._issues}
        self._repo_events: list[tuple[int, dict[str, Any]]] = sorted(
            ((n, e) for n, evs in self._events.items() for e in evs), key=lambda item: item[1]["id"])
        self._labels: dict[str, dict[str, Any]] = copy.deepcopy(fixture.labels)
        self._comments: dict[int, dict[str, Any]] = {}
        self._issue_comments: dict[int, list[int]] = {n: [] for n in self._issues}
        for number, items in fixture.comments.items():
            for comment in items:
                self._comments[comment["id"]] = copy.deepcopy(comment)
                self._issue_comments.setdefault(number, []).append(comment["id"])
        stamps = [parse_iso(i["updated_at"]) for i in self._issues.values()]
        stamps += [parse_iso(e["created_at"]) for _, e in self._repo_events]
        stamps += [parse_iso(c["updated_at"]) for c in self._comments.values()]
        self._mtime = int(max(stamps, default=START)) + HOUR
        self._next_event_id = max((e["id"] for _, e in self._repo_events), default=5_000_000_000)
        self._next_comment_id = max(self._comments, default=700_000_000)

        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.app = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="github-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ configuration and observation

    def add_token(self, token: str, login: str, actor_type: str = "User") -> None:
        """Accept another personal token, acting as ``login``."""
        with self._lock:
            self._tokens[token] = _Actor(login, actor_type, "token", user_object(login, actor_type)["id"])

    def revoke_installation_tokens(self) -> None:
        with self._lock:
            self._installation_tokens.clear()

    @property
    def tokens_issued(self) -> int:
        return self._tokens_issued

    @property
    def installation_tokens(self) -> dict[str, float]:
        """Issued installation tokens -> expiry (``clock()`` seconds)."""
        with self._lock:
            return dict(self._installation_tokens)

    def set_rate_limit(self, *, limit: int | None = None, remaining: int | None = None,
                       reset_at: float | None = None, window: int | None = None) -> None:
        """Change the rate-limit bucket (e.g. ``remaining=0, reset_at=clock()+60`` to exhaust it)."""
        with self._lock:
            self._refill_if_due()
            if limit is not None:
                self._rate_limit = limit
                self._remaining = min(self._remaining, limit)
            if window is not None:
                self._rate_window = window
            if remaining is not None:
                self._remaining = remaining
            if reset_at is not None:
                self._reset_at = int(reset_at)

    @property
    def rate_limit(self) -> dict[str, int]:
        """``{"limit", "remaining", "reset", "used"}`` as the headers would say now."""
        with self._lock:
            self._refill_if_due()
            return {"limit": self._rate_limit, "remaining": self._remaining, "reset": int(self._reset_at or 0),
                    "used": self._rate_limit - self._remaining}

    def inject(self, method: str, path_regex: str, fault: Fault | int, times: int | None = 1) -> None:
        """Queue ``fault`` for the next ``times`` requests (None: until cleared) matching
        ``method`` (``"*"`` = any) and ``re.search(path_regex, path)``; an int is ``Fault.status(int)``."""
        if isinstance(fault, int):
            fault = Fault.status(fault)
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        with self._lock:
            self._faults.append(_Injected(method.upper(), re.compile(path_regex), fault, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> list[tuple[str, str, Fault, int | None]]:
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
        pattern = re.compile(path_regex) if path_regex is not None else None
        return [r for r in self.requests
                if (method is None or r.method == method.upper())
                and (pattern is None or pattern.search(r.path))
                and (status is None or r.status == status)]

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    def set_file(self, path: str, text: str) -> None:
        """Make ``GET /repos/{repo}/contents/{path}`` return ``text``."""
        with self._lock:
            self._files[path.strip("/")] = text

    def delete_file(self, path: str) -> None:
        with self._lock:
            self._files.pop(path.strip("/"), None)

    # ------------------------------------------------------------------ state reading and mutators

    def issue(self, number: int) -> dict[str, Any]:
        """The issue as the API would render it now (a copy); KeyError if absent."""
        with self._lock:
            return self._render(self._issues[number])

    def issue_numbers(self) -> list[int]:
        with self._lock:
            return sorted(self._issues)

    def events(self, number: int | None = None) -> list[dict[str, Any]]:
        """Events of one issue (oldest first), or of the repository (oldest first, with ``issue``)."""
        with self._lock:
            if number is not None:
                return self._render(self._events[number])
            return [self._render({**e, "issue": self._issues[n]}) for n, e in self._repo_events]

    def comments(self, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [self._render(self._comments[c]) for c in self._issue_comments.get(number, [])]

    def labels(self) -> list[dict[str, Any]]:
        with self._lock:
            return self._render(list(self._labels.values()))

    def open_issue(self, title: str, body: str = "", user: str = "new-reporter", labels: Sequence[str] = (),
                   actor_type: str = "User", author_association: str = "NONE") -> dict[str, Any]:
        """Open a new issue (next number); ``labels`` are applied by its author (``labeled`` events)."""
        with self._lock:
            return self._render(self._open_issue(title, body, user_object(user, actor_type), labels,
                                                 author_association))

    def edit_issue(self, number: int, title: str | None = None, body: str | None = None,
                   state: str | None = None) -> dict[str, Any]:
        with self._lock:
            issue = self._issues[number]
            at = self._tick()
            if title is not None:
                issue["title"] = title
            if body is not None:
                issue["body"] = body
            if state is not None:
                self._set_state(issue, state, at)
            issue["updated_at"] = at
            return self._render(issue)

    def add_label(self, number: int, name: str, actor: str, actor_type: str = "User") -> bool:
        """Add ``name`` as ``actor`` (``labeled`` event); False if the issue already had it."""
        with self._lock:
            return bool(self._add_labels(number, [name], user_object(actor, actor_type)))

    def remove_label(self, number: int, name: str, actor: str, actor_type: str = "User") -> bool:
        """Remove ``name`` as ``actor`` (``unlabeled`` event); False if the issue did not have it."""
        with self._lock:
            return self._remove_label(number, name, user_object(actor, actor_type))

    def add_comment(self, number: int, body: str, user: str = "new-reporter",
                    actor_type: str = "User") -> dict[str, Any]:
        with self._lock:
            return self._render(self._add_comment(number, body, user_object(user, actor_type)))

    # ------------------------------------------------------------------ internals: state

    def _tick(self) -> str:
        self._mtime += MINUTE
        return iso(self._mtime)

    def _render(self, obj: Any) -> Any:
        base = self.url if self._httpd is not None else API_BASE
        return _rebase(obj, base, base if self._httpd is not None else HTML_BASE)

    def _label(self, name: str) -> dict[str, Any]:
        if name not in self._labels:
            self._labels[name] = label_object(self.repo, name, color="ededed")
        return self._labels[name]

    def _new_event(self, number: int, kind: str, actor: dict[str, Any], label: Mapping[str, Any] | None,
                   at: str) -> dict[str, Any]:
        self._next_event_id += 1
        event = _event_object(self.repo, self._next_event_id, kind, actor, label, at)
        self._events.setdefault(number, []).append(event)
        self._repo_events.append((number, event))
        return event

    def _open_issue(self, title: str, body: str, user: dict[str, Any], labels: Iterable[str],
                    association: str) -> dict[str, Any]:
        number = max(self._issues, default=0) + 1
        at = self._tick()
        ident = 200_000_000 + number
        issue = {**issue_urls(self.repo, number), "id": ident, "node_id": _node_id("Issue", ident), "number": number,
                 "title": title, "user": user, "labels": [], "state": "open", "locked": False, "assignee": None,
                 "assignees": [], "milestone": None, "comments": 0, "created_at": at, "updated_at": at,
                 "closed_at": None, "author_association": association, "active_lock_reason": None,
                 "body": body, "state_reason": None}
        self._issues[number] = issue
        self._events[number] = []
        self._issue_comments[number] = []
        for name in dict.fromkeys(labels):
            issue["labels"].append(copy.deepcopy(self._label(name)))
            self._new_event(number, "labeled", user, self._labels[name], at)
        return issue

    def _set_state(self, issue: dict[str, Any], state: str, at: str) -> None:
        if state not in ("open", "closed"):
            raise _Invalid(f"state: {state!r}")
        if state != issue["state"]:
            issue["state"] = state
            issue["closed_at"] = at if state == "closed" else None
            issue["state_reason"] = "completed" if state == "closed" else "reopened"

    def _add_labels(self, number: int, names: Sequence[str], actor: dict[str, Any]) -> list[str]:
        issue = self._issues[number]
        have = {label["name"] for label in issue["labels"]}
        new = [name for name in dict.fromkeys(names) if name not in have]
        if new:
            at = self._tick()
            for name in new:
                issue["labels"].append(copy.deepcopy(self._label(name)))
                self._new_event(number, "labeled", actor, self._labels[name], at)
            issue["updated_at"] = at
        return new

    def _remove_label(self, number: int, name: str, actor: dict[str, Any]) -> bool:
        issue = self._issues[number]
        kept = [label for label in issue["labels"] if label["name"] != name]
        if len(kept) == len(issue["labels"]):
            return False
        at = self._tick()
        removed = next(label for label in issue["labels"] if label["name"] == name)
        issue["labels"] = kept
        self._new_event(number, "unlabeled", actor, removed, at)
        issue["updated_at"] = at
        return True

    def _add_comment(self, number: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
        issue = self._issues[number]
        at = self._tick()
        self._next_comment_id += 1
        association = "MEMBER" if user["type"] == "Bot" else "NONE"
        comment = _comment_object(self.repo, number, self._next_comment_id, body, user, at, association)
        if user["type"] == "Bot":
            comment["performed_via_github_app"] = {"id": self.app_id, "slug": self.bot_login.removesuffix("[bot]")}
        self._comments[comment["id"]] = comment
        self._issue_comments.setdefault(number, []).append(comment["id"])
        issue["comments"] += 1
        issue["updated_at"] = at
        return comment

    # ------------------------------------------------------------------ internals: rate limit and auth

    def _refill_if_due(self) -> None:
        now = self.clock()
        if self._reset_at is None or now >= self._reset_at:
            self._remaining = self._rate_limit
            self._reset_at = int(now) + self._rate_window

    def _rate_headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self._rate_limit), "X-RateLimit-Remaining": str(self._remaining),
                "X-RateLimit-Reset": str(int(self._reset_at or 0)),
                "X-RateLimit-Used": str(self._rate_limit - self._remaining), "X-RateLimit-Resource": "core"}

    def _identify(self, headers: Mapping[str, str]) -> _Actor | None:
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() not in ("token", "bearer") or not token:
            return None
        if token in self._tokens:
            return self._tokens[token]
        expiry = self._installation_tokens.get(token)
        if expiry is not None and self.clock() < expiry:
            return _Actor(self.bot_login, "Bot", "installation", self.installation_id)
        return None

    def _check_jwt(self, headers: Mapping[str, str]) -> _Reply | None:
        """None if the request carries a valid app JWT, else the 401 to answer."""
        def reject(message: str) -> _Reply:
            return _Reply(401, {"message": message, "documentation_url": DOCS})

        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or self._public_key is None or self.app_id is None:
            return reject("A JSON web token could not be decoded")
        try:
            claims = jwt.decode(token.strip(), self._public_key, algorithms=["RS256"],
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                         "require": ["iat", "exp", "iss"]})
        except jwt.PyJWTError:
            return reject("A JSON web token could not be decoded")
        now = self.jwt_clock()
        try:
            exp, iat = float(claims["exp"]), float(claims["iat"])
        except (TypeError, ValueError):
            return reject("A JSON web token could not be decoded")
        if exp <= now:
            return reject("'Expiration time' claim ('exp') must be a numeric value representing the future time "
                          "at which the assertion expires")
        if exp > now + 660:
            return reject("'Expiration time' claim ('exp') is too far in the future")
        if iat > now + 60:
            return reject("'Issued at' claim ('iat') must be an Integer representing the time that the "
                          "assertion was issued")
        if str(claims["iss"]) != str(self.app_id):
            return reject("A JSON web token could not be decoded")
        return None

    # ------------------------------------------------------------------ internals: dispatch

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

    def _log_request(self, method: str, path: str, query: dict[str, str], status_code: int | None,
                     headers: dict[str, str], body: Any, fault: Fault | None) -> None:
        self._log.append(RequestRecord(method, path, query, status_code, headers, body,
                                       fault.kind if fault else None, self.clock()))

    def dispatch(self, method: str, target: str, headers: dict[str, str],
                 raw_body: bytes) -> tuple[str, int, list[tuple[str, str]], bytes]:
        """Serve one request; returns (action, status, headers, body) with action send|drop|truncate."""
        parts = urlsplit(target)
        path = parts.path or "/"
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = dict(pairs)
        try:
            body: Any = json.loads(raw_body) if raw_body else None
            bad_json = False
        except (ValueError, UnicodeDecodeError):
            body, bad_json = raw_body.decode("utf-8", "replace"), True

        fault = self._take_fault(method, path)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "drop":
            with self._lock:
                self._log_request(method, path, query, None, headers, body, fault)
            return "drop", 0, [], b""

        with self._lock:
            self._refill_if_due()
            self._request_no += 1
            counted = False
            if fault is not None and fault.kind in ("status", "secondary_limit", "primary_limit"):
                reply = self._fault_reply(fault)
            elif bad_json:
                reply = _Reply(400, {"message": "Problems parsing JSON", "documentation_url": DOCS})
            else:
                ctx = _Ctx(method, path, query, pairs, headers, body, {})
                try:
                    reply, counted = self._serve(ctx)
                except Exception:  # noqa: BLE001 - a bug in the test server: answer 500 and keep the traceback
                    self.errors.append(traceback.format_exc())
                    reply = _Reply(500, {"message": "test server error"})
            payload = b""
            if reply.body is not None:
                payload = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
            out_headers = dict(reply.headers)
            if method == "GET" and reply.status == 200 and reply.body is not None:
                etag = 'W/"' + hashlib.sha256(payload).hexdigest()[:40] + '"'
                out_headers["ETag"] = etag
                if _etag_matches(headers.get("if-none-match", ""), etag):
                    reply = _Reply(304)
                    payload = b""
            if counted and reply.status != 304:
                self._remaining = max(0, self._remaining - 1)
            rate = self._rate_headers()
            rate.update({k: v for k, v in out_headers.items() if k.lower().startswith("x-ratelimit-")})
            out_headers = {k: v for k, v in out_headers.items() if not k.lower().startswith("x-ratelimit-")}
            final: list[tuple[str, str]] = []
            if reply.status != 304:
                final.append(("Content-Type", "application/json; charset=utf-8"))
            final += list(out_headers.items()) + list(rate.items())
            final.append(("X-GitHub-Request-Id", f"TEST:{self._request_no:06d}"))
            final.append(("X-GitHub-Media-Type", "github.v3; format=json"))
            self._log_request(method, path, query, reply.status, headers, body, fault)
        action = "truncate" if fault is not None and fault.kind == "truncate" else "send"
        return action, reply.status, final, payload

    def _fault_reply(self, fault: Fault) -> _Reply:
        if fault.kind == "secondary_limit":
            return _Reply(fault.code or 403, {"message": SECONDARY_MESSAGE, "documentation_url": DOCS},
                          {"Retry-After": _num(fault.retry_after or 0)})
        if fault.kind == "primary_limit":
            reset = int(self.clock() + (fault.reset_in or 0))
            return _Reply(403, {"message": "API rate limit exceeded for user ID 1.", "documentation_url": DOCS},
                          {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset),
                           "X-RateLimit-Used": str(self._rate_limit)})
        code = fault.code or 500
        body = fault.body if fault.body is not None else {"message": _REASONS.get(code, "Error")}
        return _Reply(code, body, dict(fault.headers or {}))

    def _serve(self, ctx: _Ctx) -> tuple[_Reply, bool]:
        """Auth, rate limit and routing; returns (reply, counted)."""
        route = None
        for method, pattern, auth, handler in self._routes:
            match = pattern.fullmatch(ctx.path)
            if match and method == ctx.method:
                route, ctx.params = (auth, handler), match.groupdict()
                break
        if route is not None and route[0] == "jwt":
            rejected = self._check_jwt(ctx.headers)
            return (rejected if rejected is not None else self._call(route[1], ctx)), False
        actor = self._identify(ctx.headers)
        if actor is None:
            return _Reply(401, {"message": "Bad credentials", "documentation_url": DOCS}), False
        ctx.actor = actor
        if route is not None and route[0] == "free":
            return self._call(route[1], ctx), False
        if self._remaining <= 0:
            who = f"installation ID {actor.ident}" if actor.kind == "installation" else f"user ID {actor.ident}"
            return _Reply(403, {"message": f"API rate limit exceeded for {who}.", "documentation_url": DOCS}), False
        if route is None:
            return _not_found(), True
        return self._call(route[1], ctx), True

    def _call(self, handler: Callable[[_Ctx], _Reply], ctx: _Ctx) -> _Reply:
        if "owner" in ctx.params and f"{ctx.params['owner']}/{ctx.params['name']}".lower() != self.repo.lower():
            return _not_found()
        try:
            return handler(ctx)
        except _NotFound as exc:
            return _not_found(exc.message)
        except (_Invalid, KeyError, TypeError, ValueError) as exc:
            return _Reply(422, {"message": "Validation Failed", "errors": [str(exc)], "documentation_url": DOCS})

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], str, Callable[[_Ctx], _Reply]]]:
        repo = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
        issue = repo + r"/issues/(?P<number>\d+)"
        table: list[tuple[str, str, str, Callable[[_Ctx], _Reply]]] = [
            ("POST", r"/app/installations/(?P<installation>\d+)/access_tokens", "jwt", self._h_access_token),
            ("GET", r"/app/installations/(?P<installation>\d+)", "jwt", self._h_installation),
            ("GET", r"/app/installations", "jwt", self._h_installations),
            ("GET", r"/app", "jwt", self._h_app),
            ("GET", repo + r"/installation", "jwt", self._h_installation),
            ("GET", r"/rate_limit", "free", self._h_rate_limit),
            ("GET", repo, "token", self._h_repo),
            ("GET", repo + r"/issues", "token", self._h_list_issues),
            ("POST", repo + r"/issues", "token", self._h_create_issue),
            ("GET", repo + r"/issues/events", "token", self._h_repo_events),
            ("GET", repo + r"/issues/comments/(?P<comment>\d+)", "token", self._h_get_comment),
            ("PATCH", repo + r"/issues/comments/(?P<comment>\d+)", "token", self._h_edit_comment),
            ("GET", issue, "token", self._h_get_issue),
            ("PATCH", issue, "token", self._h_edit_issue),
            ("GET", issue + r"/events", "token", self._h_issue_events),
            ("GET", issue + r"/timeline", "token", self._h_issue_events),
            ("GET", issue + r"/labels", "token", self._h_issue_labels),
            ("POST", issue + r"/labels", "token", self._h_add_labels),
            ("PUT", issue + r"/labels", "token", self._h_set_labels),
            ("DELETE", issue + r"/labels", "token", self._h_clear_labels),
            ("DELETE", issue + r"/labels/(?P<label>.+)", "token", self._h_remove_label),
            ("GET", issue + r"/comments", "token", self._h_list_comments),
            ("POST", issue + r"/comments", "token", self._h_create_comment),
            ("GET", repo + r"/labels", "token", self._h_labels),
            ("GET", repo + r"/labels/(?P<label>.+)", "token", self._h_label),
            ("GET", repo + r"/contents/?(?P<path>.*)", "token", self._h_contents),
        ]
        return [(m, re.compile(p), a, h) for m, p, a, h in table]

    # ------------------------------------------------------------------ internals: handlers

    def _paginate(self, ctx: _Ctx, items: Sequence[Any], render: Callable[[Any], Any] | None = None) -> _Reply:
        try:
            per_page = min(100, max(1, int(ctx.query.get("per_page", 30))))
        except ValueError:
            per_page = 30
        try:
            page = max(1, int(ctx.query.get("page", 1)))
        except ValueError:
            page = 1
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        body = [render(item) for item in chunk] if render else [self._render(item) for item in chunk]

        def link(target: int, rel: str) -> str:
            pairs = [(k, v) for k, v in ctx.pairs if k != "page"] + [("page", str(target))]
            return f'<{self.url}{ctx.path}?{urlencode(pairs)}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links.append(link(1, "first"))
        return _Reply(200, body, {"Link": ", ".join(links)} if links else {})

    def _get_issue(self, ctx: _Ctx) -> dict[str, Any]:
        number = int(ctx.params["number"])
        if number not in self._issues:
            raise _NotFound()
        return self._issues[number]

    def _h_repo(self, ctx: _Ctx) -> _Reply:
        owner, name = self.repo.split("/", 1)
        ident = 30_000_000 + _stable_int("repo", self.repo, digits=6)
        base = f"{API_BASE}/repos/{self.repo}"
        return _Reply(200, self._render({
            "id": ident, "node_id": _node_id("Repository", ident), "name": name, "full_name": self.repo,
            "owner": user_object(owner, "Organization"), "private": False, "html_url": f"{HTML_BASE}/{self.repo}",
            "url": base, "issues_url": base + "/issues{/number}", "labels_url": base + "/labels{/name}",
            "events_url": base + "/events", "default_branch": "main", "has_issues": True,
            "open_issues_count": sum(1 for i in self._issues.values() if i["state"] == "open"),
        }))

    def _h_list_issues(self, ctx: _Ctx) -> _Reply:
        q = ctx.query
        state = q.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _Invalid(f"state: {state!r}")
        sort, direction = q.get("sort", "created"), q.get("direction", "desc")
        if sort not in ("created", "updated", "comments") or direction not in ("asc", "desc"):
            raise _Invalid(f"sort/direction: {sort!r}/{direction!r}")
        items = [i for i in self._issues.values() if state == "all" or i["state"] == state]
        if q.get("since"):
            try:
                since = parse_iso(q["since"])
            except ValueError:
                raise _Invalid(f"since: {q['since']!r}") from None
            items = [i for i in items if parse_iso(i["updated_at"]) >= since]
        if q.get("labels"):
            wanted = {name.strip() for name in q["labels"].split(",") if name.strip()}
            items = [i for i in items if wanted <= {label["name"] for label in i["labels"]}]
        if q.get("creator"):
            items = [i for i in items if i["user"]["login"] == q["creator"]]
        field_name = {"created": "created_at", "updated": "updated_at", "comments": "comments"}[sort]
        items.sort(key=lambda i: (i[field_name], i["number"]), reverse=direction == "desc")
        return self._paginate(ctx, items)

    def _h_create_issue(self, ctx: _Ctx) -> _Reply:
        body = ctx.body or {}
        if not isinstance(body, dict) or not body.get("title"):
            raise _Invalid("title is required")
        assert ctx.actor is not None
        issue = self._open_issue(str(body["title"]), str(body.get("body") or ""), ctx.actor.as_user(),
                                 [str(n) for n in body.get("labels") or ()], "MEMBER")
        return _Reply(201, self._render(issue))

    def _h_get_issue(self, ctx: _Ctx) -> _Reply:
        return _Reply(200, self._render(self._get_issue(ctx)))

    def _h_edit_issue(self, ctx: _Ctx) -> _Reply:
        issue = self._get_issue(ctx)
        body = ctx.body or {}
        if not isinstance(body, dict):
            raise _Invalid("expected an object")
        at = self._tick()
        for key in ("title", "body"):
            if key in body:
                issue[key] = body[key]
        if "state" in body:
            self._set_state(issue, str(body["state"]), at)
        issue["updated_at"] = at
        if "labels" in body:
            self._replace_labels(issue["number"], _label_names(body["labels"]), ctx)
        return _Reply(200, self._render(issue))

    def _h_issue_events(self, ctx: _Ctx) -> _Reply:
        issue = self._get_issue(ctx)
        return self._paginate(ctx, self._events.get(issue["number"], []))

    def _h_repo_events(self, ctx: _Ctx) -> _Reply:
        newest_first = sorted(self._repo_events, key=lambda item: item[1]["id"], reverse=True)
        return self._paginate(ctx, newest_first, lambda item: self._render({**item[1], "issue": self._issues[item[0]]}))

    def _h_issue_labels(self, ctx: _Ctx) -> _Reply:
        return self._paginate(ctx, self._get_issue(ctx)["labels"])

    def _h_add_labels(self, ctx: _Ctx) -> _Reply:
        issue = self._get_issue(ctx)
        names = _label_names(ctx.body)
        assert ctx.actor is not None
        self._add_labels(issue["number"], names, ctx.actor.as_user())
        return _Reply(200, self._render(issue["labels"]))

    def _replace_labels(self, number: int, names: list[str], ctx: _Ctx) -> None:
        assert ctx.actor is not None
        for label in list(self._issues[number]["labels"]):
            if label["name"] not in names:
                self._remove_label(number, label["name"], ctx.actor.as_user())
        self._add_labels(number, names, ctx.actor.as_user())

    def _h_set_labels(self, ctx: _Ctx) -> _Reply:
        issue = self._get_issue(ctx)
        self._replace_labels(issue["number"], _label_names(ctx.body), ctx)
        return _Reply(200, self._render(issue["labels"]))

    def _h_clear_labels(self, ctx: _Ctx) -> _Reply:
        issue = self._get_issue(ctx)
        self._replace_labels(issue["number"], [], ctx)
        return _Reply(204)

    def _h_remove_label(self, ctx: _Ctx) -> _Reply:
        issue = self._get_issue(ctx)
        assert ctx.actor is not None
        if not self._remove_label(issue["number"], unquote(ctx.params["label"]), ctx.actor.as_user()):
            raise _NotFound("Label does not exist")
        return _Reply(200, self._render(issue["labels"]))

    def _h_list_comments(self, ctx: _Ctx) -> _Reply:
        issue = self._get_issue(ctx)
        return self._paginate(ctx, [self._comments[c] for c in self._issue_comments.get(issue["number"], [])])

    def _h_create_comment(self, ctx: _Ctx) -> _Reply:
        issue = self._get_issue(ctx)
        if not isinstance(ctx.body, dict) or not isinstance(ctx.body.get("body"), str):
            raise _Invalid("body is required")
        assert ctx.actor is not None
        return _Reply(201, self._render(self._add_comment(issue["number"], ctx.body["body"], ctx.actor.as_user())))

    def _h_get_comment(self, ctx: _Ctx) -> _Reply:
        comment = self._comments.get(int(ctx.params["comment"]))
        if comment is None:
            raise _NotFound()
        return _Reply(200, self._render(comment))

    def _h_edit_comment(self, ctx: _Ctx) -> _Reply:
        comment = self._comments.get(int(ctx.params["comment"]))
        if comment is None:
            raise _NotFound()
        if not isinstance(ctx.body, dict) or not isinstance(ctx.body.get("body"), str):
            raise _Invalid("body is required")
        comment["body"] = ctx.body["body"]
        comment["updated_at"] = self._tick()
        return _Reply(200, self._render(comment))

    def _h_labels(self, ctx: _Ctx) -> _Reply:
        return self._paginate(ctx, list(self._labels.values()))

    def _h_label(self, ctx: _Ctx) -> _Reply:
        label = self._labels.get(unquote(ctx.params["label"]))
        if label is None:
            raise _NotFound()
        return _Reply(200, self._render(label))

    def _h_contents(self, ctx: _Ctx) -> _Reply:
        path = unquote(ctx.params["path"]).strip("/")
        if path not in self._files:
            raise _NotFound()
        data = self._files[path].encode("utf-8")
        encoded = base64.b64encode(data).decode()
        content = "\n".join(encoded[i:i + 60] for i in range(0, len(encoded), 60)) + "\n"
        sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        url = f"{API_BASE}/repos/{self.repo}/contents/{quote(path)}"
        return _Reply(200, self._render({
            "type": "file", "encoding": "base64", "size": len(data), "name": path.rsplit("/", 1)[-1], "path": path,
            "content": content, "sha": sha, "url": url, "html_url": f"{HTML_BASE}/{self.repo}/blob/main/{path}",
            "git_url": f"{API_BASE}/repos/{self.repo}/git/blobs/{sha}",
            "download_url": f"{HTML_BASE}/{self.repo}/raw/main/{path}",
        }))

    def _h_rate_limit(self, ctx: _Ctx) -> _Reply:
        core = {"limit": self._rate_limit, "remaining": self._remaining, "reset": int(self._reset_at or 0),
                "used": self._rate_limit - self._remaining, "resource": "core"}
        other = {"limit": 30, "remaining": 30, "reset": int(self._reset_at or 0), "used": 0}
        return _Reply(200, {"resources": {"core": core, "search": {**other, "resource": "search"},
                                          "graphql": {**other, "limit": 5000, "remaining": 5000,
                                                      "resource": "graphql"}},
                            "rate": core})

    def _installation_object(self) -> dict[str, Any]:
        owner = self.repo.split("/", 1)[0]
        return {"id": self.installation_id, "app_id": self.app_id, "account": user_object(owner, "Organization"),
                "target_type": "Organization", "repository_selection": "selected",
                "permissions": {"issues": "write", "contents": "read", "metadata": "read"},
                "access_tokens_url": f"{API_BASE}/app/installations/{self.installation_id}/access_tokens",
                "app_slug": self.bot_login.removesuffix("[bot]")}

    def _h_installation(self, ctx: _Ctx) -> _Reply:
        if "installation" in ctx.params and int(ctx.params["installation"]) != self.installation_id:
            raise _NotFound()
        return _Reply(200, self._render(self._installation_object()))

    def _h_installations(self, ctx: _Ctx) -> _Reply:
        return self._paginate(ctx, [self._installation_object()])

    def _h_app(self, ctx: _Ctx) -> _Reply:
        slug = self.bot_login.removesuffix("[bot]")
        return _Reply(200, {"id": self.app_id, "slug": slug, "name": slug,
                            "owner": self._render(user_object(self.repo.split("/", 1)[0], "Organization"))})

    def _h_access_token(self, ctx: _Ctx) -> _Reply:
        if int(ctx.params["installation"]) != self.installation_id:
            raise _NotFound()
        self._tokens_issued += 1
        seed = f"{id(self)}:{self.installation_id}:{self._tokens_issued}".encode()
        token = "ghs_" + hashlib.sha1(seed).hexdigest()[:36]
        expires = self.clock() + self.token_ttl_seconds
        self._installation_tokens[token] = expires
        return _Reply(201, {"token": token, "expires_at": iso(expires),
                            "permissions": {"issues": "write", "contents": "read", "metadata": "read"},
                            "repository_selection": "selected"})


_REASONS = {400: "Bad Request", 401: "Bad credentials", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
            422: "Validation Failed", 500: "Internal Server Error", 502: "Server Error",
            503: "Service Unavailable", 504: "Gateway Timeout"}


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _etag_matches(header: str, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == bare for candidate in header.split(","))


def _label_names(body: Any) -> list[str]:
    """Label names from ``["a", ...]``, ``{"labels": [...]}`` or ``[{"name": "a"}, ...]``."""
    if isinstance(body, dict):
        body = body.get("labels")
    if not isinstance(body, list):
        raise _Invalid("labels must be a list")
    names = []
    for item in body:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name:
            raise _Invalid(f"bad label {item!r}")
        names.append(name)
    return names


# --------------------------------------------------------------------------------------------- HTTP plumbing

class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: GitHubServer

    def handle_error(self, request: Any, client_address: Any) -> None:  # client went away: not our concern
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: a dropped connection is never a reused one
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        action, code, out_headers, payload = self.server.app.dispatch(self.command, self.path, headers, raw)
        if action == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(code)
        for name, value in out_headers:
            self.send_header(name, value)
        if code != 304:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if action == "truncate":
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle  # noqa: N815 - http.server's naming
