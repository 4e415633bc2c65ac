"""The loopback GitHub test server (tests/github_server.py), exercised through PyGithub and requests.

Every answer of every server here is also checked against GitHub's REST description (tests/openapi_check.py).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, Github, GithubException, GithubIntegration
from github.GithubException import (
    BadCredentialsException,
    RateLimitExceededException,
    UnknownObjectException,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from tests.github_server import (
    Fault,
    FixtureRepo,
    GitHubServer,
    build_fixture,
    parse_iso,
)
from tests.openapi_check import Exchange, OpenAPICheck, session_check

REPO = "dotnet/corefx"
APP_ID = 4242
INSTALLATION_ID = 77
AUTH = {"Authorization": "token test-token"}


class FakeClock:
    """A settable clock; starts at the real time so PyGithub's own token-expiry checks agree."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


def client(server: GitHubServer, auth: Auth.Auth | None = None, **kwargs: Any) -> Github:
    # PyGithub sleeps 0.25 s between requests (1 s between writes) unless told otherwise.
    return Github(auth=auth or Auth.Token("test-token"), base_url=server.url, retry=None, per_page=100,
                  seconds_between_requests=None, seconds_between_writes=None, **kwargs)


def call(gh: Github, verb: str, path: str, params: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None, body: Any = None) -> tuple[int, dict[str, str], Any]:
    status, raw_headers, text = gh.requester.requestJson(verb, path, params or {}, headers or {}, body)
    return status, {k.lower(): v for k, v in raw_headers.items()}, json.loads(text) if text else None


