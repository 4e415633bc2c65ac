"""The assignee model end to end: a history generated from owner rules on the loopback GitHub server, scraped
with the real client into the embedded stores (files and SQLite), trained, stored, loaded and scored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.github.routing_history import ROUTING_BOT, apply_owner_rules, owner_rules
from tests.github_server import FixtureRepo, GitHubServer, build_fixture
from triage.adapters.github.client import GitHubClient
from triage.adapters.github.settings import GitHubSettings
from triage.app.assignee_training import (
    assignee_model_name,
    assignee_pointer_name,
    load_assignee_model,
    train_assignees,
)
from triage.app.bootstrap import Services, build_services
from triage.app.settings import Config, Settings
from triage.data.ingest import ingest, stored_issues
from triage.data.scraper import scrape
from triage.domain.errors import DataFormatError
from triage.domain.issues import Issue

REPO = "dotnet/corefx"


@pytest.fixture(scope="module")
def routed() -> tuple[FixtureRepo, dict[int, str | None]]:
    fixture = build_fixture(limit=900)
    truth = apply_owner_rules(fixture, owner_rules(fixture.labels))
    return fixture, truth


@pytest.fixture()
def scraped(tmp_path: Path, routed: tuple[FixtureRepo, dict[int, str | None]]) -> Iterator[Services]:
    s = build_services(Config(settings=Settings(home=tmp_path)))
    with GitHubServer(routed[0]) as server:
        api = GitHubClient(GitHubSettings(base_url=server.url, token="test-token"), sleep=lambda _s: None)
        scrape(api, s.docs, s.blobs, REPO)
    yield s


def test_trains_on_the_scraped_history_then_stores_and_loads_the_model(
        scraped: Services, routed: tuple[FixtureRepo, dict[int, str | None]]) -> None:
    fixture, truth = routed
    issues = {i.number: i for i in stored_issues(scraped.docs, REPO)}
    assert any(e.actor == ROUTING_BOT for i in issues.values() for e in i.assign_events)

    result = train_assignees(scraped, REPO)

    assert result["trained"], result
    metrics = result["metrics"]
    assert ROUTING_BOT not in metrics["per_assignee"]
    is_issue = {n for n in truth if "pull_request" not in fixture.issues[n]}
    assert is_issue <= set(issues)
    assert metrics["bot_only"] == sum(1 for n in is_issue if truth[n] is None) > 0
    assert metrics["n_heldout"] >= 20
    assert metrics["accuracy"] >= 0.75 > metrics["baseline_majority"]
    assert metrics["precision_at_thresholds"] is None or metrics["precision_at_thresholds"] >= 0.8
    version = result["version"]
    assert scraped.blobs.get(assignee_model_name(REPO, version))
    assert version in scraped.blobs.get(assignee_pointer_name(REPO)).decode()

    model = load_assignee_model(scraped, REPO)
    assert model is not None and model.version == version and model.thresholds
    human = sorted(n for n in is_issue if truth[n] is not None)
    right = 0
    for number in human[-20:]:
        issue = issues[number]
        scores = model.scores(issue.title, issue.body, issue.labels)
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-5)
        right += max(scores, key=scores.get) == truth[number]
    assert right >= 14


def test_too_few_human_assignments_train_nothing(tmp_path: Path) -> None:
    s = build_services(Config(settings=Settings(home=tmp_path)))
    ingest([Issue(repo=REPO, number=k, title=f"issue {k}", assignees=("someone",) if k < 4 else ())
            for k in range(1, 30)], s.blobs, s.docs)

    result = train_assignees(s, REPO)

    assert not result["trained"] and "not enough human assignments" in result["reason"]
    assert s.blobs.list(f"models/{REPO}/") == []
    assert load_assignee_model(s, REPO) is None


def test_a_damaged_pointer_names_the_fix(tmp_path: Path) -> None:
    s = build_services(Config(settings=Settings(home=tmp_path)))
    s.blobs.put(assignee_pointer_name(REPO), b"{not json")
    with pytest.raises(DataFormatError, match="train_assignees"):
        load_assignee_model(s, REPO)
    s.blobs.put(assignee_pointer_name(REPO), b'{"version": "v1"}')
    s.blobs.put(assignee_model_name(REPO, "v1"), b"truncated")
    with pytest.raises(DataFormatError, match="not an assignee model"):
        load_assignee_model(s, REPO)
