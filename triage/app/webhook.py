"""The webhook use case: verify, de-duplicate and route GitHub deliveries. No model work happens here.

The signature is checked before anything else is parsed. Outcomes map to HTTP statuses at
the edge: 200 handled, 202 accepted but ignored, 400 malformed, 401 unsigned or wrongly
signed, 413 too large. A delivery is recorded as seen only after it was handled, so a
failure lets GitHub's redelivery try again, and a replayed delivery changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from triage.app import telemetry
from triage.app.bootstrap import Services
from triage.app.learning_loop import after_feedback
from triage.learning.feedback import record_label_event
from triage.ports.queues import MessageQueue
from triage.ports.records import DELIVERIES, LABELS, Delivery, LabelRecord
from triage.ports.stores import DocumentStore

log = logging.getLogger(__name__)
MAX_BODY = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB
LABEL_REQUEST_ACTIONS = {"opened", "reopened", "transferred", "edited"}


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
                    bot_login: str) -> IntakeResult:
    """Verify and route one webhook delivery (``headers`` keys are case-insensitive)."""
    h = {k.lower(): v for k, v in headers.items()}
    if not secret:
        return IntakeResult(500, "the webhook secret is not configured; set TRIAGE_WEBHOOK_SECRET")
    if len(body) > MAX_BODY:
        return IntakeResult(413, f"payload of {len(body)} bytes exceeds {MAX_BODY}")
    if not signature_ok(secret, body, h.get("x-hub-signature-256")):
        return IntakeResult(401, "missing or invalid X-Hub-Signature-256")
    event, delivery = h.get("x-github-event"), h.get("x-github-delivery")
    if not event or not delivery:
        return IntakeResult(400, "missing X-GitHub-Event or X-GitHub-Delivery header")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return IntakeResult(400, f"body is not UTF-8 JSON: {exc}")
    if not isinstance(payload, dict):
        return IntakeResult(400, "body is not a JSON object")
    if event == "ping":
        return IntakeResult(200, "pong")
    repo = str((payload.get("repository") or {}).get("full_name") or "")
    if "/" not in repo:
        return IntakeResult(400, "payload has no repository.full_name")
    if docs.get(DELIVERIES, repo, delivery) is not None:
        return IntakeResult(200, f"delivery {delivery} already handled")
    try:
        result = _route(event, payload, repo, delivery, docs, queue, bot_login)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return IntakeResult(400, f"malformed {event} payload: {exc!r}")
    docs.upsert(DELIVERIES, Delivery(id=delivery, repo=repo, event=event, action=payload.get("action"),
                                     status=result.status).to_doc())
    log.info("delivery %s (%s.%s) for %s: %s", delivery, event, payload.get("action"), repo, result.message)
    return result


def _route(event: str, payload: dict[str, Any], repo: str, delivery: str, docs: DocumentStore,
           queue: MessageQueue, bot_login: str) -> IntakeResult:
    action = str(payload.get("action") or "")
    sender = payload.get("sender") or {}
    from_bot = sender.get("type") == "Bot" or sender.get("login") == bot_login
    if event == "issues":
        issue = payload["issue"]
        number = int(issue["number"])
        if action in LABEL_REQUEST_ACTIONS:
            if action == "edited" and not {"title", "body"} & set(payload.get("changes") or {}):
                return IntakeResult(202, "edit did not change the title or body")
            if action == "transferred":
                new = payload["changes"]["new_issue"]
                repo = str(payload["changes"]["new_repository"]["full_name"])
                number = int(new["number"])
            message = {"repo": repo, "number": number, "reason": action, "delivery": delivery}
            queue.send(message)
            return IntakeResult(200, f"label request for {repo}#{number}", enqueued=[message])
        if action in ("labeled", "unlabeled"):
            if from_bot:
                return IntakeResult(202, f"{action} by {sender.get('login')} (a bot) ignored")
            label = str(payload["label"]["name"])
            record = record_label_event(docs, repo, number, label, action, str(sender.get("login")),
                                        issue.get("updated_at"), delivery)
            return IntakeResult(200, f"feedback: {label} {action} ({record['verdict']})", feedback=[record])
        return IntakeResult(202, f"issues.{action} ignored")
    if event == "label":
        return _taxonomy(action, payload, repo, docs)
    return IntakeResult(202, f"{event} events are not used")


def _taxonomy(action: str, payload: dict[str, Any], repo: str, docs: DocumentStore) -> IntakeResult:
    """Keep the repository's label list; a rename becomes an alias so the label keeps its training data."""
    label = payload["label"]
    name = str(label["name"])
    if action == "created":
        docs.upsert(LABELS, LabelRecord(id=name, repo=repo, name=name).to_doc())
        return IntakeResult(200, f"label {name} created")
    if action == "deleted":
        docs.upsert(LABELS, LabelRecord(id=name, repo=repo, name=name, deleted=True).to_doc())
        return IntakeResult(200, f"label {name} deleted")
    if action == "edited":
        old = ((payload.get("changes") or {}).get("name") or {}).get("from")
        docs.upsert(LABELS, LabelRecord(id=name, repo=repo, name=name).to_doc())
        if old and old != name:
            docs.upsert(LABELS, LabelRecord(id=str(old), repo=repo, name=str(old), renamed_to=name).to_doc())
            return IntakeResult(200, f"label {old} renamed to {name}")
        return IntakeResult(200, f"label {name} edited")
    return IntakeResult(202, f"label.{action} ignored")


def label_aliases(docs: DocumentStore, repo: str) -> dict[str, str]:
    """Old label name → new name, for every rename seen."""
    return {d["name"]: d["renamed_to"] for d in docs.query(LABELS, repo) if d.get("renamed_to")}


def receive_webhook(s: Services, headers: Mapping[str, str], body: bytes) -> IntakeResult:
    """The webhook intake with the app's stores and secret; feedback goes on through the learning loop."""
    result = handle_delivery(headers, body, s.app.webhook_secret, s.docs, s.queue, s.settings.bot_login)
    for repo in sorted({record["repo"] for record in result.feedback}):
        after_feedback(s, repo, [record for record in result.feedback if record["repo"] == repo])
    telemetry.event("WebhookDelivery", status=result.status, message=result.message,
                    event=headers.get("X-GitHub-Event") or headers.get("x-github-event"),
                    enqueued=len(result.enqueued), feedback=len(result.feedback))
    return result
