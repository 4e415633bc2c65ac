"""The abstain label (issue #15 item 3): applied when the labeler is not sure, taken back once a human labels the
group, never applied over a human's label, never put back after a human removed it; dry run shows the call.

Through the labeling use cases and the webhook intake over the in-memory GitHub; the loopback-server version is
in tests/integration/test_review_actions.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fake_github import FakeGitHub
from tests.unit.helpers import SureModel
from triage.adapters.local.queue import SqliteQueue
from triage.app.abstain import TIDY_REASON, applied_markers, plan
from triage.app.bootstrap import Services, build_services
from triage.app.labeling import ModelCache, label_batch, label_request
from triage.app.settings import Config, Settings
from triage.app.webhook import handle_delivery
from triage.domain.issues import Issue, LabelEvent
from triage.domain.repo_config import CONFIG_PATH, AbstainLabel
from triage.ports.records import PREDICTIONS

REPO = "octo/widgets"
BOT = "issue-triage[bot]"
SECRET = "s" * 32
NEEDS = "needs-area-label"


def sure_model(score: float = 0.97) -> SureModel:
    """A stand-in classifier: ``score`` for ``area-Net``, the rest spread over the other labels."""
    return SureModel(labels=["area-Net", "area-IO", "type-bug"], score=score)


UNSURE = sure_model(0.4)


class Fixed(ModelCache):
    """The model cache with one stand-in model for every repository."""

    def __init__(self, model: SureModel) -> None:
        super().__init__()
        self.model = model

    def get(self, s: Services, repo: str) -> Any:
        return self.model


def services(tmp_path: Path, github: FakeGitHub, dry_run: bool = False) -> Services:
    return build_services(Config(settings=Settings(home=tmp_path, dry_run=dry_run)), github=lambda: github)


def configured(config: str) -> FakeGitHub:
    fake = FakeGitHub(REPO)
    fake.files[CONFIG_PATH] = config
    return fake


def names(github: FakeGitHub, number: int) -> list[str]:
    return [label["name"] for label in github.issues[number]["labels"]]


def deliver(s: Services, queue: SqliteQueue, action: str, number: int, label: str, actor: str,
            actor_type: str = "User") -> Any:
    body = json.dumps({"action": action, "issue": {"number": number, "updated_at": "2026-01-03T00:00:00Z"},
                       "label": {"name": label}, "repository": {"full_name": REPO},
                       "sender": {"login": actor, "type": actor_type}}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "issues", "X-Hub-Signature-256": signature,
               "X-GitHub-Delivery": hashlib.sha1(body).hexdigest()}
    return handle_delivery(headers, body, SECRET, s.docs, queue, BOT)


def test_an_abstention_applies_the_abstain_label_in_the_same_call(tmp_path: Path) -> None:
    github = configured(f"dry_run: false\nabstain_label: {NEEDS}\n")
    s = services(tmp_path, github)
    number = github.open_issue("Something odd")
    decision = label_batch(s, REPO, [number], UNSURE)["decisions"][0]  # type: ignore[arg-type]
    assert decision.abstained and any(f"{NEEDS} applied" in r for r in decision.reasons)
    assert names(github, number) == [NEEDS]
    assert [c for c in github.calls if c.startswith("POST")] == [f"POST /repos/{REPO}/issues/{number}/labels "
                                                                 f"['{NEEDS}']"]
    assert applied_markers(s.docs, REPO, number) == [NEEDS]
    (record,) = s.docs.query(PREDICTIONS, REPO, number=number)
    assert any(f"{NEEDS} applied" in r for r in record["reasons"]), "the dashboard's why names it"
    for _ in range(2):  # a retry, then an edit: nothing more is written
        label_batch(s, REPO, [number], UNSURE)  # type: ignore[arg-type]
    assert len([c for c in github.calls if c.startswith("POST")]) == 1


def test_a_confident_decision_does_not_apply_it(tmp_path: Path) -> None:
    github = configured(f"dry_run: false\nabstain_label: {NEEDS}\n")
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    label_batch(s, REPO, [number], sure_model())  # type: ignore[arg-type]
    assert names(github, number) == ["area-Net"]


def test_never_over_a_human_label_of_the_group(tmp_path: Path) -> None:
    github = configured(f"dry_run: false\nabstain_label: {NEEDS}\n")
    s = services(tmp_path, github)
    number = github.open_issue("Something odd", labels=["area-IO"])  # applied by a maintainer
    decision = label_batch(s, REPO, [number], UNSURE)["decisions"][0]  # type: ignore[arg-type]
    assert decision.abstained and names(github, number) == ["area-IO"]
    assert not [c for c in github.calls if c.startswith("POST")]


def test_per_group_labels_only_for_the_groups_left_empty(tmp_path: Path) -> None:
    config = ("dry_run: false\nmax_labels: 2\nlabels: {exclusive: ['area-*', 'type-*']}\n"
              "abstain_label: {'area-*': needs-area-label, 'type-*': needs-type}\n")
    github = configured(config)
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    label_batch(s, REPO, [number], sure_model())  # type: ignore[arg-type]
    assert sorted(names(github, number)) == ["area-Net", "needs-type"], "area is labeled, type is not"
    assert len([c for c in github.calls if c.startswith("POST")]) == 1, "one call for both labels"
    typed = github.open_issue("Crash", labels=["type-bug"])
    label_batch(s, REPO, [typed], UNSURE)  # type: ignore[arg-type]
    assert sorted(names(github, typed)) == ["needs-area-label", "type-bug"]


def test_a_human_label_of_the_group_takes_it_back_through_the_webhook(tmp_path: Path) -> None:
    github = configured(f"dry_run: false\nabstain_label: {NEEDS}\n")
    s = services(tmp_path, github)
    cache = Fixed(UNSURE)
    number = github.open_issue("Something odd")
    label_request(s, {"repo": REPO, "number": number}, cache)
    assert names(github, number) == [NEEDS]

    queue = SqliteQueue(":memory:")
    github.label(number, "docs", "maintainer")  # not a label of the group: the abstain label stays
    assert deliver(s, queue, "labeled", number, "docs", "maintainer").enqueued[0]["reason"] == TIDY_REASON
    label_request(s, queue.receive()[0].body, cache)
    assert NEEDS in names(github, number)

    github.label(number, "area-IO", "maintainer")
    result = deliver(s, queue, "labeled", number, "area-IO", "maintainer")
    assert result.status == 200 and [m["reason"] for m in result.enqueued] == [TIDY_REASON]
    (message,) = queue.receive()
    outcome = label_request(s, message.body, cache)
    assert names(github, number) == ["docs", "area-IO"]
    assert f"DELETE /repos/{REPO}/issues/{number}/labels/{NEEDS}" in github.calls
    assert any(f"{NEEDS} removed" in r for r in outcome["reasons"])
    assert applied_markers(s.docs, REPO, number) == []
    assert deliver(s, queue, "labeled", number, "area-Net", "maintainer").enqueued == [], "nothing left to take back"


def test_an_issue_never_marked_queues_nothing_on_a_human_label(tmp_path: Path) -> None:
    s = services(tmp_path, configured("dry_run: false\n"))
    queue = SqliteQueue(":memory:")
    assert deliver(s, queue, "labeled", 7, "area-IO", "maintainer").enqueued == [] and queue.depth() == 0


def test_a_human_removed_abstain_label_is_never_put_back(tmp_path: Path) -> None:
    github = configured(f"dry_run: false\nabstain_label: {NEEDS}\n")
    s = services(tmp_path, github)
    number = github.open_issue("Something odd")
    label_batch(s, REPO, [number], UNSURE)  # type: ignore[arg-type]
    github.label(number, NEEDS, "maintainer", action="unlabeled")
    deliver(s, SqliteQueue(":memory:"), "unlabeled", number, NEEDS, "maintainer")
    decision = label_batch(s, REPO, [number], UNSURE)["decisions"][0]  # type: ignore[arg-type]
    assert names(github, number) == [] and any("a human removed it" in r for r in decision.reasons)
    assert len([c for c in github.calls if c.startswith("POST")]) == 1


def test_a_human_removal_known_only_from_events_also_blocks_it(tmp_path: Path) -> None:
    github = configured(f"dry_run: false\nabstain_label: {NEEDS}\n")
    s = services(tmp_path, github)
    number = github.open_issue("Something odd", labels=[NEEDS])
    github.label(number, NEEDS, "maintainer", action="unlabeled")  # no webhook seen: only the events tell
    label_batch(s, REPO, [number], UNSURE)  # type: ignore[arg-type]
    assert names(github, number) == []


def test_dry_run_shows_the_call_and_writes_nothing(tmp_path: Path) -> None:
    github = configured(f"abstain_label: {NEEDS}\n")  # the config's dry_run defaults to true
    s = services(tmp_path, github)
    number = github.open_issue("Something odd")
    result = label_batch(s, REPO, [number], UNSURE)  # type: ignore[arg-type]
    assert result["dry_run"] and names(github, number) == [] and applied_markers(s.docs, REPO, number) == []
    assert not [c for c in github.calls if c.startswith(("POST", "DELETE"))]
    assert any(f"{NEEDS} applied" in r for r in result["decisions"][0].reasons)


def test_a_human_applied_abstain_label_is_never_taken_back(tmp_path: Path) -> None:
    github = configured(f"dry_run: false\nabstain_label: {NEEDS}\n")
    s = services(tmp_path, github)
    number = github.open_issue("Something odd", labels=[NEEDS, "area-IO"])  # a maintainer put both
    label_batch(s, REPO, [number], UNSURE)  # type: ignore[arg-type]
    assert sorted(names(github, number)) == ["area-IO", NEEDS]
    assert not [c for c in github.calls if c.startswith("DELETE")]


# --- the pure rule, for any history ----------------------------------------------------------------------------

LABELS = ["area-Net", "area-IO", "docs", NEEDS]
ACTORS = [("maintainer", "User"), (BOT, "Bot")]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=st.lists(st.tuples(st.sampled_from(LABELS), st.booleans(), st.sampled_from(ACTORS)), max_size=12),
       adding=st.sets(st.sampled_from(["area-Net", "area-IO"]), max_size=1), blocked=st.sets(st.sampled_from(LABELS)))
def test_the_rule_never_fights_a_human(history: list[tuple[str, bool, tuple[str, str]]], adding: set[str],
                                       blocked: set[str]) -> None:
    labels: list[str] = []
    events = []
    for label, add, (actor, kind) in history:
        if add and label not in labels:
            labels.append(label)
        elif not add and label in labels:
            labels.remove(label)
        else:
            continue
        events.append(LabelEvent(label, "labeled" if add else "unlabeled", actor, kind))
    issue = Issue(REPO, 1, "t", labels=tuple(labels), label_events=tuple(events))
    model = frozenset({"area-Net", "area-IO"})
    changes = plan([AbstainLabel(NEEDS)], issue, adding, model, frozenset(blocked), BOT)
    human = set(issue.human_labels(BOT))
    assert not set(changes.remove) & human, "never removes a label a human applied"
    if changes.add:
        assert not (set(labels) | adding) & model, "never applied when the group has a label"
        assert NEEDS not in issue.removed_by_humans(BOT) | blocked, "never put back after a human removed it"
        assert NEEDS not in labels
    if changes.remove:
        assert (set(labels) | adding) & model, "taken back only once the group is labeled"
    if NEEDS not in labels and not (set(labels) | adding) & model and NEEDS not in issue.removed_by_humans(BOT) | blocked:
        assert changes.add == (NEEDS,)


@pytest.mark.parametrize("mapping", [{"area-*": NEEDS}, None])
def test_a_group_pattern_ignores_labels_outside_it(mapping: dict[str, str] | None) -> None:
    item = AbstainLabel(NEEDS, "area-*") if mapping else AbstainLabel(NEEDS)
    issue = Issue(REPO, 1, "t", labels=("docs",), label_events=(LabelEvent("docs", "labeled", "maintainer", "User"),))
    changes = plan([item], issue, (), frozenset({"area-Net"}), frozenset(), BOT)
    assert changes.add == (NEEDS,)


# --- crashes -------------------------------------------------------------------------------------------------

class DiesAfterWriting(FakeGitHub):
    """GitHub writes the labels, then the worker dies before it records anything (the answer is lost)."""

    deaths: int = 1

    def add_labels(self, repo: str, number: int, labels: Any) -> None:
        super().add_labels(repo, number, labels)
        if self.deaths:
            self.deaths -= 1
            raise ConnectionError("the worker died after GitHub wrote the labels")


class DiesBeforeWriting(FakeGitHub):
    deaths: int = 1

    def add_labels(self, repo: str, number: int, labels: Any) -> None:
        if self.deaths:
            self.deaths -= 1
            raise ConnectionError("GitHub unreachable")
        super().add_labels(repo, number, labels)


@pytest.mark.parametrize("world", [DiesAfterWriting, DiesBeforeWriting])
def test_a_crash_around_the_write_neither_loses_nor_repeats_the_abstain_label(tmp_path: Path, world: type) -> None:
    github = world(REPO)
    github.files[CONFIG_PATH] = f"dry_run: false\nabstain_label: {NEEDS}\n"
    s = services(tmp_path, github)
    number = github.open_issue("Something odd")
    with pytest.raises(ConnectionError):
        label_batch(s, REPO, [number], UNSURE)  # type: ignore[arg-type]
    label_batch(s, REPO, [number], UNSURE)  # the queue's retry
    assert names(github, number) == [NEEDS]
    assert applied_markers(s.docs, REPO, number) == [NEEDS], "the webhook still knows to take it back"
    github.label(number, "area-IO", "maintainer")
    queue = SqliteQueue(":memory:")
    assert deliver(s, queue, "labeled", number, "area-IO", "maintainer").enqueued
    label_request(s, queue.receive()[0].body, Fixed(UNSURE))
    assert names(github, number) == ["area-IO"]
