"""Handling one label request from the queue: fetch the issue fresh, decide, write (or log), record."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from .errors import InputError
from .feedback import removed_labels
from .github_api import GitHubApi
from .issues import check_repo
from .labeler import DryRunWriter, LabelWriter, record_decision
from .model import Classifier
from .policy import Decision, Policy, decide
from .repo_config import RepoConfig
from .sources import issue_from_github
from .stores import DocumentStore
from .tuning import apply_overrides, current_overrides, remember_config

log = logging.getLogger(__name__)
COMMENT_MARKER = "<!-- issue-triage:prediction -->"


class GitHubWriter:
    """A :class:`LabelWriter` that adds labels on GitHub, one call per issue."""

    def __init__(self, api: GitHubApi) -> None:
        self.api = api

    def add_labels(self, repo: str, number: int, labels: list[str] | tuple[str, ...]) -> None:
        """``POST /repos/{repo}/issues/{number}/labels``."""
        self.api.add_labels(repo, number, list(labels))


def repo_policy(model: Classifier, config: RepoConfig, bot_login: str,
                overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Policy:
    """The policy from the model's thresholds, raised or paused by auto-tuning ``overrides``,
    with the repository config's thresholds winning over both (a per-label threshold pins it)."""
    thresholds = {label: config.default_threshold or model.thresholds[label] for label in model.labels}
    thresholds, paused = apply_overrides(thresholds, overrides or {}, frozenset(config.thresholds))
    thresholds.update({label: t for label, t in config.thresholds.items() if label in thresholds})
    return Policy(thresholds=thresholds, max_labels=config.max_labels,
                  excluded=(frozenset(config.exclude) & set(model.labels)) | _not_allowed(model, config),
                  bot_login=bot_login, single_label=model.single_label, exclusive=config.exclusive, paused=paused)


def _not_allowed(model: Classifier, config: RepoConfig) -> frozenset[str]:
    return frozenset(set(model.labels) - set(config.allow)) if config.allow else frozenset()


def parse_request(message: Mapping[str, Any]) -> tuple[str, int]:
    """(repo, number) of a label request; :class:`InputError` if malformed."""
    try:
        return check_repo(str(message["repo"])), int(message["number"])
    except (KeyError, TypeError, ValueError, InputError) as exc:
        raise InputError(f"malformed label request {dict(message)!r:.200}: {exc}") from exc


def handle_label_request(message: Mapping[str, Any], api: GitHubApi, docs: DocumentStore, model: Classifier,
                         config: RepoConfig, bot_login: str, dry_run: bool) -> Decision:
    """Label one issue if the policy allows; idempotent, so a retried message changes nothing.

    Raises on GitHub or store failures so that the queue retries the message.
    """
    repo, number = parse_request(message)
    item = api.get_issue(repo, number)
    issue = issue_from_github(item, repo, api.issue_events(repo, number))
    if issue.is_pull_request and not config.pull_requests:
        decision = Decision(repo, number, (), ("pull requests are not labeled (pull_requests: false)",), (), model.version)
        record_decision(docs, decision)
        return decision
    if issue.state != "open":
        decision = Decision(repo, number, (), (f"the issue is {issue.state}",), (), model.version)
        record_decision(docs, decision)
        return decision
    scores = model.scores(issue.title, issue.body)
    remember_config(docs, repo, config)
    policy = repo_policy(model, config, bot_login, current_overrides(docs, repo, model.version))
    decision = decide(issue, scores, policy, model.version, blocked=removed_labels(docs, repo, number))
    writer: LabelWriter = DryRunWriter() if dry_run else GitHubWriter(api)
    if decision.add:
        writer.add_labels(repo, number, [label for label, _ in decision.add])
    if config.comment:
        _upsert_comment(api, repo, number, decision, bot_login, dry_run)
    record_decision(docs, decision, dry_run=dry_run, policy=policy)
    return decision


def comment_body(decision: Decision) -> str:
    """The prediction comment: the top-3 labels and their confidences."""
    lines = [COMMENT_MARKER, "**Label suggestions** (from this repository's history):", ""]
    lines += [f"- `{label}`: {score:.0%}" for label, score in decision.top[:3]]
    if decision.add:
        lines += ["", f"Applied: {', '.join(f'`{label}`' for label, _ in decision.add)}."]
    return "\n".join(lines)


def _upsert_comment(api: GitHubApi, repo: str, number: int, decision: Decision, bot_login: str, dry_run: bool) -> None:
    """Post the prediction comment once; later predictions edit it in place (only if it changed)."""
    body = comment_body(decision)
    mine = [c for c in api.list_comments(repo, number)
            if COMMENT_MARKER in (c.get("body") or "") and (c.get("user") or {}).get("login") == bot_login]
    if mine and mine[0].get("body") == body:
        return
    if dry_run:
        verb = f"PATCH /repos/{repo}/issues/comments/{mine[0]['id']}" if mine else f"POST /repos/{repo}/issues/{number}/comments"
        log.info("dry run: would call %s", verb)
    elif mine:
        api.edit_comment(repo, int(mine[0]["id"]), body)
    else:
        api.create_comment(repo, number, body)
