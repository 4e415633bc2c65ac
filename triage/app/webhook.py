"""The webhook use case: verify, validate, de-duplicate and route GitHub deliveries. No model work happens here.

The signature is checked before anything else is parsed; then the headers and the fields the route
reads (:mod:`triage.domain.payloads`). Outcomes map to HTTP statuses at the edge: 200 handled, 202
accepted but ignored (events and actions the product does not use, label changes by bots and Apps,
a copy of a delivery another request is handling), 400 malformed (the message names the field),
401 unsigned or wrongly signed, 413 too large.

Replays: ``X-GitHub-Delivery`` is not covered by the signature, so a captured body can come back
under new ids. A delivery that changes something is claimed twice before it is handled, by its id
and by the SHA-256 of its body (GitHub's own redeliveries are byte-identical), each with the
document store's atomic create: of concurrent copies exactly one goes on. A failure releases the
claims so that a redelivery can try again; a claim left by a crashed host is taken over once it is
older than :data:`CLAIM_TIMEOUT` (see :class:`Claim`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from triage.app import installations, telemetry
from triage.app.abstain import TIDY_REASON, applied_markers, mark
from triage.app.bootstrap import Services
from triage.app.learning_loop import after_feedback
from triage.domain.payloads import (
    AssignChange,
    Ignored,
    InstallationChange,
    LabelChange,
    LabelListChange,
    LabelRequest,
    Parsed,
    PayloadError,
    check_headers,
    delivery_installation,
    parse_body,
    read_delivery,
)
from triage.learning.assignee_feedback import record_assign_change
from triage.learning.feedback import record_label_event
from triage.ports.queues import MessageQueue
from triage.ports.records import DELIVERIES, LABELS, Delivery, LabelRecord, now_iso
from triage.ports.stores import DocumentStore

log = logging.getLogger(__name__)
MAX_BODY = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB
# Azure's front end ends an HTTP request after 230 s, so an older claim has no live request behind it.
CLAIM_TIMEOUT = timedelta(minutes=5)
ACTION = re.compile(r"^[a-z_]{1,40}$")  # an action shown in an error message as it came
MAX_GENERATIONS = 64  # take-overs of one key before copies are answered "being handled" (each needs a failure)


@dataclass
class IntakeResult:
    """What happened to one delivery."""

    status: int
    message: str
    enqueued: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """True if ``header`` is ``sha256=`` + the HMAC-SHA256 of ``body`` with ``secret`` (constant-time)."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("ascii", "replace"))


def handle_delivery(headers: Mapping[str, str], body: bytes, secret: str, docs: DocumentStore, queue: MessageQueue,
                    bot_login: str, delay_seconds: int = 0) -> IntakeResult:
    """Verify, validate and route one webhook delivery (``headers`` keys are case-insensitive); label requests
    wait ``delay_seconds`` on the queue (humans first)."""
    h = {k.lower(): v for k, v in headers.items()}
    if not secret:
        return IntakeResult(500, "the webhook secret is not configured; set TRIAGE_WEBHOOK_SECRET")
    if len(body) > MAX_BODY:
        return IntakeResult(413, f"payload of {len(body)} bytes exceeds {MAX_BODY}")
    if not signature_ok(secret, body, h.get("x-hub-signature-256")):
        return IntakeResult(401, "missing or invalid X-Hub-Signature-256")
    try:
        event, delivery = check_headers(h.get("x-github-event"), h.get("x-github-delivery"))
        payload = parse_body(body)
    except PayloadError as exc:
        return IntakeResult(400, str(exc))
    action = payload.get("action") if isinstance(payload.get("action"), str) else None
    try:
        parsed = read_delivery(event, payload)
    except PayloadError as exc:
        shown_action = f".{action}" if action and ACTION.match(action) else ""
        return IntakeResult(400, f"malformed {event}{shown_action} delivery: {exc}")
    if isinstance(parsed, Ignored):
        return IntakeResult(parsed.status, parsed.reason)
    if isinstance(parsed, LabelChange) and parsed.event.is_bot(bot_login):
        who = f"via the App {parsed.event.via_app}" if parsed.event.via_app else f"by {parsed.event.actor} (a bot)"
        return IntakeResult(202, f"{action} {who} ignored: only human label changes are feedback")
    if isinstance(parsed, AssignChange) and parsed.is_bot(bot_login):
        return IntakeResult(202, f"{action} by {parsed.actor} (a bot or an App) ignored: only humans judge assignments")
    hint = delivery_installation(payload)  # the installation that holds the delivery's repository
    if hint is not None:
        installations.remember(docs, *hint, source="delivery", only_new=True)
    claim = Claim(docs, parsed.home, delivery, hashlib.sha256(body).hexdigest(), event, action)
    result = claim.run(lambda effect_id: _route(parsed, effect_id, docs, queue, delay_seconds))
    log.info("delivery %s (%s.%s) for %s: %s", delivery, event, action, parsed.home, result.message)
    return result


