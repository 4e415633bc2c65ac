"""Labeling: one batch use case for the queue trigger, the relabel fan-out after a promotion, and the CLI.

A batch loads what its issues share once (the model, the repository config, the GitHub client, the
label renames, the policy with auto-tuning applied, the writer) and then, per issue: fetches it fresh
(or takes it from the caller), decides with :func:`~triage.domain.policy.decide` on the labels' current
names, records the decision, writes through the writer, and marks the decision applied. Writing happens
only when neither the app (``TRIAGE_DRY_RUN``) nor the repository config (``dry_run``) is in dry run.
A request that cannot be decided (no model yet, a repository that is not configured, an invalid
repository config) is recorded as such and finishes: retrying would not help.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage.app import telemetry
from triage.app.bootstrap import Services
from triage.app.decisions import mark_applied, record_decision, stored_decision
from triage.app.moves import current_name
from triage.app.repo_settings import load_repo_config, record_config_error
from triage.app.writers import DryRunWriter, GitHubWriter, LabelWriter, comment_body, upsert_comment
from triage.data.ingest import stored_issues
from triage.data.sources import issue_from_github
from triage.domain.errors import ConfigError, InputError, NotFoundError
from triage.domain.issues import Issue, check_repo
from triage.domain.labels import NO_RENAMES, LabelNames
from triage.domain.policy import Decision, Policy, decide
from triage.domain.repo_config import RepoConfig
from triage.learning.feedback import label_names, removed_labels
from triage.learning.registry import read_pointer
from triage.learning.tuning import current_overrides, effective_thresholds, remember_config
from triage.ml.model import Classifier
from triage.ports.github import GitHubApi
from triage.ports.layout import model_prefix, pointer_name
from triage.ports.stores import DocumentStore


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


def _renamed(issue: Issue, names: LabelNames) -> Issue:
    """The issue with every label name (current labels and past events) as it is called now."""
    events = tuple(dataclasses.replace(e, label=names.current(e.label)) for e in issue.label_events)
    return dataclasses.replace(issue, labels=tuple(names.current(label) for label in issue.labels),
                               label_events=events)


@dataclass
class Batch:
    """What the issues of one batch share, loaded once."""

    repo: str
    model: Classifier
    config: RepoConfig
    policy: Policy
    names: LabelNames
    writer: LabelWriter
    dry_run: bool
    docs: DocumentStore
    api: GitHubApi | None
    bot_login: str
    config_error: ConfigError | None = None

    def label(self, number: int, issue: Issue | None = None) -> Decision:
        """Decide for one issue (fetched fresh from GitHub unless given), record, write; idempotent."""
        if self.config_error is not None:
            return self.skip(number, f"the repository config is invalid, nothing is labeled: {self.config_error}",
                             "config-error")
        if issue is None:
            assert self.api is not None, "a batch without a GitHub client needs the issues"
            item = self.api.get_issue(self.repo, number)
            issue = issue_from_github(item, self.repo, self.api.issue_events(self.repo, number))
        if issue.is_pull_request and not self.config.pull_requests:
            return self.skip(number, "pull requests are not labeled (pull_requests: false)", "skipped")
        if issue.state != "open":
            return self.skip(number, f"the issue is {issue.state}", "skipped")
        issue = _renamed(issue, self.names)
        done = self._already_applied(issue)
        if done is not None:
            return done
        scores: dict[str, float] = {}
        for label, score in self.model.scores(issue.title, issue.body).items():
            current = self.names.current(label)
            scores[current] = max(score, scores.get(current, 0.0))
        decision = decide(issue, scores, self.policy, self.model.version,
                          blocked=removed_labels(self.docs, self.repo, number, self.names))
        record_id = record_decision(self.docs, decision, dry_run=self.dry_run, policy=self.policy)
        if decision.add and record_id is not None:
            self.writer.add_labels(self.repo, number, [label for label, _ in decision.add])
            if not self.dry_run:
                mark_applied(self.docs, self.repo, record_id)
        if self.config.comment and self.api is not None:
            upsert_comment(self.api, self.docs, self.writer, self.repo, number, comment_body(decision),
                           self.bot_login, self.dry_run)
        return decision

    def _already_applied(self, issue: Issue) -> Decision | None:
        """A retry or a second request after this model's labels were written: the stored decision, marked applied."""
        stored = stored_decision(self.docs, self.repo, issue.number, self.model.version)
        if self.dry_run or not stored or not stored.get("add"):
            return None
        labels = [self.names.current(a["label"]) for a in stored["add"]]
        if not set(labels) <= set(issue.labels):
            return None
        mark_applied(self.docs, self.repo, stored["id"])
        return Decision(self.repo, issue.number, tuple((label, float(a["score"])) for label, a in zip(labels, stored["add"])),
                        tuple(stored.get("reasons") or ()), tuple((t["label"], float(t["score"])) for t in stored.get("top", [])),
                        self.model.version)

    def skip(self, number: int, reason: str, kind: str) -> Decision:
        """Record that the issue was not decided, and why."""
        decision = Decision(self.repo, number, (), (reason,), (), self.model.version)
        record_decision(self.docs, decision, dry_run=self.dry_run, kind=kind)
        return decision


