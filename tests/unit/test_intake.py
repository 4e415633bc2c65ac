"""The webhook intake: signature first, de-duplication, routing, and the right answer to bad input.

Replays, concurrent copies and crashes run on the real SQLite store (in files, across threads and
forked processes); property-based tests of the payloads are in test_webhook_payloads.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from triage.adapters.local.queue import SqliteQueue
from triage.adapters.local.stores import SqliteDocumentStore
from triage.app.webhook import IntakeResult, handle_delivery, label_aliases, signature_ok
from triage.learning.feedback import removed_labels
from triage.ports.records import DELIVERIES, FEEDBACK, LABELS, LOCKS, PREDICTIONS
from triage.ports.stores import DocumentStore

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


# --- what the tests below share -----------------------------------------------------------------------------------

CONTAINERS_WRITTEN = (FEEDBACK, LOCKS, LABELS, DELIVERIES)


class ObservedStore:
    """A real document store seen through: it counts the writes and can add a round trip's latency to every call
    (as a remote store such as Cosmos DB has), which opens the window a check-then-act race needs."""

    def __init__(self, inner: DocumentStore, latency: float = 0.0) -> None:
        self.inner, self.latency, self.writes = inner, latency, 0

    def _call(self, name: str, *args: Any, write: bool = False, **kwargs: Any) -> Any:
        if self.latency:
            time.sleep(self.latency)
        self.writes += write
        return getattr(self.inner, name)(*args, **kwargs)

    def upsert(self, container: str, doc: Any) -> None:
        self._call("upsert", container, doc, write=True)

    def upsert_many(self, container: str, docs: Any) -> None:
        self._call("upsert_many", container, docs, write=True)

    def create(self, container: str, doc: Any) -> bool:
        return bool(self._call("create", container, doc, write=True))

    def delete(self, container: str, repo: str, doc_id: str) -> None:
        self._call("delete", container, repo, doc_id, write=True)

    def get(self, container: str, repo: str, doc_id: str) -> Any:
        return self._call("get", container, repo, doc_id)

    def query(self, container: str, repo: str, **equals: Any) -> Any:
        return self._call("query", container, repo, **equals)


def signed_headers(body: bytes, delivery: str, event: str = "issues") -> dict[str, str]:
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": sign(body)}


def stored(docs: DocumentStore, repo: str = REPO) -> dict[str, list[dict[str, Any]]]:
    return {container: docs.query(container, repo) for container in CONTAINERS_WRITTEN}


def human_unlabel(number: int = 7, label: str = "bug") -> bytes:
    return json.dumps(payload("unlabeled", number, label={"name": label})).encode()


# --- replays and concurrent copies (#13 item 9) ---------------------------------------------------------------------

def test_a_body_replayed_under_new_delivery_ids_is_feedback_once(docs, queue) -> None:
    """The delivery id is not signed: a captured body sent again under 10 new ids is one human change."""
    body = human_unlabel()
    results = [handle_delivery(signed_headers(body, f"replay-{i}"), body, SECRET, docs, queue, BOT) for i in range(11)]
    assert [r.status for r in results] == [200] * 11
    assert [len(r.feedback) for r in results] == [1] + [0] * 10
    assert all("already handled" in r.message for r in results[1:])
    (record,) = docs.query(FEEDBACK, REPO)
    assert record["id"] == "replay-0" and len(docs.query(LOCKS, REPO)) == 1


def test_a_label_request_replayed_under_new_ids_is_enqueued_once(docs, queue) -> None:
    body = json.dumps(payload("opened")).encode()
    for i in range(5):
        assert handle_delivery(signed_headers(body, f"id-{i}"), body, SECRET, docs, queue, BOT).status == 200
    assert queue.depth() == 1


def test_a_different_body_under_a_handled_id_is_not_handled(docs, queue) -> None:
    """A replay may also reuse a delivery id GitHub already sent, with another captured body."""
    first, second = human_unlabel(7), human_unlabel(8)
    assert handle_delivery(signed_headers(first, "d-1"), first, SECRET, docs, queue, BOT).status == 200
    again = handle_delivery(signed_headers(second, "d-1"), second, SECRET, docs, queue, BOT)
    assert again.status == 200 and "already handled" in again.message
    assert [f["number"] for f in docs.query(FEEDBACK, REPO)] == [7]


@pytest.mark.parametrize("same_id", [True, False], ids=["one-id", "new-ids"])
def test_concurrent_copies_are_handled_once(tmp_path: Path, same_id: bool) -> None:
    """8 copies at the same moment (one delivery id, or one body under 8 ids): exactly one is handled."""
    docs = ObservedStore(SqliteDocumentStore(tmp_path / "docs.db"), latency=0.005)
    queue = SqliteQueue(tmp_path / "queue.db")
    opened, unlabeled = json.dumps(payload("opened")).encode(), human_unlabel()
    copies, barrier = 8, threading.Barrier(8)
    results: list[IntakeResult] = []

    def deliver_copy(n: int) -> None:
        barrier.wait(timeout=30)
        for body, kind in ((opened, "o"), (unlabeled, "u")):
            delivery = f"{kind}-same" if same_id else f"{kind}-{n}"
            results.append(handle_delivery(signed_headers(body, delivery), body, SECRET, docs, queue, BOT))

    threads = [threading.Thread(target=deliver_copy, args=(n,)) for n in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2 * copies and {r.status for r in results} <= {200, 202}
    assert sum(len(r.enqueued) for r in results) == 1 and queue.depth() == 1
    assert sum(len(r.feedback) for r in results) == 1 and len(docs.query(FEEDBACK, REPO)) == 1
    # Once the handling request finished, every copy is answered "already handled".
    for body in (opened, unlabeled):
        late = handle_delivery(signed_headers(body, "late"), body, SECRET, docs, queue, BOT)
        assert late.status == 200 and "already handled" in late.message


class FailingQueue(SqliteQueue):
    """A real queue whose first ``failures`` sends fail, as a storage outage does."""

    def __init__(self, failures: int) -> None:
        super().__init__(":memory:")
        self.failures = failures

    def send(self, message: Any, queue: str | None = None) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("queue unavailable")
        super().send(message, queue)


def test_a_failed_delivery_releases_its_claims_so_a_redelivery_is_handled(docs) -> None:
    queue = FailingQueue(failures=1)
    body = json.dumps(payload("opened")).encode()
    with pytest.raises(ConnectionError):
        handle_delivery(signed_headers(body, "d-1"), body, SECRET, docs, queue, BOT)
    assert {d["state"] for d in docs.query(DELIVERIES, REPO)} == {"released"}
    redelivered = handle_delivery(signed_headers(body, "d-1"), body, SECRET, docs, queue, BOT)
    assert redelivered.status == 200 and queue.depth() == 1


class BlockingQueue(SqliteQueue):
    """A real queue whose first send waits for the test, then fails: a delivery that is in progress, then fails."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.entered, self.release = threading.Event(), threading.Event()
        self.sends = 0

    def send(self, message: Any, queue: str | None = None) -> None:
        self.sends += 1
        if self.sends == 1:
            self.entered.set()
            self.release.wait(timeout=30)
            raise ConnectionError("queue unavailable")
        super().send(message, queue)