def links(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for part in filter(None, headers.get("link", "").split(", ")):
        url, rel = part.split("; ")
        out[rel[5:-1]] = url[1:-1]
    return out


def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def full() -> FixtureRepo:
    return build_fixture()


@pytest.fixture(scope="module")
def small() -> FixtureRepo:
    return build_fixture(limit=60)


@pytest.fixture(scope="module")
def app_key() -> str:
    return rsa_pem()


@pytest.fixture()
def server(small: FixtureRepo) -> Iterator[GitHubServer]:
    with GitHubServer(small) as srv:
        yield srv
    assert srv.errors == []


@pytest.fixture()
def gh(server: GitHubServer) -> Iterator[Github]:
    github = client(server)
    yield github
    github.close()


# ----------------------------------------------------------------------------------------------- fixture

def test_fixture_is_complete_ordered_and_deterministic(full: FixtureRepo, small: FixtureRepo) -> None:
    issues = list(full.issues.values())
    assert len(issues) == 1292 and full.numbers == sorted(full.numbers)
    created = [parse_iso(i["created_at"]) for i in issues]
    updated = [parse_iso(i["updated_at"]) for i in issues]
    assert created[0] == datetime(2018, 1, 1, tzinfo=UTC).timestamp()
    assert all(a < b for a, b in pairwise(created))
    assert all(a < b for a, b in pairwise(updated))
    assert all(c < u < c + 3600 for c, u in zip(created, updated))
    assert 0.25 < sum(i["state"] == "closed" for i in issues) / len(issues) < 0.35
    assert 0.02 < sum("pull_request" in i for i in issues) / len(issues) < 0.08
    assert all(i["closed_at"] == (i["updated_at"] if i["state"] == "closed" else None) for i in issues)
    assert {i["user"]["login"] for i in issues} <= {"alice-dev", "bob-contrib", "carol-oss", "dave-user", "erin-net"}
    for issue in issues:
        assert issue["url"] == f"https://api.github.com/repos/{REPO}/issues/{issue['number']}"
        assert issue["repository_url"] == f"https://api.github.com/repos/{REPO}"
        assert issue["comments"] == len(full.comments[issue["number"]])
        events = full.events[issue["number"]]
        labeled = [e for e in events if e["event"] == "labeled"]
        assert [e["label"]["name"] for e in labeled] == [label["name"] for label in issue["labels"]]
        for event in labeled:
            assert event["actor"]["type"] == "User" and event["actor"]["login"].startswith("maintainer-")
        assert all(issue["created_at"] < e["created_at"] <= issue["updated_at"] for e in events)
        assert [e["created_at"] for e in events] == sorted(e["created_at"] for e in events)
        closes = [e for e in events if e["event"] == "closed"]
        if issue["state"] == "closed":  # the last event closes it, with the issue's reason, at closed_at
            assert closes[-1] is events[-1] and closes[-1]["created_at"] == issue["closed_at"]
            assert closes[-1]["state_reason"] == issue["state_reason"] in ("completed", "not_planned")
        elif any(e["event"] == "reopened" for e in events):
            assert issue["state_reason"] == "reopened" and events[-1]["event"] == "reopened"
        assigned = [e["assignee"] for e in events if e["event"] == "assigned"]
        assert issue["assignees"] == assigned and issue["assignee"] == (assigned[0] if assigned else None)
        for event in events:
            if event["event"] == "renamed":
                assert event["rename"]["to"] == issue["title"] != event["rename"]["from"]
            if event["event"] == "referenced":
                assert len(event["commit_id"]) == 40 and event["commit_url"].endswith(event["commit_id"])
        assert all(set(label) >= {"id", "name", "color", "description", "default"} for label in issue["labels"])
    kinds = Counter(e["event"] for e in full.repo_events)
    assert set(kinds) == {"labeled", "renamed", "assigned", "mentioned", "subscribed", "referenced", "closed", "reopened"}
    assert kinds["labeled"] == sum(len(i["labels"]) for i in issues) and kinds["closed"] > kinds["reopened"] > 50
    assert kinds["mentioned"] == kinds["subscribed"] > 50 and kinds["renamed"] > 50 and kinds["assigned"] > 150
    reasons = Counter(i["state_reason"] for i in issues if i["state"] == "closed")
    assert set(reasons) == {"completed", "not_planned"} and 0.1 < reasons["not_planned"] / sum(reasons.values()) < 0.3
    assert len(full.repo_events) == sum(len(events) for events in full.events.values())
    assert [e["id"] for e in full.repo_events] == sorted(e["id"] for e in full.repo_events)
    assert [e["created_at"] for e in full.repo_events] == sorted(e["created_at"] for e in full.repo_events)
    assert all(e["issue"]["number"] in full.issues for e in full.repo_events)
    assert set(full.labels) == {label["name"] for i in issues for label in i["labels"]}
    assert len({label["id"] for label in full.labels.values()}) == len(full.labels)
    # the same seed gives the same objects; limit keeps the oldest issues unchanged
    assert list(small.issues.values()) == issues[:60]
    assert build_fixture(limit=5, seed=1).issues != build_fixture(limit=5, seed=0).issues


# ----------------------------------------------------------------------------------------------- listing

def test_list_all_issues_by_following_link_headers(full: FixtureRepo) -> None:
    with GitHubServer(full) as srv:
        gh = client(srv)
        seen: list[int] = []
        url: str | None = f"/repos/{REPO}/issues"
        params: dict[str, Any] = {"state": "all", "per_page": 100}
        pages = []
        while url:
            status, headers, data = call(gh, "GET", url, params)
            assert status == 200 and headers["content-type"] == "application/json; charset=utf-8"
            seen += [item["number"] for item in data]
            pages.append(links(headers))
            url, params = pages[-1].get("next"), {}
        assert sorted(seen) == full.numbers and len(seen) == len(set(seen))
        assert len(pages) == 13 == srv.count("GET", r"/issues$")
        assert set(pages[0]) == {"next", "last"}  # GitHub's links name the repository by id
        assert pages[0]["last"].startswith(f"{srv.url}/repositories/{srv.repository_id()}/issues?")
        assert set(pages[5]) == {"prev", "next", "last", "first"}
        assert set(pages[-1]) == {"prev", "first"}
        assert seen[0] == full.numbers[-1]  # default: sort=created, direction=desc

        repo = gh.get_repo(REPO)
        numbers = [issue.number for issue in repo.get_issues(state="all")]
        assert sorted(numbers) == full.numbers and len(numbers) == len(full.numbers)
        opened = [issue.number for issue in repo.get_issues()]
        assert len(opened) == sum(i["state"] == "open" for i in full.issues.values())
        first = repo.get_issue(full.numbers[0])
        assert first.user.login and first.labels[0].name == full.label_names(full.numbers[0])[0]
        assert first.url == f"{srv.url}/repos/{REPO}/issues/{full.numbers[0]}"
        gh.close()
    assert srv.errors == []


def test_since_sort_and_direction(server: GitHubServer, gh: Github, small: FixtureRepo) -> None:
    pivot = small.issues[small.numbers[40]]["updated_at"]
    status, _, data = call(gh, "GET", f"/repos/{REPO}/issues",
                           {"state": "all", "since": pivot, "sort": "updated", "direction": "asc"})
    assert status == 200 and [i["number"] for i in data] == small.numbers[40:]
    _, _, desc = call(gh, "GET", f"/repos/{REPO}/issues", {"state": "all", "since": pivot, "sort": "updated"})
    assert [i["number"] for i in desc] == small.numbers[40:][::-1]
    _, _, closed = call(gh, "GET", f"/repos/{REPO}/issues", {"state": "closed"})
    assert {i["number"] for i in closed} == {n for n, i in small.issues.items() if i["state"] == "closed"}
    since = datetime.fromtimestamp(parse_iso(pivot), tz=UTC)
    assert [i.number for i in gh.get_repo(REPO).get_issues(state="all", since=since, sort="updated",
                                                           direction="asc")] == small.numbers[40:]
    status, _, data = call(gh, "GET", f"/repos/{REPO}/issues", {"since": "yesterday"})
    assert status == 422


def test_etag_gives_304_without_counting(server: GitHubServer, gh: Github, small: FixtureRepo) -> None:
    path, params = f"/repos/{REPO}/issues", {"state": "all", "per_page": 10}
    status, headers, _ = call(gh, "GET", path, params)
    etag, remaining = headers["etag"], int(headers["x-ratelimit-remaining"])
    status, headers, data = call(gh, "GET", path, params, {"If-None-Match": etag})
    assert status == 304 and data is None and int(headers["x-ratelimit-remaining"]) == remaining
    assert headers["etag"] == etag
    server.add_label(small.numbers[-1], "needs-info", "maintainer-b")
    status, headers, _ = call(gh, "GET", path, params, {"If-None-Match": etag})
    assert status == 200 and headers["etag"] != etag and int(headers["x-ratelimit-remaining"]) == remaining - 1


def test_bad_credentials_get_401_and_anonymous_callers_read_public_repositories(server: GitHubServer,
                                                                               small: FixtureRepo) -> None:
    bad = client(server, Auth.Token("wrong"))
    with pytest.raises(BadCredentialsException) as info:
        bad.get_repo(REPO)
    assert info.value.status == 401 and info.value.data["message"] == "Bad credentials"
    bad.close()
    answer = requests.get(f"{server.url}/repos/{REPO}/issues", headers={"Authorization": "token nope"}, timeout=5)
    assert answer.status_code == 401 and answer.json() == {"message": "Bad credentials", "status": "401",
                                                          "documentation_url": "https://docs.github.com/rest"}
    assert answer.headers["X-RateLimit-Resource"] == "core"
    answer = requests.get(f"{server.url}/repos/{REPO}/issues", headers={"Authorization": "Bearer test-token"},
                          timeout=5)
    assert answer.status_code == 200 and answer.headers["X-RateLimit-Limit"] == "5000"
    # no credentials at all: GitHub serves public repositories to anyone, 60 requests an hour
    number = small.numbers[0]
    anonymous = Github(base_url=server.url, retry=None, seconds_between_requests=None)
    assert anonymous.get_repo(REPO).get_issue(number).title == small.issues[number]["title"]
    answer = requests.get(f"{server.url}/repos/{REPO}/issues/{number}/events", timeout=5)
    assert answer.status_code == 200 and answer.headers["X-RateLimit-Limit"] == "60"
    assert answer.headers["X-RateLimit-Remaining"] == "57"  # the repository, the issue, these events
    assert server.rate_limit["used"] == 1, "anonymous requests have a bucket of their own"
    # writing needs credentials, and nothing changes
    answer = requests.post(f"{server.url}/repos/{REPO}/issues/{number}/labels", json=["bug"], timeout=5)
    assert answer.status_code == 401 and answer.json()["message"] == "Requires authentication"
    assert [label["name"] for label in server.issue(number)["labels"]] == small.label_names(number)
    anonymous.close()


def test_anonymous_rate_limit_and_private_repositories(small: FixtureRepo) -> None:
    clock = FakeClock()
    with GitHubServer(small, anonymous_rate_limit=2, clock=clock) as srv:
        statuses = [requests.get(f"{srv.url}/repos/{REPO}", timeout=5) for _ in range(3)]
        assert [a.status_code for a in statuses] == [200, 200, 403]
        assert statuses[-1].json()["message"].startswith("API rate limit exceeded for 127.0.0.1.")
        assert statuses[-1].headers["X-RateLimit-Remaining"] == "0"
        assert requests.get(f"{srv.url}/repos/{REPO}", headers=AUTH, timeout=5).status_code == 200
        clock.now += 3600
        assert requests.get(f"{srv.url}/repos/{REPO}", timeout=5).status_code == 200
    with GitHubServer(small, private=True) as srv:
        assert requests.get(f"{srv.url}/repos/{REPO}", timeout=5).status_code == 404
        answer = requests.get(f"{srv.url}/repos/{REPO}", headers=AUTH, timeout=5)
        assert answer.status_code == 200 and answer.json()["private"] is True
        assert answer.json()["visibility"] == "private"


def test_not_found(server: GitHubServer, gh: Github) -> None:
    with pytest.raises(UnknownObjectException):
        gh.get_repo(REPO).get_issue(1)
    assert call(gh, "GET", f"/repos/{REPO}/issues/1")[2]["message"] == "Not Found"
    assert call(gh, "GET", "/repos/other/repo/issues")[0] == 404
    assert call(gh, "GET", "/nothing/here")[0] == 404


# ----------------------------------------------------------------------------------------------- app auth

def test_app_installation_auth(small: FixtureRepo, app_key: str) -> None:
    with GitHubServer(small, app_id=APP_ID, private_key_pem=app_key, installation_id=INSTALLATION_ID) as srv:
        auth = Auth.AppAuth(APP_ID, app_key).get_installation_auth(INSTALLATION_ID)
        gh = client(srv, auth)
        issue = gh.get_repo(REPO).get_issue(small.numbers[0])
        issue.add_to_labels("bot-label")
        assert srv.tokens_issued == 1
        token_request = srv.find("POST", r"^/app/installations/\d+/access_tokens$")[0]
        assert token_request.status == 201 and token_request.headers["authorization"].startswith("Bearer ")
        assert all(r.headers["authorization"].startswith("token ghs_") for r in srv.requests[1:])
        event = srv.events(small.numbers[0])[-1]
        assert event["event"] == "labeled" and event["actor"]["login"] == small.bot_login == "issue-triage[bot]"
        assert event["actor"]["type"] == "Bot"
        comment = issue.create_comment("Labeled by the bot")
        assert comment.user.login == small.bot_login and srv.tokens_issued == 1
        integration = GithubIntegration(auth=Auth.AppAuth(APP_ID, app_key), base_url=srv.url)
        assert integration.get_repo_installation("dotnet", "corefx").id == INSTALLATION_ID
        integration.close()
        gh.close()

        for wrong in (Auth.AppAuth(APP_ID + 1, app_key), Auth.AppAuth(APP_ID, rsa_pem())):
            bad = client(srv, wrong.get_installation_auth(INSTALLATION_ID))
            with pytest.raises(GithubException) as info:
                bad.get_repo(REPO)
            assert info.value.status == 401
            bad.close()
        unknown = client(srv, Auth.AppAuth(APP_ID, app_key).get_installation_auth(INSTALLATION_ID + 1))
        with pytest.raises(UnknownObjectException):
            unknown.get_repo(REPO)
        unknown.close()
        assert srv.tokens_issued == 1
    assert srv.errors == []


def test_installation_tokens_expire(small: FixtureRepo, app_key: str) -> None:
    clock = FakeClock()
    with GitHubServer(small, app_id=APP_ID, private_key_pem=app_key, installation_id=INSTALLATION_ID,
                      token_ttl_seconds=600, clock=clock) as srv:
        gh = client(srv, Auth.AppAuth(APP_ID, app_key).get_installation_auth(INSTALLATION_ID))
        assert call(gh, "GET", f"/repos/{REPO}/issues/{small.numbers[0]}")[0] == 200
        (expiry,) = srv.installation_tokens.values()
        assert expiry == clock.now + 600
        clock.now += 601  # the server's clock only: PyGithub still believes its token is fresh
        status, _, data = call(gh, "GET", f"/repos/{REPO}/issues/{small.numbers[0]}")
        assert status == 401 and data["message"] == "Bad credentials"
        gh.close()
        # a lifetime under PyGithub's 20 s refresh margin makes it fetch a new token for every request
        srv.token_ttl_seconds = 10
        clock.now = float(int(time.time()))
        short = client(srv, Auth.AppAuth(APP_ID, app_key).get_installation_auth(INSTALLATION_ID))
        call(short, "GET", f"/repos/{REPO}/issues/{small.numbers[0]}")
        call(short, "GET", f"/repos/{REPO}/issues/{small.numbers[1]}")
        assert srv.tokens_issued == 3
        short.close()
    # a JWT past its exp is refused
    with GitHubServer(small, app_id=APP_ID, private_key_pem=app_key, installation_id=INSTALLATION_ID) as srv:
        srv.jwt_clock = lambda: time.time() + 3600
        expired = client(srv, Auth.AppAuth(APP_ID, app_key).get_installation_auth(INSTALLATION_ID))
        with pytest.raises(GithubException) as info:
            expired.get_repo(REPO)
        assert info.value.status == 401 and "exp" in info.value.data["message"]
        assert srv.tokens_issued == 0
        expired.close()


# ----------------------------------------------------------------------------------------------- writes

def test_add_and_remove_labels_record_events(server: GitHubServer, gh: Github, small: FixtureRepo) -> None:
    number = small.numbers[3]
    existing = small.label_names(number)[0]
    before = server.issue(number)["updated_at"]
    status, _, labels = call(gh, "POST", f"/repos/{REPO}/issues/{number}/labels",
                             body={"labels": [existing, "bug", "team/net io", "bug"]})
    assert status == 200 and [label["name"] for label in labels] == [existing, "bug", "team/net io"]
    events = server.events(number)
    assert [(e["event"], e["label"]["name"], e["actor"]["login"]) for e in events[-2:]] == [
        ("labeled", "bug", "test-user"), ("labeled", "team/net io", "test-user")]
    after = server.issue(number)["updated_at"]
    assert after > before and after > max(i["updated_at"] for i in small.issues.values())
    assert {"bug", "team/net io"} <= {label.name for label in gh.get_repo(REPO).get_labels()}

    issue = gh.get_repo(REPO).get_issue(number)
    issue.remove_from_labels("team/net io")  # PyGithub quotes the name but keeps the "/"
    status, _, remaining = call(gh, "DELETE", f"/repos/{REPO}/issues/{number}/labels/bug")
    assert status == 200 and [label["name"] for label in remaining] == [existing]
    assert [e.event for e in issue.get_events()][-4:] == ["labeled", "labeled", "unlabeled", "unlabeled"]
    assert call(gh, "DELETE", f"/repos/{REPO}/issues/{number}/labels/bug")[0] == 404
    timeline = list(issue.get_timeline())
    assert [t.event for t in timeline][-2:] == ["unlabeled", "unlabeled"]

    status, _, page = call(gh, "GET", f"/repos/{REPO}/issues/events", {"per_page": 3})
    assert status == 200 and [e["event"] for e in page] == ["unlabeled", "unlabeled", "labeled"]
    assert all(e["issue"]["number"] == number for e in page)
    assert [e["id"] for e in page] == sorted((e["id"] for e in page), reverse=True)
    _, _, changed = call(gh, "GET", f"/repos/{REPO}/issues", {"state": "all", "since": after})
    assert [i["number"] for i in changed] == [number]
    assert [e.event for e in gh.get_repo(REPO).get_issues_events()][:2] == ["unlabeled", "unlabeled"]


def test_comments(server: GitHubServer, gh: Github, small: FixtureRepo) -> None:
    number = next(n for n, c in small.comments.items() if c)
    status, _, comments = call(gh, "GET", f"/repos/{REPO}/issues/{number}/comments")
    assert status == 200 and len(comments) == small.issues[number]["comments"]
    status, _, created = call(gh, "POST", f"/repos/{REPO}/issues/{number}/comments", body={"body": "hello"})
    assert status == 201 and created["user"] == {**created["user"], "login": "test-user", "type": "User"}
    status, _, edited = call(gh, "PATCH", f"/repos/{REPO}/issues/comments/{created['id']}", body={"body": "bye"})
    assert status == 200 and edited["body"] == "bye" and edited["updated_at"] > created["updated_at"]
    issue = gh.get_repo(REPO).get_issue(number)
    assert issue.comments == len(comments) + 1
    comment = issue.create_comment("via PyGithub")
    comment.edit("edited via PyGithub")
    assert [c["body"] for c in server.comments(number)][-2:] == ["bye", "edited via PyGithub"]


def test_contents(server: GitHubServer, gh: Github) -> None:
    text = "labels:\n  allow: [area-System.IO]\n" * 10
    server.set_file(".github/issue-triage.yml", text)
    repo = gh.get_repo(REPO)
    assert repo.get_contents(".github/issue-triage.yml").decoded_content.decode() == text
    status, _, data = call(gh, "GET", f"/repos/{REPO}/contents/.github/issue-triage.yml")
    assert status == 200 and data["type"] == "file" and data["encoding"] == "base64" and len(data["sha"]) == 40
    with pytest.raises(UnknownObjectException):
        repo.get_contents("missing.yml")


def test_mutators(server: GitHubServer, small: FixtureRepo) -> None:
    newest_fixture = max(i["updated_at"] for i in small.issues.values())
    issue = server.open_issue("Crash in System.IO", "stack trace", user="zoe", labels=("area-System.IO",))
    assert issue["number"] == small.numbers[-1] + 1 and issue["created_at"] > newest_fixture
    assert issue["user"]["login"] == "zoe" and [label["name"] for label in issue["labels"]] == ["area-System.IO"]
    assert issue["url"] == f"{server.url}/repos/{REPO}/issues/{issue['number']}"
    edited = server.edit_issue(issue["number"], title="Crash in File.Open")
    assert edited["title"] == "Crash in File.Open" and edited["updated_at"] > issue["updated_at"]
    assert server.add_label(issue["number"], "bug", "maintainer-c") is True
    assert server.add_label(issue["number"], "bug", "maintainer-c") is False
    assert server.remove_label(issue["number"], "area-System.IO", "issue-triage[bot]", actor_type="Bot") is True
    assert server.remove_label(issue["number"], "area-System.IO", "maintainer-c") is False
    events = server.events(issue["number"])
    assert [(e["event"], e["actor"]["login"], e["actor"]["type"]) for e in events] == [
        ("labeled", "zoe", "User"), ("renamed", "zoe", "User"), ("labeled", "maintainer-c", "User"),
        ("unlabeled", "issue-triage[bot]", "Bot")]
    assert events[1]["rename"] == {"from": "Crash in System.IO", "to": "Crash in File.Open"}
    assert [e["performed_via_github_app"] is None for e in events] == [True, True, True, False]
    stamps = [e["created_at"] for e in events]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4
    assert server.issue(issue["number"])["updated_at"] == stamps[-1]
    assert server.events()[-1]["issue"]["number"] == issue["number"]
    with pytest.raises(KeyError):
        server.issue(1)


# ----------------------------------------------------------------------------------------------- faults

def test_status_fault_is_queued_and_matched_in_order(server: GitHubServer, gh: Github, small: FixtureRepo) -> None:
    path = f"/repos/{REPO}/issues/{small.numbers[0]}"
    server.inject("GET", r"/issues/\d+$", Fault.status(502), times=2)
    server.inject("*", r"/issues/\d+$", Fault.status(503, {"message": "down"}, {"X-Custom": "1"}))
    server.inject("POST", r"/comments$", 500)
    assert call(gh, "GET", f"/repos/{REPO}")[0] == 200  # not matched
    assert call(gh, "GET", path)[0] == 502
    assert call(gh, "GET", path)[0] == 502
    status, headers, data = call(gh, "GET", path)
    assert (status, data, headers["x-custom"]) == (503, {"message": "down"}, "1")
    assert call(gh, "GET", path)[0] == 200
    assert call(gh, "POST", f"{path}/comments", body={"body": "x"})[0] == 500
    bodies = [c["body"] for c in small.comments[small.numbers[0]]]
    assert [c["body"] for c in server.comments(small.numbers[0])] == bodies  # the faulted POST changed nothing
    assert server.pending_faults == []
    server.inject("GET", r".*", 500, times=None)
    assert call(gh, "GET", path)[0] == call(gh, "GET", path)[0] == 500
    server.clear_faults()
    assert call(gh, "GET", path)[0] == 200
    assert [r.fault for r in server.requests] == [None, "status", "status", "status", None, "status", "status",
                                                  "status", None]


@pytest.mark.parametrize("code", [403, 429])
def test_secondary_limit_fault(server: GitHubServer, gh: Github, code: int) -> None:
    server.inject("GET", r"/issues$", Fault.secondary_limit(retry_after=7, status=code))
    status, headers, data = call(gh, "GET", f"/repos/{REPO}/issues")
    assert status == code and headers["retry-after"] == "7"
    assert data["message"].startswith("You have exceeded a secondary rate limit")
    assert int(headers["x-ratelimit-remaining"]) > 0
    assert call(gh, "GET", f"/repos/{REPO}/issues")[0] == 200


def test_primary_limit_fault(small: FixtureRepo) -> None:
    clock = FakeClock()
    with GitHubServer(small, clock=clock) as srv:
        gh = client(srv)
        srv.inject("GET", r"^/repos/[^/]+/[^/]+$", Fault.primary_limit(reset_in=90))
        with pytest.raises(RateLimitExceededException) as info:
            gh.get_repo(REPO)
        assert info.value.status == 403
        assert info.value.headers["x-ratelimit-remaining"] == "0"
        assert int(info.value.headers["x-ratelimit-reset"]) == clock.now + 90
        assert gh.get_repo(REPO).full_name == REPO
        gh.close()


def test_drop_fault_is_a_connection_error(server: GitHubServer, gh: Github) -> None:
    server.inject("GET", r"/issues$", Fault.drop())
    with pytest.raises(requests.exceptions.ConnectionError):
        call(gh, "GET", f"/repos/{REPO}/issues")
    assert call(gh, "GET", f"/repos/{REPO}/issues")[0] == 200
    assert [(r.status, r.fault) for r in server.requests] == [(None, "drop"), (200, None)]


def test_truncate_fault_is_an_incomplete_body(server: GitHubServer, gh: Github) -> None:
    server.inject("GET", r"/issues$", Fault.truncate())
    with pytest.raises(requests.exceptions.ChunkedEncodingError):  # not a requests.ConnectionError
        call(gh, "GET", f"/repos/{REPO}/issues")
    assert call(gh, "GET", f"/repos/{REPO}/issues")[0] == 200


def test_slow_fault_delays_then_answers(server: GitHubServer, gh: Github) -> None:
    server.inject("GET", r"/issues$", Fault.slow(0.3))
    started = time.monotonic()
    status, _, data = call(gh, "GET", f"/repos/{REPO}/issues")
    assert status == 200 and data and time.monotonic() - started >= 0.3


# ----------------------------------------------------------------------------------------------- rate limit

def test_rate_limit_headers_decrement_exhaust_and_refill(small: FixtureRepo) -> None:
    clock = FakeClock()
    with GitHubServer(small, rate_limit=3, rate_limit_window=600, clock=clock) as srv:
        gh = client(srv)
        seen = []
        for _ in range(3):
            status, headers, _ = call(gh, "GET", f"/repos/{REPO}/issues")
            seen.append((status, headers["x-ratelimit-remaining"], headers["x-ratelimit-used"]))
            assert headers["x-ratelimit-limit"] == "3" and headers["x-ratelimit-resource"] == "core"
            assert int(headers["x-ratelimit-reset"]) == clock.now + 600
        assert seen == [(200, "2", "1"), (200, "1", "2"), (200, "0", "3")]
        status, headers, data = call(gh, "GET", f"/repos/{REPO}/issues")
        assert status == 403 and data["message"].startswith("API rate limit exceeded for user ID ")
        assert headers["x-ratelimit-remaining"] == "0"
        with pytest.raises(RateLimitExceededException):
            gh.get_repo(REPO)
        rate = gh.get_rate_limit()  # GET /rate_limit is free, even when exhausted
        assert rate.resources.core.remaining == 0 and rate.resources.core.limit == 3
        clock.now += 599
        assert call(gh, "GET", f"/repos/{REPO}/issues")[0] == 403
        clock.now += 1
        status, headers, _ = call(gh, "GET", f"/repos/{REPO}/issues")
        assert (status, headers["x-ratelimit-remaining"]) == (200, "2")
        assert int(headers["x-ratelimit-reset"]) == clock.now + 600
        srv.set_rate_limit(remaining=0, reset_at=clock.now + 30)
        assert call(gh, "GET", f"/repos/{REPO}/issues")[0] == 403
        assert srv.rate_limit == {"limit": 3, "remaining": 0, "reset": clock.now + 30, "used": 3}
        gh.close()


def test_request_log(server: GitHubServer, gh: Github, small: FixtureRepo) -> None:
    call(gh, "GET", f"/repos/{REPO}/issues", {"state": "all", "per_page": 5})
    call(gh, "GET", f"/repos/{REPO}/issues/{small.numbers[0]}")
    call(gh, "GET", f"/repos/{REPO}/issues/1")
    method, path, query, status, headers = server.requests[0]
    assert (method, path, query, status) == ("GET", f"/repos/{REPO}/issues", {"state": "all", "per_page": "5"}, 200)
    assert headers["authorization"] == "token test-token"
    assert server.count() == 3 and server.count("GET", r"/issues/\d+$") == 2
    assert server.count(status=404) == 1 and server.count("POST") == 0
    server.reset_log()
    assert server.requests == [] and server.count() == 0


def test_concurrent_writes_are_serialised(server: GitHubServer, small: FixtureRepo) -> None:
    number = small.numbers[10]

    def add(index: int) -> int:
        answer = requests.post(f"{server.url}/repos/{REPO}/issues/{number}/labels",
                               json={"labels": [f"l{index}"]}, headers={"Authorization": "token test-token"},
                               timeout=5)
        return answer.status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(add, range(24))) == {200}
    names = {label["name"] for label in server.issue(number)["labels"]}
    assert {f"l{i}" for i in range(24)} <= names
    added = [e for e in server.events(number) if e["event"] == "labeled" and e["label"]["name"].startswith("l")]
    assert len(added) == 24 and len({e["created_at"] for e in added}) == 24
    assert server.rate_limit["used"] == 24