def _route(parsed: Parsed, effect_id: str, docs: DocumentStore, queue: MessageQueue,
           delay_seconds: int = 0) -> IntakeResult:
    """Do what a validated delivery asks; ``effect_id`` keys what it writes, so doing it twice writes it once."""
    if isinstance(parsed, InstallationChange):
        return IntakeResult(200, installations.apply_change(docs, parsed))
    if isinstance(parsed, LabelRequest):
        message: dict[str, Any] = {"repo": parsed.repo, "number": parsed.number, "reason": parsed.reason,
                                   "delivery": effect_id}
        if delay_seconds:
            message["delay"] = delay_seconds
            queue.send(message, delay_seconds=delay_seconds)
        else:
            queue.send(message)
        return IntakeResult(200, f"label request for {parsed.repo}#{parsed.number}", enqueued=[message])
    if isinstance(parsed, LabelChange):
        e = parsed.event
        record = record_label_event(docs, parsed.home, parsed.number, e.label, e.action, str(e.actor), e.at, effect_id)
        enqueued = _take_back_abstain_label(parsed, effect_id, docs, queue)
        return IntakeResult(200, f"feedback: {e.label} {e.action} ({record['verdict']})", feedback=[record],
                            enqueued=enqueued)
    if isinstance(parsed, LabelListChange):
        return _taxonomy(parsed, docs)
    if isinstance(parsed, AssignChange):  # a human's judgment of the bot's owner routing
        judged = record_assign_change(docs, parsed, effect_id)
        return IntakeResult(200, f"assignment of {judged['assignee']}: {judged['verdict']}" if judged
                            else "assignment change: no route of the bot to judge")
    return IntakeResult(parsed.status, parsed.reason)


def _take_back_abstain_label(change: LabelChange, effect_id: str, docs: DocumentStore,
                             queue: MessageQueue) -> list[dict[str, Any]]:
    """A human labeled an issue that carries the bot's abstain label: queue a request that removes it if the
    label is of its group (the labeler reads the repository config and the issue; the webhook does no GitHub
    call). Nothing is queued for issues the bot never marked, so ordinary label changes cost nothing more."""
    marked = set(applied_markers(docs, change.home, change.number))
    if change.event.action == "unlabeled":
        if change.event.label in marked:  # a human took it off: the lock keeps the bot from putting it back
            mark(docs, change.home, change.number, change.event.label, "removed by a human")
        return []
    if not marked - {change.event.label}:
        return []
    message = {"repo": change.home, "number": change.number, "reason": TIDY_REASON, "delivery": effect_id}
    queue.send(message)
    return [message]


def _taxonomy(change: LabelListChange, docs: DocumentStore) -> IntakeResult:
    """Keep the repository's label list; a rename becomes an alias so the label keeps its training data."""
    repo, name = change.home, change.name
    docs.upsert(LABELS, LabelRecord(id=name, repo=repo, name=name, deleted=change.action == "deleted").to_doc())
    if change.old_name:
        docs.upsert(LABELS, LabelRecord(id=change.old_name, repo=repo, name=change.old_name, renamed_to=name).to_doc())
        return IntakeResult(200, f"label {change.old_name} renamed to {name}")
    return IntakeResult(200, f"label {name} {change.action}")