def open_batch(s: Services, repo: str, model: Classifier, *, config: RepoConfig | None = None,
               api: GitHubApi | None = None, dry_run: bool = False) -> Batch:
    """Load what a batch of ``repo``'s issues shares; without ``config`` it is read from GitHub through ``api``."""
    error = None
    if config is None:
        api = api or s.github()
        try:
            config = load_repo_config(api, repo)
            remember_config(s.docs, repo, config)
        except ConfigError as exc:
            config, error = RepoConfig(), exc
        record_config_error(s.docs, repo, error)
    dry_run = dry_run or s.settings.dry_run or config.dry_run
    names = label_names(s.docs, repo, dict(config.aliases))
    policy = repo_policy(model, config, s.settings.bot_login, current_overrides(s.docs, repo, model.version), names)
    writer: LabelWriter = DryRunWriter() if dry_run or api is None else GitHubWriter(api)
    return Batch(repo, model, config, policy, names, writer, dry_run, s.docs, api, s.settings.bot_login, error)


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
        except Exception as exc:  # noqa: BLE001 - the relabel fan-out counts a failed issue and goes on
            if on_error == "raise":
                raise
            counts["failed"] += 1
            telemetry.event("RelabelFailed", repo=repo, issue=number, error=repr(exc)[:300])
            continue
        report(decision, batch.dry_run)
        decisions.append(decision)
        counts["abstained" if decision.abstained else "labeled"] += 1
    return {"decisions": decisions, "dry_run": batch.dry_run, **counts}


def report(decision: Decision, dry_run: bool) -> None:
    """Telemetry of one decision."""
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
        number = message["number"]
        if isinstance(number, bool) or not isinstance(number, int) or not 0 < number < 2**31:
            raise ValueError(f"issue number {number!r} is not a positive whole number")
        return check_repo(message["repo"]), number
    except (KeyError, TypeError, ValueError, InputError) as exc:
        raise InputError(f"malformed label request {dict(message)!r:.200}: {exc}") from exc


def label_request(s: Services, message: Mapping[str, Any], cache: ModelCache) -> dict[str, Any]:
    """Handle one ``label-requests`` message: a batch of one issue, raising only where a retry can help."""
    repo, number = parse_request(message)
    repo = current_name(s.docs, repo)  # a request queued under a repository's old name lands under its new one
    try:
        model = cache.get(s, repo)
    except NotFoundError:
        configured = not s.app.repositories or repo in s.app.repositories
        kind, reason = (("no-model", f"no model has been promoted for {repo} yet; train one first") if configured
                        else ("not-configured", f"{repo} is not one of TRIAGE_REPOSITORIES and has no model"))
        decision = Decision(repo, number, (), (reason,), (), None)
        record_decision(s.docs, decision, dry_run=True, kind=kind)
        report(decision, True)
        return decision.to_dict() | {"dry_run": True, "kind": kind}
    result = label_batch(s, repo, [number], model, reason=str(message.get("reason") or ""))
    return result["decisions"][0].to_dict() | {"dry_run": result["dry_run"]}


def relabel_batch(s: Services, repo: str, numbers: list[int], cache: ModelCache) -> dict[str, int]:
    """Label a batch after a promotion; one failed issue does not stop the batch (it is counted)."""
    result = label_batch(s, repo, numbers, cache.get(s, repo), reason="relabel", on_error="count")
    return {k: result[k] for k in ("labeled", "abstained", "failed")}


def open_unlabeled_issues(s: Services, repo: str, cache: ModelCache) -> list[int]:
    """Open issues (not pull requests, not gone) with no human-applied label among the current model's labels."""
    names = label_names(s.docs, repo)
    labels = names.all_current(cache.get(s, repo).labels)
    return [i.number for i in stored_issues(s.docs, repo) if i.state == "open" and not i.is_pull_request
            and not i.gone and not names.all_current(i.human_labels(s.settings.bot_login)) & labels]


def label_issues(s: Services, repo: str, issues: Sequence[Issue], model: Classifier,
                 config: RepoConfig) -> tuple[list[Decision], list[str]]:
    """Decide for issues read from a file (the CLI and the demo): always a dry run; returns decisions and calls."""
    batch = open_batch(s, repo, model, config=config, dry_run=True)
    decisions = [batch.label(issue.number, issue) for issue in issues]
    assert isinstance(batch.writer, DryRunWriter)
    return decisions, batch.writer.calls

