"""The GitHub adapter, built on PyGithub: authentication, retries, rate limits, the REST calls.

The only module that imports PyGithub. PyGithub provides the authentication (a GitHub App's
installation token, refreshed before it expires, or a personal token), the base URL for
GitHub Enterprise Server and the HTTP connection; retries are done here so that their
behaviour is explicit and testable:

* 5xx answers and connection errors: bounded exponential backoff (``max_retries``);
* secondary rate limits (403/429 with ``Retry-After``, or a 403 that says "secondary rate
  limit"): wait ``Retry-After`` seconds (or back off exponentially) as GitHub documents;
* the primary rate limit (``X-RateLimit-Remaining: 0``): wait until ``X-RateLimit-Reset`` if
  that is within ``max_rate_wait`` seconds, else raise :class:`RateLimited` so the caller
  stops cleanly with its cursor saved.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests
from github import Auth, Github

from triage.adapters.github.settings import GitHubSettings
from triage.domain.errors import GitHubError, RateLimited
from triage.ports.github import Page

log = logging.getLogger(__name__)
PER_PAGE = 100


@dataclass(frozen=True)
class Response:
    """A GitHub answer: status, lower-cased headers and parsed JSON (None when empty)."""

    status: int
    headers: dict[str, str]
    data: Any

    @property
    def has_next(self) -> bool:
        """True if the ``Link`` header names a next page."""
        return bool(re.search(r'<[^>]+>;\s*rel="next"', self.headers.get("link", "")))


class GitHubClient:
    """The real :class:`~triage.github_api.GitHubApi`: GitHub's REST API through PyGithub's requester."""

    def __init__(self, settings: GitHubSettings, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        settings.check()
        if settings.app_id and settings.private_key and settings.installation_id:
            auth: Auth.Auth = Auth.AppAuth(settings.app_id, settings.private_key).get_installation_auth(
                settings.installation_id)
        else:
            auth = Auth.Token(str(settings.token))
        self.settings = settings
        self._github = Github(auth=auth, base_url=settings.base_url, timeout=int(settings.timeout), retry=None,
                              per_page=PER_PAGE, seconds_between_requests=None, seconds_between_writes=None)
        self._sleep = sleep
        self._clock = clock
        self.requests_made = 0

    def request(self, verb: str, path: str, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, body: Any = None) -> Response:
        """Make one logical request, retrying transient failures as documented in the module."""
        attempt = 0
        while True:
            attempt += 1
            try:
                self.requests_made += 1
                status, raw_headers, text = self._github.requester.requestJson(
                    verb, path, parameters=dict(params or {}), headers=dict(headers or {}), input=body)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    ConnectionError) as exc:
                self._backoff(attempt, f"{verb} {path}: connection error {exc.__class__.__name__}")
                continue
            response = Response(status, {k.lower(): v for k, v in raw_headers.items()}, _parse(text))
            if status >= 500:
                self._backoff(attempt, f"{verb} {path}: HTTP {status}")
                continue
            if status in (403, 429) and self._rate_limited(response, attempt, f"{verb} {path}"):
                continue
            if status >= 400:
                message = response.data.get("message") if isinstance(response.data, dict) else text[:200]
                raise GitHubError(f"GitHub answered {status} to {verb} {path}: {message}", status)
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
            if wait > self.settings.max_rate_wait or attempt > self.settings.max_retries:
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
            return Page(304, [], etag, False)
        if not isinstance(response.data, list):
            raise GitHubError(f"GET {path}: expected a JSON list, got {type(response.data).__name__}")
        return Page(response.status, response.data, response.headers.get("etag"), response.has_next,
                    _iso(response.headers.get("date")))

    def _all(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            result = self._page(path, {**(params or {}), "per_page": PER_PAGE, "page": page})
            items += result.items
            if not result.has_next:
                return items
            page += 1

    def issues_page(self, repo: str, page: int, since: str | None = None, etag: str | None = None) -> Page:
        params = {"state": "all", "sort": "created", "direction": "asc", "per_page": PER_PAGE, "page": page}
        if since:
            params["since"] = since
        return self._page(f"/repos/{repo}/issues", params, etag)

    def repo_events_page(self, repo: str, page: int) -> Page:
        return self._page(f"/repos/{repo}/issues/events", {"per_page": PER_PAGE, "page": page})

    def issue_events(self, repo: str, number: int) -> list[dict[str, Any]]:
        return self._all(f"/repos/{repo}/issues/{number}/events")

    def get_issue(self, repo: str, number: int) -> dict[str, Any]:
        return dict(self.request("GET", f"/repos/{repo}/issues/{number}").data)

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        self.request("POST", f"/repos/{repo}/issues/{number}/labels", body={"labels": list(labels)})

    def list_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        return self._all(f"/repos/{repo}/issues/{number}/comments")

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/repos/{repo}/issues/{number}/comments", body={"body": body}).data)

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


def _iso(http_date: str | None) -> str | None:
    if not http_date:
        return None
    try:
        return parsedate_to_datetime(http_date).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return None


def _parse(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {"message": text[:500]}
