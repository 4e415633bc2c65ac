"""Owner routing's rules: never touch an issue a human assigned, away people never, least assigned and round robin
among a label's owners (round-robin turns unique under concurrent workers), the learned model only where no owner
rule applies and only above the person's threshold; and humans' assignment changes judging the bot's picks."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.adapters.local.stores import SqliteDocumentStore
from triage.app.bootstrap import build_services
from triage.app.routing import choose, learned_pick, leave_alone, pick_owner, route, take_turn, train_assignee_model
from triage.app.settings import Config, Settings
from triage.app.writers import DryRunWriter
from triage.domain.assign_payloads import AssignChange
from triage.domain.assignments import AssignEvent
from triage.domain.issues import Issue
from triage.domain.policy import Decision
from triage.domain.repo_config import RepoConfig
from triage.domain.routing_config import RoutingConfig
from triage.learning.assignee_feedback import assignee_quality, judge_assignment, record_assign_change
from triage.learning.tuning import known_config, remember_config
from triage.ports.records import ISSUES, PREDICTIONS, now_iso

REPO = "o/r"
BOT = "triage[bot]"
OWNERS = RoutingConfig(owners=(("area-Net", ("alice", "bob", "carol")), ("area-*", ("dave",))), away=frozenset({"bob"}))


def issue(number: int = 1, labels: Sequence[str] = (), assignees: Sequence[str] = (),
          events: Sequence[AssignEvent] = ()) -> Issue:
    return Issue(REPO, number, "Socket hangs", "body", tuple(labels), assignees=tuple(assignees),
                 assign_events=tuple(events))


def never(*_: Any) -> Any:
    raise AssertionError("the rule must not need this read")


def test_an_issue_a_human_assigned_or_unassigned_is_left_alone() -> None:
    assert leave_alone(issue(assignees=["zed"]), BOT) == "already assigned to zed"
    took_off = AssignEvent("unassigned", "zed", "maintainer")
    assert "a human" in str(leave_alone(issue(events=[took_off]), BOT))
    by_bot = AssignEvent("assigned", "zed", BOT, "Bot")
    by_app = AssignEvent("assigned", "zed", "alice", via_app="some-app")
    assert leave_alone(issue(events=[by_bot, AssignEvent("unassigned", "zed", BOT, "Bot"), by_app]), BOT) is None
    assert leave_alone(issue(), BOT) is None


def test_owners_of_the_first_matching_entry_and_never_someone_away() -> None:
    chosen = choose(OWNERS, issue(), ["bug", "area-Net"], counts=lambda o: {"alice": 3, "carol": 1}, turn=never,
                    model=never)
    assert (chosen.login, chosen.via, chosen.reason) == ("carol", "owner", "owner of area-Net (fewest open issues)")
    assert choose(OWNERS, issue(), ["area-IO"], counts=lambda o: {}, turn=never, model=never).login == "dave"
    only = RoutingConfig(owners=(("bug", ("bob", "erin")),), away=frozenset({"bob"}))
    assert choose(only, issue(), ["bug"], counts=never, turn=never, model=never).reason == \
        "owner of bug (the only owner present)"
    everyone_away = RoutingConfig(owners=(("bug", ("bob",)),), away=frozenset({"bob"}))
    assert choose(everyone_away, issue(), ["bug"], counts=never, turn=never, model=never).login is None


@given(st.lists(st.sampled_from(["alice", "bob", "carol", "dave"]), min_size=1, max_size=4, unique=True),
       st.dictionaries(st.sampled_from(["alice", "bob", "carol", "dave"]), st.integers(0, 50)))
@settings(max_examples=200)
def test_least_assigned_picks_a_least_loaded_owner_first_listed_on_ties(owners: list[str], counts: dict[str, int]) -> None:
    login = pick_owner(owners, "least_assigned", counts=counts)
    fewest = min(counts.get(o, 0) for o in owners)
    assert counts.get(login, 0) == fewest
    assert login == next(o for o in owners if counts.get(o, 0) == fewest)


def test_round_robin_takes_turns() -> None:
    owners = ["alice", "bob", "carol"]
    assert [pick_owner(owners, "round_robin", turn=n) for n in range(5)] == ["alice", "bob", "carol", "alice", "bob"]


def test_learned_only_above_the_persons_threshold_and_never_someone_away() -> None:
    config = RoutingConfig(learned=True, away=frozenset({"bob"}))
    thresholds = {"alice": 0.9, "bob": 0.1, "carol": 0.5}
    chosen = learned_pick({"alice": 0.95, "bob": 0.99, "carol": 0.6}, thresholds, config)
    assert (chosen.login, chosen.reason) == ("alice", "learned: 0.95 ≥ 0.90")
    assert learned_pick({"alice": 0.89, "bob": 0.99, "carol": 0.49}, thresholds, config).login is None
    assert learned_pick({"zed": 1.0}, thresholds, config).login is None  # no threshold: never


@dataclass
class Model:
    thresholds: dict[str, float]
    seen: list[tuple[str, list[str]]] = field(default_factory=list)

    def scores(self, title: str, body: str, labels: Sequence[str] = ()) -> dict[str, float]:
        self.seen.append((title, list(labels)))
        return {"erin": 0.93, "alice": 0.2}


def test_the_learned_model_is_asked_only_where_no_owner_rule_applies() -> None:
    model = Model({"erin": 0.85, "alice": 0.5})
    config = RoutingConfig(owners=OWNERS.owners, learned=True)
    assert choose(config, issue(), ["area-Net"], counts=lambda o: {}, turn=never, model=lambda: model).via == "owner"
    assert model.seen == []
    chosen = choose(config, issue(), ["bug"], counts=never, turn=never, model=lambda: model)
    assert (chosen.login, chosen.reason, model.seen) == ("erin", "learned: 0.93 ≥ 0.85", [("Socket hangs", ["bug"])])
    off = RoutingConfig(owners=OWNERS.owners)
    assert choose(off, issue(), ["bug"], counts=never, turn=never, model=never).login is None
    assert "no assignee model" in choose(config, issue(), ["bug"], counts=never, turn=never, model=lambda: None).reason


def test_round_robin_turns_are_unique_under_concurrent_workers(tmp_path: Path) -> None:
    docs = SqliteDocumentStore(tmp_path / "docs.sqlite")
    turns: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [take_turn(docs, REPO, "area-*", dry_run=False) for _ in range(10)]
        with lock:
            turns.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(turns) == list(range(60))  # each turn given once, none skipped
    assert take_turn(docs, REPO, "area-*", dry_run=True) == 60 == take_turn(docs, REPO, "area-*", dry_run=True)
    assert take_turn(docs, REPO, "other", dry_run=False) == 0  # a pattern has its own turns


@dataclass
class Writer:
    """Stands in for GitHub's answer only where the unit needs one; the integration tests use the loopback GitHub."""

    accepted: bool = True
    calls: list[tuple[int, list[str]]] = field(default_factory=list)

    def add_assignees(self, repo: str, number: int, logins: Sequence[str]) -> list[str]:
        self.calls.append((number, list(logins)))
        return list(logins) if self.accepted else []


