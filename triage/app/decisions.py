"""Recording the labeler's decisions so that none that applied a label is ever lost.

A decision is stored before its labels are written (``applied`` false), and marked applied after;
a retry after a crash in between finds the labels on the issue and only marks it. A decision that
added labels is never replaced by a later non-decision for the same issue and model (a second
request sees the bot's own label and abstains: the first decision stays, because it is the one a
human's later change judges). Non-decisions (no model yet, not configured, an invalid repository
config, a closed issue...) are recorded with their ``kind`` and reason, so a request is always
accounted for.
"""

from __future__ import annotations

from typing import Any

from triage.domain.policy import Decision, Policy
from triage.ports.records import PREDICTIONS, Prediction, now_iso
from triage.ports.stores import DocumentStore


def prediction_record(decision: Decision, *, dry_run: bool = True, policy: Policy | None = None,
                      kind: str = "model", applied: bool = False, record_id: str | None = None) -> Prediction:
    """The stored form of a decision (by default one document per issue and model version)."""
    data = decision.to_dict()
    return Prediction(id=record_id or decision_id(decision.number, decision.model_version), repo=decision.repo,
                      number=decision.number, model_version=decision.model_version, add=data["add"],
                      top=data["top"], abstained=decision.abstained, reasons=list(decision.reasons),
                      similar=data["similar"], dry_run=dry_run,
                      applied=applied, single_label=policy.single_label if policy else True,
                      exclusive=list(policy.exclusive) if policy else [], kind=kind)


def decision_id(number: int, model_version: str | None) -> str:
    """The id of an issue's decision with a model version (``-`` when there was no model)."""
    return f"{number}:{model_version or '-'}"


def stored_decision(docs: DocumentStore, repo: str, number: int, model_version: str | None) -> dict[str, Any] | None:
    """The decision already recorded for this issue and model version, if any."""
    return docs.get(PREDICTIONS, repo, decision_id(number, model_version))


def record_decision(docs: DocumentStore, decision: Decision, dry_run: bool = True, policy: Policy | None = None,
                    kind: str = "model", applied: bool = False) -> str | None:
    """Store a decision unless that would replace one that added labels; returns the id used, None if kept.

    A different set of labels for the same issue and model gets a record of its own (the earlier one
    stays, with what humans said about it).
    """
    stored = stored_decision(docs, decision.repo, decision.number, decision.model_version)
    record_id = None
    if stored and stored.get("add"):
        if not decision.add:
            return None
        if sorted(a["label"] for a in stored["add"]) != sorted(label for label, _ in decision.add):
            record_id = f"{decision_id(decision.number, decision.model_version)}:{now_iso('microseconds')}"
    record = prediction_record(decision, dry_run=dry_run, policy=policy, kind=kind, applied=applied,
                               record_id=record_id)
    kept = ({key: stored[key] for key in ("assign", "routed") if key in stored}
            if stored and stored.get("assign") and record.id == stored.get("id") else {})
    docs.upsert(PREDICTIONS, {**record.to_doc(), **kept})  # the owner routing recorded (triage.app.routing) stays
    return record.id


def mark_applied(docs: DocumentStore, repo: str, record_id: str) -> None:
    """Mark a recorded decision's labels as written to GitHub."""
    stored = docs.get(PREDICTIONS, repo, record_id)
    if stored is not None and not stored.get("applied"):
        docs.upsert(PREDICTIONS, {**stored, "applied": True, "applied_at": now_iso()})