def test_copies_racing_a_delivery_in_progress_do_not_use_up_its_id(docs) -> None:
    """While one request handles a body, 100 copies under GitHub's id are answered 202; when the handling fails,
    GitHub's redelivery under that id is still handled."""
    queue, body = BlockingQueue(), json.dumps(payload("opened")).encode()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            handle_delivery(signed_headers(body, "replayed-first"), body, SECRET, docs, queue, BOT)
        except ConnectionError as exc:
            errors.append(exc)

    worker = threading.Thread(target=first)
    worker.start()
    assert queue.entered.wait(timeout=30)
    copies = [handle_delivery(signed_headers(body, "github-id"), body, SECRET, docs, queue, BOT) for _ in range(100)]
    assert {(c.status, "being handled" in c.message) for c in copies} == {(202, True)}
    queue.release.set()
    worker.join(timeout=30)
    assert len(errors) == 1 and queue.depth() == 0
    redelivered = handle_delivery(signed_headers(body, "github-id"), body, SECRET, docs, queue, BOT)
    assert redelivered.status == 200 and redelivered.enqueued and queue.depth() == 1


def _age_claims(docs: DocumentStore, minutes: int = 10) -> None:
    """Let time pass: every claim still held looks ``minutes`` old."""
    then = (datetime.now(timezone.utc) - timedelta(minutes=minutes)).isoformat(timespec="seconds")
    for claim in docs.query(DELIVERIES, REPO, state="claimed"):
        docs.upsert(DELIVERIES, {**claim, "at": then})


class CrashingStore(ObservedStore):
    """The store of a host that dies (``os._exit``, no cleanup) instead of making its ``crash_at``-th write."""

    def __init__(self, inner: DocumentStore, crash_at: int) -> None:
        super().__init__(inner)
        self.crash_at = crash_at

    def _call(self, name: str, *args: Any, write: bool = False, **kwargs: Any) -> Any:
        if write and self.writes + 1 == self.crash_at:
            os._exit(CRASHED)
        return super()._call(name, *args, write=write, **kwargs)


