"""Labeling: one batch use case for the queue trigger, the relabel fan-out after a promotion, and the CLI.

A batch loads what its issues share once (the model, the repository config, the GitHub client,
the policy with auto-tuning applied, the writer) and then, per issue: fetches it fresh (or takes
it from the caller), decides with :func:`~triage.domain.policy.decide`, writes through the
writer and records the decision. Writing happens only when neither the app (``TRIAGE_DRY_RUN``)
nor the repository config (``dry_run``) is in dry run; otherwise :class:`DryRunWriter` records the
exact calls it would make.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from triage.app import telemetry
from triage.app.bootstrap import Services
from triage.app.settings import Settings
from triage.data.ingest import stored_issues
from triage.data.sources import issue_from_github
from triage.domain.errors import InputError, NotFoundError
from triage.domain.issues import Issue, check_repo
from triage.domain.policy import Decision, Policy, decide
from triage.domain.repo_config import CONFIG_PATH, RepoConfig, parse_repo_config
from triage.learning.feedback import removed_labels
from triage.learning.registry import read_pointer
from triage.learning.tuning import (
    current_overrides,
    effective_thresholds,
    remember_config,
)
from triage.ml.model import Classifier
from triage.ports.github import GitHubApi
from triage.ports.layout import model_prefix, pointer_name
from triage.ports.records import Prediction
from triage.ports.stores import DocumentStore

log = logging.getLogger(__name__)
COMMENT_MARKER = "<!-- issue-triage:prediction -->"


class LabelWriter(Protocol):
    """Where a batch's writes go: GitHub, or a dry-run record of the calls."""

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """``POST /repos/{repo}/issues/{number}/labels`` with ``labels``."""
        ...

    def comment(self, repo: str, number: int, body: str, existing: int | None) -> None:
        """Post the prediction comment, or replace the body of comment ``existing``."""
        ...


class GitHubWriter:
    """A :class:`LabelWriter` that writes to GitHub, one call per change."""

    def __init__(self, api: GitHubApi) -> None:
        self.api = api

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """Add the labels in one call."""
        self.api.add_labels(repo, number, list(labels))

    def comment(self, repo: str, number: int, body: str, existing: int | None) -> None:
        """Create the comment, or edit it in place."""
        if existing is None:
            self.api.create_comment(repo, number, body)
        else:
            self.api.edit_comment(repo, existing, body)


@dataclass
class DryRunWriter:
    """Shadow mode: records and logs the exact GitHub calls instead of making them."""

    calls: list[str] = field(default_factory=list)

    def _log(self, call: str) -> None:
        self.calls.append(call)
        log.info("dry run: would call %s", call)

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """Record ``POST /repos/{repo}/issues/{number}/labels`` with its body."""
        self._log(f"POST /repos/{repo}/issues/{number}/labels {json.dumps({'labels': list(labels)})}")

    def comment(self, repo: str, number: int, body: str, existing: int | None) -> None:
        """Record the comment's POST or PATCH."""
        self._log(f"POST /repos/{repo}/issues/{number}/comments" if existing is None
                  else f"PATCH /repos/{repo}/issues/comments/{existing}")


def load_repo_config(api: GitHubApi, repo: str) -> RepoConfig:
    """Read and validate the repository's config file through the GitHub API (defaults if absent)."""
    return parse_repo_config(api.get_file(repo, CONFIG_PATH), source=f"{repo}:{CONFIG_PATH}")


