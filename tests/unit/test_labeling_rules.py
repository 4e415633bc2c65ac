"""The labeler never fights a human and never loses a decision: renames, retries, duplicates, config files,
repositories without a model. All through the labeling use cases over the in-memory GitHub."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fake_github import FakeGitHub
from tests.unit.helpers import SureModel
from triage.app import telemetry
from triage.app.bootstrap import Services, build_services
from triage.app.labeling import ModelCache, label_batch, label_request
from triage.app.settings import AppSettings, Config, Settings
from triage.app.status import repo_status
from triage.app.webhook import handle_delivery
from triage.app.writers import COMMENT_MARKER
from triage.domain.errors import GitHubError
from triage.domain.repo_config import CONFIG_PATH, LEGACY_CONFIG_PATH
from triage.ports.records import FEEDBACK, PREDICTIONS, LabelRecord

REPO = "octo/widgets"
LIVE = "dry_run: false\n"


def area_model(label: str = "area-Old", labels: list[str] | None = None, version: str = "v1") -> SureModel:
    """A stand-in classifier that is sure of one area label (named as when it was trained)."""
    return SureModel(label, labels or ["area-Old", "area-Other"], version=version)


def services(tmp_path: Path, github: FakeGitHub, repositories: tuple[str, ...] = ()) -> Services:
    config = Config(settings=Settings(home=tmp_path, dry_run=False), app=AppSettings(repositories=repositories))
    return build_services(config, github=lambda: github)


@pytest.fixture()
def github() -> FakeGitHub:
    fake = FakeGitHub(REPO)
    fake.files[CONFIG_PATH] = LIVE
    return fake


def posts(github: FakeGitHub, what: str = "labels") -> list[str]:
    return [c for c in github.calls if c.startswith("POST") and f"/{what}" in c]


# --- renames and deletions (issue item 3) ---------------------------------------------------------------------

def test_a_label_removed_under_its_old_name_is_not_added_under_its_new_one(tmp_path: Path, github: FakeGitHub) -> None:
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    label_batch(s, REPO, [number], area_model())  # type: ignore[arg-type]
    assert github.issues[number]["labels"] == [{"name": "area-Old"}]
    github.label(number, "area-Old", "maintainer", action="unlabeled")  # the human removes the bot's label
    from triage.learning.feedback import record_label_event

    record_label_event(s.docs, REPO, number, "area-Old", "unlabeled", "maintainer", None, "d-1")
    s.docs.upsert(LabelRecord.container, LabelRecord(id="area-Old", repo=REPO, name="area-Old",
                                                      renamed_to="area-A").to_doc())
    s.docs.upsert(LabelRecord.container, LabelRecord(id="area-A", repo=REPO, name="area-A").to_doc())
    for model in (area_model(), area_model("area-A", ["area-A", "area-Other"], version="v2")):
        decision = label_batch(s, REPO, [number], model)["decisions"][0]  # type: ignore[arg-type]
        assert decision.abstained and any("removed by a human" in r for r in decision.reasons), decision.reasons
    assert len(posts(github)) == 1 and github.issues[number]["labels"] == []


def test_the_labeler_writes_the_current_name_and_never_a_deleted_label(tmp_path: Path, github: FakeGitHub) -> None:
    s = services(tmp_path, github)
    s.docs.upsert(LabelRecord.container, LabelRecord(id="area-Old", repo=REPO, name="area-Old",
                                                      renamed_to="area-A").to_doc())
    renamed = github.open_issue("Socket hangs")
    label_batch(s, REPO, [renamed], area_model())  # type: ignore[arg-type]
    assert github.issues[renamed]["labels"] == [{"name": "area-A"}], "GitHub would re-create the old name"
    s.docs.upsert(LabelRecord.container, LabelRecord(id="area-A", repo=REPO, name="area-A", deleted=True).to_doc())
    deleted = github.open_issue("Socket hangs again")
    decision = label_batch(s, REPO, [deleted], area_model())["decisions"][0]  # type: ignore[arg-type]
    assert decision.abstained and github.issues[deleted]["labels"] == []


# --- decisions are never lost, retries are idempotent (item 4) -------------------------------------------------

def test_a_second_request_keeps_the_decision_that_applied_the_label(tmp_path: Path, github: FakeGitHub) -> None:
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    for _ in range(3):  # opened, then an edit, then a retry of a message that had succeeded
        label_batch(s, REPO, [number], area_model())  # type: ignore[arg-type]
    (record,) = s.docs.query(PREDICTIONS, REPO, number=number)
    assert record["add"][0]["label"] == "area-Old" and record["applied"] and len(posts(github)) == 1
    github.label(number, "area-Old", "maintainer", action="unlabeled")
    handled = handle_delivery(*_signed_unlabeled(number), "s" * 32, s.docs, s.queue, "issue-triage[bot]")
    assert handled.feedback[0]["verdict"] == "corrected", "the removal judges the bot's decision"


def _signed_unlabeled(number: int) -> tuple[dict[str, str], bytes]:
    import hashlib
    import hmac
    import json

    body = json.dumps({"action": "unlabeled", "issue": {"number": number, "updated_at": "2026-01-03T00:00:00Z"},
                       "label": {"name": "area-Old"}, "repository": {"full_name": REPO},
                       "sender": {"login": "maintainer", "type": "User"}}).encode()
    signature = "sha256=" + hmac.new(b"s" * 32, body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": "issues", "X-GitHub-Delivery": f"u-{number}", "X-Hub-Signature-256": signature}, body


class CrashAfterLabels(FakeGitHub):
    """GitHub adds the labels, then the worker dies before it records that it did."""

    crashes: int = 1

    def add_labels(self, repo: str, number: int, labels: Any) -> None:
        super().add_labels(repo, number, labels)
        if self.crashes:
            self.crashes -= 1
            raise ConnectionError("the worker died after the POST")


def test_a_retry_after_a_crash_marks_the_decision_without_writing_twice(tmp_path: Path) -> None:
    github = CrashAfterLabels(REPO)
    github.files[CONFIG_PATH] = LIVE
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    with pytest.raises(ConnectionError):
        label_batch(s, REPO, [number], area_model())  # type: ignore[arg-type]
    label_batch(s, REPO, [number], area_model())  # type: ignore[arg-type]  (the queue's retry)
    (record,) = s.docs.query(PREDICTIONS, REPO, number=number)
    assert record["applied"] and record["add"][0]["label"] == "area-Old" and len(posts(github)) == 1


# --- exactly one comment (item 5) -----------------------------------------------------------------------------

class LostCommentAnswer(FakeGitHub):
    """The comment is created, but the answer never arrives (a timeout or a truncated response)."""

    lost: int = 1

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        created = super().create_comment(repo, number, body)
        if self.lost:
            self.lost -= 1
            raise GitHubError("POST comments: connection error ReadTimeout")
        return created


def test_one_comment_under_retries(tmp_path: Path) -> None:
    github = LostCommentAnswer(REPO)
    github.files[CONFIG_PATH] = LIVE + "comment: true\n"
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    with pytest.raises(GitHubError):
        label_batch(s, REPO, [number], area_model())  # type: ignore[arg-type]
    label_batch(s, REPO, [number], area_model())  # type: ignore[arg-type]
    label_batch(s, REPO, [number], area_model(version="v2"))  # type: ignore[arg-type]
    assert len([c for c in github.comments[number] if COMMENT_MARKER in c["body"]]) == 1


class SlowNetwork(FakeGitHub):
    """GitHub at network speed: two workers both list the comments before either has posted one."""

    def list_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        listed = super().list_comments(repo, number)
        time.sleep(0.02)  # the answer is on its way while the other worker lists too
        return listed


def test_one_comment_under_two_concurrent_workers(tmp_path: Path) -> None:
    github = SlowNetwork(REPO)
    github.files[CONFIG_PATH] = LIVE + "comment: true\n"
    s = services(tmp_path, github)
    numbers = [github.open_issue(f"Socket hangs {n}") for n in range(8)]
    barrier = threading.Barrier(2)

    def worker() -> None:
        barrier.wait()
        label_batch(s, REPO, numbers, area_model())  # type: ignore[arg-type]

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(github.comments.get(n, [])) == 1 for n in numbers), {n: len(github.comments.get(n, [])) for n in numbers}


# --- the repository config file (item 13) ---------------------------------------------------------------------

def test_the_config_of_another_tool_at_the_legacy_path_is_not_ours(tmp_path: Path, github: FakeGitHub) -> None:
    del github.files[CONFIG_PATH]
    github.files[LEGACY_CONFIG_PATH] = "area:techdocs:\n  - '(techdocs|TechDocs)'\nbug:\n  - 'crash'\n"
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    decision = label_batch(s, REPO, [number], area_model())["decisions"][0]  # type: ignore[arg-type]
    assert decision.add and repo_status(s, REPO)["config_error"] is None
    assert posts(github) == [], "defaults: dry run"
    github.files[LEGACY_CONFIG_PATH] = LIVE  # an old config of ours is still read
    label_batch(s, REPO, [github.open_issue("Socket hangs again")], area_model())  # type: ignore[arg-type]
    assert len(posts(github)) == 1


def test_an_invalid_config_never_poisons_and_shows_on_the_status(tmp_path: Path, github: FakeGitHub) -> None:
    github.files[CONFIG_PATH] = "dry_run: false\nmax_labels: many\n"
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    events: list[str] = []
    original = telemetry.event
    telemetry.event = lambda name, **attrs: events.append(name)  # type: ignore[assignment]
    try:
        result = label_request(s, {"repo": REPO, "number": number}, ModelCache.__new__(FixedCache))
    finally:
        telemetry.event = original  # type: ignore[assignment]
    assert result["abstained"] and "max_labels" in result["reasons"][0] and posts(github) == []
    assert "RepoConfigInvalid" in events and "max_labels" in repo_status(s, REPO)["config_error"]["error"]
    github.files[CONFIG_PATH] = LIVE
    label_request(s, {"repo": REPO, "number": number}, ModelCache.__new__(FixedCache))
    assert repo_status(s, REPO)["config_error"] is None and len(posts(github)) == 1


class FixedCache(ModelCache):
    def get(self, s: Services, repo: str) -> Any:
        return area_model()


# --- no model yet, not configured, names in any case (item 14) --------------------------------------------------

@pytest.mark.parametrize(("repositories", "kind"), [((REPO,), "no-model"), (("octo/other",), "not-configured")])
def test_a_request_without_a_model_is_recorded_and_finishes(tmp_path: Path, github: FakeGitHub,
                                                            repositories: tuple[str, ...], kind: str) -> None:
    s = services(tmp_path, github, repositories)
    number = github.open_issue("Socket hangs")
    result = label_request(s, {"repo": "Octo/Widgets", "number": number}, ModelCache())
    assert result["kind"] == kind and result["abstained"]
    (record,) = s.docs.query(PREDICTIONS, REPO)
    assert record["kind"] == kind and github.calls == [], "no GitHub request, no retry, no poison message"


def test_feedback_and_decisions_meet_whatever_the_case_of_the_name(tmp_path: Path, github: FakeGitHub) -> None:
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    label_request(s, {"repo": "OCTO/Widgets", "number": number}, ModelCache.__new__(FixedCache))
    assert s.docs.query(PREDICTIONS, REPO, number=number) and s.docs.query(FEEDBACK, REPO) == []
