"""The abstain label: what the bot writes when it is not sure, and takes back once a human labels the group.

A repository config may name a label (``abstain_label``), or one per group of labels, that the labeler applies
when it adds no label of that group, so maintainers can find the issues that still need one. It is applied
only while nothing of the group is on the issue, never when a human removed it before (per the issue's events
or the webhook's locks), and at most once per issue: a marker (``abstain:{number}:{label}`` in the
deliveries container, next to the comment claims) records that the bot wrote it, so that a human's label of
the group makes the webhook queue a request that removes it, and so that a label the bot took back is not put
back. The bot removes only an abstain label it applied itself (the last ``labeled`` event is its own).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from triage.domain.issues import Issue
from triage.domain.repo_config import AbstainLabel
from triage.ports.records import DELIVERIES, now_iso
from triage.ports.stores import DocumentStore

KIND = "abstain-label"
TIDY_REASON = "human-labeled"  # the label request the webhook queues when a human labels an issue we marked


@dataclass(frozen=True)
class Changes:
    """The abstain labels to add to an issue and to remove from it, with the reason of each."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    reasons: tuple[tuple[str, str], ...] = ()  # (abstain label, why it is added, removed or left alone)


def plan(abstain: Collection[AbstainLabel], issue: Issue, adding: Collection[str], model_labels: frozenset[str],
         blocked: frozenset[str], bot_login: str | None) -> Changes:
    """Pure: which abstain labels ``issue`` should gain or lose once ``adding`` (the decision's labels) is written.

    ``blocked``: labels a human removed from the issue (the webhook's locks); ``model_labels``: the labels the
    model may apply (the group of an abstain label without a pattern).
    """
    human = set(issue.human_labels(bot_login))
    removed_by_humans = issue.removed_by_humans(bot_login) | blocked
    add: list[str] = []
    remove: list[str] = []
    reasons: list[tuple[str, str]] = []
    for item in abstain:
        group = "the model's labels" if item.group is None else item.group
        filled = sorted({label for label in (*issue.labels, *adding) if item.covers(label, model_labels)})
        if item.label in issue.labels:
            if filled and item.label not in human:
                remove.append(item.label)
                reasons.append((item.label, f"{item.label} removed: the issue now has {', '.join(filled)} ({group})"))
        elif filled:
            continue
        elif item.label in removed_by_humans:
            reasons.append((item.label, f"{item.label} not applied: a human removed it before"))
        else:
            add.append(item.label)
            reasons.append((item.label, f"{item.label} applied: no label of {group} is confident enough"))
    return Changes(tuple(add), tuple(remove), tuple(reasons))


def marker_id(number: int, label: str) -> str:
    """The id of the marker saying the bot applied abstain label ``label`` to issue ``number``."""
    return f"abstain:{number}:{label}"


def claim(docs: DocumentStore, repo: str, number: int, label: str) -> bool:
    """Claim the right to apply ``label`` (once per issue): True for a new claim or one whose write never
    finished (a crash between the claim and the label: the retry writes it again, which GitHub makes a no-op)."""
    doc = {"id": marker_id(number, label), "repo": repo, "number": number, "label": label, "kind": KIND,
           "state": "applying", "at": now_iso()}
    if docs.create(DELIVERIES, doc):
        return True
    held = docs.get(DELIVERIES, repo, doc["id"]) or {}
    return held.get("state") == "applying"


def release(docs: DocumentStore, repo: str, number: int, label: str) -> None:
    """Drop a claim whose label was not written (dry run, or the write failed)."""
    held = docs.get(DELIVERIES, repo, marker_id(number, label))
    if held is not None and held.get("state") == "applying":
        docs.delete(DELIVERIES, repo, held["id"])


def mark(docs: DocumentStore, repo: str, number: int, label: str, state: str) -> None:
    """Record that the bot's abstain label was written (``applied``) or taken back (``removed``)."""
    doc = docs.get(DELIVERIES, repo, marker_id(number, label)) or {
        "id": marker_id(number, label), "repo": repo, "number": number, "label": label, "kind": KIND}
    docs.upsert(DELIVERIES, {**doc, "state": state, "at": now_iso()})


def adopt(docs: DocumentStore, repo: str, issue: Issue, abstain: Collection[AbstainLabel],
          bot_login: str | None) -> None:
    """Record the marker of an abstain label the bot's events show on the issue without one: the write reached
    GitHub but its answer was lost, and the claim was released."""
    mine = set(issue.labels) - set(issue.human_labels(bot_login))
    for item in abstain:
        if item.label in mine:
            held = docs.get(DELIVERIES, repo, marker_id(issue.number, item.label))
            if held is None or held.get("state") == "applying":
                mark(docs, repo, issue.number, item.label, "applied")


def applied_markers(docs: DocumentStore, repo: str, number: int) -> list[str]:
    """The abstain labels the bot applied to the issue (or may have: a crash can end a write between its claim
    and its record) and has not taken back."""
    return sorted(d["label"] for d in docs.query(DELIVERIES, repo, number=number, kind=KIND)
                  if d.get("state") in ("applied", "applying"))
