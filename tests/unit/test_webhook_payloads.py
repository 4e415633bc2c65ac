"""What the webhook reads from signed deliveries, attacked: arbitrary JSON in every field the app reads, deep
nesting, odd numbers, odd Unicode, huge strings, arbitrary bytes, and replays in any order.

Every delivery goes through :func:`handle_delivery` with a valid signature (the sender knows the secret),
on the real embedded stores. The invariants: the answer is 200, 202 or 400, never an exception; a 400
names the field and writes nothing; a value the rules accept is used exactly as sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.test_intake import BOT, REPO, SECRET, ObservedStore, payload, sign
from triage.adapters.local.queue import SqliteQueue
from triage.adapters.local.stores import SqliteDocumentStore
from triage.app.webhook import IntakeResult, handle_delivery
from triage.domain.payloads import MAX_DEPTH, PayloadError, parse_body, read_delivery
from triage.ports.records import FEEDBACK, LABELS, LOCKS

FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
LIGHT = settings(FAST, max_examples=80)  # pure functions on large generated values: the generation dominates
DROP = object()
APP = {"id": 1, "slug": "an-app", "name": "An App"}

# Valid deliveries of every route the app uses, and the fields each route reads (parents first).
BASES: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "issues.opened": ("issues", payload("opened"), ("action", "repository", "repository.full_name", "issue",
                                                    "issue.number")),
    "issues.edited": ("issues", payload("edited", changes={"title": {"from": "old"}}),
                      ("repository.full_name", "issue.number", "changes")),
    "issues.transferred": ("issues", payload("transferred", changes={"new_issue": {"number": 3},
                                                                     "new_repository": {"full_name": "octo/other"}}),
                           ("repository.full_name", "changes", "changes.new_issue", "changes.new_issue.number",
                            "changes.new_repository", "changes.new_repository.full_name")),
    "issues.labeled": ("issues", payload("labeled", label={"name": "bug"}),
                       ("repository.full_name", "issue", "issue.number", "issue.updated_at",
                        "issue.performed_via_github_app", "label", "label.name", "sender", "sender.login",
                        "sender.type")),
    "issues.unlabeled": ("issues", payload("unlabeled", label={"name": "bug"}),
                         ("issue.number", "label.name", "sender.login", "issue.performed_via_github_app")),
    "label.created": ("label", {"action": "created", "label": {"name": "bug"}, "repository": {"full_name": REPO}},
                      ("action", "repository", "repository.full_name", "label", "label.name")),
    "label.edited": ("label", {"action": "edited", "label": {"name": "bug"}, "changes": {"name": {"from": "old"}},
                               "repository": {"full_name": REPO}},
                     ("label.name", "changes", "changes.name", "changes.name.from")),
    "label.deleted": ("label", {"action": "deleted", "label": {"name": "bug"}, "repository": {"full_name": REPO}},
                      ("repository.full_name", "label.name")),
}
FIELDS = [(route, path) for route, (_, _, paths) in BASES.items() for path in paths]

odd_text = st.text(st.characters(exclude_categories=()), max_size=120)  # surrogates and controls included
odd_numbers = st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, -(2**63), 2**64, 10**30, 10**39, 1.5, 7.0, -0.0, 1e308,
                               5e-324, True, False])
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | st.integers(-(10**39), 10**39) | odd_numbers | finite_floats | odd_text
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=10)
# Bodies shaped like deliveries: the keys and the kind of values the app reads, anywhere, mixed with anything.
KEYS = ("action", "issue", "label", "repository", "sender", "changes", "number", "name", "full_name", "login", "type",
        "updated_at", "performed_via_github_app", "new_issue", "new_repository", "title", "body", "from", "slug")
plausible = st.sampled_from(["opened", "edited", "transferred", "labeled", "unlabeled", "created", "deleted",
                             "octo/widgets", "bug", "alice", "User", "Bot", "2026-01-01T00:00:00Z", 7])
delivery_like = st.recursive(scalars | plausible, lambda inner: st.lists(inner, max_size=3)
                             | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=5),
                             max_leaves=14)


def set_field(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``path`` set to ``value`` (``DROP``: removed)."""
    doc = json.loads(json.dumps(base))
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[part]
    if value is DROP:
        node.pop(last, None)
    else:
        node[last] = value
    return doc