# ----------------------------------------------------------------------------------------------- GitHub's objects

def required(schema: str) -> set[str]:
    """The fields GitHub's REST description requires of ``schema``."""
    return set(session_check().schema(schema)["required"])


def test_users_apps_and_installations_have_every_required_field(small: FixtureRepo, app_key: str) -> None:
    with GitHubServer(small, app_id=APP_ID, private_key_pem=app_key, installation_id=INSTALLATION_ID) as srv:
        number = next(n for n, c in small.comments.items() if c)
        users = [requests.get(f"{srv.url}/repos/{REPO}/issues/{number}", headers=AUTH, timeout=5).json()["user"],
                 requests.get(f"{srv.url}/repos/{REPO}/issues/{number}/comments", headers=AUTH, timeout=5).json()[0]
                 ["user"],
                 requests.get(f"{srv.url}/repos/{REPO}/issues/events", headers=AUTH, timeout=5).json()[0]["actor"],
                 requests.get(f"{srv.url}/repos/{REPO}", headers=AUTH, timeout=5).json()["owner"]]
        assert len(required("simple-user")) == 18
        for user in users:
            assert set(user) >= required("simple-user") and user["avatar_url"].startswith("https://")
        assert users[-1]["type"] == "Organization" and users[-1]["url"] == f"{srv.url}/users/dotnet"
        integration = GithubIntegration(auth=Auth.AppAuth(APP_ID, app_key), base_url=srv.url)
        app = integration.get_app()
        installation = integration.get_repo_installation("dotnet", "corefx")
        assert (app.id, app.slug, app.owner.login) == (APP_ID, "issue-triage", "dotnet")
        assert installation.id == INSTALLATION_ID and installation.app_id == APP_ID
        integration.close()
        bearer = {"Authorization": f"Bearer {Auth.AppAuth(APP_ID, app_key).create_jwt()}"}
        raw_app = requests.get(f"{srv.url}/app", headers=bearer, timeout=5).json()
        assert set(raw_app) >= required("integration") and raw_app["permissions"]["issues"] == "write"
        raw_installation = requests.get(f"{srv.url}/app/installations/{INSTALLATION_ID}", headers=bearer,
                                        timeout=5).json()
        assert set(raw_installation) >= required("installation")
        assert raw_installation["account"]["login"] == "dotnet"
        assert raw_installation["target_id"] == raw_installation["account"]["id"]


