"""The labeling core: score issues with the current model, decide, write (or log), record."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol, Sequence

from .issues import Issue
from .model import Classifier
from .policy import Decision, Policy, decide
from .stores import DocumentStore

log = logging.getLogger(__name__)
PREDICTIONS = "predictions"


class LabelWriter(Protocol):
    """Adds labels to an issue (one call per issue)."""

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """Add ``labels`` to issue ``number`` of ``repo``."""
        ...


@dataclass
class DryRunWriter:
    """Shadow mode: records and logs the exact GitHub calls instead of making them."""

    calls: list[str] = field(default_factory=list)

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """Log ``POST /repos/{repo}/issues/{number}/labels`` with its body."""
        call = f"POST /repos/{repo}/issues/{number}/labels {json.dumps({'labels': list(labels)})}"
        self.calls.append(call)
        log.info("dry run: would call %s", call)


def policy_for(model: Classifier, max_labels: int = 1, excluded: frozenset[str] = frozenset(),
               bot_login: str | None = None) -> Policy:
    """The policy built from the model's thresholds and the settings."""
    policy = Policy(thresholds=model.thresholds, max_labels=max_labels, excluded=excluded,
                    bot_login=bot_login, single_label=model.single_label)
    policy.check_labels(model.labels)
    return policy


def label_issues(issues: Sequence[Issue], model: Classifier, policy: Policy, writer: LabelWriter,
                 docs: DocumentStore | None = None) -> list[Decision]:
    """Decide for each issue, add labels through ``writer`` and record each decision in ``docs``."""
    inputs = [model.encode(issue.title, issue.body) for issue in issues]
    probs = model.predict_rows(inputs) if inputs else []
    decisions = []
    for issue, row in zip(issues, probs):
        scores = dict(zip(model.labels, (float(p) for p in row)))
        decision = decide(issue, scores, policy, model.version)
        if decision.add:
            writer.add_labels(issue.repo, issue.number, [label for label, _ in decision.add])
        if docs is not None:
            record_decision(docs, decision, policy=policy)
        decisions.append(decision)
    return decisions


def record_decision(docs: DocumentStore, decision: Decision, dry_run: bool = True, policy: Policy | None = None) -> None:
    """Store a decision in the predictions container (one document per issue and model version).

    The policy's exclusivity is kept with it, so that feedback can tell a correction from a miss.
    """
    docs.upsert(PREDICTIONS, {
        **decision.to_dict(),
        "id": f"{decision.number}:{decision.model_version}",
        "dry_run": dry_run,
        "single_label": policy.single_label if policy else True,
        "exclusive": list(policy.exclusive) if policy else [],
        "decided_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
