"""What a labeling batch serves with: the current model per repository, and the policy in force on the labels'
current names."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from triage.app.bootstrap import Services
from triage.domain.errors import NotFoundError
from triage.domain.issues import Issue
from triage.domain.labels import NO_RENAMES, LabelNames
from triage.domain.policy import Decision, Policy
from triage.domain.repo_config import RepoConfig
from triage.learning.registry import read_pointer
from triage.learning.tuning import effective_thresholds
from triage.ml.model import Classifier
from triage.ports.layout import model_prefix, pointer_name


def repo_policy(model: Classifier, config: RepoConfig, bot_login: str,
                overrides: Mapping[str, Mapping[str, Any]] | None = None, names: LabelNames = NO_RENAMES) -> Policy:
    """The policy in force, on the labels' current names: the effective thresholds, the config's rules, and
    deleted labels excluded."""
    thresholds, paused, _ = effective_thresholds(model.thresholds, overrides or {}, config.default_threshold,
                                                 config.thresholds)
    current = {names.current(label): t for label, t in sorted(thresholds.items(), key=lambda item: item[1])}
    allowed = names.all_current(config.allow)
    excluded = (names.all_current(config.exclude) | {label for label in current if label in names.deleted}
                | ({label for label in current if label not in allowed} if config.allow else set()))
    return Policy(thresholds=current, max_labels=config.max_labels, excluded=frozenset(excluded) & set(current),
                  bot_login=bot_login, single_label=model.single_label, exclusive=config.exclusive,
                  paused=names.all_current(paused))


class ModelCache:
    """The current model per repository, kept across invocations and reloaded when the pointer moves."""

    def __init__(self) -> None:
        self._models: dict[str, tuple[str | None, Classifier]] = {}

    def get(self, s: Services, repo: str) -> Classifier:
        """The current model of ``repo``; raises :class:`NotFoundError` before the first promotion."""
        etag = s.blobs.etag(pointer_name(repo))
        cached = self._models.get(repo)
        if cached and cached[0] == etag:
            return cached[1]
        pointer, etag = read_pointer(s.blobs, repo)
        if pointer is None:
            raise NotFoundError(f"no model has been promoted for {repo} yet")
        model = Classifier.from_store(s.blobs, model_prefix(repo, pointer["version"]))
        self._models[repo] = (etag, model)
        return model


def with_evidence(decision: Decision, issue: Issue, model: Classifier, names: LabelNames) -> Decision:
    """The decision with up to two more reasons per label it adds: the words of the issue that weighed most toward
    it, and the past issues with that label most like it (also in ``similar``, with their titles)."""
    reasons, similar = list(decision.reasons), list(decision.similar)
    for label, _ in decision.add:
        words = next((found for known in model.labels if names.current(known) == label
                      for found in [model.evidence(issue.title, issue.body, known)] if found), [])
        if words:
            reasons.append(f"{label}: because of " + ", ".join(f"'{word}'" for word in words))
        like = next((found for known in model.labels if names.current(known) == label
                     for found in [model.similar(issue.title, issue.body, known, issue.number)] if found), [])
        if like:
            reasons.append(f"{label}: like " + ", ".join(f"#{number}" for number, _ in like))
            similar += [(label, number, title) for number, title in like]
    if len(reasons) == len(decision.reasons):
        return decision
    return dataclasses.replace(decision, reasons=tuple(reasons), similar=tuple(similar))


def renamed(issue: Issue, names: LabelNames) -> Issue:
    """The issue with every label name (current labels and past events) as it is called now."""
    events = tuple(dataclasses.replace(e, label=names.current(e.label)) for e in issue.label_events)
    return dataclasses.replace(issue, labels=tuple(names.current(label) for label in issue.labels),
                               label_events=events)
