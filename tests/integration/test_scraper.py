"""Scraping GitHub for real: PyGithub against the loopback GitHub server, with injected faults."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.github_server import Fault, FixtureRepo, GitHubServer, build_fixture
from triage.adapters.github.client import GitHubClient
from triage.adapters.github.settings import GitHubSettings
from triage.adapters.local.stores import LocalBlobStore, SqliteDocumentStore
from triage.cli.main import main
from triage.data.ingest import stored_issues
from triage.data.scraper import CURSOR_ID, scrape
from triage.domain.errors import GitHubError
from triage.ports.records import CURSORS, ISSUES

REPO = "dotnet/corefx"
ISSUES_PATH = r"^/repos/dotnet/corefx/issues$"
EVENTS_PATH = r"^/repos/dotnet/corefx/issues/events$"


@pytest.fixture(scope="module")
def fixture() -> FixtureRepo:
    return build_fixture()


@pytest.fixture()
def server(fixture: FixtureRepo) -> Iterator[GitHubServer]:
    with GitHubServer(fixture) as srv:
        yield srv


class Sleeps:
    """Records the waits the client asks for instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def client(server: GitHubServer, sleep: Sleeps | None = None, **settings: object) -> GitHubClient:
    return GitHubClient(GitHubSettings(base_url=server.url, token="test-token", **settings),  # type: ignore[arg-type]
                        sleep=sleep or Sleeps())


@pytest.fixture()
def stores(tmp_path: Path) -> tuple[SqliteDocumentStore, LocalBlobStore]:
    return SqliteDocumentStore(tmp_path / "db.sqlite"), LocalBlobStore(tmp_path / "blobs")


def expected_issues(server: GitHubServer) -> set[int]:
    return {n for n in server.issue_numbers() if "pull_request" not in server.issue(n)}


def test_full_scrape_equals_the_fixture_with_minimal_requests(server: GitHubServer, stores) -> None:
    docs, blobs = stores
    api = client(server)
    result = scrape(api, docs, blobs, REPO)
    stored = stored_issues(docs, REPO)
    numbers = [i.number for i in stored]
    assert len(numbers) == len(set(numbers)), "no duplicates"
    assert set(numbers) == expected_issues(server), "no missing issue, no pull request"
    total = len(server.issue_numbers())  # pull requests are listed by GitHub too, then dropped
    events = len(server.events())
    assert server.count("GET", ISSUES_PATH) == math.ceil(total / 100) == result.issue_pages
    assert server.count("GET", EVENTS_PATH) == math.ceil(events / 100) == result.event_pages
    assert api.requests_made == math.ceil(total / 100) + math.ceil(events / 100)
    print(f"full scrape: {total} items, {api.requests_made} requests "
          f"({result.issue_pages} issue pages + {result.event_pages} event pages)")
    # Who applied each label is known: the fixture's maintainers, as humans.
    sample = next(i for i in stored if i.labels)
    assert sample.label_events and all(e.actor_type == "User" for e in sample.label_events)
    assert sample.human_labels() == sample.labels
    # The snapshot holds the same issues.
    import gzip
    lines = gzip.decompress(blobs.get(result.snapshot)).decode().splitlines()
    assert sorted(json.loads(line)["number"] for line in lines) == sorted(numbers)


def test_unchanged_incremental_poll_is_one_304(server: GitHubServer, stores) -> None:
    docs, blobs = stores
    scrape(client(server), docs, blobs, REPO)
    first = scrape(client(server), docs, blobs, REPO)  # learns the ETag of the incremental query
    assert first.mode == "incremental" and first.issues_changed == 0
    server.reset_log()
    api = client(server)
    again = scrape(api, docs, blobs, REPO)
    assert again.not_modified and api.requests_made == 1
    assert [r.status for r in server.requests] == [304]
    assert "if-none-match" in server.requests[0].headers
    print("incremental poll without changes: 1 request, answered 304")


def test_incremental_scrape_picks_up_changes_and_label_history(server: GitHubServer, stores) -> None:
    docs, blobs = stores
    scrape(client(server), docs, blobs, REPO)
    old = expected_issues(server)
    target = sorted(old)[10]
    new = server.open_issue("HttpClient leaks sockets", "Repro attached.")["number"]
    server.edit_issue(target, title="Edited title")
    server.add_label(new, "area-System.Net", "maintainer-a")
    server.add_label(target, "needs-more-info", "issue-triage[bot]", actor_type="Bot")
    server.reset_log()
    api = client(server)
    result = scrape(api, docs, blobs, REPO)
    assert result.mode == "incremental" and result.issues_changed == 2
    assert api.requests_made == 1 + 2  # one page of changed issues, then each changed issue's events
    issue = docs.get(ISSUES, REPO, str(new))
    assert issue["labels"] == ["area-System.Net"] and issue["label_events"][0]["actor"] == "maintainer-a"
    edited = next(i for i in stored_issues(docs, REPO) if i.number == target)
    assert edited.title == "Edited title"
    assert "needs-more-info" in edited.labels and "needs-more-info" not in edited.human_labels()
    assert {i.number for i in stored_issues(docs, REPO)} == old | {new}


