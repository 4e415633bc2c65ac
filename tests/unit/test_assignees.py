"""The learned assignee model: what it learns from, what it ignores, its thresholds and its stored form."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.domain.assignments import AssignEvent
from triage.domain.errors import DataFormatError, EmptyDatasetError
from triage.domain.issues import Issue
from triage.ml.assignee_history import assignment_history, first_human_assignee
from triage.ml.assignees import AssigneeModel, fit_assignees

AREAS = {  # area label -> (owner, words only that area's issues use)
    "area-net": ("alice", "socket http timeout proxy dns handshake"),
    "area-io": ("bob", "file stream directory path disk buffer"),
    "area-json": ("carol", "serializer json converter property escape utf8"),
    "area-crypto": ("dave", "certificate rsa cipher hash signature key"),
}
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def stamp(day: float) -> str:
    return (START + timedelta(days=day)).isoformat().replace("+00:00", "Z")


def history(n: int = 240, *, noise: float = 0.0, seed: int = 0, labels: bool = True,
            bot_first: float = 0.0) -> list[Issue]:
    """``n`` issues over ``n`` days; each area's owner assigns (by a human triager) its issues; ``noise`` of them
    go to a random person; ``bot_first`` of them get a bot's assignment of someone else first."""
    rng = random.Random(seed)
    areas = sorted(AREAS)
    issues = []
    for k in range(1, n + 1):
        area = areas[rng.randrange(len(areas))]
        owner, words = AREAS[area]
        who = rng.choice([o for o, _ in AREAS.values()]) if rng.random() < noise else owner
        text = " ".join(rng.choice(words.split()) for _ in range(6))
        events = [AssignEvent("assigned", who, "triager", at=stamp(k))]
        if rng.random() < bot_first:
            events.insert(0, AssignEvent("assigned", "decoy", "routing-bot[bot]", "Bot", at=stamp(k)))
        issues.append(Issue(repo="o/r", number=k, title=f"Problem with {text.split()[0]}", body=f"When I {text}.",
                            labels=(area,) if labels else (), created_at=stamp(k), assign_events=tuple(events)))
    return issues


@pytest.fixture(scope="module")
def fitted() -> tuple[AssigneeModel, dict]:
    return fit_assignees(history(noise=0.1, bot_first=0.2), target_precision=0.8)


def test_learns_who_owns_each_area_and_beats_the_most_frequent_assignee(fitted: tuple[AssigneeModel, dict]) -> None:
    model, metrics = fitted
    assert sorted(model.assignees) == ["alice", "bob", "carol", "dave"]
    assert metrics["accuracy"] >= 0.8 and metrics["top3_accuracy"] >= metrics["accuracy"]
    assert metrics["accuracy"] > metrics["baseline_majority"] + 0.3
    scores = model.scores("TLS handshake fails", "The socket proxy times out", ["area-net"])
    assert max(scores, key=scores.get) == "alice"
    assert max(model.scores("Serializer drops a property", "json converter", ["area-json"]).items(),
               key=lambda kv: kv[1])[0] == "carol"


def test_the_text_alone_routes_too_and_the_centroid_learner_works() -> None:
    model, metrics = fit_assignees(history(labels=False), kind="centroid", use_labels=False)
    assert model.kind == "centroid" and metrics["accuracy"] >= 0.9


def test_random_assignments_teach_nothing() -> None:
    _, metrics = fit_assignees(history(noise=1.0, seed=3))
    assert metrics["accuracy"] < 0.5  # four people, no relation between text and person: about a quarter


def test_bots_and_apps_are_ignored() -> None:
    issues = history(bot_first=1.0)
    via_app = Issue(repo="o/r", number=999, title="x", created_at=stamp(500),
                    assign_events=(AssignEvent("assigned", "erin", "someone", via_app="auto-assign"),))
    model, metrics = fit_assignees([*issues, via_app])
    assert "decoy" not in model.assignees and "erin" not in model.assignees
    assert metrics["bot_only"] == 1
    assert first_human_assignee(issues[0]) == (AREAS[issues[0].labels[0]][0], issues[0].created_at)


