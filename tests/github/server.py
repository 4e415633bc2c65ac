"""The GitHub test server: lifecycle and dispatch (who asks, which route, which repository, what answer).

Credentials and rate limits are in :mod:`tests.github.access`, faults and the request log in
:mod:`tests.github.traffic`, reading and changing the state on demand in :mod:`tests.github.state_api`,
the endpoints in :mod:`tests.github.routes`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives import serialization

from tests.github.access import ANONYMOUS, ANONYMOUS_LIMIT_MESSAGE, AccessAPI, Actor, RateBucket, credentials, jwt_problem
from tests.github.app_handlers import check_access
from tests.github.faults import Injected, RequestRecord
from tests.github.fixture import FixtureRepo
from tests.github.http import Handler, HTTPServer, etag_matches, parse_body
from tests.github.objects import API_BASE, HOUR, HTML_BASE, START, bot_app, parse_iso, rebase, stable_int, user_object
from tests.github.replies import Ctx, HTTPError, Reply, error, validation_failed
from tests.github.repository import Invalid, Repository, World
from tests.github.routes import build_routes, match, resolve
from tests.github.state_api import StateAPI
from tests.github.traffic import TrafficAPI
from tests.openapi_check import Exchange, OpenAPICheck, session_check

SESSION = object()  # the default schema check: the one the whole test run shares


class GitHubServer(AccessAPI, TrafficAPI, StateAPI):
    """An in-memory GitHub REST API on 127.0.0.1 (see ``tests/github_server.py``)."""

    def __init__(self, fixture: FixtureRepo, *, app_id: int | str | None = None,
                 private_key_pem: str | bytes | None = None, public_key_pem: str | bytes | None = None,
                 installation_id: int = 1, token: str | None = "test-token", token_login: str = "test-user",
                 token_ttl_seconds: float = 3600, rate_limit: int = 5000, rate_limit_window: int = 3600,
                 anonymous_rate_limit: int = 60, private: bool = False, schema_check: Any = SESSION,
                 clock: Callable[[], float] = time.time, jwt_clock: Callable[[], float] = time.time) -> None:
        self.fixture = fixture
        self.bot_login = fixture.bot_login
        self.owner = fixture.repo.split("/", 1)[0]
        self.app_id = app_id
        self.installation_id = installation_id
        self.token_ttl_seconds = token_ttl_seconds
        self.clock, self.jwt_clock = clock, jwt_clock
        self._public_key: Any = None
        if public_key_pem is not None:
            self._public_key = public_key_pem.decode() if isinstance(public_key_pem, bytes) else public_key_pem
        elif private_key_pem is not None:
            pem = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
            self._public_key = serialization.load_pem_private_key(pem, password=None).public_key()

        self._lock = threading.RLock()
        self._tokens: dict[str, Actor] = {}
        if token:
            self.add_token(token, token_login)
        self._installation_tokens: dict[str, float] = {}  # token -> expiry (clock seconds)
        self.installations: dict[int, Any] = {}  # id -> app_handlers.Installation; empty: one holding every repository
        self.token_installations: dict[str, int] = {}  # installation token -> its installation id
        self._tokens_issued = 0
        self._core = RateBucket(rate_limit, rate_limit_window)
        self._anonymous = RateBucket(anonymous_rate_limit, rate_limit_window)
        self._faults: list[Injected] = []
        self._log: list[RequestRecord] = []
        self.errors: list[str] = []  # tracebacks of handler crashes (answered 500)
        self._request_no = 0
        self.schema_check: OpenAPICheck | None = session_check() if schema_check is SESSION else schema_check
        self.schema_deviations: list[Any] = []

        stamps = [parse_iso(i["updated_at"]) for i in fixture.issues.values()]
        stamps += [parse_iso(e["created_at"]) for e in fixture.repo_events]
        stamps += [parse_iso(c["updated_at"]) for items in fixture.comments.values() for c in items]
        app = bot_app(self.bot_login, int(app_id) if app_id is not None else None)
        app.update(owner=user_object(self.owner, "Organization"))
        self.world = World(int(max(stamps, default=START)) + HOUR,
                           max((e["id"] for e in fixture.repo_events), default=5_000_000_000),
                           max((c["id"] for items in fixture.comments.values() for c in items), default=700_000_000),
                           self.bot_login, app)
        self._repos: dict[int, Repository] = {}
        self.primary = Repository.from_fixture(self.world, fixture, self._new_repo_id(fixture.repo), private)
        self._repos[self.primary.id] = self.primary
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes = build_routes(self)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Listen on a free port of 127.0.0.1 (a no-op if already started)."""
        if self._httpd is not None:
            return self
        httpd = HTTPServer(("127.0.0.1", 0), Handler)
        httpd.app = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="github-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self, check: bool = True) -> None:
        """Stop serving; then, if ``check``, fail (AssertionError) if an answer deviated from GitHub's description."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
        if check and self.schema_deviations:
            listed = "\n".join(f"  {d}" for d in self.schema_deviations[:20])
            raise AssertionError(f"the GitHub test server sent {len(self.schema_deviations)} answer(s) that GitHub's "
                                 f"REST description does not allow (tests/openapi_check.py):\n{listed}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.stop(check=exc_type is None)  # never hide the test's own failure

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def repo(self) -> str:
        """The primary repository's full name (it changes with :meth:`rename_repository`)."""
        return self.primary.name

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, method: str, target: str, headers: dict[str, str],
                 raw_body: bytes | None) -> tuple[str, int, list[tuple[str, str]], bytes]:
        """Serve one request; returns (action, status, headers, body) with action send|drop|truncate.

        ``raw_body`` None means the request's Content-Length was unusable (answered 400)."""
        parts = urlsplit(target)
        path, pairs = parts.path or "/", parse_qsl(parts.query, keep_blank_values=True)
        query = dict(pairs)
        body, problem = parse_body(raw_body)
        fault = self._take_fault(method, path)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "drop":
            with self._lock:
                self._log.append(RequestRecord(method, path, query, None, headers, body, fault.kind, self.clock()))
            return "drop", 0, [], b""

        with self._lock:
            found = credentials(headers)
            actor = ANONYMOUS if found is None else self._identify(found)
            bucket = self.bucket_of(actor)
            bucket.refill_if_due(self.clock())
            self._request_no += 1
            counted = False
            if fault is not None and fault.kind in ("status", "secondary_limit", "primary_limit"):
                reply = self._fault_reply(fault, bucket)
            elif problem:
                reply = error(400, problem)
            else:
                ctx = Ctx(method, path, query, pairs, headers, body, self.url)
                try:
                    reply, counted = self._serve(ctx, actor, bucket, parts.query)
                except Exception:  # noqa: BLE001 - a bug in the test server: answer 500 and keep the traceback
                    self.errors.append(traceback.format_exc())
                    reply = error(500, "test server error")
            payload = b"" if reply.body is None else json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
            out_headers = dict(reply.headers)
            if method == "GET" and reply.status == 200 and reply.body is not None:
                etag = 'W/"' + hashlib.sha256(payload).hexdigest()[:40] + '"'
                out_headers["ETag"] = etag
                if etag_matches(headers.get("if-none-match", ""), etag):
                    reply, payload = Reply(304), b""
            if counted and reply.status != 304:
                bucket.take()
            rate = bucket.headers()
            rate.update({k: v for k, v in out_headers.items() if k.lower().startswith("x-ratelimit-")})
            final = [("Content-Type", "application/json; charset=utf-8")] if reply.status != 304 else []
            final += [(k, v) for k, v in out_headers.items() if not k.lower().startswith("x-ratelimit-")]
            final += [*rate.items(), ("X-GitHub-Request-Id", f"TEST:{self._request_no:06d}"),
                      ("X-GitHub-Media-Type", "github.v3; format=json")]
            self._log.append(RequestRecord(method, path, query, reply.status, headers, body,
                                           fault.kind if fault else None, self.clock()))
        if self.schema_check is not None:
            deviations = self.schema_check.check(Exchange(method, path, reply.status, dict(final), payload, headers))
            with self._lock:
                self.schema_deviations += deviations
        action = "truncate" if fault is not None and fault.kind == "truncate" else "send"
        return action, reply.status, final, payload

    def _serve(self, ctx: Ctx, actor: Actor | None, bucket: RateBucket, raw_query: str) -> tuple[Reply, bool]:
        """Auth, rate limit, routing and the repository's fate; returns (reply, counted)."""
        route = match(self._routes, ctx)
        if route is not None and route.auth == "jwt":
            problem = jwt_problem(ctx.headers, self._public_key, self.app_id, self.jwt_clock())
            return (error(401, problem) if problem else self._call(route, ctx, raw_query)), False
        if actor is None:
            return error(401, "Bad credentials"), False
        ctx.actor = actor
        if route is not None and route.auth == "free":
            return self._call(route, ctx, raw_query), False
        if bucket.remaining <= 0:
            who = "installation ID" if actor.kind == "installation" else "user ID"
            message = ANONYMOUS_LIMIT_MESSAGE.format(ip="127.0.0.1") if actor.anonymous \
                else f"API rate limit exceeded for {who} {actor.ident}."
            return error(403, message), False
        if route is None:
            return error(404, "Not Found"), True
        if actor.anonymous and ctx.method != "GET":
            return error(401, "Requires authentication"), False
        return self._call(route, ctx, raw_query), True

    def _call(self, route: Any, ctx: Ctx, raw_query: str) -> Reply:
        try:
            if route.repo_scoped:
                ctx.repo = resolve(self._repos.values(), ctx, raw_query)
                if route.auth == "token":
                    check_access(self, ctx, ctx.repo)
            return route.handler(ctx)
        except HTTPError as exc:
            return exc.reply()
        except Invalid as exc:
            return validation_failed(exc)

    def _new_repo_id(self, name: str) -> int:
        ident = 30_000_000 + stable_int("repo", name.lower(), digits=6)
        while ident in self._repos:
            ident += 1
        return ident

    def _render(self, obj: Any) -> Any:
        base = self.url if self._httpd is not None else API_BASE
        return rebase(obj, base, base if self._httpd is not None else HTML_BASE)