def test_crash_mid_scrape_resumes_without_loss(server: GitHubServer, stores) -> None:
    docs, blobs = stores
    sleeps = Sleeps()

    class PageFiveIsDown(GitHubClient):
        """Every attempt at page 5 has its connection dropped, so the client gives up and the scrape raises."""

        def issues_page(self, repo, page, since=None, etag=None):  # type: ignore[override]
            if page == 5:
                server.inject("GET", ISSUES_PATH, Fault.drop(), times=None)
            return super().issues_page(repo, page, since, etag)

    crashing = PageFiveIsDown(GitHubSettings(base_url=server.url, token="test-token", max_retries=2), sleep=sleeps)
    with pytest.raises(GitHubError, match="gave up"):
        scrape(crashing, docs, blobs, REPO)
    server.clear_faults()
    cursor = docs.get(CURSORS, REPO, CURSOR_ID)
    assert cursor["in_progress"]["page"] == 5 and cursor["in_progress"]["phase"] == "issues"
    assert sleeps.calls == [1.0, 2.0], "bounded exponential backoff"
    server.reset_log()
    result = scrape(client(server), docs, blobs, REPO)
    assert result.mode == "resume" and result.complete
    pages = [int(r.query["page"]) for r in server.find("GET", ISSUES_PATH)]
    assert pages[0] == 5, "resumes at the page that failed; pages 1-4 are not fetched again"
    assert {i.number for i in stored_issues(docs, REPO)} == expected_issues(server)
    assert "in_progress" not in docs.get(CURSORS, REPO, CURSOR_ID)


def test_transient_faults_are_retried(server: GitHubServer, stores) -> None:
    docs, blobs = stores
    server.inject("GET", ISSUES_PATH, Fault.status(502))
    server.inject("GET", ISSUES_PATH, Fault.secondary_limit(retry_after=7, status=403))
    server.inject("GET", ISSUES_PATH, Fault.secondary_limit(retry_after=3, status=429))
    server.inject("GET", ISSUES_PATH, Fault.drop())
    server.inject("GET", ISSUES_PATH, Fault.truncate())
    server.inject("GET", EVENTS_PATH, Fault.status(503))
    server.inject("GET", ISSUES_PATH, Fault.slow(0.2))
    sleeps = Sleeps()
    result = scrape(client(server, sleeps), docs, blobs, REPO)
    assert result.complete
    assert {i.number for i in stored_issues(docs, REPO)} == expected_issues(server)
    assert 7.0 in sleeps.calls and 3.0 in sleeps.calls, "Retry-After is honoured"
    assert all(s <= 60 for s in sleeps.calls)


def test_primary_rate_limit_waits_when_reset_is_near(server: GitHubServer, stores) -> None:
    docs, blobs = stores
    server.inject("GET", ISSUES_PATH, Fault.primary_limit(reset_in=30))
    sleeps = Sleeps()
    assert scrape(client(server, sleeps), docs, blobs, REPO).complete
    assert len(sleeps.calls) == 1 and 25 <= sleeps.calls[0] <= 35


def test_primary_rate_limit_far_away_stops_cleanly_and_resumes(server: GitHubServer, stores) -> None:
    docs, blobs = stores
    api = client(server)
    first_pages = []

    class LimitedAfterThree(GitHubClient):
        def issues_page(self, repo, page, since=None, etag=None):  # type: ignore[override]
            first_pages.append(page)
            if page == 4:
                server.inject("GET", ISSUES_PATH, Fault.primary_limit(reset_in=3600))
            return super().issues_page(repo, page, since, etag)

    limited = LimitedAfterThree(GitHubSettings(base_url=server.url, token="test-token"), sleep=Sleeps())
    result = scrape(limited, docs, blobs, REPO)
    assert not result.complete and "rate limit" in result.stopped
    assert docs.get(CURSORS, REPO, CURSOR_ID)["in_progress"]["page"] == 4
    server.clear_faults()
    assert scrape(api, docs, blobs, REPO).complete
    assert {i.number for i in stored_issues(docs, REPO)} == expected_issues(server)


def test_github_app_authentication_and_token_refresh(fixture: FixtureRepo, stores) -> None:
    docs, blobs = stores
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    small = build_fixture(limit=250)
    with GitHubServer(small, app_id=4242, private_key_pem=pem, installation_id=77, token=None) as srv:
        settings = GitHubSettings(base_url=srv.url, app_id="4242", private_key=pem, installation_id=77)
        assert scrape(GitHubClient(settings, sleep=Sleeps()), docs, blobs, REPO).complete
        assert srv.tokens_issued == 1, "one installation token serves the whole scrape"
        srv.token_ttl_seconds = 15  # expiring within PyGithub's 20 s refresh margin
        srv.revoke_installation_tokens()
        api = GitHubClient(settings, sleep=Sleeps())
        api.get_issue(REPO, 1 if 1 in srv.issue_numbers() else srv.issue_numbers()[0])
        api.get_issue(REPO, srv.issue_numbers()[0])
        assert srv.tokens_issued == 3, "a token about to expire is refreshed before use"
        assert srv.count(status=401) == 0


def test_bad_credentials_are_a_clear_error(server: GitHubServer, stores) -> None:
    docs, blobs = stores
    api = GitHubClient(GitHubSettings(base_url=server.url, token="wrong"), sleep=Sleeps())
    with pytest.raises(GitHubError, match="401"):
        scrape(api, docs, blobs, REPO)


def test_cli_scrape_against_the_server(server: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GITHUB_API_URL", server.url)
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    assert main(["scrape", "--repo", REPO]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "full" and out["issues_seen"] == len(expected_issues(server))
    assert out["requests"] == out["issue_pages"] + out["event_pages"]
    monkeypatch.delenv("GITHUB_TOKEN")
    assert main(["scrape", "--repo", REPO]) == 2
    assert "GITHUB_TOKEN" in capsys.readouterr().err
