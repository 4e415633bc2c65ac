"""The webhook intake: signature first, de-duplication, routing, and the right answer to bad input."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from triage.adapters.local.queue import SqliteQueue
from triage.adapters.local.stores import SqliteDocumentStore
from triage.app.webhook import handle_delivery, label_aliases, signature_ok
from triage.learning.feedback import removed_labels
from triage.ports.records import LOCKS, PREDICTIONS

SECRET = "It's a Secret to Everybody"
REPO = "octo/widgets"
BOT = "issue-triage[bot]"


@pytest.fixture()
def docs() -> SqliteDocumentStore:
    return SqliteDocumentStore(":memory:")


@pytest.fixture()
def queue() -> SqliteQueue:
    return SqliteQueue(":memory:")


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(action: str, number: int = 7, **extra: Any) -> dict[str, Any]:
    return {"action": action, "issue": {"number": number, "title": "t", "body": "b", "updated_at": "2026-01-01T00:00:00Z"},
            "repository": {"full_name": REPO}, "sender": {"login": "alice", "type": "User"}, **extra}


def deliver(docs, queue, event: str, body: Any, delivery: str = "d-1", signature: str | None = None,
            raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body).encode()
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
               "X-Hub-Signature-256": signature if signature is not None else sign(data)}
    return handle_delivery(headers, data, SECRET, docs, queue, BOT)


def test_signature_matches_githubs_documented_example() -> None:
    # From GitHub's "Validating webhook deliveries" documentation.
    assert signature_ok(SECRET, b"Hello, World!",
                        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
    assert not signature_ok(SECRET, b"Hello, World!", "sha256=" + "0" * 64)
    assert not signature_ok(SECRET, b"Hello, World!", None)
    assert not signature_ok(SECRET, b"Hello, World!", "sha1=757107ea0eb2509fc211221cce984b8a37570b6d")


@pytest.mark.parametrize("action", ["opened", "reopened"])
def test_opened_and_reopened_become_label_requests(docs, queue, action: str) -> None:
    result = deliver(docs, queue, "issues", payload(action))
    assert result.status == 200
    assert queue.peek() == [{"repo": REPO, "number": 7, "reason": action, "delivery": "d-1"}]


def test_edit_of_title_or_body_is_a_label_request_other_edits_are_not(docs, queue) -> None:
    assert deliver(docs, queue, "issues", payload("edited", changes={"milestone": {}}), "d-1").status == 202
    assert queue.depth() == 0
    assert deliver(docs, queue, "issues", payload("edited", changes={"body": {"from": "x"}}), "d-2").status == 200
    assert queue.depth() == 1


def test_transferred_issue_is_labeled_in_its_new_repository(docs, queue) -> None:
    changes = {"new_issue": {"number": 99}, "new_repository": {"full_name": "octo/other"}}
    assert deliver(docs, queue, "issues", payload("transferred", changes=changes)).status == 200
    assert queue.peek()[0]["repo"] == "octo/other" and queue.peek()[0]["number"] == 99


def test_replayed_delivery_is_handled_once(docs, queue) -> None:
    body = payload("opened")
    assert deliver(docs, queue, "issues", body, "same").status == 200
    again = deliver(docs, queue, "issues", body, "same")
    assert again.status == 200 and "already handled" in again.message
    assert queue.depth() == 1


@pytest.mark.parametrize("signature", ["", "sha256=deadbeef", "sha1=abc", sign(b"other body"), sign(b"{}", "wrong")])
def test_forged_or_missing_signatures_are_401_and_nothing_is_enqueued(docs, queue, signature: str) -> None:
    result = deliver(docs, queue, "issues", payload("opened"), signature=signature)
    assert result.status == 401
    assert queue.depth() == 0 and docs.query("deliveries", REPO) == []


def test_bad_bodies_are_400_and_nothing_is_enqueued(docs, queue) -> None:
    full = json.dumps(payload("opened")).encode()
    cases = {
        "truncated": full[: len(full) // 2],
        "not utf-8": b'{"action": "opened", "x": "\xff\xfe"}',
        "not an object": b"[1, 2, 3]",
        "no issue": json.dumps({"action": "opened", "repository": {"full_name": REPO}}).encode(),
        "no number": json.dumps({**payload("opened"), "issue": {"title": "x"}}).encode(),
        "no repository": json.dumps({"action": "opened", "issue": {"number": 1}}).encode(),
        "bad number": json.dumps({**payload("opened"), "issue": {"number": "seven"}}).encode(),
    }
    for i, (name, raw) in enumerate(cases.items()):
        result = deliver(docs, queue, "issues", None, f"bad-{i}", raw=raw)
        assert result.status == 400, (name, result)
    assert queue.depth() == 0


def test_missing_event_headers_are_400(docs, queue) -> None:
    body = json.dumps(payload("opened")).encode()
    result = handle_delivery({"X-Hub-Signature-256": sign(body)}, body, SECRET, docs, queue, BOT)
    assert result.status == 400 and queue.depth() == 0


def test_huge_signed_body_is_handled(docs, queue) -> None:
    big = payload("opened")
    big["issue"]["body"] = "x" * (2 * 1024 * 1024)
    result = deliver(docs, queue, "issues", big)
    assert result.status == 200 and queue.depth() == 1


def test_body_over_githubs_cap_is_413(docs, queue) -> None:
    raw = b" " * (25 * 1024 * 1024 + 1)
    assert deliver(docs, queue, "issues", None, raw=raw).status == 413
    assert queue.depth() == 0


def test_unconfigured_secret_is_refused(docs, queue) -> None:
    body = json.dumps(payload("opened")).encode()
    headers = {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "x", "X-Hub-Signature-256": sign(body, "")}
    assert handle_delivery(headers, body, "", docs, queue, BOT).status == 500
    assert queue.depth() == 0


def test_ping_and_unused_events(docs, queue) -> None:
    assert deliver(docs, queue, "ping", {"zen": "Keep it logically awesome."}).status == 200
    assert deliver(docs, queue, "push", {"repository": {"full_name": REPO}}, "d-2").status == 202
    assert deliver(docs, queue, "issues", payload("milestoned"), "d-3").status == 202
    assert queue.depth() == 0


def test_human_unlabel_of_a_prediction_is_a_correction_and_a_lock(docs, queue) -> None:
    docs.upsert(PREDICTIONS, {"id": "7:v1", "repo": REPO, "number": 7, "model_version": "v1",
                              "add": [{"label": "bug", "score": 0.95}], "decided_at": "2026-01-01T00:00:00+00:00"})
    result = deliver(docs, queue, "issues", payload("unlabeled", label={"name": "bug"}))
    assert result.status == 200 and result.feedback[0]["verdict"] == "corrected"
    assert removed_labels(docs, REPO, 7) == {"bug"}
    # Re-added by a human later: the lock lifts.
    deliver(docs, queue, "issues", payload("labeled", label={"name": "bug"}), "d-2")
    assert removed_labels(docs, REPO, 7) == frozenset()
    assert queue.depth() == 0


def test_human_label_confirms_or_misses(docs, queue) -> None:
    docs.upsert(PREDICTIONS, {"id": "7:v1", "repo": REPO, "number": 7, "model_version": "v1",
                              "add": [{"label": "bug", "score": 0.95}], "decided_at": "2026-01-01T00:00:00+00:00"})
    docs.upsert(PREDICTIONS, {"id": "8:v1", "repo": REPO, "number": 8, "model_version": "v1", "add": [],
                              "decided_at": "2026-01-01T00:00:00+00:00"})
    assert deliver(docs, queue, "issues", payload("labeled", label={"name": "bug"}), "a").feedback[0]["verdict"] == "confirmed"
    assert deliver(docs, queue, "issues", payload("labeled", label={"name": "docs"}), "b").feedback[0]["verdict"] == "corrected"
    assert deliver(docs, queue, "issues", payload("labeled", 8, label={"name": "docs"}), "c").feedback[0]["verdict"] == "missed"


def test_label_events_from_bots_are_ignored(docs, queue) -> None:
    for i, sender in enumerate(({"login": BOT, "type": "Bot"}, {"login": "dependabot[bot]", "type": "Bot"})):
        result = deliver(docs, queue, "issues", payload("labeled", label={"name": "bug"}, sender=sender), f"d-{i}")
        assert result.status == 202
    assert docs.query("feedback", REPO) == [] and docs.query(LOCKS, REPO) == []


def test_label_taxonomy_and_renames(docs, queue) -> None:
    deliver(docs, queue, "label", {"action": "created", "label": {"name": "bug"}, "repository": {"full_name": REPO}}, "1")
    result = deliver(docs, queue, "label", {"action": "edited", "label": {"name": "type-bug"},
                                            "changes": {"name": {"from": "bug"}}, "repository": {"full_name": REPO}}, "2")
    assert result.status == 200 and "renamed" in result.message
    assert label_aliases(docs, REPO) == {"bug": "type-bug"}
    deliver(docs, queue, "label", {"action": "deleted", "label": {"name": "wontfix"}, "repository": {"full_name": REPO}}, "3")
    assert docs.get("labels", REPO, "wontfix")["deleted"] is True