CRASHED = 70


def _deliver_in_a_host_that_crashes(tmp_path: Path, crash_at: int, body: bytes, delivery: str) -> bool:
    """Handle a delivery in a child process that dies at its ``crash_at``-th write; True if it died."""
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 1
        try:
            store = CrashingStore(SqliteDocumentStore(tmp_path / "docs.db"), crash_at)
            handle_delivery(signed_headers(body, delivery), body, SECRET, store, SqliteQueue(tmp_path / "q.db"), BOT)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    exit_code = os.waitstatus_to_exitcode(status)
    assert exit_code in (0, CRASHED)
    return exit_code == CRASHED


def _writes_of_one_handling(body: bytes) -> int:
    docs = ObservedStore(SqliteDocumentStore(":memory:"))
    handle_delivery(signed_headers(body, "d-0"), body, SECRET, docs, SqliteQueue(":memory:"), BOT)
    return docs.writes


def _crash_plans(writes: int) -> list[tuple[int, int | None, tuple[str, str]]]:
    """(first host's crash point, the recovering host's crash point or None, the order of the copies that follow):
    each step of the first host with both orders, and each step of a recovering host after the states that
    need a take-over of one claim (2), of both claims (4), and of both claims after the feedback was written."""
    single = [(first, None, order) for first in range(1, writes + 1) for order in (("d-1", "d-2"), ("d-2", "d-1"))]
    return single + [(first, second, ("d-2", "d-1")) for first in (2, 4, writes) for second in range(1, writes + 3)]


def test_a_crash_at_any_step_neither_loses_nor_doubles_the_feedback(tmp_path: Path) -> None:
    """A host dies (a forked process, ``os._exit``) before each write of a human label change in turn, and a
    host that recovers it dies at each of its own steps: copies wait while the claims are fresh, abandoned
    claims are then taken over, and in the end the change is one feedback record and one lock."""
    body = human_unlabel()
    writes = _writes_of_one_handling(body)
    assert writes >= 6  # two claims, the feedback, the lock, two ends of claims
    for plan, (first, second, order) in enumerate(_crash_plans(writes)):
        folder = tmp_path / str(plan)
        folder.mkdir()
        assert _deliver_in_a_host_that_crashes(folder, first, body, "d-1")
        docs, queue = SqliteDocumentStore(folder / "docs.db"), SqliteQueue(folder / "q.db")
        held = {claim["key"] for claim in docs.query(DELIVERIES, REPO, state="claimed")}
        if held & {order[0], f"sha256:{hashlib.sha256(body).hexdigest()}"}:  # fresh claims may be a live host's
            copy = handle_delivery(signed_headers(body, order[0]), body, SECRET, docs, queue, BOT)
            assert copy.status == 202 and copy.feedback == [], (first, copy)
        _age_claims(docs)
        if second is not None:
            _deliver_in_a_host_that_crashes(folder, second, body, order[0])
            _age_claims(docs)
        for delivery in order:
            result = handle_delivery(signed_headers(body, delivery), body, SECRET, docs, queue, BOT)
            assert result.status == 200, (first, second, result)
        where = (first, second, order)
        feedback = docs.query(FEEDBACK, REPO)
        assert len(feedback) == 1 and feedback[0]["action"] == "unlabeled", where
        assert feedback[0]["id"] == ("d-1" if first > 2 else order[0]), where  # the delivery that first claimed the body
        assert removed_labels(docs, REPO, 7) == {"bug"}, where
        for delivery in ("d-1", "d-2", "d-3"):  # from now on, every copy is answered "already handled"
            again = handle_delivery(signed_headers(body, delivery), body, SECRET, docs, queue, BOT)
            assert again.status == 200 and "already handled" in again.message, (where, delivery, again)
        assert len(docs.query(FEEDBACK, REPO)) == 1


# --- signed but malformed deliveries (#13 item 10) -------------------------------------------------------------------

def _with(path: str, value: Any, base: dict[str, Any] | None = None) -> bytes:
    """``base`` (a human labeling bug on #7) with the field at ``path`` set to ``value`` (``DROP``: removed)."""
    doc = json.loads(json.dumps(base if base is not None else payload("labeled", label={"name": "bug"})))
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node.setdefault(part, {})
    if value is DROP:
        node.pop(last, None)
    else:
        node[last] = value
    return json.dumps(doc).encode()


