"""Tests of triage.policy.decide: thresholds, exclusions, and never fighting a human."""

from __future__ import annotations

import pytest

from triage.domain.errors import UnknownLabelError
from triage.domain.issues import Issue, LabelEvent
from triage.domain.policy import Decision, Policy, decide

from .helpers import BOT, labeled_by, make_issue

SCORES = {"area-Net": 0.95, "area-IO": 0.03, "area-Xml": 0.02}


def policy(**kwargs: object) -> Policy:
    """A policy with threshold 0.9 for every label unless overridden."""
    base: dict[str, object] = {"thresholds": {"area-Net": 0.9, "area-IO": 0.9, "area-Xml": 0.9}, "bot_login": BOT}
    base.update(kwargs)
    return Policy(**base)  # type: ignore[arg-type]


def added(decision: Decision) -> list[str]:
    """The labels the decision adds."""
    return [label for label, _ in decision.add]


def test_adds_top_label_above_threshold() -> None:
    d = decide(make_issue(7), SCORES, policy(), model_version="v1")
    assert d.add == (("area-Net", 0.95),)
    assert not d.abstained
    assert (d.repo, d.number, d.model_version) == ("octo/widgets", 7, "v1")
    assert d.top == (("area-Net", 0.95), ("area-IO", 0.03), ("area-Xml", 0.02))
    assert any("area-Net" in r and ">=" in r for r in d.reasons)


def test_threshold_is_inclusive_and_default_applies_to_unlisted_labels() -> None:
    d = decide(make_issue(1), {"area-Net": 0.9, "area-IO": 0.1}, policy())
    assert added(d) == ["area-Net"]
    p = Policy(thresholds={}, default_threshold=0.97)
    assert decide(make_issue(1), {"area-Net": 0.96, "area-IO": 0.04}, p).abstained
    assert p.threshold("anything") == 0.97


def test_abstains_below_threshold_with_reason() -> None:
    d = decide(make_issue(1), {"area-Net": 0.6, "area-IO": 0.3, "area-Xml": 0.1}, policy())
    assert d.abstained and d.add == ()
    assert d.reasons == ("area-Net 0.60 < threshold 0.90",)
    assert d.to_dict()["abstained"] is True


def test_issue_already_labeled_by_human_with_model_label_is_left_alone() -> None:
    issue = make_issue(1, ["area-IO"])  # no events: every current label counts as human-applied
    d = decide(issue, SCORES, policy())
    assert d.abstained
    assert d.reasons == ("a human already applied area-IO",)


def test_human_label_outside_model_labels_does_not_block() -> None:
    issue = make_issue(1, ["needs-triage"], events=[labeled_by("needs-triage", "alice")])
    assert added(decide(issue, SCORES, policy())) == ["area-Net"]


def test_never_readds_label_removed_by_human() -> None:
    issue = make_issue(1, events=[labeled_by("area-Net", BOT, "Bot"), labeled_by("area-Net", "alice", "User", "unlabeled")])
    d = decide(issue, SCORES, policy())
    assert d.abstained
    assert "area-Net was removed by a human; never re-added" in d.reasons


@pytest.mark.parametrize(
    "remover",
    [
        LabelEvent("area-Net", "unlabeled", actor="some-app", actor_type="Bot"),
        LabelEvent("area-Net", "unlabeled", actor="dependabot[bot]", actor_type="User"),
        LabelEvent("area-Net", "unlabeled", actor=BOT, actor_type=None),
        LabelEvent("area-Net", "unlabeled", actor="our-service-account", actor_type="User"),
    ],
    ids=["actor_type-Bot", "login-[bot]", "bot_login", "configured-bot-login"],
)
def test_label_removed_by_bot_may_be_readded(remover: LabelEvent) -> None:
    issue = make_issue(1, events=[remover])
    bot_login = "our-service-account" if remover.actor == "our-service-account" else BOT
    d = decide(issue, SCORES, policy(bot_login=bot_login))
    assert added(d) == ["area-Net"]


def test_removal_by_user_without_bot_login_configured_blocks() -> None:
    issue = make_issue(1, events=[LabelEvent("area-Net", "unlabeled", actor="our-service-account", actor_type="User")])
    assert decide(issue, SCORES, policy(bot_login=None)).abstained


def test_excluded_label_never_added() -> None:
    d = decide(make_issue(1), SCORES, policy(excluded=frozenset({"area-Net"})))
    assert d.abstained
    assert "area-Net is excluded by configuration" in d.reasons


def test_excluded_best_label_lets_next_candidate_through() -> None:
    scores = {"area-Net": 0.97, "area-IO": 0.92, "area-Xml": 0.01}
    d = decide(make_issue(1), scores, policy(excluded=frozenset({"area-Net"}), single_label=False, max_labels=1))
    assert added(d) == ["area-IO"]


