"""Scraping GitHub for real: PyGithub against the loopback GitHub server, with injected faults."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timezone
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
from triage.data.scraper import CURSOR_ID, SNAPSHOTS_KEPT, scrape
from triage.domain.errors import GitHubError
from triage.ports.layout import snapshots_prefix
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


def test_full_scrape_equals_the_fixture_with_few_requests(server: GitHubServer, stores) -> None:
    docs, blobs = stores
    api = client(server)
    result = scrape(api, docs, blobs, REPO)
    stored = stored_issues(docs, REPO)
    numbers = [i.number for i in stored]
    assert len(numbers) == len(set(numbers)), "no duplicates"
    assert set(numbers) == expected_issues(server), "no missing issue, no pull request"
    total = len(server.issue_numbers())  # pull requests are listed by GitHub too, then dropped
    events = len(server.events())
    # Each listing page starts at the last updated_at stored, so it repeats one issue; event pages overlap too.
    assert server.count("GET", ISSUES_PATH) == 1 + math.ceil((total - 100) / 99) == result.issue_pages
    assert server.count("GET", EVENTS_PATH) == result.event_pages <= math.ceil(events / 85) + 1
    assert api.requests_made == result.issue_pages + result.event_pages, "nothing else: no issue asked for alone"
    print(f"full scrape: {total} items, {events} events, {api.requests_made} requests "
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
    # The poll read only what changed: no snapshot of the whole repository (that is the daily full walk's job).
    assert result.snapshot is None and len(blobs.list(snapshots_prefix(REPO))) == 1
    assert docs.get(CURSORS, REPO, CURSOR_ID)["issues"] == len(old) + 1


def test_the_daily_full_walk_writes_a_snapshot_and_keeps_a_week_of_them(server: GitHubServer, stores) -> None:
    docs, blobs = stores
    for day in range(SNAPSHOTS_KEPT + 3):
        server.open_issue(f"issue of day {day}", "so that each snapshot differs")
        result = scrape(client(server), docs, blobs, REPO, full=True)
        kept = blobs.list(snapshots_prefix(REPO))
        assert result.snapshot in kept and len(kept) == min(day + 1, SNAPSHOTS_KEPT)


def test_crash_mid_scrape_resumes_without_loss(server: GitHubServer, stores) -> None:
    docs, blobs = stores
    sleeps = Sleeps()

    class PageFiveIsDown(GitHubClient):
        """Every attempt at the fifth listing page has its connection dropped: the client gives up, the scrape raises."""

        pages = 0

        def issues_page(self, repo, page, since=None, etag=None, per_page=100):  # type: ignore[override]
            self.pages += 1
            if self.pages == 5:
                server.inject("GET", ISSUES_PATH, Fault.drop(), times=None)
            return super().issues_page(repo, page, since, etag, per_page)

    crashing = PageFiveIsDown(GitHubSettings(base_url=server.url, token="test-token", max_retries=2), sleep=sleeps)
    with pytest.raises(GitHubError, match="gave up"):
        scrape(crashing, docs, blobs, REPO)
    server.clear_faults()
    cursor = docs.get(CURSORS, REPO, CURSOR_ID)
    since = cursor["in_progress"]["since"]
    assert cursor["in_progress"]["phase"] == "issues" and since
    assert sleeps.calls == [1.0, 2.0], "bounded exponential backoff"
    server.reset_log()
    result = scrape(client(server), docs, blobs, REPO)
    assert result.mode == "resume" and result.complete
    assert server.find("GET", ISSUES_PATH)[0].query["since"] == since, "resumes where it stopped"
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
    server.inject("GET", ISSUES_PATH, Fault.primary_limit(reset_in=3600))
    result = scrape(api, docs, blobs, REPO)
    assert not result.complete and result.status == "rate-limited" and "rate limit" in result.stopped
    assert result.retry_at and datetime.fromisoformat(result.retry_at) > datetime.now(timezone.utc)
    assert api.requests_made == 1, "no waiting, no retrying: the orchestration waits on a durable timer"
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
    assert out["mode"] == "full" and out["issues_changed"] == len(expected_issues(server)) <= out["issues_seen"]
    assert out["requests"] == out["issue_pages"] + out["event_pages"]
    monkeypatch.delenv("GITHUB_TOKEN")
    assert main(["scrape", "--repo", REPO]) == 2
    assert "GITHUB_TOKEN" in capsys.readouterr().err


# --- bounded, lossless, following GitHub (a smaller fixture) ------------------------------------------------------

SMALL = 150
PER_PAGE = 50
LATER = datetime(2030, 1, 1, tzinfo=timezone.utc)  # a day after nothing: the daily full run is due


@pytest.fixture(scope="module")
def small() -> FixtureRepo:
    return build_fixture(limit=SMALL)


class Crash(Exception):
    """The process died here."""


class DiesAt(GitHubClient):
    """The real client, killed at its ``at``-th HTTP request."""

    def __init__(self, server: GitHubServer, at: int | None) -> None:
        super().__init__(GitHubSettings(base_url=server.url, token="test-token"), sleep=Sleeps())
        self.at, self.sent = at, 0

    def _send(self, *args: object) -> object:  # type: ignore[override]
        self.sent += 1
        if self.sent == self.at:
            raise Crash(f"request {self.at}")
        return super()._send(*args)  # type: ignore[arg-type]


def run_to_end(api: GitHubClient, docs: SqliteDocumentStore, blobs: LocalBlobStore, budget: int | None = 3,
               now: datetime | None = None) -> int:
    """Scrape calls of ``budget`` requests, 50 issues or events a page, until the run is complete."""
    for calls in range(1, 300):
        if scrape(api, docs, blobs, REPO, page_budget=budget, now=now, per_page=PER_PAGE).complete:
            return calls
    raise AssertionError("the scrape never completed")


def audit(server: GitHubServer, docs: SqliteDocumentStore, gone: dict[int, str]) -> dict[str, list[int]]:
    """Issues lost, stale (content or label events), marked gone while live, or gone and not marked."""
    stored = {int(d["number"]): d for d in docs.query(ISSUES, REPO)}
    found: dict[str, list[int]] = {"lost": [], "stale": [], "marked_but_live": [], "gone_unmarked": []}
    for number in server.issue_numbers():
        truth = server.issue(number)
        if "pull_request" in truth:
            continue
        doc = stored.get(number)
        if doc is None:
            found["lost"].append(number)
            continue
        events = sorted((e["label"]["name"], e["event"], e["actor"]["login"], e["actor"]["type"], e["created_at"])
                        for e in server.events(number) if e["event"] in ("labeled", "unlabeled"))
        mine = sorted((e["label"], e["action"], e["actor"], e["actor_type"], e["at"]) for e in doc["label_events"])
        content = all(doc[k] == truth[k] for k in ("title", "body", "state", "updated_at"))
        if doc.get("gone"):
            found["marked_but_live"].append(number)
        if not content or events != mine or sorted(doc["labels"]) != sorted(x["name"] for x in truth["labels"]):
            found["stale"].append(number)
    found["gone_unmarked"] = [n for n, how in gone.items() if n in stored and stored[n].get("gone") != how]
    return found


def change_github(server: GitHubServer, k: int, gone: dict[int, str]) -> None:
    """Deletions, a transfer, an edit, a bot's label, a human's removal and a new issue, chosen by ``k``."""
    live = [n for n in server.issue_numbers() if "pull_request" not in server.issue(n)]
    deleted, moved, edited, botted, closed = (live[(k * step + 5) % len(live)] for step in (7, 11, 13, 17, 19))
    if len({deleted, moved, edited, botted, closed}) < 5:
        return
    server.delete_issue(deleted)
    gone[deleted] = "deleted"
    server.transfer_issue(moved, "dotnet/elsewhere")
    gone[moved] = "transferred"
    server.edit_issue(edited, title=f"Edited while the scrape was down ({k})")
    server.add_label(botted, "stale", "stale-bot[bot]", actor_type="Bot")
    server.close_issue(closed, "maintainer-b", reason="not_planned")
    server.open_issue(f"Opened while the scrape was down ({k})", labels=["area-System.Net"])


def test_a_scrape_cut_into_bounded_calls_equals_an_uninterrupted_one(small: FixtureRepo, tmp_path: Path) -> None:
    results = []
    for name, budget in (("whole", None), ("parts", 2)):
        docs, blobs = SqliteDocumentStore(tmp_path / f"{name}.sqlite"), LocalBlobStore(tmp_path / name)
        with GitHubServer(small) as srv:
            calls = run_to_end(client(srv), docs, blobs, budget=budget, now=LATER)
        results.append((calls, docs.query(ISSUES, REPO), docs.get(CURSORS, REPO, CURSOR_ID)["since"]))
    (one, whole, since), (many, parts, since_parts) = results
    assert one == 1 and many >= 5, f"{many} calls"
    assert parts == whole and since == since_parts
    print(f"a scrape in {many} calls of 2 requests stores the same {len(whole)} documents as one call")


def test_a_crash_at_every_request_with_github_changing_loses_nothing(small: FixtureRepo, tmp_path: Path) -> None:
    with GitHubServer(small) as srv:
        counter = DiesAt(srv, None)
        run_to_end(counter, SqliteDocumentStore(":memory:"), LocalBlobStore(tmp_path / "count"))
    points = counter.sent
    totals = {"lost": 0, "stale": 0, "marked_but_live": 0, "gone_unmarked": 0}
    for k in range(1, points + 1):
        docs, blobs, gone = SqliteDocumentStore(":memory:"), LocalBlobStore(tmp_path / str(k)), {}
        with GitHubServer(small) as srv:
            with pytest.raises(Crash):
                run_to_end(DiesAt(srv, k), docs, blobs, now=LATER)
            change_github(srv, k, gone)
            run_to_end(client(srv), docs, blobs, now=LATER)  # the interrupted run, to its end
            run_to_end(client(srv), docs, blobs, now=LATER)  # the next scrape
            found = audit(srv, docs, gone)
            run_to_end(client(srv), docs, blobs, now=LATER.replace(day=3))  # the next day's full run
            found["gone_unmarked"] = audit(srv, docs, gone)["gone_unmarked"]
        assert found == {key: [] for key in found}, f"crash at request {k}: {found}"
        totals = {key: totals[key] + len(found[key]) for key in totals}
    print(f"{points} crash points, GitHub changed before each recovery: {totals}")


def test_redirects_of_a_renamed_repository_keep_the_query(small: FixtureRepo) -> None:
    with GitHubServer(small) as srv:
        api = client(srv)
        since = srv.issue(srv.issue_numbers()[40])["updated_at"]
        before = api.issues_page(REPO, 2, since, per_page=30)
        srv.rename_repository("dotnet/corefx-renamed")
        srv.reset_log()
        after = api.issues_page(REPO, 2, since, per_page=30)
        assert after.redirected and not before.redirected
        assert [i["number"] for i in after.items] == [i["number"] for i in before.items], "page 2, not page 1"
        moved, followed = srv.requests[0], srv.requests[1]
        assert moved.status == 301 and followed.status == 200 and followed.path.startswith("/repositories/")
        assert {k: followed.query[k] for k in ("page", "per_page", "since", "state", "sort", "direction")} == \
            {"page": "2", "per_page": "30", "since": since, "state": "all", "sort": "updated", "direction": "asc"}
        assert api.repository(REPO)["full_name"] == "dotnet/corefx-renamed"
        number = srv.issue_numbers()[3]
        assert api.get_issue(REPO, number)["number"] == number, "an issue of a renamed repository is still itself"


def test_a_renamed_repository_is_scraped_under_its_new_name_with_its_data(small: FixtureRepo, tmp_path: Path) -> None:
    from triage.app.bootstrap import build_services
    from triage.app.moves import current_name
    from triage.app.scraping import scrape_repository
    from triage.app.settings import Config, Settings

    with GitHubServer(small) as srv:
        s = build_services(Config(settings=Settings(home=tmp_path)), github=lambda: client(srv))
        assert scrape_repository(s, REPO)["complete"]
        srv.rename_repository("DotNet/CoreFX-Next")
        srv.open_issue("Opened after the rename", labels=["area-System.IO"])
        result = scrape_repository(s, REPO)
        assert result["repo"] == "dotnet/corefx-next" and result["mode"] == "incremental"
        assert current_name(s.docs, REPO) == "dotnet/corefx-next" and s.docs.query(ISSUES, REPO) == []
        stored = {i.number for i in stored_issues(s.docs, "dotnet/corefx-next")}
        assert stored == {n for n in srv.issue_numbers() if "pull_request" not in srv.issue(n)}


def test_deleted_and_transferred_issues_are_marked_by_the_daily_full_run(small: FixtureRepo, stores) -> None:
    docs, blobs = stores
    with GitHubServer(small) as srv:
        run_to_end(client(srv), docs, blobs, budget=None, now=LATER)
        numbers = [n for n in srv.issue_numbers() if "pull_request" not in srv.issue(n)]
        srv.delete_issue(numbers[5])
        new_number = srv.transfer_issue(numbers[9], "dotnet/runtime")
        result = scrape(client(srv), docs, blobs, REPO, now=LATER.replace(day=3))
        assert result.mode == "full" and result.gone == 2 and result.issue_requests == 2
        assert docs.get(ISSUES, REPO, str(numbers[5]))["gone"] == "deleted"
        moved = docs.get(ISSUES, REPO, str(numbers[9]))
        assert moved["gone"] == "transferred" and moved["moved_to"] == f"dotnet/runtime#{new_number}"


def test_issues_turned_off_are_a_clear_status_not_a_crash_loop(small: FixtureRepo, stores) -> None:
    docs, blobs = stores
    with GitHubServer(small) as srv:
        srv.set_issues_enabled(False)
        api = client(srv)
        result = scrape(api, docs, blobs, REPO)
        assert result.complete and result.status == "issues-disabled" and "disabled" in result.stopped
        assert api.requests_made == 1 and srv.count(status=410) == 1, "no retries"
        assert docs.get(CURSORS, REPO, CURSOR_ID)["blocked"]["status"] == "issues-disabled"
        srv.set_issues_enabled(True)
        assert scrape(api, docs, blobs, REPO).complete
        assert "blocked" not in docs.get(CURSORS, REPO, CURSOR_ID)


def test_redirect_loops_and_redirects_to_other_hosts_are_not_followed(small: FixtureRepo) -> None:
    with GitHubServer(small) as srv:
        api = client(srv)
        srv.inject("GET", ISSUES_PATH, Fault.status(301, headers={"Location": f"{srv.url}/repos/{REPO}/issues"}),
                   times=None)
        with pytest.raises(GitHubError, match="redirects"):
            api.issues_page(REPO, 1)
        assert api.requests_made == 6
        srv.clear_faults()
        srv.inject("GET", ISSUES_PATH, Fault.status(302, headers={"Location": "https://elsewhere.example/x"}))
        with pytest.raises(GitHubError, match="another host"):
            api.issues_page(REPO, 1)


def test_a_bounded_call_leaves_a_long_rate_limit_wait_to_the_orchestration(small: FixtureRepo, tmp_path: Path) -> None:
    from triage.app.bootstrap import build_services
    from triage.app.scraping import RATE_WAIT, scrape_repository
    from triage.app.settings import Config, Settings

    sleeps = Sleeps()
    with GitHubServer(small) as srv:
        s = build_services(Config(settings=Settings(home=tmp_path)), github=lambda: client(srv, sleeps))
        srv.inject("GET", ISSUES_PATH, Fault.primary_limit(reset_in=RATE_WAIT * 5))
        paused = scrape_repository(s, REPO, page_budget=50)
        assert not paused["complete"] and paused["status"] == "rate-limited" and paused["retry_at"]
        assert sleeps.calls == [], "the activity does not sleep through a reset minutes away"
        srv.inject("GET", ISSUES_PATH, Fault.primary_limit(reset_in=RATE_WAIT / 2))
        assert scrape_repository(s, REPO, page_budget=50)["requests"] >= 2
        assert len(sleeps.calls) == 1 and sleeps.calls[0] <= RATE_WAIT, "a near reset is waited for in the call"