def deliver_raw(event: str, raw: bytes, delivery: str = "d-1") -> tuple[IntakeResult, ObservedStore, SqliteQueue]:
    """Deliver signed ``raw`` to a fresh intake on the embedded stores."""
    docs, queue = ObservedStore(SqliteDocumentStore(":memory:")), SqliteQueue(":memory:")
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": sign(raw)}
    return handle_delivery(headers, raw, SECRET, docs, queue, BOT), docs, queue


def is_label_name(value: Any) -> bool:
    """The documented rule for label names, written independently of the code under test."""
    if not isinstance(value, str) or not 1 <= len(value) <= 100 or not value.strip():
        return False
    return not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in value)


def assert_refused_cleanly(result: IntakeResult, docs: ObservedStore, queue: SqliteQueue, path: str) -> None:
    """400, naming ``path`` or the parent that is not an object, ASCII-only, and nothing written."""
    assert result.status == 400, result
    found = re.search(r"(?:^|\s)([\w.-]+) must be", result.message)
    assert found, result.message
    named = found.group(1)  # the field itself, a parent that is not an object, or a field inside a new object
    assert named == path or path.startswith(named + ".") or named.startswith(path + "."), (path, result.message)
    assert result.message.isascii() and docs.writes == 0 and queue.depth() == 0


@FAST
@given(field=st.sampled_from(FIELDS), value=json_values | st.just(DROP))
def test_any_value_in_any_field_the_app_reads_is_used_or_refused_by_name(field: tuple[str, str], value: Any) -> None:
    route, path = field
    event, base, _ = BASES[route]
    result, docs, queue = deliver_raw(event, json.dumps(set_field(base, path, value)).encode())
    assert result.status in (200, 202, 400), result
    if result.status == 400:
        assert_refused_cleanly(result, docs, queue, path)
        return
    leaf = path.rsplit(".", 1)[-1]
    if leaf == "number":
        assert type(value) is int and 1 <= value < 2**31, (path, value, result)
        assert [m["number"] for m in queue.peek()] == [value]
    if path == "label.name" or (path == "changes.name.from" and value not in (None, DROP)):
        assert is_label_name(value), (path, value, result)
    if path == "label.name" and route.startswith("issues."):
        assert [f["label"] for f in docs.inner.query(FEEDBACK, REPO)] == [value]
    if path == "label.name" and route.startswith("label."):
        assert docs.inner.get(LABELS, REPO, value)["name"] == value  # type: ignore[index]
    if path == "sender.login":
        assert is_label_name(value), (value, result)  # same text rule, up to 100 characters
        if result.status == 200:
            assert docs.inner.query(LOCKS, REPO)[0]["by"] == value
    if path == "issue.performed_via_github_app" and isinstance(value, dict):
        assert result.status == 202 and docs.writes == 0, "a change through an App is never feedback"


@pytest.mark.parametrize("route, path, value", [
    ("issues.labeled", "issue.number", 0), ("issues.labeled", "issue.number", -3), ("issues.labeled", "issue.number", 1.5),
    ("issues.labeled", "issue.number", True), ("issues.labeled", "issue.number", "12"),
    ("issues.labeled", "issue.number", 10**30), ("issues.opened", "issue.number", 2**31),
    ("issues.labeled", "label.name", None), ("issues.labeled", "label.name", ""), ("issues.labeled", "label.name", 7),
    ("issues.opened", "repository", "octo/widgets"), ("issues.opened", "repository.full_name", "a/b/c"),
    ("issues.opened", "repository.full_name", "octo/.."), ("issues.transferred", "changes.new_repository", 1),
    ("label.edited", "changes.name.from", ["bug"]), ("label.created", "label.name", {"name": "bug"}),
])
def test_listed_wrong_values_are_refused_by_name(route: str, path: str, value: Any) -> None:
    event, base, _ = BASES[route]
    result, docs, queue = deliver_raw(event, json.dumps(set_field(base, path, value)).encode())
    assert_refused_cleanly(result, docs, queue, path)


