"""The labeling batch over the in-memory GitHub: what a batch loads once, what it writes, what it records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fake_github import FakeGitHub
from triage.app.bootstrap import Services, build_services
from triage.app.labeling import label_batch, label_issues
from triage.app.settings import Config, Settings
from triage.app.writers import COMMENT_MARKER
from triage.domain.issues import Issue
from triage.domain.repo_config import CONFIG_PATH, RepoConfig
from triage.ports.records import PREDICTIONS

REPO = "octo/widgets"


@dataclass
class KeywordModel:
    """A stand-in classifier: ``bug`` when the title says "crash", else ``docs``."""

    labels: list[str] = field(default_factory=lambda: ["bug", "docs"])
    thresholds: dict[str, float] = field(default_factory=lambda: {"bug": 0.8, "docs": 0.8})
    single_label: bool = True
    version: str = "v1"

    def evidence(self, title: str, body: str, label: str, k: int = 3) -> list[str]:
        return []  # no lexical half: no words to show

    def similar(self, title: str, body: str, label: str, number: int | None = None, k: int = 3) -> list[tuple[int, str]]:
        return []  # no stored past issues

    def scores(self, title: str, body: str) -> dict[str, float]:
        return {"bug": 0.95, "docs": 0.05} if "crash" in title.lower() else {"docs": 0.9, "bug": 0.1}


@pytest.fixture()
def github() -> FakeGitHub:
    fake = FakeGitHub(REPO)
    fake.files[CONFIG_PATH] = "dry_run: false\ncomment: true\n"
    return fake


def services(tmp_path: Path, github: FakeGitHub, dry_run: bool = False) -> tuple[Services, list[int]]:
    built: list[int] = []

    def client() -> FakeGitHub:
        built.append(1)
        return github

    config = Config(settings=Settings(home=tmp_path, dry_run=dry_run))
    return build_services(config, github=client), built


def test_a_batch_loads_the_client_and_the_config_once(tmp_path: Path, github: FakeGitHub) -> None:
    numbers = [github.open_issue(f"App crash {n}") for n in range(5)]
    s, built = services(tmp_path, github)
    result = label_batch(s, REPO, numbers, KeywordModel())  # type: ignore[arg-type]
    assert (result["labeled"], result["abstained"], result["failed"]) == (5, 0, 0)
    assert len(built) == 1 and github.calls.count(f"GET /repos/{REPO}/contents/{CONFIG_PATH}") == 1
    assert all(github.issues[n]["labels"] == [{"name": "bug"}] for n in numbers)
    assert len(s.docs.query(PREDICTIONS, REPO)) == 5


def test_dry_run_records_the_calls_and_writes_nothing(tmp_path: Path, github: FakeGitHub) -> None:
    number = github.open_issue("Crash on start")
    s, _ = services(tmp_path, github, dry_run=True)
    result = label_batch(s, REPO, [number], KeywordModel())  # type: ignore[arg-type]
    assert result["dry_run"] and github.issues[number]["labels"] == []
    assert not any(call.startswith(("POST", "PATCH")) for call in github.calls)
    (prediction,) = s.docs.query(PREDICTIONS, REPO)
    assert prediction["dry_run"] and not prediction["applied"] and prediction["add"][0]["label"] == "bug"


def test_human_labels_closed_issues_and_pull_requests_are_left_alone(tmp_path: Path, github: FakeGitHub) -> None:
    human = github.open_issue("Crash again", labels=["docs"])
    closed = github.open_issue("Crash when closed", state="closed")
    pull = github.open_issue("Fix the crash", pull_request=True)
    s, _ = services(tmp_path, github)
    decisions = label_batch(s, REPO, [human, closed, pull], KeywordModel())["decisions"]  # type: ignore[arg-type]
    assert [d.abstained for d in decisions] == [True, True, True]
    assert "a human already applied docs" in decisions[0].reasons[0]
    assert "closed" in decisions[1].reasons[0] and "pull requests" in decisions[2].reasons[0]
    assert not any(call.startswith(f"POST /repos/{REPO}/issues/{n}/labels") for n in (human, closed, pull)
                   for call in github.calls)


def test_the_comment_is_posted_once_and_edited_in_place(tmp_path: Path, github: FakeGitHub) -> None:
    number = github.open_issue("Docs are unclear")
    s, _ = services(tmp_path, github)
    unsure = KeywordModel(thresholds={"bug": 0.99, "docs": 0.99})  # abstains, but comments
    label_batch(s, REPO, [number], unsure)  # type: ignore[arg-type]
    label_batch(s, REPO, [number], unsure)  # type: ignore[arg-type]
    (comment,) = github.comments[number]
    assert COMMENT_MARKER in comment["body"] and not any(c.startswith("PATCH") for c in github.calls)
    label_batch(s, REPO, [number], KeywordModel(version="v2"))  # type: ignore[arg-type]
    (comment,) = github.comments[number]
    assert "Applied: `docs`" in comment["body"] and sum(c.startswith("PATCH") for c in github.calls) == 1


def test_issues_from_a_file_are_always_a_dry_run(tmp_path: Path, github: FakeGitHub) -> None:
    s, built = services(tmp_path, github)
    issues = [Issue(REPO, 7, "Crash in parser"), Issue(REPO, 8, "Typo in the docs")]
    decisions, calls = label_issues(s, REPO, issues, KeywordModel(), RepoConfig(dry_run=False))  # type: ignore[arg-type]
    assert [d.add[0][0] for d in decisions] == ["bug", "docs"]
    assert calls == [f'POST /repos/{REPO}/issues/7/labels {{"labels": ["bug"]}}',
                     f'POST /repos/{REPO}/issues/8/labels {{"labels": ["docs"]}}']
    assert built == [] and github.calls == []