def repo_policy(model: Classifier, config: RepoConfig, bot_login: str,
                overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Policy:
    """The policy in force: the model's labels with the effective thresholds and the config's rules."""
    thresholds, paused, _ = effective_thresholds(model.thresholds, overrides or {}, config.default_threshold,
                                                 config.thresholds)
    not_allowed = frozenset(set(model.labels) - set(config.allow)) if config.allow else frozenset()
    return Policy(thresholds=thresholds, max_labels=config.max_labels,
                  excluded=(frozenset(config.exclude) & set(model.labels)) | not_allowed,
                  bot_login=bot_login, single_label=model.single_label, exclusive=config.exclusive, paused=paused)


def prediction_record(decision: Decision, *, dry_run: bool = True, policy: Policy | None = None,
                      kind: str = "model") -> Prediction:
    """The stored form of a decision (one document per issue and model version)."""
    data = decision.to_dict()
    return Prediction(id=f"{decision.number}:{decision.model_version}", repo=decision.repo, number=decision.number,
                      model_version=decision.model_version, add=data["add"], top=data["top"],
                      abstained=decision.abstained, reasons=list(decision.reasons), dry_run=dry_run,
                      applied=bool(decision.add) and not dry_run,
                      single_label=policy.single_label if policy else True,
                      exclusive=list(policy.exclusive) if policy else [], kind=kind)


def record_decision(docs: DocumentStore, decision: Decision, dry_run: bool = True, policy: Policy | None = None) -> None:
    """Store a decision in the predictions container."""
    docs.upsert(Prediction.container, prediction_record(decision, dry_run=dry_run, policy=policy).to_doc())


def comment_body(decision: Decision) -> str:
    """The prediction comment: the top-3 labels and their confidences."""
    lines = [COMMENT_MARKER, "**Label suggestions** (from this repository's history):", ""]
    lines += [f"- `{label}`: {score:.0%}" for label, score in decision.top[:3]]
    if decision.add:
        lines += ["", f"Applied: {', '.join(f'`{label}`' for label, _ in decision.add)}."]
    return "\n".join(lines)


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


@dataclass
class Batch:
    """What the issues of one batch share, loaded once."""

    repo: str
    model: Classifier
    config: RepoConfig
    policy: Policy
    writer: LabelWriter
    dry_run: bool
    docs: DocumentStore
    api: GitHubApi | None
    bot_login: str

    def label(self, number: int, issue: Issue | None = None) -> Decision:
        """Decide for one issue (fetched fresh from GitHub unless given), write, record; idempotent."""
        if issue is None:
            assert self.api is not None, "a batch without a GitHub client needs the issues"
            item = self.api.get_issue(self.repo, number)
            issue = issue_from_github(item, self.repo, self.api.issue_events(self.repo, number))
        if issue.is_pull_request and not self.config.pull_requests:
            return self._skip(number, "pull requests are not labeled (pull_requests: false)")
        if issue.state != "open":
            return self._skip(number, f"the issue is {issue.state}")
        scores = self.model.scores(issue.title, issue.body)
        decision = decide(issue, scores, self.policy, self.model.version,
                          blocked=removed_labels(self.docs, self.repo, number))
        if decision.add:
            self.writer.add_labels(self.repo, number, [label for label, _ in decision.add])
        if self.config.comment and self.api is not None:
            self._comment(number, decision)
        record_decision(self.docs, decision, dry_run=self.dry_run, policy=self.policy)
        return decision

    def _skip(self, number: int, reason: str) -> Decision:
        decision = Decision(self.repo, number, (), (reason,), (), self.model.version)
        record_decision(self.docs, decision, dry_run=self.dry_run)
        return decision

    def _comment(self, number: int, decision: Decision) -> None:
        """Post the prediction comment once; later predictions edit it in place (only if it changed)."""
        assert self.api is not None
        body = comment_body(decision)
        mine = [c for c in self.api.list_comments(self.repo, number)
                if COMMENT_MARKER in (c.get("body") or "") and (c.get("user") or {}).get("login") == self.bot_login]
        if mine and mine[0].get("body") == body:
            return
        self.writer.comment(self.repo, number, body, int(mine[0]["id"]) if mine else None)


def open_batch(s: Services, repo: str, model: Classifier, *, config: RepoConfig | None = None,
               api: GitHubApi | None = None, dry_run: bool = False) -> Batch:
    """Load what a batch of ``repo``'s issues shares; without ``config`` it is read from GitHub through ``api``."""
    if config is None:
        api = api or s.github()
        config = load_repo_config(api, repo)
        remember_config(s.docs, repo, config)
    dry_run = dry_run or s.settings.dry_run or config.dry_run
    policy = repo_policy(model, config, s.settings.bot_login, current_overrides(s.docs, repo, model.version))
    writer: LabelWriter = DryRunWriter() if dry_run or api is None else GitHubWriter(api)
    return Batch(repo, model, config, policy, writer, dry_run, s.docs, api, s.settings.bot_login)


def label_batch(s: Services, repo: str, numbers: Sequence[int], model: Classifier, *, reason: str = "",
                on_error: str = "raise") -> dict[str, Any]:
    """Label issues of ``repo`` with ``model``: one GitHub client, config and policy for the whole batch.

    ``on_error="raise"`` (the queue: the host retries the message) or ``"count"`` (the relabel
    fan-out: one failed issue does not stop the batch). Returns the decisions and the counts.
    """
    batch = open_batch(s, repo, model)
    decisions: list[Decision] = []
    counts = {"labeled": 0, "abstained": 0, "failed": 0}
    for number in numbers:
        try:
            with telemetry.span("label_request", repo=repo, issue=number, reason=reason):
                decision = batch.label(number)
        except Exception as exc:
            if on_error == "raise":
                raise
            counts["failed"] += 1
            telemetry.event("RelabelFailed", repo=repo, issue=number, error=repr(exc)[:300])
            continue
        _report(decision, batch.dry_run)
        decisions.append(decision)
        counts["abstained" if decision.abstained else "labeled"] += 1
    return {"decisions": decisions, "dry_run": batch.dry_run, **counts}


def _report(decision: Decision, dry_run: bool) -> None:
    telemetry.event("LabelDecision", repo=decision.repo, issue=decision.number, model=decision.model_version,
                    labels=[label for label, _ in decision.add], confidences=[round(c, 4) for _, c in decision.add],
                    top=[label for label, _ in decision.top], applied=bool(decision.add) and not dry_run,
                    abstained=decision.abstained, reason="; ".join(decision.reasons), dry_run=dry_run)
    telemetry.count("triage.decisions", 1, repo=decision.repo, outcome="abstained" if decision.abstained else "labeled")
    for label, confidence in decision.add:
        telemetry.record("triage.confidence", confidence, repo=decision.repo, label=label)


def parse_request(message: Mapping[str, Any]) -> tuple[str, int]:
    """(repo, number) of a label request; :class:`InputError` if malformed."""
    try:
        return check_repo(str(message["repo"])), int(message["number"])
    except (KeyError, TypeError, ValueError, InputError) as exc:
        raise InputError(f"malformed label request {dict(message)!r:.200}: {exc}") from exc


def label_request(s: Services, message: Mapping[str, Any], cache: ModelCache) -> dict[str, Any]:
    """Handle one ``label-requests`` message: a batch of one issue that raises so the queue retries."""
    repo, number = parse_request(message)
    result = label_batch(s, repo, [number], cache.get(s, repo), reason=str(message.get("reason") or ""))
    return result["decisions"][0].to_dict() | {"dry_run": result["dry_run"]}


def relabel_batch(s: Services, repo: str, numbers: list[int], cache: ModelCache) -> dict[str, int]:
    """Label a batch after a promotion; one failed issue does not stop the batch (it is counted)."""
    result = label_batch(s, repo, numbers, cache.get(s, repo), reason="relabel", on_error="count")
    return {k: result[k] for k in ("labeled", "abstained", "failed")}


def open_unlabeled_issues(s: Services, repo: str, cache: ModelCache) -> list[int]:
    """Open issues (not pull requests) that carry no human-applied label from the current model's labels."""
    labels = set(cache.get(s, repo).labels)
    return [i.number for i in stored_issues(s.docs, repo) if i.state == "open" and not i.is_pull_request
            and not set(i.human_labels(s.settings.bot_login)) & labels]


def file_config(settings: Settings) -> RepoConfig:
    """The repository config for issues read from a file: the app's most labels and deny list, in dry run."""
    return RepoConfig(max_labels=settings.max_labels, exclude=settings.deny_labels)


def label_issues(s: Services, repo: str, issues: Sequence[Issue], model: Classifier,
                 config: RepoConfig) -> tuple[list[Decision], list[str]]:
    """Decide for issues read from a file (the CLI and the demo): always a dry run; returns decisions and calls."""
    batch = open_batch(s, repo, model, config=config, dry_run=True)
    decisions = [batch.label(issue.number, issue) for issue in issues]
    assert isinstance(batch.writer, DryRunWriter)
    return decisions, batch.writer.calls