@FAST
@given(event=st.sampled_from(["issues", "label", "ping", "installation", "push", "github_app_authorization"]),
       body=json_values | st.fixed_dictionaries({}, optional={key: delivery_like for key in KEYS[:6]}))
def test_arbitrary_json_bodies_are_answered_never_raised(event: str, body: Any) -> None:
    result, docs, queue = deliver_raw(event, json.dumps(body).encode())
    assert result.status in (200, 202, 400), result
    if result.status != 200 or event == "ping":
        assert docs.writes == 0 and queue.depth() == 0


@FAST
@given(raw=st.binary(max_size=400) | st.text(st.characters(exclude_categories=("Cs",)), max_size=200).map(str.encode))
def test_arbitrary_bytes_are_answered_never_raised(raw: bytes) -> None:
    result, docs, queue = deliver_raw("issues", raw)
    assert result.status in (202, 400) and docs.writes == 0 and queue.depth() == 0, result


@LIGHT
@given(body=st.dictionaries(st.text(max_size=6), json_values, max_size=4))
def test_valid_json_within_the_limits_parses_unchanged(body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    assert parse_body(raw) == json.loads(raw)


@LIGHT
@given(event=st.sampled_from(["issues", "label", "ping", "member"]),
       body=st.dictionaries(st.sampled_from(KEYS), delivery_like, max_size=6))
def test_reading_any_object_raises_nothing_but_payload_errors(event: str, body: dict[str, Any]) -> None:
    try:
        read_delivery(event, body)
    except PayloadError as exc:
        assert str(exc).isascii() and " must be " in str(exc)


# --- nesting, numbers, Unicode, size ------------------------------------------------------------------------------

def nested(depth: int, kind: str) -> bytes:
    opener, closer = {"array": (b"[", b"]"), "object": (b'{"a":', b"}"), "mixed": (b'[{"a":', b"}]")}[kind]
    levels = depth if kind != "mixed" else depth // 2
    return opener * levels + b"1" + closer * levels


@pytest.mark.parametrize("kind", ["array", "object", "mixed"])
@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH + 2, 1_000, 100_000, 1_000_000])
def test_deep_nesting_is_refused_past_the_limit_and_never_a_recursion_error(depth: int, kind: str) -> None:
    # The payload object itself is one level; its field "extra" holds the nest.
    raw = json.dumps(payload("labeled", label={"name": "bug"}, extra=0)).encode().replace(b'"extra": 0',
                                                                                          b'"extra": ' + nested(depth, kind))
    result, docs, queue = deliver_raw("issues", raw)
    if depth < MAX_DEPTH:
        assert result.status == 200, result
    else:
        assert result.status == 400 and f"deeper than {MAX_DEPTH}" in result.message
        assert docs.writes == 0 and queue.depth() == 0


@pytest.mark.parametrize("literal, unused_ok", [
    ("Infinity", False), ("-Infinity", False), ("NaN", False), ("1e999", False), ("-1e999", False),
    ("1E400", False), ("1e-999", True), ("-0", True), ("0.0", True), ("1E2", True), ("9" * 40, True),
    ("9" * 41, False), ("-" + "9" * 5000, False), ("12345678901234567890", True),
])
def test_odd_numbers(literal: str, unused_ok: bool) -> None:
    """Non-finite and absurdly long numbers are refused anywhere; finite ones only where they are not read."""
    base = json.dumps(payload("labeled", label={"name": "bug"}, extra=0)).encode()
    unused = base.replace(b'"extra": 0', b'"extra": ' + literal.encode())
    result, docs, _ = deliver_raw("issues", unused)
    assert result.status == (200 if unused_ok else 400), (literal, result)
    as_number = base.replace(b'"number": 7', b'"number": ' + literal.encode())
    result, docs, _ = deliver_raw("issues", as_number)
    assert result.status == 400 and docs.writes == 0, (literal, result)
    assert "issue.number" in result.message or "the body has the number" in result.message \
        or "digits" in result.message, result.message