DROP = object()
DEEP = 100_000
MALFORMED: dict[str, tuple[bytes, str]] = {
    "repository is a string": (_with("repository", "octo/widgets"), "repository"),
    "repository is a list": (_with("repository", [REPO]), "repository"),
    "repository.full_name null": (_with("repository.full_name", None), "repository.full_name"),
    "repository.full_name path": (_with("repository.full_name", "../../etc"), "repository.full_name"),
    "issue is a number": (_with("issue", 7), "issue"),
    "number 1.5": (_with("issue.number", 1.5), "issue.number"),
    "number -3": (_with("issue.number", -3), "issue.number"),
    "number 0": (_with("issue.number", 0), "issue.number"),
    "number true": (_with("issue.number", True), "issue.number"),
    "number '12'": (_with("issue.number", "12"), "issue.number"),
    "number 10^30": (_with("issue.number", 10**30), "issue.number"),
    "number 2^31": (_with("issue.number", 2**31), "issue.number"),
    "number 7.0": (_with("issue.number", 7.0), "issue.number"),
    "number Infinity": (_with("issue.number", 1).replace(b'"number": 1', b'"number": Infinity'), "Infinity"),
    "number NaN": (_with("issue.number", 1).replace(b'"number": 1', b'"number": NaN'), "NaN"),
    "number 1e999": (_with("issue.number", 1).replace(b'"number": 1', b'"number": 1e999'), "1e999"),
    "number -1e999": (_with("issue.number", 1).replace(b'"number": 1', b'"number": -1e999'), "-1e999"),
    "integer of 5000 digits": (_with("issue.number", 1).replace(b'"number": 1', b'"number": ' + b"9" * 5000), "digits"),
    "label.name null": (_with("label.name", None), "label.name"),
    "label.name empty": (_with("label.name", ""), "label.name"),
    "label.name blank": (_with("label.name", "   "), "label.name"),
    "label.name 101 characters": (_with("label.name", "x" * 101), "label.name"),
    "label.name a number": (_with("label.name", 5), "label.name"),
    "label.name with NUL": (_with("label.name", "bug\x00"), "label.name"),
    "label.name lone surrogate": (_with("label.name", "bug").replace(b'"bug"', b'"\\ud800"', 1), "label.name"),
    "label is a string": (_with("label", "bug"), "label"),
    "sender missing": (_with("sender", DROP), "sender.login"),
    "sender.login a number": (_with("sender.login", 42), "sender.login"),
    "sender.type null": (_with("sender.type", None), "sender.type"),
    "updated_at not a time": (_with("issue.updated_at", "yesterday"), "issue.updated_at"),
    "performed_via_github_app a string": (_with("issue.performed_via_github_app", "yes"), "performed_via_github_app"),
    "action a number": (_with("action", 5), "action"),
    "deep nesting": (b'{"action": "labeled", "x": ' + b"[" * DEEP + b"]" * DEEP + b"}", "deeper than"),
    "deep objects": (b'{"a": ' + b'{"a": ' * DEEP + b"1" + b"}" * DEEP + b"}", "deeper than"),
    "transfer target path": (_with("changes", {"new_issue": {"number": 3}, "new_repository": {"full_name": "a/b/c"}},
                                   payload("transferred")), "changes.new_repository.full_name"),
    "transfer number string": (_with("changes", {"new_issue": {"number": "3"}, "new_repository": {"full_name": REPO}},
                                     payload("transferred")), "changes.new_issue.number"),
    "edited changes a list": (_with("changes", ["title"], payload("edited")), "changes"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_signed_malformed_deliveries_are_400_naming_the_field_and_write_nothing(tmp_path: Path, case: str) -> None:
    raw, named = MALFORMED[case]
    docs = ObservedStore(SqliteDocumentStore(tmp_path / "docs.db"))
    queue = SqliteQueue(tmp_path / "q.db")
    result = handle_delivery(signed_headers(raw, "d-1"), raw, SECRET, docs, queue, BOT)
    assert result.status == 400, result
    assert named in result.message and result.message.isascii()
    assert docs.writes == 0 and queue.depth() == 0
    # A correct redelivery under the same id is then handled: a refusal claims nothing.
    good = json.dumps(payload("labeled", label={"name": "bug"})).encode()
    assert handle_delivery(signed_headers(good, "d-1"), good, SECRET, docs, queue, BOT).status == 200


def test_label_names_keep_their_unicode(docs, queue) -> None:
    for i, name in enumerate(["🐛 bug", "área/red", "כן", "e\u0301", "👩‍💻" * 10, "x" * 100]):
        body = json.dumps(payload("labeled", label={"name": name})).encode()
        assert handle_delivery(signed_headers(body, f"u-{i}"), body, SECRET, docs, queue, BOT).status == 200
        assert docs.get(FEEDBACK, REPO, f"u-{i}")["label"] == name  # type: ignore[index]


@pytest.mark.parametrize("headers", [
    {"X-GitHub-Event": "issues", "X-GitHub-Delivery": ""},
    {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "../x"},
    {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "x" * 101},
    {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d\u00e9livery"},
    {"X-GitHub-Event": "Issues!", "X-GitHub-Delivery": "d-1"},
    {"X-GitHub-Event": "", "X-GitHub-Delivery": "d-1"},
])
def test_bad_event_headers_are_400_naming_the_header(docs, queue, headers: dict[str, str]) -> None:
    body = json.dumps(payload("opened")).encode()
    result = handle_delivery({**headers, "X-Hub-Signature-256": sign(body)}, body, SECRET, docs, queue, BOT)
    named = "X-GitHub-Event" if headers["X-GitHub-Delivery"] == "d-1" else "X-GitHub-Delivery"
    assert result.status == 400 and named in result.message and queue.depth() == 0


def test_a_form_encoded_body_says_which_content_type_to_set(docs, queue) -> None:
    raw = b"payload=" + json.dumps(payload("opened")).encode()
    result = deliver(docs, queue, "issues", None, raw=raw)
    assert result.status == 400 and "application/json" in result.message


# --- deliveries GitHub sends to every App (#13 item 11) ----------------------------------------------------------

@pytest.mark.parametrize("event, body", [  # installation events change the registry: tests/unit/test_installations.py
    ("installation", {"action": "new_permissions_accepted", "installation": {"id": 1},
                      "sender": {"login": "alice", "type": "User"}}),
    ("github_app_authorization", {"action": "revoked", "sender": {"login": "alice", "type": "User"}}),
    ("security_advisory", {"action": "published", "security_advisory": {}}),
    ("push", {"ref": "refs/heads/main"}),
    ("issues", {"action": "labeled", "issue": {"number": 7}, "repository": {"full_name": REPO},
                "sender": {"login": "alice", "type": "User"}}),
    ("issues", {"action": "unlabeled", "label": None, "issue": {"number": 7}, "repository": {"full_name": REPO},
                "sender": {"login": "alice", "type": "User"}}),
    ("issues", {"action": "closed", "repository": "not even an object"}),
    ("label", {"action": "renamed_in_future", "repository": None}),
    ("ping", {"zen": "Design for failure.", "hook_id": 1}),
])
def test_deliveries_without_use_are_accepted_without_a_repository(tmp_path: Path, event: str, body: dict[str, Any]) -> None:
    docs = ObservedStore(SqliteDocumentStore(tmp_path / "docs.db"))
    queue = SqliteQueue(tmp_path / "q.db")
    raw = json.dumps(body).encode()
    result = handle_delivery(signed_headers(raw, "d-1", event), raw, SECRET, docs, queue, BOT)
    assert result.status == (200 if event == "ping" else 202), result
    assert docs.writes == 0 and queue.depth() == 0


# --- label changes made through a GitHub App (#13 item 12) --------------------------------------------------------

def test_a_label_change_by_an_app_acting_for_a_user_is_not_feedback(docs, queue) -> None:
    """GitHub names the App on the issue (``performed_via_github_app``) while the sender is the User it acts for."""
    app = {"id": 15368, "slug": "some-triage-app", "name": "Some Triage App"}
    body = payload("unlabeled", label={"name": "bug"})
    body["issue"]["performed_via_github_app"] = app
    result = deliver(docs, queue, "issues", body, "via-app")
    assert result.status == 202 and "some-triage-app" in result.message
    assert stored(docs) == {FEEDBACK: [], LOCKS: [], LABELS: [], DELIVERIES: []}
    body["issue"]["performed_via_github_app"] = None  # the same change by the user on GitHub is feedback
    assert deliver(docs, queue, "issues", body, "by-hand").status == 200
    assert [f["id"] for f in docs.query(FEEDBACK, REPO)] == ["by-hand"]


def test_label_changes_by_bot_accounts_are_not_feedback_whatever_their_type(docs, queue) -> None:
    for i, sender in enumerate(({"login": "renovate[bot]", "type": "User"}, {"login": BOT, "type": "User"})):
        body = payload("labeled", label={"name": "bug"}, sender=sender)
        assert deliver(docs, queue, "issues", body, f"b-{i}").status == 202
    assert docs.query(FEEDBACK, REPO) == [] and docs.query(LOCKS, REPO) == []