def test_max_labels_in_multi_label_mode() -> None:
    scores = {"area-Net": 0.99, "area-IO": 0.95, "area-Xml": 0.93}
    assert added(decide(make_issue(1), scores, policy(single_label=False, max_labels=2))) == ["area-Net", "area-IO"]
    assert added(decide(make_issue(1), scores, policy(single_label=False, max_labels=3))) == ["area-Net", "area-IO", "area-Xml"]
    assert added(decide(make_issue(1), scores, policy(single_label=False, max_labels=1))) == ["area-Net"]


def test_multi_label_mode_looks_past_an_unsure_label() -> None:
    scores = {"area-Net": 0.8, "area-IO": 0.7, "area-Xml": 0.5}
    thresholds = {"area-Net": 0.9, "area-IO": 0.6, "area-Xml": 0.4}
    d = decide(make_issue(1), scores, policy(thresholds=thresholds, single_label=False, max_labels=3))
    assert added(d) == ["area-IO", "area-Xml"]


def test_single_label_mode_considers_only_best_remaining_candidate() -> None:
    scores = {"area-Net": 0.8, "area-IO": 0.15, "area-Xml": 0.05}
    thresholds = {"area-Net": 0.9, "area-IO": 0.1, "area-Xml": 0.01}
    d = decide(make_issue(1), scores, policy(thresholds=thresholds, single_label=True, max_labels=3))
    assert d.abstained  # the unsure best guess is not replaced by a less likely exclusive label
    assert d.reasons == ("area-Net 0.80 < threshold 0.90",)


def test_single_label_mode_skips_human_removed_label_then_takes_next() -> None:
    issue = make_issue(1, events=[labeled_by("area-Net", "alice", action="unlabeled")])
    scores = {"area-Net": 0.6, "area-IO": 0.35, "area-Xml": 0.05}
    thresholds = {"area-Net": 0.5, "area-IO": 0.3, "area-Xml": 0.3}
    d = decide(issue, scores, policy(thresholds=thresholds, single_label=True))
    assert added(d) == ["area-IO"]


def test_single_label_mode_adds_at_most_one_label_even_with_larger_max_labels() -> None:
    """Exclusive labels: only the best candidate may be added (Policy.single_label's contract).
    """
    scores = {"area-Net": 0.6, "area-IO": 0.35, "area-Xml": 0.05}
    thresholds = {"area-Net": 0.3, "area-IO": 0.3, "area-Xml": 0.3}
    d = decide(make_issue(1), scores, policy(thresholds=thresholds, single_label=True, max_labels=2))
    assert added(d) == ["area-Net"]


def test_labels_applied_by_bot_are_not_human_labels() -> None:
    issue = make_issue(1, ["area-IO"], events=[labeled_by("area-IO", BOT, "Bot")])
    assert issue.human_labels(BOT) == ()
    d = decide(issue, {"area-IO": 0.99, "area-Net": 0.005, "area-Xml": 0.005}, policy())
    assert d.abstained  # not blocked as "human applied", but exclusive labels are never stacked
    assert d.reasons[0] == "the issue already carries area-IO; labels are exclusive"


def test_label_readded_by_human_after_bot_counts_as_human() -> None:
    events = [labeled_by("area-IO", BOT, "Bot"), labeled_by("area-IO", "alice")]
    issue = make_issue(1, ["area-IO"], events=events)
    assert issue.human_labels(BOT) == ("area-IO",)
    assert decide(issue, SCORES, policy()).reasons == ("a human already applied area-IO",)


def test_bot_login_match_without_actor_type_is_bot() -> None:
    issue = make_issue(1, ["area-IO"], events=[LabelEvent("area-IO", "labeled", actor="triage-svc")])
    assert issue.human_labels("triage-svc") == ()
    assert issue.human_labels(None) == ("area-IO",)


def test_check_labels_rejects_unknown_excluded_labels() -> None:
    p = Policy(thresholds={}, excluded=frozenset({"area-Net", "area-Typo"}))
    with pytest.raises(UnknownLabelError, match="area-Typo"):
        p.check_labels(["area-Net", "area-IO"])
    Policy(thresholds={}, excluded=frozenset({"area-Net"})).check_labels(["area-Net", "area-IO"])


def test_decision_to_dict_rounds_scores() -> None:
    d = decide(Issue("o/r", 3, "t"), {"x": 0.912345, "y": 0.087655}, Policy(thresholds={"x": 0.9}), "m1")
    data = d.to_dict()
    assert data["add"] == [{"label": "x", "score": 0.9123}]
    assert data["model_version"] == "m1" and data["abstained"] is False and data["number"] == 3