def test_content_file_has_links(server: GitHubServer, gh: Github) -> None:
    server.set_file(".github/issue-labeler.yml", "max_labels: 2\n")
    data = requests.get(f"{server.url}/repos/{REPO}/contents/.github/issue-labeler.yml", headers=AUTH,
                        timeout=5).json()
    assert set(data) >= required("content-file")
    assert data["_links"] == {"self": data["url"], "git": data["git_url"], "html": data["html_url"]}
    assert requests.get(data["_links"]["self"], headers=AUTH, timeout=5).json()["sha"] == data["sha"]
    assert gh.get_repo(REPO).get_contents(".github/issue-labeler.yml").decoded_content == b"max_labels: 2\n"


def test_writes_with_an_installation_token_carry_the_app(small: FixtureRepo, app_key: str) -> None:
    with GitHubServer(small, app_id=APP_ID, private_key_pem=app_key, installation_id=INSTALLATION_ID) as srv:
        bot = client(srv, Auth.AppAuth(APP_ID, app_key).get_installation_auth(INSTALLATION_ID))
        number = small.numbers[2]
        issue = bot.get_repo(REPO).get_issue(number)
        issue.add_to_labels("area-System.Net")
        issue.create_comment("Labeled area-System.Net")
        issue.remove_from_labels("area-System.Net")
        srv.add_label(number, "needs-triage", "maintainer-a")
        srv.add_label(number, "dependencies", "dependabot[bot]", actor_type="Bot")
        events = srv.events(number)[-4:]
        apps = [e["performed_via_github_app"] for e in events]
        assert [e["event"] for e in events] == ["labeled", "unlabeled", "labeled", "labeled"]
        assert apps[0]["id"] == apps[1]["id"] == APP_ID and apps[0]["slug"] == "issue-triage"
        assert set(apps[0]) >= required("integration") and apps[2] is None
        assert apps[3]["slug"] == "dependabot" and apps[3]["id"] != APP_ID
        comment = srv.comments(number)[-1]
        assert comment["user"]["login"] == "issue-triage[bot]" and comment["performed_via_github_app"]["id"] == APP_ID
        assert all(c["performed_via_github_app"] is None for c in srv.comments(number)[:-1])
        timeline = requests.get(f"{srv.url}/repos/{REPO}/issues/{number}/timeline", headers=AUTH, timeout=5).json()
        assert timeline[-3]["performed_via_github_app"]["id"] == APP_ID  # the bot's comment, in the timeline too
        bot.close()


