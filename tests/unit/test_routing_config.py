"""Owner routing's inputs: the ``routing`` config section, assignment events from GitHub and from the store, and the
``issues.assigned``/``unassigned``/``closed`` deliveries. Strict, with clear errors; property tests over each."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.data.assign_events import assign_events_from_github, assignees_from_github
from triage.data.sources import issue_from_github
from triage.domain.assignments import AssignEvent, human_assignments, human_touched
from triage.domain.errors import ConfigError, DataFormatError
from triage.domain.issues import Issue
from triage.domain.payload_fields import PayloadError
from triage.domain.payloads import Ignored, read_delivery
from triage.domain.repo_config import parse_repo_config
from triage.domain.routing_config import LOGIN, RoutingConfig

GITHUB_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
logins = st.from_regex(r"\A[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,18}\Z")


def routing(section: Any) -> RoutingConfig | None:
    return parse_repo_config(yaml.safe_dump({"routing": section}, allow_unicode=True, sort_keys=False)).routing


def test_absent_section_means_routing_off_and_nothing_else_changes() -> None:
    assert parse_repo_config("dry_run: false\n").routing is None
    assert parse_repo_config(None).routing is None


def test_full_section() -> None:
    config = routing({"owners": {"area-System.Net": ["alice", "bob"], "area-System.IO*": "carol"},
                      "away": ["Carol"], "rule": "round_robin", "learned": True, "inactive_months": 3})
    assert config is not None
    assert config.owners == (("area-System.Net", ("alice", "bob")), ("area-System.IO*", ("carol",)))
    assert config.away == frozenset({"carol"}) and config.rule == "round_robin" and config.learned
    assert config.inactive_months == 3
    # the first entry that matches wins; an entry whose owners are all away does not apply
    assert config.owners_for(["bug", "area-System.Net"]) == ("area-System.Net", "area-System.Net", ("alice", "bob"))
    assert config.owners_for(["area-System.IO.Compression"]) is None
    assert config.owners_for(["area-Meta"]) is None


def test_defaults_of_an_empty_section() -> None:
    assert routing({}) == RoutingConfig() and RoutingConfig().rule == "least_assigned"
    assert RoutingConfig().learned is False and RoutingConfig().inactive_months == 6


@pytest.mark.parametrize(("section", "words"), [
    ({"owner": {}}, "unknown key(s) ['owner'] in routing"),
    ({"owners": ["alice"]}, "routing.owners must be a mapping"),
    ({"owners": {"bug": []}}, "routing.owners.'bug' must be a non-empty list of GitHub logins"),
    ({"owners": {"bug": ["@alice"]}}, "not a GitHub login"),
    ({"owners": {"bug": ["-alice"]}}, "not a GitHub login"),
    ({"owners": {"bug": ["alice-"]}}, "not a GitHub login"),
    ({"owners": {"bug": ["al--ice"]}}, "not a GitHub login"),
    ({"owners": {"bug": ["a" * 40]}}, "not a GitHub login"),
    ({"owners": {"bug": ["alice", "ALICE"]}}, "lists 'ALICE' twice"),
    ({"owners": {"bug": [1]}}, "[0] is 1, which is not a GitHub login"),
    ({"owners": {"bug": [None]}}, "not a GitHub login"),
    ({"owners": {"bug": ["ålice"]}}, "not a GitHub login"),
    ({"owners": {"bug": ["ali\u200bce"]}}, "not a GitHub login"),
    ({"owners": {1: ["alice"]}}, "quote numbers"),
    ({"owners": {"   ": ["alice"]}}, "the key must be a label name"),
    ({"owners": {"x" * 101: ["alice"]}}, "the key must be a label name"),
    ({"owners": {"bug\n": ["alice"]}}, "the key must be a label name"),
    ({"owners": {"bug": ["alice"] * 101}}, "lists 101 logins; at most 100"),
    ({"owners": {f"l{i}": ["alice"] for i in range(501)}}, "501 entries; at most 500"),
    ({"away": "alice bob"}, "not a GitHub login"),
    ({"away": [f"u{i}" for i in range(1001)]}, "at most 1000"),
    ({"rule": "random"}, "routing.rule must be one of least_assigned, round_robin, got 'random'"),
    ({"rule": ["round_robin"]}, "routing.rule must be one of"),
    ({"learned": "yes"}, "routing.learned must be true or false"),
    ({"inactive_months": 0}, "from 1 to 120"),
    ({"inactive_months": True}, "from 1 to 120"),
    ({"inactive_months": 10**40}, "a huge number"),
    ("on", "routing must be a mapping"),
])
def test_bad_sections_are_refused_naming_the_key(section: Any, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        routing(section)
    assert words in str(caught.value) and str(caught.value).startswith(".github/issue-triage.yml: ")


@given(st.lists(logins, min_size=1, max_size=8, unique_by=str.lower), st.lists(logins, max_size=5),
       st.sampled_from(["least_assigned", "round_robin"]), st.booleans(), st.integers(1, 120))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_valid_sections_round_trip(owners: list[str], away: list[str], rule: str, learned: bool, months: int) -> None:
    away = list(dict.fromkeys(a.lower() for a in away))
    config = routing({"owners": {"area-*": owners}, "away": away, "rule": rule, "learned": learned,
                      "inactive_months": months})
    assert config is not None and config.owners == (("area-*", tuple(owners)),) and config.away == frozenset(away)
    present = tuple(o for o in owners if o.lower() not in config.away)
    assert config.owners_for(["area-X"]) == (("area-*", "area-X", present) if present else None)


values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10) | st.integers(),
                                                                                     inner, max_size=4), max_leaves=12)


@given(st.dictionaries(st.sampled_from(["owners", "away", "rule", "learned", "inactive_months"]), values, max_size=5))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_section_is_parsed_or_refused_with_a_config_error(section: dict[str, Any]) -> None:
    try:
        config = routing(section)
    except ConfigError as exc:
        assert str(exc).startswith(".github/issue-triage.yml: ") and len(str(exc)) < 600
        return
    assert config is not None
    for _, owners in config.owners:  # whatever is accepted is a list of real logins
        assert owners and all(GITHUB_LOGIN.match(login) for login in owners)
    assert all(LOGIN.match(login) for login in config.away)


# ---------------------------------------------------------------------------------------- assignment events


def event(kind: str, assignee: str | None, actor: str | None, actor_type: str = "User", app: str | None = None,
          at: str = "2026-01-02T03:04:05Z") -> dict[str, Any]:
    return {"event": kind, "assignee": None if assignee is None else {"login": assignee},
            "actor": None if actor is None else {"login": actor, "type": actor_type}, "created_at": at,
            "performed_via_github_app": {"slug": app} if app else None}


def test_events_from_github_keep_who_assigned_whom_and_the_store_round_trips_them() -> None:
    found = assign_events_from_github([
        event("labeled", None, "alice"), event("assigned", "bob", "alice", at="2026-01-03T00:00:00Z"),
        event("unassigned", "bob", None, at="2026-01-04T00:00:00Z"),  # a deleted account: GitHub's ghost
        event("assigned", "carol", "triage[bot]", "Bot", at="2026-01-01T00:00:00Z"),
        event("assigned", None, "alice"),  # the assignee's account is gone: nothing to learn
    ])
    assert [(e.action, e.assignee, e.actor) for e in found] == [
        ("assigned", "carol", "triage[bot]"), ("assigned", "bob", "alice"), ("unassigned", "bob", "ghost")]
    issue = Issue("o/r", 1, "t", assignees=("bob",), assign_events=found)
    assert Issue.from_dict(issue.to_dict()) == issue
    assert [e.assignee for e in human_assignments(issue)] == ["bob"] and human_touched(issue)
    assert not human_touched(Issue("o/r", 1, "t", assign_events=found[:1]))


def test_issue_from_github_fills_assignees_and_events() -> None:
    record = {"number": 7, "title": "t", "labels": [], "repository_url": "https://api.github.com/repos/o/r",
              "assignees": [{"login": "Bob"}, {"login": "Bob"}], "assignee": {"login": "Bob"}}
    issue = issue_from_github(record, events=[event("assigned", "Bob", "alice")])
    assert issue.assignees == ("Bob",) and issue.assign_events[0].actor == "alice"
    assert assignees_from_github({"number": 1, "assignee": {"login": "x"}}) == ["x"]
    assert issue_from_github({**record, "assignees": []}).assignees == ()


@pytest.mark.parametrize(("record", "words"), [
    ({"assignees": "bob"}, "'assignees' of issue 7 must be a list"),
    ({"assignees": ["bob"]}, "must be a user object"),
    ({"assignees": [{"login": 5}]}, "must be text"),
    ({"assignees": [{"login": "b\x00b"}]}, "not a GitHub login"),
])
def test_bad_assignees_from_github_are_refused(record: dict[str, Any], words: str) -> None:
    with pytest.raises(DataFormatError, match=re.escape(words)):
        issue_from_github({"number": 7, "title": "t", "labels": [], "repository_url": "https://x/repos/o/r", **record})


@pytest.mark.parametrize(("stored", "words"), [
    ({"action": "reassigned", "assignee": "a", "actor": "b"}, "must be assigned or unassigned"),
    ({"action": "assigned", "assignee": "", "actor": "b"}, "not a GitHub login"),
    ({"action": "assigned", "assignee": "a", "actor": ["b"]}, "must be text"),
    ({"action": "assigned", "assignee": "a", "actor": "b", "at": "yesterday"}, "not an ISO 8601 timestamp"),
    ({"action": "assigned", "assignee": "a", "actor": "b", "by": "c"}, "unknown field(s) by"),
    ("assigned", "must be an object"),
])
def test_bad_stored_events_are_refused(stored: Any, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        AssignEvent.from_dict(stored)


@given(st.lists(st.fixed_dictionaries({
    "event": st.sampled_from(["assigned", "unassigned", "labeled", "closed"]),
    "assignee": st.none() | st.fixed_dictionaries({"login": logins}),
    "actor": st.none() | st.fixed_dictionaries({"login": logins | st.just("x[bot]"),
                                                "type": st.sampled_from(["User", "Bot", "Organization"])}),
    "created_at": st.none() | st.datetimes(min_value=datetime(2000, 1, 1)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    "performed_via_github_app": st.none() | st.fixed_dictionaries({"slug": logins}),
}), max_size=12))
@settings(max_examples=150)
def test_any_event_list_round_trips_through_the_store(events: list[dict[str, Any]]) -> None:
    found = assign_events_from_github(events)
    issue = Issue("o/r", 1, "t", assign_events=found)
    assert Issue.from_dict(issue.to_dict()) == issue
    assert len(found) == sum(1 for e in events if e["event"] in ("assigned", "unassigned") and e["assignee"])
    assert all(not e.is_bot() for e in human_assignments(issue))


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=10))
@settings(max_examples=200)
def test_any_stored_assign_events_value_is_read_or_refused_with_a_data_format_error(value: Any) -> None:
    try:
        Issue.from_dict({"repo": "o/r", "number": 1, "title": "t", "assign_events": value, "assignees": value})
    except DataFormatError:
        pass


# ---------------------------------------------------------------------------------------- deliveries


def delivery(action: str, assignee: str | None = "bob", sender: str = "alice", sender_type: str = "User",
             assignees: Any = ("bob",)) -> dict[str, Any]:
    return {"action": action, "repository": {"full_name": "Owner/Repo"}, "sender": {"login": sender, "type": sender_type},
            "assignee": None if assignee is None else {"login": assignee},
            "issue": {"number": 3, "updated_at": "2026-01-02T00:00:00Z",
                      "assignees": [{"login": a} for a in assignees] if isinstance(assignees, tuple) else assignees}}


def test_assignment_deliveries_are_read() -> None:
    change = read_delivery("issues", delivery("unassigned", assignees=()))
    assert not isinstance(change, Ignored)
    assert (change.home, change.number, change.event.action, change.event.assignee, change.assignees) == (  # type: ignore[union-attr]
        "owner/repo", 3, "unassigned", "bob", ())
    closed = read_delivery("issues", delivery("closed", assignee=None, assignees=("Bob",)))
    assert closed.event is None and closed.assignees == ("bob",) and not closed.is_bot()  # type: ignore[union-attr]
    assert read_delivery("issues", delivery("closed", assignee=None, sender="x[bot]", sender_type="Bot")).is_bot()  # type: ignore[union-attr]
    assert isinstance(read_delivery("issues", delivery("closed", assignees=())), Ignored)
    assert isinstance(read_delivery("issues", delivery("assigned", assignee=None)), Ignored)


@pytest.mark.parametrize(("payload", "field"), [
    (delivery("assigned", assignees="bob"), "issue.assignees"),
    (delivery("assigned", assignees=[{"login": ""}]), "issue.assignees[0].login"),
    (delivery("assigned", assignees=["bob"]), "issue.assignees[0]"),
    (delivery("assigned", assignees=[{"login": "b"}] * 101), "issue.assignees"),
    ({**delivery("assigned"), "assignee": {"login": 7}}, "assignee.login"),
    ({**delivery("unassigned"), "sender": {"login": "a"}}, "sender.type"),
])
def test_malformed_assignment_deliveries_name_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        read_delivery("issues", payload)
    assert caught.value.field == field or field in str(caught.value)


@given(st.sampled_from(["assigned", "unassigned", "closed"]), values, values, values)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_assignment_delivery_is_read_or_refused_with_a_payload_error(action: str, assignee: Any, assignees: Any,
                                                                         sender: Any) -> None:
    payload = {**delivery(action), "assignee": assignee, "sender": sender}
    payload["issue"]["assignees"] = assignees
    try:
        parsed = read_delivery("issues", payload)
    except PayloadError as exc:
        assert exc.field and len(str(exc)) < 400
        return
    assert isinstance(parsed, Ignored) or all(a == a.lower() for a in parsed.assignees)  # type: ignore[union-attr]