def test_people_who_stopped_assigning_are_dropped() -> None:
    issues = history(300)
    late = [i for i in issues if i.number > 100]
    gone = [Issue(repo="o/r", number=1000 + k, title="legacy widget", body="legacy widget broken", created_at=stamp(k),
                  assign_events=(AssignEvent("assigned", "frank", "triager", at=stamp(k)),)) for k in range(1, 11)]
    model, metrics = fit_assignees([*late, *gone], inactive_months=6)
    assert "frank" not in model.assignees and "frank" in metrics["dropped_inactive"]
    model, metrics = fit_assignees([*late, *gone], inactive_months=24)
    assert "frank" in model.assignees and not metrics["dropped_inactive"]


def test_unknown_history_falls_back_to_current_assignees() -> None:
    issue = Issue(repo="o/r", number=1, title="t", assignees=("zoe", "yann"), created_at=stamp(1))
    assert first_human_assignee(issue) == ("zoe", stamp(1))
    only_bots = Issue(repo="o/r", number=2, title="t", assignees=("zoe",),
                      assign_events=(AssignEvent("assigned", "zoe", "x[bot]", "Bot"),))
    assert first_human_assignee(only_bots) is None
    assert assignment_history([only_bots]).bot_only == 1


def test_thresholds_reach_the_target_precision_on_the_held_out_issues(fitted: tuple[AssigneeModel, dict]) -> None:
    model, metrics = fitted
    assert set(model.thresholds) == set(model.assignees)
    assert metrics["coverage"] > 0.5
    assert metrics["precision_at_thresholds"] >= 0.8
    for who, row in metrics["per_assignee"].items():
        if row["routed"] >= 10:
            assert row["precision"] >= 0.7, who


def test_too_few_human_assignments_is_a_clear_error() -> None:
    with pytest.raises(EmptyDatasetError, match="not enough human assignments"):
        fit_assignees(history(12))
    with pytest.raises(EmptyDatasetError, match="not enough human assignments"):
        fit_assignees(history(60, bot_first=0.0)[:0])


def test_round_trip_keeps_scores_thresholds_and_version(fitted: tuple[AssigneeModel, dict]) -> None:
    model, _ = fitted
    again = AssigneeModel.from_bytes(model.to_bytes())
    assert again.version == model.version and again.thresholds == model.thresholds
    assert again.assignees == model.assignees
    for title, body, labels in [("disk path", "stream", ("area-io",)), ("", "", ()), ("rsa", "key", ("nope",))]:
        assert again.scores(title, body, labels) == pytest.approx(model.scores(title, body, labels))


@pytest.mark.parametrize("blob", [b"", b"not a model", b"PK\x03\x04garbage"])
def test_anything_else_is_not_a_model(blob: bytes) -> None:
    with pytest.raises(DataFormatError, match="not an assignee model"):
        AssigneeModel.from_bytes(blob)


def test_a_model_with_mismatched_shapes_is_rejected(fitted: tuple[AssigneeModel, dict]) -> None:
    model, _ = fitted
    broken = AssigneeModel(model.version, model.assignees[:2], model.featurizer, model.coef, model.intercept, {},
                           model.kind)
    with pytest.raises(DataFormatError):
        AssigneeModel.from_bytes(broken.to_bytes())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(max_size=300), body=st.one_of(st.text(max_size=2000), st.just("socket " * 20000),
                                                   st.just("\ud800\u202e\x00\U0010ffff" * 100)),
       labels=st.lists(st.one_of(st.sampled_from(sorted(AREAS)), st.text(max_size=20)), max_size=5))
def test_scores_are_a_distribution_over_the_known_assignees(fitted: tuple[AssigneeModel, dict], title: str,
                                                             body: str, labels: list[str]) -> None:
    model, _ = fitted
    scores = model.scores(title, body, labels)
    assert list(scores) == model.assignees
    assert all(0.0 <= p <= 1.0 for p in scores.values())
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-5)


@settings(max_examples=200, deadline=None)
@given(blob=st.one_of(st.binary(max_size=400), st.binary(max_size=400).map(lambda b: b"PK\x03\x04" + b)))
def test_any_bytes_load_as_a_model_or_fail_clearly(blob: bytes) -> None:
    with pytest.raises(DataFormatError, match="not an assignee model"):
        AssigneeModel.from_bytes(blob)