# ----------------------------------------------------------------------------------------------- issue history

def test_close_and_reopen_record_events_and_keep_the_reason(server: GitHubServer, gh: Github, small: FixtureRepo) -> None:
    number = next(n for n in small.numbers if small.issues[n]["state"] == "open" and "pull_request" not in
                  small.issues[n])
    issue = gh.get_repo(REPO).get_issue(number)
    issue.edit(state="closed", state_reason="not_planned")
    assert issue.state == "closed" and issue.state_reason == "not_planned"
    assert server.issue(number)["state_reason"] == "not_planned"
    issue.edit(state="open")
    assert issue.state_reason == "reopened" and issue.closed_at is None
    server.close_issue(number, "maintainer-b", reason="duplicate")
    server.reopen_issue(number, "alice-dev")
    closed = server.close_issue(number, "maintainer-c")
    events = server.events(number)[-5:]
    assert [(e["event"], e["state_reason"], e["actor"]["login"]) for e in events] == [
        ("closed", "not_planned", "test-user"), ("reopened", "reopened", "test-user"),
        ("closed", "duplicate", "maintainer-b"), ("reopened", "reopened", "alice-dev"),
        ("closed", "completed", "maintainer-c")]
    assert closed["closed_at"] == events[-1]["created_at"] == closed["updated_at"]
    # the same state again records nothing; a new reason for a closed issue is kept without an event
    server.close_issue(number, "maintainer-c", reason="not_planned")
    assert len(server.events(number)) == len(small.events[number]) + 5
    assert server.issue(number)["state_reason"] == "not_planned"


@pytest.mark.parametrize(("change", "field"), [
    ({"state": "shut"}, "state"), ({"state": "closed", "state_reason": "wontfix"}, "state_reason"),
    ({"state": "open", "state_reason": "completed"}, "state_reason"), ({"title": ""}, "title"),
    ({"title": "ok", "state": "closed", "state_reason": "bogus"}, "state_reason"), ({"title": "x" * 257}, "title"),
    ({"body": 7}, "body"), ({"title": "ok", "labels": [""]}, "labels"), ({"labels": "x" * 51}, "labels"),
    ({"state": ["closed"]}, "state")])
def test_bad_edits_are_422_and_change_nothing(server: GitHubServer, small: FixtureRepo, change: dict[str, Any],
                                              field: str) -> None:
    number = small.numbers[4]
    before, events = server.issue(number), server.events(number)
    answer = requests.patch(f"{server.url}/repos/{REPO}/issues/{number}", json=change, headers=AUTH, timeout=5)
    assert answer.status_code == 422 and answer.json()["message"] == "Validation Failed"
    (error,) = answer.json()["errors"]
    assert error["field"] == field and error["code"] and field in error["message"]
    assert server.issue(number) == before and server.events(number) == events


def test_timeline_has_commented_items(server: GitHubServer, gh: Github, small: FixtureRepo) -> None:
    number = next(n for n, c in small.comments.items() if len(c) >= 2)
    server.add_comment(number, "Still happening on 2.1", user="alice-dev")
    server.add_label(number, "regression", "maintainer-a")
    answer = requests.get(f"{server.url}/repos/{REPO}/issues/{number}/timeline", headers=AUTH, timeout=5)
    items = answer.json()
    commented = [i for i in items if i["event"] == "commented"]
    assert [c["body"] for c in commented] == [c["body"] for c in small.comments[number]] + ["Still happening on 2.1"]
    assert all(c["actor"] == c["user"] and c["id"] and c["html_url"].endswith(f"#issuecomment-{c['id']}")
               for c in commented)
    assert [i["created_at"] for i in items] == sorted(i["created_at"] for i in items)
    assert len(items) == len(small.events[number]) + len(small.comments[number]) + 2
    assert [i["event"] for i in items[-2:]] == ["commented", "labeled"]
    assert [t.event for t in gh.get_repo(REPO).get_issue(number).get_timeline()] == [i["event"] for i in items]


# ----------------------------------------------------------------------------------------------- writes

@pytest.mark.parametrize("body", [[], {"labels": []}, {"labels": [{"name": ""}]}, {"labels": None}, {}, "",
                                  {"labels": ["ok", 7]}, {"labels": [f"l{i}" for i in range(101)]}])
def test_adding_no_labels_or_bad_ones_is_422(server: GitHubServer, small: FixtureRepo, body: Any) -> None:
    number = small.numbers[3]
    before, events = server.issue(number), server.events(number)
    answer = requests.post(f"{server.url}/repos/{REPO}/issues/{number}/labels", json=body, headers=AUTH, timeout=5)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "labels" and answer.json()["errors"][0]["resource"] == "Label"
    assert server.issue(number) == before and server.events(number) == events


def test_setting_no_labels_clears_them(server: GitHubServer, small: FixtureRepo) -> None:
    number = next(n for n in small.numbers if small.issues[n]["labels"])
    answer = requests.put(f"{server.url}/repos/{REPO}/issues/{number}/labels", json={"labels": []}, headers=AUTH,
                          timeout=5)
    assert answer.status_code == 200 and answer.json() == [] and server.issue(number)["labels"] == []
    assert [e["event"] for e in server.events(number)][-len(small.issues[number]["labels"]):] == \
        ["unlabeled"] * len(small.issues[number]["labels"])


def test_created_comments_and_issues_have_a_location(server: GitHubServer, small: FixtureRepo) -> None:
    number = small.numbers[1]
    answer = requests.post(f"{server.url}/repos/{REPO}/issues/{number}/comments", json={"body": "hi"}, headers=AUTH,
                           timeout=5)
    assert answer.status_code == 201
    assert answer.headers["Location"] == f"{server.url}/repos/{REPO}/issues/comments/{answer.json()['id']}"
    assert requests.get(answer.headers["Location"], headers=AUTH, timeout=5).json() == answer.json()
    answer = requests.post(f"{server.url}/repos/{REPO}/issues", json={"title": "New", "labels": ["bug"]},
                           headers=AUTH, timeout=5)
    assert answer.status_code == 201 and answer.headers["Location"] == answer.json()["url"]
    for bad in ({"body": ""}, {"body": "x" * 65537}, {"text": "hi"}, ["hi"]):
        answer = requests.post(f"{server.url}/repos/{REPO}/issues/{number}/comments", json=bad, headers=AUTH,
                               timeout=5)
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "body"
    assert len(server.comments(number)) == len(small.comments[number]) + 1


# ----------------------------------------------------------------------------------------------- the real world

