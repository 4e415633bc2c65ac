"""``pull_request`` deliveries, attacked like the issues route (tests/unit/test_webhook_payloads.py): arbitrary
JSON in every field the route reads, drafts, edits that change nothing, and label changes by people, bots and
Apps. Every delivery goes through :func:`handle_delivery` with a valid signature on the real embedded stores:
the answer is 200, 202 or 400, never an exception; a 400 names the field and writes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_intake import BOT, REPO
from tests.unit.test_webhook_payloads import (
    DROP,
    FAST,
    assert_refused_cleanly,
    deliver_raw,
    is_label_name,
    json_values,
    set_field,
)
from triage.domain.payloads import Ignored, LabelChange, LabelRequest, PayloadError, read_delivery
from triage.ports.records import FEEDBACK, LOCKS


def pull(action: str, number: int = 11, draft: bool | None = False, **extra: Any) -> dict[str, Any]:
    """A ``pull_request`` delivery with the fields GitHub sends that the route may read."""
    pr: dict[str, Any] = {"number": number, "title": "Fix the socket handler", "body": "b", "state": "open",
                          "updated_at": "2026-01-01T00:00:00Z", "performed_via_github_app": None}
    if draft is not None:
        pr["draft"] = draft
    return {"action": action, "number": number, "pull_request": pr, "repository": {"full_name": REPO},
            "sender": {"login": "alice", "type": "User"}, **extra}


BASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "opened": (pull("opened"), ("action", "repository", "repository.full_name", "pull_request",
                                "pull_request.number", "pull_request.draft")),
    "ready_for_review": (pull("ready_for_review"), ("repository.full_name", "pull_request.number")),
    "edited": (pull("edited", changes={"body": {"from": "old"}}),
               ("repository.full_name", "pull_request.number", "changes", "pull_request.draft")),
    "labeled": (pull("labeled", label={"name": "area-System.Net"}),
                ("repository.full_name", "pull_request", "pull_request.number", "pull_request.updated_at",
                 "pull_request.performed_via_github_app", "label", "label.name", "sender", "sender.login",
                 "sender.type")),
    "unlabeled": (pull("unlabeled", label={"name": "bug"}), ("pull_request.number", "label.name", "sender.login")),
}
FIELDS = [(route, path) for route, (_, paths) in BASES.items() for path in paths]


@pytest.mark.parametrize("action", ["opened", "reopened", "ready_for_review"])
def test_an_opened_reopened_or_ready_pull_request_is_a_label_request(action: str) -> None:
    result, docs, queue = deliver_raw("pull_request", json.dumps(pull(action, 42)).encode())
    assert result.status == 200, result
    assert queue.peek() == [{"repo": REPO, "number": 42, "reason": action, "delivery": "d-1"}]


@pytest.mark.parametrize("action", ["opened", "reopened", "edited"])
def test_a_draft_waits_for_ready_for_review(action: str) -> None:
    body = pull(action, draft=True, changes={"title": {"from": "x"}})
    result, docs, queue = deliver_raw("pull_request", json.dumps(body).encode())
    assert result.status == 202 and "ready for review" in result.message and queue.depth() == 0
    ready = pull("ready_for_review", draft=False)
    result, _, queue = deliver_raw("pull_request", json.dumps(ready).encode())
    assert result.status == 200 and queue.peek()[0]["reason"] == "ready_for_review"


def test_a_missing_draft_flag_is_not_a_draft() -> None:
    assert isinstance(read_delivery("pull_request", pull("opened", draft=None)), LabelRequest)


@pytest.mark.parametrize("changes, labeled", [({"title": {"from": "a"}}, True), ({"body": {"from": "a"}}, True),
                                              ({"base": {"ref": {"from": "main"}}}, False), ({}, False), (None, False)])
def test_edited_is_a_request_only_when_the_title_or_body_changed(changes: Any, labeled: bool) -> None:
    parsed = read_delivery("pull_request", pull("edited", changes=changes))
    assert isinstance(parsed, LabelRequest if labeled else Ignored), parsed
    if labeled:
        assert parsed == LabelRequest(REPO, REPO, 11, "edited")


@pytest.mark.parametrize("action", ["synchronize", "closed", "assigned", "converted_to_draft", "review_requested",
                                    "locked", "auto_merge_enabled", "dequeued"])
def test_other_actions_are_ignored_without_reading_further(action: str) -> None:
    parsed = read_delivery("pull_request", {"action": action, "pull_request": "not even an object"})
    assert isinstance(parsed, Ignored) and parsed.status == 202 and action in parsed.reason


def test_a_human_label_change_on_a_pull_request_is_feedback_like_an_issue_s() -> None:
    result, docs, queue = deliver_raw("pull_request", json.dumps(pull("unlabeled", 5, label={"name": "bug"})).encode())
    assert result.status == 200 and queue.depth() == 0
    (record,) = docs.inner.query(FEEDBACK, REPO)
    assert (record["number"], record["label"], record["action"]) == (5, "bug", "unlabeled")
    (lock,) = docs.inner.query(LOCKS, REPO)
    assert lock["id"] == "5:bug" and lock["state"] == "removed" and lock["by"] == "alice"
    parsed = read_delivery("pull_request", pull("labeled", 5, label={"name": "bug"}))
    assert isinstance(parsed, LabelChange) and parsed.event.actor == "alice" and parsed.number == 5


@pytest.mark.parametrize("who", [{"sender": {"login": "ci[bot]", "type": "Bot"}},
                                 {"sender": {"login": BOT, "type": "User"}}])
def test_a_bot_s_label_change_is_not_feedback(who: dict[str, Any]) -> None:
    body = {**pull("labeled", label={"name": "bug"}), **who}
    result, docs, queue = deliver_raw("pull_request", json.dumps(body).encode())
    assert result.status == 202 and docs.writes == 0 and queue.depth() == 0


def test_a_change_made_through_an_app_is_not_feedback() -> None:
    body = set_field(pull("labeled", label={"name": "bug"}), "pull_request.performed_via_github_app",
                     {"id": 3, "slug": "labeler"})
    result, docs, _ = deliver_raw("pull_request", json.dumps(body).encode())
    assert result.status == 202 and "labeler" in result.message and docs.writes == 0


@pytest.mark.parametrize("route, path, value", [
    ("opened", "pull_request.number", 0), ("opened", "pull_request.number", "12"), ("opened", "pull_request.number", 1.0),
    ("opened", "pull_request.number", True), ("opened", "pull_request.number", 2**31), ("opened", "pull_request", []),
    ("opened", "pull_request.draft", "false"), ("opened", "pull_request.draft", 0), ("opened", "pull_request.draft", {}),
    ("opened", "repository.full_name", "../x"), ("edited", "changes", ["title"]), ("labeled", "label.name", ""),
    ("labeled", "label.name", "x" * 101), ("labeled", "sender.login", None), ("labeled", "pull_request.updated_at", "soon"),
    ("labeled", "pull_request.performed_via_github_app", "an-app"),
])
def test_listed_wrong_values_are_refused_by_name(route: str, path: str, value: Any) -> None:
    base, _ = BASES[route]
    result, docs, queue = deliver_raw("pull_request", json.dumps(set_field(base, path, value)).encode())
    assert_refused_cleanly(result, docs, queue, path)


@FAST
@given(field=st.sampled_from(FIELDS), value=json_values | st.just(DROP))
def test_any_value_in_any_field_the_route_reads_is_used_or_refused_by_name(field: tuple[str, str], value: Any) -> None:
    route, path = field
    base, _ = BASES[route]
    result, docs, queue = deliver_raw("pull_request", json.dumps(set_field(base, path, value)).encode())
    assert result.status in (200, 202, 400), result
    if result.status == 400:
        assert_refused_cleanly(result, docs, queue, path)
        return
    if path == "pull_request.number":
        assert type(value) is int and 1 <= value < 2**31, (value, result)
        sent = [m["number"] for m in queue.peek()] or [f["number"] for f in docs.inner.query(FEEDBACK, REPO)]
        assert sent == [value]
    if path == "pull_request.draft":
        assert value in (None, DROP, True, False), value
        assert (queue.depth() == 1) == (value is not True or route == "ready_for_review"), (value, result)
    if path == "label.name":
        assert is_label_name(value) and [f["label"] for f in docs.inner.query(FEEDBACK, REPO)] == [value]


@FAST
@given(body=st.dictionaries(st.sampled_from(["action", "pull_request", "repository", "sender", "changes", "label",
                                              "number", "draft"]),
                            json_values | st.sampled_from(["opened", "edited", "labeled", "ready_for_review"]),
                            max_size=6))
def test_reading_any_object_raises_nothing_but_payload_errors(body: dict[str, Any]) -> None:
    try:
        read_delivery("pull_request", body)
    except PayloadError as exc:
        assert str(exc).isascii() and " must be " in str(exc)