class Claim:
    """Handle a delivery at most once per delivery id and per body digest, across concurrent requests and hosts.

    A claim is a document of the ``deliveries`` container (partition: the delivery's repository) for a key,
    ``<X-GitHub-Delivery>`` or ``sha256:<hex of the body>``, in state ``claimed``, then ``handled`` or
    ``released`` (handling failed). Only the atomic create decides who holds a key: generation 0 has the
    key as its id; once a claim is released, or left ``claimed`` by a host that died (older than
    :data:`CLAIM_TIMEOUT`), the next request creates generation 1 (``<key>~1``), and so on. A taking-over
    host that dies too leaves one more abandoned generation, never a stuck key; a claim is deleted only
    by the request that made it a moment before, so no generation is ever left with a gap before it.
    Documents without a state were written by earlier versions after handling, so they count as handled.
    """

    def __init__(self, docs: DocumentStore, repo: str, delivery: str, digest: str, event: str,
                 action: str | None) -> None:
        self.docs, self.repo, self.delivery, self.digest = docs, repo, delivery, digest
        self.event, self.action = event, action

    def run(self, handle: Callable[[str], IntakeResult]) -> IntakeResult:
        """``handle(effect_id)`` once, or the answer for a copy; ``effect_id`` is the delivery id that first
        claimed this body, so a take-over rewrites the same records instead of adding new ones."""
        won, mine = self._take(self.delivery)
        if not won:
            return _answer(mine, f"delivery {self.delivery}")
        try:
            won, body = self._take(f"sha256:{self.digest}")
        except BaseException:
            self._drop(mine)
            raise
        if not won:
            if _handled(body):
                self._set(mine, "handled", 200, f"same body as delivery {body.get('delivery')}")
            else:
                self._drop(mine)
            return _answer(body, f"a delivery with the same body ({body.get('delivery')})")
        try:
            result = handle(str(body["delivery"]))
        except BaseException as exc:
            for claim in (body, mine):
                self._set(claim, "released", 0, f"failed: {type(exc).__name__}")
            raise
        for claim in (body, mine):
            self._set(claim, "handled", result.status, result.message)
        return result

    def _take(self, key: str) -> tuple[bool, dict[str, Any]]:
        """(True, our new claim on ``key``) or (False, the claim that holds it)."""
        generation, origin = 0, self.delivery
        for _ in range(MAX_GENERATIONS):
            doc = {**Delivery(id=key if generation == 0 else f"{key}~{generation}", repo=self.repo, event=self.event,
                              action=self.action, status=0, digest=self.digest).to_doc(),
                   "key": key, "state": "claimed", "delivery": origin}
            if self.docs.create(DELIVERIES, doc):
                return True, doc
            held = self.docs.get(DELIVERIES, self.repo, doc["id"])
            if held is None:  # deleted since our create (by hand): try this generation again
                continue
            if _handled(held) or not _abandoned(held):
                return False, held
            generation, origin = generation + 1, str(held.get("delivery") or origin)
        return False, {"state": "claimed", "delivery": origin}

    def _drop(self, claim: dict[str, Any]) -> None:
        """Delete a claim we made a moment ago and did nothing under: the key is free again at once, without
        using up a generation (copies racing a delivery in progress must not exhaust its id)."""
        self.docs.delete(DELIVERIES, self.repo, claim["id"])

    def _set(self, claim: dict[str, Any], state: str, status: int, message: str) -> None:
        """Record how our claim ended."""
        self.docs.upsert(DELIVERIES, {**claim, "state": state, "status": status, "message": message[:200],
                                      "at": now_iso()})


def _handled(claim: Mapping[str, Any]) -> bool:
    return claim.get("state", "handled") == "handled"


def _abandoned(claim: Mapping[str, Any]) -> bool:
    """Released, or claimed longer ago than :data:`CLAIM_TIMEOUT` (unreadable times count as long ago)."""
    if claim.get("state") == "released":
        return True
    try:
        made = datetime.fromisoformat(str(claim.get("at")).replace("Z", "+00:00"))
    except ValueError:
        return True
    made = made if made.tzinfo else made.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc) - made > CLAIM_TIMEOUT


def _answer(held: Mapping[str, Any], what: str) -> IntakeResult:
    """The answer to a copy of a delivery that ``held`` claimed."""
    if _handled(held):
        return IntakeResult(200, f"{what} already handled")
    return IntakeResult(202, f"{what} is being handled by another request")


def label_aliases(docs: DocumentStore, repo: str) -> dict[str, str]:
    """Old label name → new name, for every rename seen."""
    return {d["name"]: d["renamed_to"] for d in docs.query(LABELS, repo) if d.get("renamed_to")}


def receive_webhook(s: Services, headers: Mapping[str, str], body: bytes) -> IntakeResult:
    """The webhook intake with the app's stores and secret; feedback goes on through the learning loop."""
    result = handle_delivery(headers, body, s.app.webhook_secret, s.docs, s.queue, s.settings.bot_login,
                             s.app.label_delay_seconds)
    for repo in sorted({record["repo"] for record in result.feedback}):
        after_feedback(s, repo, [record for record in result.feedback if record["repo"] == repo])
    telemetry.event("WebhookDelivery", status=result.status, message=result.message,
                    event=headers.get("X-GitHub-Event") or headers.get("x-github-event"),
                    enqueued=len(result.enqueued), feedback=len(result.feedback))
    return result