def test_renamed_repository_redirects_by_id(server: GitHubServer, gh: Github, small: FixtureRepo) -> None:
    number, ident = small.numbers[7], server.repository_id()
    server.rename_repository("dotnet/runtime-corefx")
    assert server.repo == "dotnet/runtime-corefx"
    answer = requests.get(f"{server.url}/repos/{REPO}/issues?state=all&per_page=5&page=2", headers=AUTH, timeout=5,
                          allow_redirects=False)
    assert answer.status_code == 301
    assert answer.headers["Location"] == f"{server.url}/repositories/{ident}/issues?state=all&per_page=5&page=2"
    assert answer.json()["url"] == answer.headers["Location"] and answer.json()["message"] == "Moved Permanently"
    followed = requests.get(f"{server.url}/repos/dotnet/CoreFX/issues/{number}/comments?per_page=1", headers=AUTH,
                            timeout=5)
    assert [r.status_code for r in followed.history] == [301] and followed.status_code == 200
    assert followed.url == f"{server.url}/repositories/{ident}/issues/{number}/comments?per_page=1"
    page = requests.get(f"{server.url}/repos/{REPO}/issues?state=all&per_page=5&page=2", headers=AUTH, timeout=5)
    assert [i["number"] for i in page.json()] == sorted(small.numbers, reverse=True)[5:10]
    issue = page.json()[0]
    assert issue["repository_url"] == f"{server.url}/repos/dotnet/runtime-corefx"
    assert issue["url"] == f"{server.url}/repos/dotnet/runtime-corefx/issues/{issue['number']}"
    assert issue["html_url"] == f"{server.url}/dotnet/runtime-corefx/issues/{issue['number']}"
    assert all(label["url"].startswith(f"{server.url}/repos/dotnet/runtime-corefx/labels/")
               for i in page.json() for label in i["labels"])
    by_id = requests.get(f"{server.url}/repositories/{ident}", headers=AUTH, timeout=5).json()
    assert by_id["full_name"] == "dotnet/runtime-corefx" and by_id["id"] == ident
    assert gh.get_repo(REPO).full_name == "dotnet/runtime-corefx"  # PyGithub follows the 301
    assert gh.get_repo("dotnet/runtime-corefx").get_issue(number).number == number
    writes = requests.post(f"{server.url}/repos/{REPO}/issues/{number}/labels", json=["x"], headers=AUTH, timeout=5,
                           allow_redirects=False)
    assert writes.status_code == 301 and "x" not in [label["name"] for label in server.issue(number)["labels"]]
    server.rename_repository(REPO)  # and back: the old name is served again, the other one redirects
    assert requests.get(f"{server.url}/repos/{REPO}", headers=AUTH, timeout=5, allow_redirects=False).status_code == 200
    assert requests.get(f"{server.url}/repos/dotnet/runtime-corefx", headers=AUTH, timeout=5,
                        allow_redirects=False).status_code == 301
    with pytest.raises(ValueError, match="not a repository name"):
        server.rename_repository("dotnet/../x")


def test_transferred_issue_moves_and_redirects(server: GitHubServer, gh: Github, small: FixtureRepo) -> None:
    number = next(n for n, c in small.comments.items() if len(c) >= 2 and small.issues[n]["labels"])
    before = server.issue(number)
    new = server.transfer_issue(number, "dotnet/runtime")
    assert new == 1 and server.repositories() == [REPO, "dotnet/runtime"]
    assert number not in server.issue_numbers() and server.issue_numbers("dotnet/runtime") == [1]
    listed = requests.get(f"{server.url}/repos/{REPO}/issues?state=all&per_page=100", headers=AUTH, timeout=5).json()
    assert number not in {i["number"] for i in listed}
    assert all(e["issue"]["number"] != number for e in requests.get(
        f"{server.url}/repos/{REPO}/issues/events?per_page=100", headers=AUTH, timeout=5).json())
    target = server.repository_id("dotnet/runtime")
    for tail in ("", "/comments", "/events"):
        answer = requests.get(f"{server.url}/repos/{REPO}/issues/{number}{tail}?per_page=2", headers=AUTH, timeout=5,
                              allow_redirects=False)
        assert answer.status_code == 301
        assert answer.headers["Location"] == f"{server.url}/repositories/{target}/issues/{new}{tail}?per_page=2"
    moved = gh.get_repo(REPO).get_issue(number)  # PyGithub follows the 301
    assert (moved.number, moved.title, moved.id) == (new, before["title"], before["id"])
    assert moved.repository_url == f"{server.url}/repos/dotnet/runtime" and moved.labels == []  # none exist there
    comments = requests.get(f"{server.url}/repos/dotnet/runtime/issues/{new}/comments", headers=AUTH, timeout=5).json()
    assert [c["body"] for c in comments] == [c["body"] for c in small.comments[number]]
    assert all(c["issue_url"] == f"{server.url}/repos/dotnet/runtime/issues/{new}" for c in comments)
    events = server.events(new, repo="dotnet/runtime")
    assert [e["id"] for e in events[:-1]] == [e["id"] for e in small.events[number]]
    assert events[-1]["event"] == "transferred" and events[-1]["actor"]["login"] == "maintainer-a"
    assert server.issue(new, repo="dotnet/runtime")["updated_at"] == events[-1]["created_at"]
    with pytest.raises(KeyError):
        server.issue(number)
    with pytest.raises(KeyError):
        server.transfer_issue(number, "dotnet/runtime")
    with pytest.raises(ValueError):
        server.transfer_issue(small.numbers[0], REPO)
    assert server.transfer_issue(small.numbers[0], "dotnet/runtime") == 2
    assert server.open_issue("after the transfers")["number"] == small.numbers[-1] + 1


def test_deleted_issue_is_gone(server: GitHubServer, gh: Github, small: FixtureRepo) -> None:
    number = next(n for n, c in small.comments.items() if c)
    comment_id = small.comments[number][0]["id"]
    server.delete_issue(number)
    for verb, tail, body in (("GET", "", None), ("GET", "/events", None), ("GET", "/comments", None),
                             ("GET", "/timeline", None), ("PATCH", "", {"title": "x"}), ("POST", "/labels", ["x"])):
        answer = requests.request(verb, f"{server.url}/repos/{REPO}/issues/{number}{tail}", json=body, headers=AUTH,
                                  timeout=5)
        assert answer.status_code == 410 and answer.json()["message"] == "This issue was deleted", (verb, tail)
    with pytest.raises(GithubException) as info:
        gh.get_repo(REPO).get_issue(number)
    assert info.value.status == 410
    assert requests.get(f"{server.url}/repos/{REPO}/issues/comments/{comment_id}", headers=AUTH,
                        timeout=5).status_code == 404
    assert number not in {i.number for i in gh.get_repo(REPO).get_issues(state="all")}
    assert all(e["issue"]["number"] != number for e in server.events())
    with pytest.raises(KeyError):
        server.delete_issue(number)
    assert server.open_issue("next")["number"] == small.numbers[-1] + 1  # numbers are never reused


def test_disabled_issues_answer_410(server: GitHubServer, gh: Github, small: FixtureRepo) -> None:
    number = small.numbers[0]
    server.set_issues_enabled(False)
    for verb, path, body in (("GET", "/issues", None), ("POST", "/issues", {"title": "t"}),
                             ("GET", f"/issues/{number}", None), ("GET", "/issues/events", None),
                             ("GET", "/issues/comments", None), ("GET", f"/issues/{number}/labels", None),
                             ("POST", f"/issues/{number}/comments", {"body": "b"}),
                             ("GET", f"/issues/{number}/timeline", None)):
        answer = requests.request(verb, f"{server.url}/repos/{REPO}{path}", json=body, headers=AUTH, timeout=5)
        assert answer.status_code == 410 and answer.json()["message"] == "Issues are disabled for this repo", path
    repo = gh.get_repo(REPO)
    assert repo.has_issues is False and len(list(repo.get_labels())) == len(small.labels)  # labels are not issues
    with pytest.raises(GithubException) as info:
        list(repo.get_issues())
    assert info.value.status == 410
    server.set_issues_enabled(True)
    assert gh.get_repo(REPO).get_issue(number).number == number and len(server.comments(number)) == len(
        small.comments[number])


# ----------------------------------------------------------------------------------------------- lists

def test_paging_by_since_sorted_by_update(server: GitHubServer, small: FixtureRepo) -> None:
    """The scraper's incremental loop: ``since`` = the newest ``updated_at`` seen, oldest first, following Links."""
    def changed_since(since: str | None) -> list[dict[str, Any]]:
        url: str | None = f"{server.url}/repos/{REPO}/issues"
        params: dict[str, Any] | None = {"state": "all", "sort": "updated", "direction": "asc", "per_page": 7}
        if since:
            assert params is not None
            params["since"] = since
        seen: list[dict[str, Any]] = []
        while url:
            answer = requests.get(url, params=params, headers=AUTH, timeout=5)
            seen += answer.json()
            url, params = links({k.lower(): v for k, v in answer.headers.items()}).get("next"), None
        return seen

    first = changed_since(None)
    assert [i["number"] for i in first] == small.numbers
    cursor = first[-1]["updated_at"]
    assert [i["number"] for i in changed_since(cursor)] == [small.numbers[-1]], "since is inclusive"
    touched = [small.numbers[3], small.numbers[30], small.numbers[10]]
    for number in touched:
        server.add_comment(number, "ping")
    new = server.open_issue("new one")["number"]
    later = changed_since(cursor)
    assert [i["number"] for i in later] == [small.numbers[-1], *touched, new]
    timestamps = [i["updated_at"] for i in later]
    assert timestamps == sorted(timestamps)
    descending = requests.get(f"{server.url}/repos/{REPO}/issues", params={"state": "all", "sort": "updated",
                                                                         "since": cursor}, headers=AUTH, timeout=5)
    assert [i["number"] for i in descending.json()] == [new, *touched[::-1], small.numbers[-1]]
    for bad in ({"since": "2018-13-45T00:00:00Z"}, {"since": "٢٠١٨-01-01"}, {"sort": "votes"}, {"direction": "up"},
                {"state": "merged"}):
        answer = requests.get(f"{server.url}/repos/{REPO}/issues", params=bad, headers=AUTH, timeout=5)
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == next(iter(bad))


