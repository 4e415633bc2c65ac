"""The scraper keeps assignees and assignment events (issue #15 item 1), on the first scrape (the repository-wide
event list) and on later ones (each changed issue's events), with the real client against the loopback GitHub."""

from __future__ import annotations

from pathlib import Path

from tests.github_server import GitHubServer, build_fixture
from triage.adapters.github.client import GitHubClient
from triage.adapters.github.settings import GitHubSettings
from triage.app.bootstrap import build_services
from triage.app.settings import Config, Settings
from triage.data.ingest import stored_issues
from triage.data.scraper import scrape
from triage.domain.assignments import human_assignments

REPO = "dotnet/corefx"


def test_scrapes_keep_assignees_and_who_assigned_them(tmp_path: Path) -> None:
    s = build_services(Config(settings=Settings(home=tmp_path)))
    with GitHubServer(build_fixture(limit=60)) as server:
        api = GitHubClient(GitHubSettings(base_url=server.url, token="test-token"), sleep=lambda _s: None)
        scrape(api, s.docs, s.blobs, REPO)
        issues = {i.number: i for i in stored_issues(s.docs, REPO)}
        on_github = {n: [u["login"] for u in server.issue(n)["assignees"]] for n in issues}
        assert any(on_github.values()), "the fixture assigns about a fifth of its issues"
        for number, issue in issues.items():
            assert list(issue.assignees) == on_github[number]
            expected = [(e["event"], e["assignee"]["login"], e["actor"]["login"]) for e in server.events(number)
                        if e["event"] in ("assigned", "unassigned")]
            assert [(e.action, e.assignee, e.actor) for e in issue.assign_events] == expected
            assert s.docs.get("issues", REPO, str(number))["assignee"] == (
                on_github[number][0].lower() if on_github[number] else None)

        number = next(n for n, logins in on_github.items() if not logins and issues[n].state == "open")
        server.assign(number, "alice", "maintainer-a")
        server.assign(number, "helper-bot", "helper-bot[bot]", "Bot")
        scrape(api, s.docs, s.blobs, REPO)
        (issue,) = [i for i in stored_issues(s.docs, REPO) if i.number == number]
        assert issue.assignees == ("alice", "helper-bot")
        assert [(e.assignee, e.actor) for e in human_assignments(issue)] == [("alice", "maintainer-a")]
        assert [e.is_bot() for e in issue.assign_events] == [False, True]
