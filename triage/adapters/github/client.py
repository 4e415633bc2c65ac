"""The GitHub adapter: authentication through PyGithub, requests, retries, rate limits, redirects, the REST calls.

The only module that imports PyGithub. PyGithub provides the authentication (a GitHub App's installation
token, refreshed before it expires, or a personal token); requests go out through ``requests`` here, so
that what happens on the wire is explicit and testable:

* 5xx answers and connection errors: bounded exponential backoff (``max_retries``);
* secondary rate limits (403/429 with ``Retry-After``, or a 403 that says "secondary rate limit"): wait
  ``Retry-After`` seconds (or back off exponentially) as GitHub documents;
* the primary rate limit (``X-RateLimit-Remaining: 0``): wait until ``X-RateLimit-Reset`` if that is within
  :attr:`GitHubClient.max_rate_wait` seconds, else raise :class:`RateLimited` so the caller stops cleanly;
* redirects (301, 302, 307, 308) of a renamed or transferred repository are followed on the same host with
  the request's query kept (PyGithub follows only the path, so ``page``, ``since``... were lost), at most
  :data:`MAX_HOPS` of them; an *issue* redirected to another repository or number was transferred:
  :class:`IssueMoved`, never the other issue's data;
* 410 "Issues are disabled for this repo": :class:`IssuesDisabled`.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urljoin, urlsplit

import requests
from github import Auth, Github, GithubException

from triage.adapters.github.settings import GitHubSettings
from triage.adapters.github.wire import Response, iso_date, parse_json
from triage.domain.errors import ConfigError, GitHubError, IssueMoved, IssuesDisabled, RateLimited
from triage.ports.github import MAX_PULL_FILES, PER_PAGE, Page

log = logging.getLogger(__name__)
MAX_HOPS = 5
REDIRECTS = frozenset({301, 302, 307, 308})
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "issue-triage"}
_ISSUE = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)(?:/.*)?$")
_TARGET = re.compile(r"^/(?:repositories/(?P<id>\d+)|repos/(?P<repo>[^/]+/[^/]+))/issues/(?P<number>\d+)(?:/.*)?$")
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
              requests.exceptions.ContentDecodingError, ConnectionError)


class GitHubClient:
    """The real :class:`~triage.ports.github.GitHubApi`: GitHub's REST API."""

    def __init__(self, settings: GitHubSettings, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, *, installation_id: int | None = None,
                 as_app: bool = False) -> None:
        """A client with a personal token, or for a GitHub App: with the App's JWT (``as_app``, for the ``/app``
        endpoints) or the token of ``installation_id`` (default: ``GITHUB_APP_INSTALLATION_ID``)."""
        settings.check()
        installation = installation_id or settings.installation_id
        if settings.is_app:
            app = Auth.AppAuth(str(settings.app_id), str(settings.private_key))
            if not as_app and not installation:
                raise ConfigError("a GitHub App client needs an installation: use AppClient, which finds each "
                                  "repository's, or set GITHUB_APP_INSTALLATION_ID")
            auth: Auth.Auth = app if as_app else app.get_installation_auth(int(installation or 0))
        else:
            auth = Auth.Token(str(settings.token))
        self.settings = settings
        # PyGithub's requester fetches and refreshes installation tokens for ``auth``.
        self._github = Github(auth=auth, base_url=settings.base_url, timeout=int(settings.timeout), retry=None,
                              per_page=PER_PAGE, seconds_between_requests=None, seconds_between_writes=None)
        self._auth = auth
        self._session = requests.Session()
        base = urlsplit(settings.base_url)
        self._origin, self._prefix = f"{base.scheme}://{base.netloc}", base.path.rstrip("/")
        self._sleep = sleep
        self._clock = clock
        self._repos: dict[str, dict[str, Any]] = {}
        self.max_rate_wait = settings.max_rate_wait  # the Function app lowers it: its durable timer waits instead
        self.requests_made = 0

    def request(self, verb: str, path: str, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, body: Any = None, idempotent: bool = True) -> Response:
        """Make one logical request: transient failures retried, redirects followed as the module describes.

        A request that is not ``idempotent`` (creating a comment) is not sent again once it may have reached
        GitHub (a read timeout, a dropped answer, a 5xx): it raises, and the caller looks before it retries.
        """
        url, query, redirected = self._origin + self._prefix + path, dict(params or {}), False
        for _ in range(MAX_HOPS + 1):
            response = self._send(verb, url, query, headers, body, idempotent)
            location = response.headers.get("location")
            if response.status not in REDIRECTS or not location:
                return Response(response.status, response.headers, response.data, redirected)
            url, query = self._follow(verb, path, url, query, location)
            redirected = True
        raise GitHubError(f"{verb} {path}: more than {MAX_HOPS} redirects; is the repository name right?")

    def _follow(self, verb: str, path: str, url: str, query: dict[str, Any], location: str) -> tuple[str, dict]:
        """The next URL and query of a redirect: same host only, Location's query merged over the original one."""
        target = urlsplit(urljoin(url, location))
        if f"{target.scheme}://{target.netloc}" != self._origin or not target.path.startswith(self._prefix):
            raise GitHubError(f"{verb} {path}: GitHub redirected to another host ({location[:200]}); not followed")
        moved = _ISSUE.match(path)
        if moved:
            self._check_same_issue(moved.group("repo"), int(moved.group("number")), target.path[len(self._prefix):])
        log.info("%s %s: following a redirect to %s", verb, path, target.path)
        return f"{self._origin}{target.path}", {**query, **dict(parse_qsl(target.query, keep_blank_values=True))}

    def _check_same_issue(self, repo: str, number: int, target: str) -> None:
        """Raise :class:`IssueMoved` unless ``target`` is the same issue (the repository was only renamed)."""
        match = _TARGET.match(target)
        if match is None:
            return
        new_number, new_id, new_repo = int(match.group("number")), match.group("id"), match.group("repo")
        here = self._repo_info(repo)
        same_repo = (int(new_id) == here.get("id")) if new_id else new_repo.lower() == here["full_name"].lower()
        if same_repo and new_number == number:
            return
        name = new_repo
        if name is None:
            try:
                name = str(self.request("GET", f"/repositories/{new_id}").data["full_name"])
            except (GitHubError, KeyError, TypeError):
                name = f"repositories/{new_id}"
        raise IssueMoved(f"{repo}#{number} was transferred to {name}#{new_number}", f"{name.lower()}#{new_number}")

    def _repo_info(self, repo: str) -> dict[str, Any]:
        if repo not in self._repos:
            self._repos[repo] = self.repository(repo)
        return self._repos[repo]

    def _send(self, verb: str, url: str, query: Mapping[str, Any], headers: Mapping[str, str] | None,
              body: Any, idempotent: bool = True) -> Response:
        """One HTTP request (no redirects), retried as the module describes."""
        what, attempt = f"{verb} {url.removeprefix(self._origin + self._prefix)}", 0
        while True:
            attempt += 1
            sent = {**HEADERS, **(headers or {})}
            try:
                self._auth.authentication(sent)  # an installation token is fetched here when due
            except GithubException as exc:
                raise GitHubError(f"{what}: GitHub refused an installation token ({exc.status}: "
                                  f"{(exc.data or {}).get('message') if isinstance(exc.data, dict) else exc}); "
                                  "check the App's installation", exc.status) from exc
            try:
                self.requests_made += 1
                raw = self._session.request(verb, url, params=query, headers=sent, allow_redirects=False,
                                            json=body, timeout=self.settings.timeout)
                text = raw.text
            except _TRANSIENT as exc:
                if not idempotent and not isinstance(exc, requests.ConnectTimeout):
                    raise GitHubError(f"{what}: connection error {exc.__class__.__name__}; GitHub may have done it, "
                                      "so it is not sent again") from exc
                self._backoff(attempt, f"{what}: connection error {exc.__class__.__name__}")
                continue
            response = Response(raw.status_code, {k.lower(): v for k, v in raw.headers.items()}, parse_json(text))
            if raw.status_code >= 500:
                if not idempotent:
                    raise GitHubError(f"{what}: HTTP {raw.status_code}; GitHub may have done it, so it is not sent "
                                      "again", raw.status_code)
                self._backoff(attempt, f"{what}: HTTP {raw.status_code}")
                continue
            if raw.status_code in (403, 429) and self._rate_limited(response, attempt, what):
                continue
            if raw.status_code >= 400:
                message = response.data.get("message") if isinstance(response.data, dict) else text[:200]
                if raw.status_code == 410 and "disabled" in str(message).lower():
                    raise IssuesDisabled(f"GitHub answered 410 to {what}: {message}")
                raise GitHubError(f"GitHub answered {raw.status_code} to {what}: {message}", raw.status_code)
            return response

    def _backoff(self, attempt: int, what: str) -> None:
        if attempt > self.settings.max_retries:
            raise GitHubError(f"{what}; gave up after {attempt} attempts")
        delay = min(self.settings.backoff_cap, self.settings.backoff_base * 2 ** (attempt - 1))
        log.warning("%s; retrying in %.1f s (attempt %d)", what, delay, attempt)
        self._sleep(delay)

    def _rate_limited(self, response: Response, attempt: int, what: str) -> bool:
        """Wait as GitHub documents and return True to retry; False if this 403/429 is not a rate limit."""
        headers = response.headers
        message = str(response.data.get("message", "")) if isinstance(response.data, dict) else ""
        if "retry-after" in headers:
            if attempt > self.settings.max_retries:
                raise GitHubError(f"{what}: still rate limited after {attempt} attempts", response.status)
            delay = float(headers["retry-after"])
            log.warning("%s: secondary rate limit, waiting %.0f s (Retry-After)", what, delay)
            self._sleep(delay)
            return True
        if headers.get("x-ratelimit-remaining") == "0":
            reset = float(headers.get("x-ratelimit-reset", self._clock() + 60))
            wait = max(0.0, reset - self._clock()) + 1
            if wait > self.max_rate_wait or attempt > self.settings.max_retries:
                until = time.strftime("%H:%M:%S", time.gmtime(reset))
                raise RateLimited(f"{what}: GitHub's rate limit is exhausted until {until} UTC", reset)
            log.warning("%s: primary rate limit, waiting %.0f s for the reset", what, wait)
            self._sleep(wait)
            return True
        if "secondary rate limit" in message.lower():
            self._backoff(attempt, f"{what}: secondary rate limit without Retry-After")
            return True
        return False

    def _page(self, path: str, params: Mapping[str, Any], etag: str | None = None) -> Page:
        response = self.request("GET", path, params, {"If-None-Match": etag} if etag else None)
        if response.status == 304:
            return Page(304, [], etag, False, redirected=response.redirected)
        if not isinstance(response.data, list):
            raise GitHubError(f"GET {path}: expected a JSON list, got {type(response.data).__name__}")
        return Page(response.status, response.data, response.headers.get("etag"), response.has_next,
                    iso_date(response.headers.get("date")), response.redirected)

    def _all(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            result = self._page(path, {**(params or {}), "per_page": PER_PAGE, "page": page})
            items += result.items
            if not result.has_next:
                return items
            page += 1

    def issues_page(self, repo: str, page: int, since: str | None = None, etag: str | None = None,
                    per_page: int = PER_PAGE) -> Page:
        params = {"state": "all", "sort": "updated", "direction": "asc", "per_page": per_page, "page": page}
        if since:
            params["since"] = since
        return self._page(f"/repos/{repo}/issues", params, etag)

    def repo_events_page(self, repo: str, page: int, per_page: int = PER_PAGE) -> Page:
        return self._page(f"/repos/{repo}/issues/events", {"per_page": per_page, "page": page})

    def issue_events(self, repo: str, number: int) -> list[dict[str, Any]]:
        return self._all(f"/repos/{repo}/issues/{number}/events")

    def get_issue(self, repo: str, number: int) -> dict[str, Any]:
        return dict(self.request("GET", f"/repos/{repo}/issues/{number}").data)

    def repository(self, repo: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/repos/{repo}").data)

    def pull_files(self, repo: str, number: int) -> list[str]:
        paths: list[str] = []
        for page in range(1, MAX_PULL_FILES // PER_PAGE + 1):
            result = self._page(f"/repos/{repo}/pulls/{number}/files", {"per_page": PER_PAGE, "page": page})
            for item in result.items:
                paths += [str(item[key]) for key in ("filename", "previous_filename")
                          if isinstance(item, dict) and isinstance(item.get(key), str)]
            if not result.has_next:
                break
        return list(dict.fromkeys(paths))

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        self.request("POST", f"/repos/{repo}/issues/{number}/labels", body={"labels": list(labels)})

    def remove_label(self, repo: str, number: int, label: str) -> bool:
        try:
            self.request("DELETE", f"/repos/{repo}/issues/{number}/labels/{quote(label, safe='')}")
        except GitHubError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def add_assignees(self, repo: str, number: int, logins: Sequence[str]) -> list[str]:
        issue = self.request("POST", f"/repos/{repo}/issues/{number}/assignees", body={"assignees": list(logins)}).data
        users = issue.get("assignees") if isinstance(issue, dict) else None
        return [str(user.get("login")) for user in users or [] if isinstance(user, dict)]

    def repository_labels(self, repo: str) -> list[dict[str, Any]]:
        return self._all(f"/repos/{repo}/labels")

    def list_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        return self._all(f"/repos/{repo}/issues/{number}/comments")

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/repos/{repo}/issues/{number}/comments", body={"body": body},
                                 idempotent=False).data)

    def edit_comment(self, repo: str, comment_id: int, body: str) -> None:
        self.request("PATCH", f"/repos/{repo}/issues/comments/{comment_id}", body={"body": body})

    def get_file(self, repo: str, path: str) -> str | None:
        try:
            data = self.request("GET", f"/repos/{repo}/contents/{quote(path)}").data
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        if not isinstance(data, dict) or data.get("encoding") != "base64":
            raise GitHubError(f"{repo}:{path} is not a file")
        return base64.b64decode(data["content"]).decode("utf-8")