def test_event_and_comment_lists_page_with_links(server: GitHubServer, small: FixtureRepo) -> None:
    number = max(small.numbers, key=lambda n: len(small.events[n]))
    for index in range(5):
        server.add_comment(number, f"comment {index}", user="bob-contrib")
    expected = {f"/issues/{number}/events": [e["id"] for e in small.events[number]],
                f"/issues/{number}/comments": [c["id"] for c in server.comments(number)],
                "/issues/events": [e["id"] for e in server.events()][::-1],
                f"/issues/{number}/timeline": [t["id"] for t in server.timeline(number)]}
    for path, ids in expected.items():
        url: str | None = f"{server.url}/repos/{REPO}{path}?per_page=2"
        seen: list[int] = []
        while url:
            answer = requests.get(url, headers=AUTH, timeout=5)
            assert answer.status_code == 200 and len(answer.json()) <= 2
            seen += [item["id"] for item in answer.json()]
            url = links({k.lower(): v for k, v in answer.headers.items()}).get("next")
        assert seen == ids, path
    stamp = server.comments(number)[-3]["updated_at"]
    recent = requests.get(f"{server.url}/repos/{REPO}/issues/{number}/comments", params={"since": stamp},
                          headers=AUTH, timeout=5).json()
    assert [c["body"] for c in recent] == ["comment 2", "comment 3", "comment 4"]
    newest = requests.get(f"{server.url}/repos/{REPO}/issues/comments", params={"sort": "updated", "since": stamp},
                          headers=AUTH, timeout=5).json()
    assert [c["body"] for c in newest] == ["comment 4", "comment 3", "comment 2"]
    oldest = requests.get(f"{server.url}/repos/{REPO}/issues/comments", params={"per_page": 100},
                          headers=AUTH, timeout=5).json()
    assert [c["id"] for c in oldest] == sorted(c["id"] for c in oldest)
    for odd in ("0", "-1", "abc", "1e3", "٣", "99999999999999999999"):  # ignored, as GitHub does
        answer = requests.get(f"{server.url}/repos/{REPO}/issues", params={"per_page": odd, "page": odd},
                              headers=AUTH, timeout=5)
        assert answer.status_code == 200 and len(answer.json()) == 30


# ----------------------------------------------------------------------------------------------- the schema check

def test_schema_check_catches_planted_deviations(small: FixtureRepo) -> None:
    check = OpenAPICheck()  # not the session's: these deviations are planted
    number = small.numbers[0]
    planted = pytest.raises(AssertionError, match=r"GET /repos/dotnet/corefx/issues/\d+ -> 200 \(issues/get\)")
    with planted as info, GitHubServer(small, schema_check=check) as srv:  # stop() fails: the deviation is found
        issue = requests.get(f"{srv.url}/repos/{REPO}/issues/{number}", headers=AUTH, timeout=5).json()
        del issue["user"]["avatar_url"]
        srv.inject("GET", rf"/issues/{number}$", Fault.status(200, issue))
        assert requests.get(f"{srv.url}/repos/{REPO}/issues/{number}", headers=AUTH, timeout=5).status_code == 200
        srv.inject("GET", r"/issues$", Fault.status(418))
        requests.get(f"{srv.url}/repos/{REPO}/issues", headers=AUTH, timeout=5)
    assert "$['user']: 'avatar_url' is a required property" in str(info.value)
    assert [d.operation for d in check.deviations] == ["issues/get", "issues/list-for-repo"]
    assert "status 418 is not documented" in check.deviations[1].problem
    assert check.validated == 3 and check.deviating == 2 and session_check() is not check


def exchange(method: str, path: str, status: int, body: Any = None, **headers: str) -> Exchange:
    rate = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", "X-RateLimit-Reset": "1700000000",
            "X-RateLimit-Used": "1", "Content-Type": "application/json; charset=utf-8"}
    return Exchange(method, path, status, {**rate, **headers}, b"" if body is None else json.dumps(body).encode())


def test_schema_check_finds_each_kind_of_deviation(server: GitHubServer, small: FixtureRepo) -> None:
    check, number = OpenAPICheck(), small.numbers[0]
    good_issue = server.issue(number)
    comment = server.add_comment(number, "hello")
    path, comment_path = f"/repos/{REPO}/issues/{number}", f"/repos/{REPO}/issues/{number}/comments"
    closed = next(e for e in server.events() if e["event"] == "closed")
    del closed["issue"]
    cases: dict[str, tuple[Exchange, str]] = {
        "conforms": (exchange("GET", path, 200, good_issue), ""),
        "wrong type": (exchange("GET", path, 200, {**good_issue, "number": "1"}), "'1' is not of type 'integer'"),
        "bad enum": (exchange("GET", path, 200, {**good_issue, "state_reason": "wontfix"}), "is not one of"),
        "bad time": (exchange("GET", path, 200, {**good_issue, "created_at": "yesterday"}), "is not a 'date-time'"),
        "bad uri": (exchange("GET", path, 200, {**good_issue, "url": "not a url"}), "is not a 'uri'"),
        "no Location": (exchange("POST", comment_path, 201, comment), "Location"),
        "undocumented": (exchange("DELETE", path, 204), "not an operation"),
        "status": (exchange("GET", comment_path, 422, {"message": "x", "documentation_url": "d"}), "not documented"),
        "redirect": (exchange("GET", path, 301, {"message": "Moved Permanently"}), "absolute Location"),
        "not JSON": (Exchange("GET", path, 200, {"X-RateLimit-Limit": "1"}, b"{"), "not JSON"),
        "rate headers": (Exchange("GET", path, 404, {"Content-Type": "application/json"}, b'{"message": "x"}'),
                         "x-ratelimit-limit"),
        "304 body": (exchange("GET", path, 304, good_issue), "no body"),
        "204 body": (exchange("DELETE", f"{path}/labels", 204, []), "has no body"),
        "Link": (exchange("GET", comment_path, 200, [], Link="<nowhere>; rel=next"), "malformed Link"),
        "event kind": (exchange("GET", f"{path}/events", 200, [{**closed, "event": "labeled"}]), "'label' is a required"),
        "closed event": (exchange("GET", f"{path}/events", 200, [{**closed, "performed_via_github_app": 5}]),
                         "is not of type 'object', 'null'"),
        "timeline item": (exchange("GET", f"{path}/timeline", 200, [{"event": "commented", "body": "x"}]),
                          "'actor' is a required property"),
        "disabled only": (exchange("GET", f"/repos/{REPO}/issues", 410, {"message": "Gone"}), "not documented"),
    }
    for name, (sent, problem) in cases.items():
        found = check.check(sent)
        if not problem:
            assert found == [], name
        else:
            assert found and any(problem in str(d) for d in found), (name, [str(d) for d in found])
    assert check.validated == len(cases)
    by_id = exchange("GET", f"/repositories/123/issues/{number}", 200, good_issue)
    assert check.operation("GET", by_id.path) == check.operation("GET", path) and check.check(by_id) == []


def test_answers_with_a_body_not_from_the_description_are_found_in_lists(server: GitHubServer) -> None:
    check = OpenAPICheck()
    issues = requests.get(f"{server.url}/repos/{REPO}/issues?per_page=100&state=all", headers=AUTH, timeout=5)
    items = issues.json()
    del items[37]["user"]["login"]
    found = check.check(Exchange("GET", f"/repos/{REPO}/issues", 200, dict(issues.headers), json.dumps(items).encode()))
    assert [d.problem for d in found] == ["$[37]['user']: 'login' is a required property"]


# ----------------------------------------------------------------------------------------------- odd input

ENDPOINTS = [("GET", ""), ("GET", "/issues"), ("POST", "/issues"), ("GET", "/issues/{n}"), ("PATCH", "/issues/{n}"),
             ("GET", "/issues/{n}/labels"), ("POST", "/issues/{n}/labels"), ("PUT", "/issues/{n}/labels"),
             ("DELETE", "/issues/{n}/labels"), ("DELETE", "/issues/{n}/labels/{label}"), ("GET", "/issues/{n}/comments"),
             ("POST", "/issues/{n}/comments"), ("GET", "/issues/{n}/events"), ("GET", "/issues/{n}/timeline"),
             ("GET", "/issues/events"), ("GET", "/issues/events/{id}"), ("GET", "/issues/comments"),
             ("GET", "/issues/comments/{id}"), ("PATCH", "/issues/comments/{id}"), ("DELETE", "/issues/comments/{id}"),
             ("GET", "/labels"), ("GET", "/labels/{label}"), ("GET", "/contents/{text}"), ("GET", "/installation"),
             ("GET", "/pulls/{n}/files")]
TAILS = sorted({tail for _, tail in ENDPOINTS} | {"/{text}"})
ODD = st.sampled_from(["0", "1", "99999999999999999999", "٣", "-1", "%2F", "..", "", "%F0%9F%90%9B", "a%00b"]) | \
    st.text(max_size=8).map(lambda text: quote(text, safe=""))
