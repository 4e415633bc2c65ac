"""The learning loop's core: verdicts, the review queue, live quality and bounded auto-tuning."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from triage.adapters.local.stores import SqliteDocumentStore
from triage.app.labeling import record_decision, repo_policy
from triage.domain.errors import InputError, NotFoundError
from triage.domain.policy import Decision, Policy
from triage.domain.repo_config import parse_repo_config
from triage.learning.feedback import (
    judge,
    record_label_event,
    record_review,
    review_queue,
)
from triage.learning.live import live_quality
from triage.learning.tuning import (
    MAX_THRESHOLD,
    auto_tune,
    current_overrides,
    remember_config,
    tuning_history,
)
from triage.ports.records import PREDICTIONS

REPO = "octo/widgets"
NOW = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)


@pytest.fixture()
def docs(tmp_path: Path) -> SqliteDocumentStore:
    return SqliteDocumentStore(tmp_path / "db.sqlite")


def predict(docs: SqliteDocumentStore, number: int, label: str | None, score: float = 0.95, version: str = "v1",
            when: datetime = NOW, policy: Policy | None = None) -> None:
    add = ((label, score),) if label else ()
    record_decision(docs, Decision(REPO, number, add, (), ((label or "bug", score),), version), dry_run=True,
                    policy=policy)
    (doc,) = [d for d in docs.query(PREDICTIONS, REPO, number=number) if d["model_version"] == version]
    docs.upsert(PREDICTIONS, {**doc, "decided_at": when.isoformat(timespec="seconds")})


def human(docs: SqliteDocumentStore, number: int, label: str, action: str = "labeled", when: datetime = NOW) -> dict:
    return record_label_event(docs, REPO, number, label, action, "alice", when.isoformat(timespec="seconds"),
                              f"d-{number}-{label}-{action}")


# --- verdicts ---------------------------------------------------------------------------


def test_verdicts_follow_exclusive_groups() -> None:
    single = {"add": [{"label": "bug", "score": 0.9}], "single_label": True}
    assert judge(single, "bug", "labeled") == ("confirmed", "bug", 0.9)
    assert judge(single, "bug", "unlabeled") == ("corrected", "bug", 0.9)
    assert judge(single, "docs", "labeled") == ("corrected", "bug", 0.9)  # a different label of the same model
    assert judge({"add": [], "single_label": True}, "docs", "labeled") == ("missed", "docs", None)
    assert judge(None, "docs", "labeled")[0] == "unrelated"
    multi = {"add": [{"label": "area-Net", "score": 0.8}], "single_label": False, "exclusive": ["area-*"]}
    assert judge(multi, "area-IO", "labeled") == ("corrected", "area-Net", 0.8)  # same exclusive group
    assert judge(multi, "perf", "labeled") == ("missed", "perf", None)  # another group: the labeler missed it
    assert judge(multi, "perf", "unlabeled")[0] == "unrelated"


# --- review queue -------------------------------------------------------------------------


def test_review_queue_confirm_and_reject_write_feedback_like_label_events(docs: SqliteDocumentStore) -> None:
    predict(docs, 1, "bug", 0.91)
    predict(docs, 2, "docs", 0.97, when=NOW + timedelta(hours=1))
    predict(docs, 3, None)  # abstained: nothing to review
    assert [(r["number"], r["label"]) for r in review_queue(docs, REPO)] == [(2, "docs"), (1, "bug")]

    confirmed = record_review(docs, REPO, 2, "docs", "confirm", "maintainer@example.org")
    assert (confirmed["verdict"], confirmed["action"], confirmed["source"]) == ("confirmed", "labeled", "review")
    rejected = record_review(docs, REPO, 1, "bug", "reject", "maintainer@example.org")
    assert (rejected["verdict"], rejected["judged_label"]) == ("corrected", "bug")
    assert review_queue(docs, REPO) == []
    assert live_quality(docs, REPO, now=NOW + timedelta(days=1))["per_label"]["docs"]["precision"] == 1.0

    with pytest.raises(InputError, match="confirm"):
        record_review(docs, REPO, 1, "bug", "maybe", "m")
    with pytest.raises(NotFoundError, match="no prediction of 'feature'"):
        record_review(docs, REPO, 1, "feature", "confirm", "m")


def test_a_human_label_change_takes_the_issue_out_of_the_review_queue(docs: SqliteDocumentStore) -> None:
    predict(docs, 1, "bug")
    human(docs, 1, "bug", "unlabeled")
    assert review_queue(docs, REPO) == []


# --- live quality ---------------------------------------------------------------------------


def test_live_precision_and_coverage_per_label(docs: SqliteDocumentStore) -> None:
    for n in range(1, 11):
        predict(docs, n, "bug", when=NOW - timedelta(days=n % 5))
    for n in range(11, 15):
        predict(docs, n, None, when=NOW - timedelta(days=1))
    for n in range(1, 7):
        human(docs, n, "bug", when=NOW - timedelta(days=n % 5))  # confirmed
    for n in range(7, 9):
        human(docs, n, "bug", "unlabeled")  # corrected by removal
    human(docs, 9, "docs")  # corrected: a different (exclusive) label
    human(docs, 11, "bug")  # missed: the labeler abstained
    predict(docs, 50, "bug", when=NOW - timedelta(days=40))  # outside the window
    human(docs, 50, "bug", "unlabeled")

    live = live_quality(docs, REPO, window_days=30, now=NOW)
    assert (live["decisions"], live["labeled"], live["coverage"]) == (14, 10, round(10 / 14, 4))
    bug = live["per_label"]["bug"]
    assert (bug["applied"], bug["confirmed"], bug["corrected"], bug["missed"]) == (10, 6, 3, 1)
    assert bug["precision"] == round(6 / 9, 4) and bug["coverage"] == round(6 / 7, 4)
    assert live["per_label"]["docs"]["missed"] == 1 and live["precision"] == round(6 / 9, 4)
    series = live["series"]["bug"]
    assert [p["day"] for p in series] == sorted(p["day"] for p in series) and series[-1]["judged"] == 9
    assert live_quality(docs, REPO, max_decisions=3, now=NOW)["decisions"] == 3


def test_a_human_changing_their_mind_counts_once(docs: SqliteDocumentStore) -> None:
    predict(docs, 1, "bug")
    human(docs, 1, "bug", "unlabeled", when=NOW)
    human(docs, 1, "bug", "labeled", when=NOW + timedelta(minutes=5))
    bug = live_quality(docs, REPO, now=NOW + timedelta(days=1))["per_label"]["bug"]
    assert (bug["confirmed"], bug["corrected"]) == (1, 0)


# --- auto-tuning -----------------------------------------------------------------------------


def corrections(docs: SqliteDocumentStore, numbers: range, label: str = "bug", wrong_every: int = 2) -> None:
    for n in numbers:
        predict(docs, n, label)
        human(docs, n, label, "unlabeled" if n % wrong_every == 0 else "labeled")


def test_auto_tune_raises_then_pauses_and_keeps_the_reason(docs: SqliteDocumentStore) -> None:
    thresholds = {"bug": 0.9, "docs": 0.8}
    tune = lambda at: auto_tune(docs, REPO, "v1", thresholds, target=0.9, min_decisions=4, step=0.05,  # noqa: E731
                                now=NOW + timedelta(minutes=at))
    corrections(docs, range(1, 4))
    assert tune(1) == []  # 3 judged decisions: not enough evidence
    corrections(docs, range(4, 9))
    (change,) = tune(2)
    assert (change["label"], change["old"], change["new"], change["paused"]) == ("bug", 0.9, 0.95, False)
    assert "live precision 0.50 < target 0.90 over 8" in change["reason"]
    assert tune(3) == []  # the same evidence does not raise twice
    corrections(docs, range(10, 14))
    assert tune(4)[0]["new"] == MAX_THRESHOLD
    corrections(docs, range(14, 18))
    paused = tune(5)[0]
    assert paused["paused"] and "paused" in paused["reason"]
    assert current_overrides(docs, REPO, "v1")["bug"]["paused"] is True
    assert current_overrides(docs, REPO, "v2") == {}  # a new model starts from its own thresholds
    assert [h["new"] for h in tuning_history(docs, REPO)] == [0.99, 0.99, 0.95]


def test_auto_tune_leaves_good_and_pinned_labels_alone(docs: SqliteDocumentStore) -> None:
    corrections(docs, range(1, 21), "bug", wrong_every=10)  # 90 % precision: at target
    corrections(docs, range(21, 41), "docs", wrong_every=2)
    changes = auto_tune(docs, REPO, "v1", {"bug": 0.9, "docs": 0.8}, target=0.9, min_decisions=5, step=0.05,
                        pinned=frozenset({"docs"}))
    assert changes == []


def test_policy_applies_overrides_but_the_repository_config_pins_win(docs: SqliteDocumentStore) -> None:
    class Model:
        labels = ["bug", "docs", "feature"]
        thresholds = {"bug": 0.9, "docs": 0.8, "feature": 0.7}
        single_label = True

    overrides = {"bug": {"threshold": 0.95, "paused": False}, "docs": {"threshold": 0.99, "paused": True},
                 "feature": {"threshold": 0.8, "paused": False}}
    config = parse_repo_config("thresholds: {per_label: {feature: 0.6}}")
    policy = repo_policy(Model(), config, "bot", overrides)  # type: ignore[arg-type]
    assert policy.thresholds == {"bug": 0.95, "docs": 0.99, "feature": 0.6}
    assert policy.paused == {"docs"}
    remember_config(docs, REPO, config)
    remember_config(docs, REPO, config)
    assert docs.get("tuning", REPO, "repo-config")["pinned"] == {"feature": 0.6}


def test_a_paused_label_is_not_applied_nor_replaced_by_the_runner_up() -> None:
    from tests.unit.helpers import make_issue
    from triage.domain.policy import decide

    policy = Policy(thresholds={"bug": 0.5, "docs": 0.1}, paused=frozenset({"bug"}))
    decision = decide(make_issue(1, repo=REPO), {"bug": 0.9, "docs": 0.1}, policy)
    assert decision.abstained and "paused by auto-tuning" in decision.reasons[0]
