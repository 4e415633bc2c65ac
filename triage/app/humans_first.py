"""Humans first: a delayed request leaves to people an issue they took in hand, and an edit re-predicts only
the bot's own labels.

With ``TRIAGE_LABEL_DELAY_SECONDS`` the webhook's label request stays invisible on the queue for that long;
when it is processed, an issue that a human labeled (with one of the model's labels) or assigned in the
meantime is skipped, and the decision record says why (kind ``humans-first``).

With the repository config's ``relabel_on_edit``, a title or body edit (or a transfer, in the new repository)
re-predicts: if the bot's labels are still on the issue untouched by humans (no human event and no webhook
lock on them) and a confident new prediction differs, the new label is added and the bot's old one removed.
A label a human applied, removed or re-applied is never taken away; an unsure new prediction keeps the old.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from triage.app.decisions import record_decision
from triage.domain.issues import Issue
from triage.domain.labels import LabelNames
from triage.domain.policy import Decision, Policy, decide
from triage.ml.model import Classifier
from triage.ports.records import LOCKS, PREDICTIONS, now_iso
from triage.ports.stores import DocumentStore

RELABEL_REASONS = ("edited", "transferred")


class Batch(Protocol):
    """What re-predicting needs of a labeling batch (:class:`triage.app.labeling.Batch`)."""

    repo: str
    model: Classifier
    policy: Policy
    names: LabelNames
    dry_run: bool
    docs: DocumentStore
    bot_login: str

    @property
    def model_labels(self) -> frozenset[str]:
        """The labels the model may apply, by their current names."""
        ...

    def write(self, issue: Issue, decision: Decision, adding: list[str], record_id: str | None,
              blocked: frozenset[str], removing: Sequence[str] = ()) -> Decision:
        """Write labels (see :meth:`triage.app.labeling.Batch.write`)."""
        ...


def _by_bot(actor: Mapping[str, Any], event: Mapping[str, Any], bot_login: str | None) -> bool:
    login = str(actor.get("login") or "")
    return (actor.get("type") == "Bot" or login.endswith("[bot]") or login == bot_login
            or bool(event.get("performed_via_github_app")))


def human_assignees(events: Sequence[Mapping[str, Any]], bot_login: str | None) -> list[str]:
    """Who is assigned to the issue now by a human's ``assigned`` event (GitHub's issue events, oldest first)."""
    assigned: dict[str, bool] = {}
    for event in events:
        kind = event.get("event")
        if kind not in ("assigned", "unassigned"):
            continue
        actor = event.get("actor") if isinstance(event.get("actor"), dict) else {}
        assignee = event.get("assignee") if isinstance(event.get("assignee"), dict) else {}
        login = assignee.get("login")
        if not isinstance(login, str):
            continue
        if kind == "unassigned":
            assigned.pop(login, None)
        else:
            assigned[login] = not _by_bot(actor, event, bot_login)
    return sorted(login for login, human in assigned.items() if human)


def humans_first(issue: Issue, events: Sequence[Mapping[str, Any]], model_labels: frozenset[str],
                 bot_login: str | None) -> str | None:
    """Why a delayed request must leave the issue to the humans who acted on it, or None."""
    labeled = sorted(set(issue.human_labels(bot_login)) & model_labels)
    if labeled:
        return f"humans first: a human labeled the issue ({', '.join(labeled)}) before the labeler's turn"
    assignees = human_assignees(events, bot_login)
    if assignees:
        return f"humans first: a human assigned {', '.join(assignees)} before the labeler's turn"
    return None


def relabel(batch: Batch, issue: Issue, scores: Mapping[str, float], blocked: frozenset[str]) -> Decision | None:
    """Re-predict an edited or transferred issue; None when the usual path applies (nothing of the bot's to swap,
    or a human labeled the issue or touched the bot's label)."""
    human = set(issue.human_labels(batch.bot_login)) & batch.model_labels
    ours = (set(issue.labels) & batch.model_labels) - human
    if human or not ours:
        return None
    touched = {lock["label"] for lock in batch.docs.query(LOCKS, batch.repo, number=issue.number)}
    if {batch.names.current(label) for label in touched} & ours:
        return None
    stripped = dataclasses.replace(issue, labels=tuple(label for label in issue.labels if label not in ours))
    decision = decide(stripped, scores, batch.policy, batch.model.version, blocked=blocked)
    new = {label for label, _ in decision.add}
    if not new or new == ours:
        why = "the same labels" if new == ours else "nothing confident enough"
        return Decision(batch.repo, issue.number, (), (f"re-predicted after the edit: {why}; the bot's "
                                                       f"{', '.join(sorted(ours))} stays",), decision.top,
                        batch.model.version)
    decision = dataclasses.replace(decision, reasons=decision.reasons + (
        f"re-predicted after the edit: replaces the bot's {', '.join(sorted(ours - new))}",))
    record_id = record_decision(batch.docs, decision, dry_run=batch.dry_run, policy=batch.policy)
    stored = batch.docs.get(PREDICTIONS, batch.repo, record_id) if record_id else None
    if stored is not None:  # the replacing decision must sort after the one it replaces, even within a second
        batch.docs.upsert(PREDICTIONS, {**stored, "decided_at": now_iso("microseconds")})
    adding = [label for label, _ in decision.add if label not in ours]
    return batch.write(issue, decision, adding, record_id, blocked, removing=sorted(ours - new))