@pytest.mark.parametrize("name, ok", [
    ("🐛", True), ("área: red", True), ("中文标签", True), ("e\u0301\u0301", True), ("👩‍👩‍👧‍👦" * 14, True),
    ("\u202eevil", True), ("a\u2028b", True), ("\U0010fffd", True), ("x" * 100, True),
    ("x" * 101, False), ("\x00", False), ("bug\x7f", False), ("bug\x85", False), ("tab\there", False),
    ("\ud800", False), ("a\udfffb", False), ("\u3000", False), (" ", False),
])
def test_odd_unicode_label_names(name: str, ok: bool) -> None:
    raw = json.dumps(payload("labeled", label={"name": name})).encode()  # ASCII escapes, lone surrogates included
    result, docs, queue = deliver_raw("issues", raw)
    if ok:
        assert result.status == 200, result
        assert docs.inner.query(FEEDBACK, REPO)[0]["label"] == name
    else:
        assert_refused_cleanly(result, docs, queue, "label.name")
    raw_utf8 = json.dumps(payload("labeled", label={"name": name}), ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert deliver_raw("issues", raw_utf8)[0].status == (200 if ok else 400)


def test_huge_strings_are_refused_where_read_and_carried_elsewhere() -> None:
    huge = "x" * 5_000_000
    for path in ("label.name", "sender.login", "sender.type", "issue.updated_at", "repository.full_name"):
        result, docs, queue = deliver_raw("issues", json.dumps(set_field(BASES["issues.labeled"][1], path, huge)).encode())
        assert_refused_cleanly(result, docs, queue, path)
        assert len(result.message) < 500
    body = payload("opened")
    body["issue"]["body"] = huge * 4  # 20 MB, under GitHub's 25 MB cap
    assert deliver_raw("issues", json.dumps(body).encode())[0].status == 200


# --- replays in any order ---------------------------------------------------------------------------------------

CHANGES = [json.dumps(payload(action, number, label={"name": label})).encode()
           for action, number, label in (("labeled", 7, "bug"), ("unlabeled", 7, "bug"), ("labeled", 8, "docs"))]
REQUESTS = [json.dumps(payload("opened", number)).encode() for number in (7, 9)]


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.tuples(st.integers(0, len(CHANGES) + len(REQUESTS) - 1), st.integers(0, 5)), min_size=1, max_size=25))
def test_any_sequence_of_replays_has_each_effect_once(sequence: list[tuple[int, int]]) -> None:
    """Bodies sent and resent under reused and new ids: each body is handled once, under the first id that
    carried it, and an id is never handled twice (a used id with another body is a replay too)."""
    docs, queue = SqliteDocumentStore(":memory:"), SqliteQueue(":memory:")
    bodies = CHANGES + REQUESTS
    ids_used: set[int] = set()
    handled: dict[int, str] = {}
    for body_index, id_index in sequence:
        raw, delivery = bodies[body_index], f"id-{id_index}"
        headers = {"X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": sign(raw)}
        result = handle_delivery(headers, raw, SECRET, docs, queue, BOT)
        fresh = id_index not in ids_used and body_index not in handled
        assert result.status == 200, result
        assert bool(result.feedback or result.enqueued) == fresh, (sequence, result)
        if fresh:
            handled[body_index] = delivery
        ids_used.add(id_index)
    feedback = {f["id"] for f in docs.query(FEEDBACK, REPO)}
    assert feedback == {d for i, d in handled.items() if i < len(CHANGES)}
    assert queue.depth() == sum(1 for i in handled if i >= len(CHANGES))