@dataclass
class Batch:
    docs: SqliteDocumentStore
    writer: Any
    config: RepoConfig
    dry_run: bool = False
    repo: str = REPO
    bot_login: str = BOT
    assignee_model: Any = None


def decided(docs: SqliteDocumentStore, number: int, labels: Sequence[str] = ("area-Net",)) -> Decision:
    decision = Decision(REPO, number, tuple((label, 0.9) for label in labels), (), (), "v1")
    docs.upsert(PREDICTIONS, {"id": f"{number}:v1", "repo": REPO, "number": number, "add": [], "decided_at": now_iso()})
    return decision


def test_route_assigns_once_records_why_and_keeps_the_store_counts(tmp_path: Path) -> None:
    docs = SqliteDocumentStore(":memory:")
    writer = Writer()
    config = RepoConfig(routing=RoutingConfig(owners=(("area-Net", ("alice", "bob")),)))
    batch = Batch(docs, writer, config)
    first = route(batch, issue(1), decided(docs, 1))
    assert first.reasons[-1] == "assign alice: owner of area-Net (fewest open issues)" and writer.calls == [(1, ["alice"])]
    assert docs.get(ISSUES, REPO, "1")["assignee"] == "alice"  # counted until the next scrape
    second = route(batch, issue(2), decided(docs, 2))
    assert second.reasons[-1].startswith("assign bob:")  # alice has one open issue now
    again = route(batch, issue(1, assignees=["alice"], events=[AssignEvent("assigned", "alice", BOT, "Bot")]),
                  decided(docs, 1))  # a retry after the write: the same pick, written again (a no-op on GitHub)
    assert again.reasons[-1].startswith("assign alice:") and writer.calls[-1] == (1, ["alice"])
    stored = docs.get(PREDICTIONS, REPO, "1:v1")["assign"]
    assert (stored["login"], stored["via"], stored["applied"]) == ("alice", "owner", True)
    human = route(batch, issue(3, assignees=["zed"]), decided(docs, 3))
    assert human.reasons[-1] == "nobody assigned: already assigned to zed" and len(writer.calls) == 3


def test_route_in_dry_run_records_the_exact_call_and_writes_nothing() -> None:
    docs = SqliteDocumentStore(":memory:")
    writer = DryRunWriter()
    config = RepoConfig(routing=RoutingConfig(owners=(("area-*", ("alice", "bob")),), rule="round_robin"))
    decision = route(Batch(docs, writer, config, dry_run=True), issue(5), decided(docs, 5))
    assert writer.calls == ['POST /repos/o/r/issues/5/assignees {"assignees": ["alice"]}']
    assert decision.reasons[-1] == "assign alice: owner of area-Net (round robin)"
    assert docs.get(PREDICTIONS, REPO, "5:v1")["assign"]["applied"] is False and docs.get(ISSUES, REPO, "5") is None