TEXT = st.text(max_size=30) | st.sampled_from(["", " ", "x" * 300, "🐛 bug", "\u202e\u0000", "team/net io"])
JSON = st.recursive(st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) |
                    st.floats(allow_nan=False) | TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["title", "body", "labels", "state", "state_reason", "name"]) | st.text(max_size=5),
                        inner, max_size=4), max_leaves=12)
BODY = st.none() | JSON | st.fixed_dictionaries({}, optional={
    "title": TEXT, "body": TEXT, "state": st.sampled_from(["open", "closed", "merged", ""]),
    "state_reason": st.sampled_from(["completed", "not_planned", "duplicate", "reopened", "x"]) | st.none(),
    "labels": st.lists(TEXT | st.fixed_dictionaries({"name": TEXT}), max_size=3)})
QUERY = st.dictionaries(st.sampled_from(["state", "sort", "direction", "since", "page", "per_page", "labels",
                                         "creator"]),
                        st.sampled_from(["all", "updated", "asc", "2018-01-01T00:00:00Z", "2", "100", "-1", "bug",
                                         "٣", "", "2018-01-01T00:00:00+01:00", "9" * 30]) | st.text(max_size=10),
                        max_size=4)


def test_random_requests_never_crash_and_always_answer_as_github(small: FixtureRepo) -> None:
    """Any method, path, query and body: no server error, every answer valid for its operation, and a refused
    write (4xx) changes nothing."""
    statuses: Counter[int] = Counter()
    with GitHubServer(small, rate_limit=100_000, anonymous_rate_limit=100_000) as srv:
        valid_numbers = st.sampled_from([str(n) for n in small.numbers[:5]])
        number = st.one_of(valid_numbers, valid_numbers, valid_numbers, ODD)
        label = st.sampled_from([quote(name) for name in small.labels][:5]) | ODD
        ident = st.sampled_from([str(c["id"]) for items in small.comments.values() for c in items][:3]
                                + [str(e["id"]) for e in small.repo_events[:3]]) | ODD
        prefixes = [f"/repos/{REPO}"] * 4 + ["/repos/DOTNET/corefx", f"/repositories/{srv.repository_id()}",
                                             "/repos/other/repo", "/repositories/1", "", "/app", "/rate_limit"]

        known = st.sampled_from(ENDPOINTS)
        endpoint = st.one_of(known, known, known, st.tuples(st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE"]),
                                                            st.sampled_from(TAILS)))

        # One request per status the coverage check below expects, so that it never rests on the random draw alone.
        first, other = str(small.numbers[0]), "/repos/other/repo"

        @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(endpoint=endpoint, prefix=st.sampled_from(prefixes), n=number, name=label, id_=ident, text=ODD,
               query=QUERY, body=BODY, anonymous=st.booleans())
        @example(("GET", "/issues/{n}"), f"/repos/{REPO}", first, "x", "1", "x", {}, None, False)  # 200
        @example(("POST", "/issues/{n}/labels"), f"/repos/{REPO}", first, "x", "1", "x", {}, None, True)  # 401
        @example(("GET", "/issues/{n}"), other, first, "x", "1", "x", {}, None, False)  # 404
        @example(("GET", "/issues"), f"/repos/{REPO}", first, "x", "1", "x", {"state": "bogus"}, None, False)  # 422
        def one(endpoint: tuple[str, str], prefix: str, n: str, name: str, id_: str, text: str,
                query: dict[str, str], body: Any, anonymous: bool) -> None:
            method, tail = endpoint
            path = prefix + tail.format(n=n, label=name, id=id_, text=text)
            state = srv.primary  # what a refused request must leave as it was

            def fingerprint() -> tuple[int, ...]:
                return srv.world.mtime, len(state.repo_events), len(state.issues), len(state.comments)

            before = fingerprint()
            answer = requests.request(method, srv.url + path, params=query, headers={} if anonymous else AUTH,
                                      data=None if body is None else json.dumps(body), timeout=10)
            statuses[answer.status_code] += 1
            assert answer.status_code < 500 and srv.errors == []
            assert srv.schema_deviations == [], srv.schema_deviations
            if answer.status_code >= 400:
                assert fingerprint() == before
                assert answer.json()["message"]

        one()
    assert {200, 401, 404, 422} <= set(statuses), statuses  # the requests reach the endpoints, not only 404s


def raw_request(server: GitHubServer, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send bytes as they are; return the status and body of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize(("length", "body"), [("abc", b""), ("-1", b""), ("99999999999", b""), ("١٢", b"{}"),
                                              ("2", b"{x"), ("4", b"\xff\xfe{}"), ("200000", b"[" * 100_000 + b"]" * 100_000)])
def test_unreadable_bodies_are_400(server: GitHubServer, small: FixtureRepo, length: str, body: bytes) -> None:
    number = small.numbers[0]
    head = (f"POST /repos/{REPO}/issues/{number}/labels HTTP/1.1\r\nHost: x\r\nAuthorization: token test-token\r\n"
            f"Content-Length: {length}")
    status, answer = raw_request(server, head, body)
    assert status == 400 and json.loads(answer)["message"] in (
        "Problems parsing JSON", "Content-Length must be a non-negative integer of at most 10 MiB")
    assert [label["name"] for label in server.issue(number)["labels"]] == small.label_names(number)
    assert server.errors == []


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize("path", ["/issues/{arabic}", "/issues/{arabic}/labels", "/issues/99999999999999999999",
                                  "/issues/-1", "/issues/1.0", "/labels/%FF", "/contents/..%2F..%2Fetc%2Fpasswd"])
def test_odd_paths_are_not_found(server: GitHubServer, small: FixtureRepo, path: str) -> None:
    """Issue numbers are ASCII digits: ``٢٦٩٥٢`` is not issue 26952 (Python's int() would say it is)."""
    arabic = str(small.numbers[0]).translate(ARABIC_INDIC)
    answer = requests.get(f"{server.url}/repos/{REPO}{path.format(arabic=arabic)}", headers=AUTH, timeout=5)
    assert answer.status_code == 404 and answer.json()["message"] == "Not Found"


def test_replayed_label_writes_record_once(server: GitHubServer, small: FixtureRepo) -> None:
    number = small.numbers[6]
    answers = [requests.post(f"{server.url}/repos/{REPO}/issues/{number}/labels", json=["bug", "bug", "perf"],
                             headers=AUTH, timeout=5) for _ in range(3)]
    assert {a.status_code for a in answers} == {200} and answers[0].json() == answers[2].json()
    added = [e["label"]["name"] for e in server.events(number)[len(small.events[number]):]]
    assert added == ["bug", "perf"]


def test_concurrent_reads_during_renames_transfers_and_deletions(small: FixtureRepo) -> None:
    with GitHubServer(small) as srv:
        statuses: list[int] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                for path in (f"/repos/{REPO}/issues?state=all&per_page=100", f"/repos/{REPO}/issues/{small.numbers[9]}",
                             f"/repos/{REPO}/issues/events?per_page=100"):
                    statuses.append(requests.get(srv.url + path, headers=AUTH, timeout=10,
                                                 allow_redirects=False).status_code)

        readers = [threading.Thread(target=read) for _ in range(4)]
        for reader in readers:
            reader.start()
        for index, number in enumerate(small.numbers[8:20]):
            if index % 3 == 0:
                srv.transfer_issue(number, "dotnet/runtime")
            elif index % 3 == 1:
                srv.delete_issue(number)
            else:
                srv.rename_repository(f"dotnet/corefx-{index}" if index % 2 else REPO)
            time.sleep(0.02)
        stop.set()
        for reader in readers:
            reader.join()
        assert set(statuses) <= {200, 301, 410} and 200 in statuses and len(statuses) > 20
        assert srv.errors == [] and srv.schema_deviations == []


def test_a_deviation_anywhere_fails_the_test_run(tmp_path: Path) -> None:
    """tests/conftest.py fails the session when any answer deviated, even one whose test passed."""
    planted = tmp_path / "test_planted.py"
    planted.write_text(
        "from tests.openapi_check import Exchange, session_check\n\n\n"
        "def test_passes_but_an_answer_deviates() -> None:\n"
        "    headers = {'X-RateLimit-Limit': '60', 'X-RateLimit-Remaining': '59', 'X-RateLimit-Reset': '1',\n"
        "               'X-RateLimit-Used': '1', 'Content-Type': 'application/json'}\n"
        "    session_check().check(Exchange('GET', '/repos/o/r/issues/1', 200, headers, b'{\"number\": \"1\"}'))\n",
        encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
                           str(planted)], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
    assert "1 answers checked against @octokit/openapi" in done.stdout and ", 1 deviated (" in done.stdout
    assert "GET /repos/o/r/issues/1 -> 200 (issues/get)" in done.stdout
