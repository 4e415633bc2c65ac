"""Humans first, and edits (issue #15 item 5): a delayed label request leaves to humans an issue they labeled or
assigned meanwhile; an edit (or a transfer) re-predicts and swaps only the bot's own, untouched label.

Through the webhook intake, the embedded queue (its clock, never the wall clock) and the labeling use cases over
the in-memory GitHub. The loopback-server and Function-app versions are in tests/integration/test_review_actions.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fake_github import FakeGitHub
from tests.unit.helpers import SureModel
from triage.adapters.local.queue import SqliteQueue
from triage.app.bootstrap import Services, build_services
from triage.app.humans_first import human_assignees
from triage.app.labeling import label_batch, parse_request
from triage.app.settings import AppSettings, Config, Settings
from triage.app.webhook import handle_delivery
from triage.domain import env as envreader
from triage.domain.errors import ConfigError, InputError
from triage.domain.repo_config import CONFIG_PATH
from triage.ports.queues import MAX_DELAY_SECONDS, check_delay
from triage.ports.records import PREDICTIONS

REPO = "octo/widgets"
BOT = "issue-triage[bot]"
SECRET = "s" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def services(tmp_path: Path, github: FakeGitHub) -> Services:
    return build_services(Config(settings=Settings(home=tmp_path, dry_run=False)), github=lambda: github)


def world(config: str = "dry_run: false\n") -> FakeGitHub:
    fake = FakeGitHub(REPO)
    fake.files[CONFIG_PATH] = config
    return fake


def names(github: FakeGitHub, number: int) -> list[str]:
    return [label["name"] for label in github.issues[number]["labels"]]


def assign(github: FakeGitHub, number: int, who: str, by: str, by_type: str = "User", action: str = "assigned") -> None:
    github.events.setdefault(number, []).append({"id": len(github.calls) + 10_000, "event": action,
                                                 "actor": {"login": by, "type": by_type},
                                                 "assignee": {"login": who, "type": "User"},
                                                 "created_at": github.tick()})


def signed(payload: dict[str, Any], event: str = "issues") -> tuple[dict[str, str], bytes]:
    body = json.dumps({**payload, "repository": {"full_name": REPO}}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": hashlib.sha1(body).hexdigest(),
            "X-Hub-Signature-256": signature}, body


# --- the delay --------------------------------------------------------------------------------------------------

def test_the_delay_setting_defaults_to_zero_and_is_checked() -> None:
    assert AppSettings().label_delay_seconds == 0
    assert envreader.read(AppSettings, {"TRIAGE_LABEL_DELAY_SECONDS": "300"}).label_delay_seconds == 300
    for bad in ("-1", "604800", "five minutes", "1.5"):
        with pytest.raises(ConfigError, match="TRIAGE_LABEL_DELAY_SECONDS"):
            envreader.read(AppSettings, {"TRIAGE_LABEL_DELAY_SECONDS": bad})


def test_a_delayed_request_stays_invisible_for_the_delay(tmp_path: Path) -> None:
    clock = Clock()
    queue = SqliteQueue(":memory:", clock=clock)
    s = services(tmp_path, world())
    headers, body = signed({"action": "opened", "issue": {"number": 5}, "sender": {"login": "r", "type": "User"}})
    result = handle_delivery(headers, body, SECRET, s.docs, queue, BOT, delay_seconds=300)
    assert result.status == 200 and result.enqueued[0]["delay"] == 300
    assert queue.depth() == 1 and queue.receive() == []
    clock.now += 299
    assert queue.receive() == []
    clock.now += 1
    (message,) = queue.receive()
    assert message.body["number"] == 5 and parse_request(message.body) == (REPO, 5)
    headers, body = signed({"action": "opened", "issue": {"number": 6}, "sender": {"login": "r", "type": "User"}})
    handle_delivery(headers, body, SECRET, s.docs, queue, BOT)
    assert [m.body["number"] for m in queue.receive()] == [6], "no delay by default"


@pytest.mark.parametrize("delay", [-1, MAX_DELAY_SECONDS + 1, 1.5, True, "60"])
def test_a_queue_refuses_a_delay_it_cannot_keep(delay: Any) -> None:
    with pytest.raises(ValueError, match="whole number of seconds from 0 to 604799"):
        check_delay(delay)
    with pytest.raises(ValueError):
        SqliteQueue(":memory:").send({"n": 1}, delay_seconds=delay)


@pytest.mark.parametrize("delay", [-5, "300", 2.5, False, None])
def test_a_malformed_delay_in_a_request_is_refused(delay: Any) -> None:
    with pytest.raises(InputError, match="delay"):
        parse_request({"repo": REPO, "number": 1, "delay": delay})


def test_a_human_label_during_the_delay_wins(tmp_path: Path) -> None:
    github = world()
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    github.label(number, "area-IO", "maintainer")  # during the delay
    decision = label_batch(s, REPO, [number], SureModel(), delayed=True)["decisions"][0]  # type: ignore[arg-type]
    assert decision.abstained and "a human labeled the issue (area-IO)" in decision.reasons[0]
    (record,) = s.docs.query(PREDICTIONS, REPO, number=number)
    assert record["kind"] == "humans-first" and names(github, number) == ["area-IO"]


def test_a_human_assignment_during_the_delay_wins_a_bots_does_not(tmp_path: Path) -> None:
    github = world()
    s = services(tmp_path, github)
    taken, routed, undone = (github.open_issue(t) for t in ("Socket hangs", "File locked", "Timer drift"))
    assign(github, taken, "alice", "maintainer")
    assign(github, routed, "bob", "router[bot]", "Bot")
    assign(github, undone, "carol", "maintainer")
    assign(github, undone, "carol", "maintainer", action="unassigned")
    decisions = label_batch(s, REPO, [taken, routed, undone], SureModel(), delayed=True)["decisions"]  # type: ignore[arg-type]
    assert decisions[0].abstained and "a human assigned alice" in decisions[0].reasons[0]
    assert names(github, taken) == [] and names(github, routed) == ["area-Net"] and names(github, undone) == ["area-Net"]


def test_an_old_assignment_does_not_stop_a_delayed_edit(tmp_path: Path) -> None:
    github = world()
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    assign(github, number, "alice", "maintainer")  # long before the edit
    label_batch(s, REPO, [number], SureModel(), reason="edited", delayed=True)  # type: ignore[arg-type]
    assert names(github, number) == ["area-Net"]


def test_without_the_delay_an_assigned_issue_is_labeled_as_before(tmp_path: Path) -> None:
    github = world()
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    assign(github, number, "alice", "maintainer")
    label_batch(s, REPO, [number], SureModel())  # type: ignore[arg-type]
    assert names(github, number) == ["area-Net"]


EVENTS = st.lists(st.fixed_dictionaries({
    "event": st.sampled_from(["assigned", "unassigned", "labeled", "closed"]),
    "actor": st.one_of(st.none(), st.just("x"), st.fixed_dictionaries({
        "login": st.sampled_from(["maintainer", "router[bot]", BOT, ""]), "type": st.sampled_from(["User", "Bot"])})),
    "assignee": st.one_of(st.none(), st.integers(), st.fixed_dictionaries({
        "login": st.one_of(st.sampled_from(["alice", "bob"]), st.integers())})),
}), max_size=10)


@settings(max_examples=300, deadline=None)
@given(events=EVENTS)
def test_assignees_from_any_event_list(events: list[dict[str, Any]]) -> None:
    """Issue events are outside input: any shape gives a list of logins, each assigned last by a human."""
    found = human_assignees(events, BOT)
    for login in found:
        last = [e for e in events if isinstance(e.get("assignee"), dict) and e["assignee"].get("login") == login
                and e["event"] in ("assigned", "unassigned")][-1]
        assert last["event"] == "assigned"
        actor = last["actor"] if isinstance(last["actor"], dict) else {}
        assert actor.get("type") != "Bot" and not str(actor.get("login", "")).endswith("[bot]")


# --- relabel on edit ------------------------------------------------------------------------------------------

RELABEL = "dry_run: false\nrelabel_on_edit: true\n"


def test_an_edit_swaps_the_bots_untouched_label(tmp_path: Path) -> None:
    github = world(RELABEL)
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    label_batch(s, REPO, [number], SureModel())  # type: ignore[arg-type]
    github.edit_issue(number, body="Actually it is File.Move")
    decision = label_batch(s, REPO, [number], SureModel("area-IO"), reason="edited")["decisions"][0]  # type: ignore[arg-type]
    assert names(github, number) == ["area-IO"] and decision.add[0][0] == "area-IO"
    assert any("replaces the bot's area-Net" in r for r in decision.reasons)
    assert f"DELETE /repos/{REPO}/issues/{number}/labels/area-Net" in github.calls
    again = label_batch(s, REPO, [number], SureModel("area-IO"), reason="edited")["decisions"][0]  # type: ignore[arg-type]
    assert again.abstained and "the same labels" in again.reasons[0], "a retry changes nothing"
    assert len([c for c in github.calls if c.startswith("DELETE")]) == 1
    latest = max(s.docs.query(PREDICTIONS, REPO, number=number), key=lambda d: d["decided_at"])
    assert latest["add"][0]["label"] == "area-IO", "feedback now judges the new prediction"


@pytest.mark.parametrize("case", ["switch off", "human touched", "human labeled", "unsure", "dry run", "transferred"])
def test_an_edit_never_takes_a_humans_label_nor_guesses(tmp_path: Path, case: str) -> None:
    github = world("dry_run: false\n" if case == "switch off" else RELABEL)
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    label_batch(s, REPO, [number], SureModel())  # type: ignore[arg-type]
    if case == "human touched":  # removed and put back by a maintainer: now the maintainer's label
        github.label(number, "area-Net", "maintainer", action="unlabeled")
        github.label(number, "area-Net", "maintainer")
    elif case == "human labeled":
        github.label(number, "area-Meta", "maintainer")
    elif case == "dry run":
        github.files[CONFIG_PATH] = "relabel_on_edit: true\n"
    model = SureModel("area-IO", score=0.4 if case == "unsure" else 0.97)
    reason = "transferred" if case == "transferred" else "edited"
    before = list(names(github, number))
    decision = label_batch(s, REPO, [number], model, reason=reason)["decisions"][0]  # type: ignore[arg-type]
    if case == "transferred":
        assert names(github, number) == ["area-IO"], "a transfer re-predicts like an edit"
        return
    assert names(github, number) == before and not [c for c in github.calls if c.startswith("DELETE")]
    if case == "unsure":
        assert "nothing confident enough" in decision.reasons[0]


def test_a_webhook_lock_on_the_bots_label_counts_as_touched(tmp_path: Path) -> None:
    from triage.learning.feedback import record_label_event

    github = world(RELABEL)
    s = services(tmp_path, github)
    number = github.open_issue("Socket hangs")
    label_batch(s, REPO, [number], SureModel())  # type: ignore[arg-type]
    record_label_event(s.docs, REPO, number, "area-Net", "labeled", "maintainer", None, "d-1")  # re-applied by hand
    label_batch(s, REPO, [number], SureModel("area-IO"), reason="edited")  # type: ignore[arg-type]
    assert names(github, number) == ["area-Net"]