def test_a_pick_github_refuses_is_recorded_as_not_applied() -> None:
    docs = SqliteDocumentStore(":memory:")
    config = RepoConfig(routing=RoutingConfig(owners=(("area-*", ("alice",)),)))
    decision = route(Batch(docs, Writer(accepted=False), config), issue(6), decided(docs, 6))
    assert "GitHub did not assign alice" in decision.reasons[-1]
    assert docs.get(PREDICTIONS, REPO, "6:v1")["assign"]["applied"] is False


def test_without_a_routing_section_or_in_the_relabel_fan_out_nothing_happens() -> None:
    docs = SqliteDocumentStore(":memory:")
    decision = decided(docs, 1)
    assert route(Batch(docs, never, RepoConfig()), issue(1), decision) is decision
    routed = RepoConfig(routing=RoutingConfig(owners=(("area-*", ("alice",)),)))
    assert route(Batch(docs, never, routed), issue(1), decision, "relabel") is decision
    pull = dataclasses.replace(issue(1), is_pull_request=True)
    assert route(Batch(docs, never, routed), pull, decision) is decision


def test_a_failing_assignee_training_is_reported_and_never_raised(tmp_path: Path) -> None:
    s = build_services(Config(settings=Settings(home=tmp_path)))
    s.docs.upsert(ISSUES, {"id": "1", "repo": REPO, "number": "one", "title": "t"})  # a broken stored issue
    result = train_assignee_model(s, REPO)
    assert result is not None and result["error"].startswith("DataFormatError: ")


def test_the_assignee_model_is_trained_only_while_the_config_asks_for_it(tmp_path: Path) -> None:
    s = build_services(Config(settings=Settings(home=tmp_path)))
    s.docs.upsert(ISSUES, {"id": "1", "repo": REPO, "number": "one", "title": "t"})  # reading it would fail
    for config in (RepoConfig(), RepoConfig(routing=RoutingConfig(owners=(("area-*", ("alice",)),)))):
        remember_config(s.docs, REPO, config)
        assert train_assignee_model(s, REPO) == {"trained": False,
                                                 "reason": "routing.learned is off in the repository config"}
    remember_config(s.docs, REPO, RepoConfig(routing=RoutingConfig(learned=True, inactive_months=3)))
    assert known_config(s.docs, REPO)["assignee_months"] == 3
    assert train_assignee_model(s, REPO)["error"].startswith("DataFormatError: ")  # on: it reads the issues


# ---------------------------------------------------------------------------------------- feedback


def change(action: str | None, who: str = "bob", after: Sequence[str] = (), at: str = "2026-01-02T00:00:00Z") -> AssignChange:
    event = None if action is None else AssignEvent(action, who, "maintainer", at=at)  # type: ignore[arg-type]
    return AssignChange(REPO, 1, event, tuple(after), "maintainer")


@pytest.mark.parametrize(("what", "verdict"), [
    (change("unassigned", "alice"), "corrected"),
    (change("assigned", "bob"), "corrected"),  # reassigned: alice is no longer on the issue
    (change("assigned", "bob", ["alice", "bob"]), None),  # a helper added next to the pick
    (change("assigned", "Alice", ["alice"]), "confirmed"),
    (change("unassigned", "bob"), None),
    (change(None, after=["alice"]), "confirmed"),  # closed with the pick still assigned
    (change(None, after=["bob"]), None),
])
def test_human_assignment_changes_judge_the_pick(what: AssignChange, verdict: str | None) -> None:
    assert judge_assignment("alice", what) == verdict


def test_the_latest_judgment_counts_per_assignee() -> None:
    docs = SqliteDocumentStore(":memory:")
    now = datetime.now(timezone.utc)
    for number, login in ((1, "alice"), (2, "alice"), (3, "bob"), (4, None)):
        docs.upsert(PREDICTIONS, {"id": f"{number}:v1", "repo": REPO, "number": number, "decided_at": now.isoformat(),
                                  "assign": {"login": login, "applied": True}, "routed": login is not None})
    docs.upsert(PREDICTIONS, {"id": "9:v1", "repo": REPO, "number": 9, "assign": {"login": "bob"}, "routed": True,
                              "decided_at": (now - timedelta(days=40)).isoformat()})  # outside the window
    assert record_assign_change(docs, change("unassigned", "alice", at="2026-01-02T00:00:00Z"), "d1")["verdict"] == "corrected"
    assert record_assign_change(docs, change("assigned", "alice", ["alice"], at="2026-01-01T00:00:00Z"), "d0") is None
    assert record_assign_change(docs, AssignChange(REPO, 2, None, ("alice",), "maintainer"), "d2")["verdict"] == "confirmed"
    assert record_assign_change(docs, AssignChange(REPO, 4, None, ("x",), "maintainer"), "d3") is None  # nobody routed
    quality = assignee_quality(docs, REPO, now=now)
    assert quality["per_assignee"] == {
        "alice": {"routed": 2, "applied": 2, "confirmed": 1, "corrected": 1, "precision": 0.5},
        "bob": {"routed": 1, "applied": 1, "confirmed": 0, "corrected": 0, "precision": None}}
    assert (quality["routed"], quality["judged"], quality["precision"]) == (3, 2, 0.5)
    assert assignee_quality(docs, REPO, now=now, max_routed=1)["routed"] == 1
