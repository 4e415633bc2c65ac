"""Pull requests in a labeling batch: their changed files, the model's input with them, and the path rules.

A pull request is labeled only when the repository config says ``pull_requests: true``; then the labeler reads
its changed files (``GET /pulls/{n}/files``, one request per 100 files), the model reads them as the first line of
the body (:func:`~triage.domain.path_rules.model_body`, the format training uses), and each label whose path rule
matches a changed file gets the score 1.0 before :func:`~triage.domain.policy.decide`, so the rules pass through
the same never-fight-humans rules as the model's guesses (a label a human removed, an exclusive group already
taken, ``max_labels``, an issue a human already labeled).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from triage.domain.issues import Issue
from triage.domain.path_rules import merge_scores, model_body, rule_scores
from triage.domain.policy import Decision, Policy
from triage.domain.repo_config import RepoConfig
from triage.ports.github import GitHubApi


def with_files(api: GitHubApi, config: RepoConfig, issue: Issue) -> Issue:
    """``issue`` with its changed files when it is a pull request this repository labels (else unchanged: no
    request is made for a pull request that will be skipped)."""
    if not issue.is_pull_request or not config.pull_requests:
        return issue
    return dataclasses.replace(issue, paths=tuple(api.pull_files(issue.repo, issue.number)))


def model_input(issue: Issue) -> tuple[str, str]:
    """(title, body) as the model reads them: a pull request's changed files lead its body."""
    return issue.title, model_body(issue.body, issue.paths)


def with_rules(config: RepoConfig, issue: Issue, scores: Mapping[str, float],
               policy: Policy) -> tuple[dict[str, float], Policy, tuple[str, ...]]:
    """The scores with the path rules' labels raised to 1.0 for a pull request, the policy with those labels'
    thresholds at most 1.0 (a maintainer's rule stands whatever the model's threshold for its label, even one the
    model never reaches), and the rules' reasons. Rules apply only to pull requests, and never to a label the
    config excludes or does not allow; every other rule of :func:`~triage.domain.policy.decide` still applies."""
    if not issue.is_pull_request or not config.path_rules:
        return dict(scores), policy, ()
    rules = [rule for rule in config.path_rules if rule.label not in config.exclude
             and (not config.allow or rule.label in config.allow)]
    found, reasons = rule_scores(rules, issue.paths)
    if not found:
        return dict(scores), policy, ()
    thresholds = {**policy.thresholds, **{label: min(policy.threshold(label), score) for label, score in found.items()}}
    return merge_scores(scores, found), dataclasses.replace(policy, thresholds=thresholds), tuple(reasons)


def explained(decision: Decision, rule_reasons: tuple[str, ...]) -> Decision:
    """The decision with the reason of each path rule behind a label it adds."""
    added = {label for label, _ in decision.add}
    shown = tuple(reason for reason in rule_reasons if reason.split(": path rule ", 1)[0] in added)
    return dataclasses.replace(decision, reasons=decision.reasons + shown) if shown else decision
