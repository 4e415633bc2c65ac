"""The loopback GitHub test server (tests/github_server.py), exercised through PyGithub."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

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

from tests.github_server import (
    Fault,
    FixtureRepo,
    GitHubServer,
    build_fixture,
    parse_iso,
)

REPO = "dotnet/corefx"
APP_ID = 4242
INSTALLATION_ID = 77


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
        assert [e["label"]["name"] for e in events] == [label["name"] for label in issue["labels"]]
        for event in events:
            assert event["event"] == "labeled" and event["actor"]["type"] == "User"
            assert event["actor"]["login"].startswith("maintainer-")
            assert issue["created_at"] < event["created_at"] < issue["updated_at"]
        assert set(issue["labels"][0]) >= {"id", "name", "color", "description", "default"}
    assert len(full.repo_events) == sum(len(i["labels"]) for i in issues)
    assert [e["id"] for e in full.repo_events] == sorted(e["id"] for e in full.repo_events)
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
        assert set(pages[0]) == {"next", "last"} and pages[0]["last"].startswith(srv.url + f"/repos/{REPO}/issues?")
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


def test_bad_or_missing_credentials_get_401(server: GitHubServer) -> None:
    bad = client(server, Auth.Token("wrong"))
    with pytest.raises(BadCredentialsException) as info:
        bad.get_repo(REPO)
    assert info.value.status == 401 and info.value.data["message"] == "Bad credentials"
    bad.close()
    answer = requests.get(f"{server.url}/repos/{REPO}/issues", timeout=5)
    assert answer.status_code == 401 and answer.json() == {"message": "Bad credentials",
                                                          "documentation_url": "https://docs.github.com/rest"}
    assert answer.headers["X-RateLimit-Resource"] == "core"
    answer = requests.get(f"{server.url}/repos/{REPO}/issues", headers={"Authorization": "Bearer test-token"},
                          timeout=5)
    assert answer.status_code == 200


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
        ("labeled", "zoe", "User"), ("labeled", "maintainer-c", "User"), ("unlabeled", "issue-triage[bot]", "Bot")]
    stamps = [e["created_at"] for e in events]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
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
    added = [e for e in server.events(number) if e["label"]["name"].startswith("l")]
    assert len(added) == 24 and len({e["created_at"] for e in added}) == 24
    assert server.rate_limit["used"] == 24
