"""Labeling: one batch use case for the queue trigger, the relabel fan-out after a promotion, and the CLI.

A batch loads what its issues share once (the model, the repository config, the GitHub client, the
label renames, the policy with auto-tuning applied, the writer) and then, per issue: fetches it fresh
(or takes it from the caller), decides with :func:`~triage.domain.policy.decide` on the labels' current
names, records the decision, writes through the writer, and marks the decision applied. Writing happens
only when neither the app (``TRIAGE_DRY_RUN``) nor the repository config (``dry_run``) is in dry run.
A request that cannot be decided (no model yet, a repository that is not configured, an invalid
repository config) is recorded as such and finishes: retrying would not help. The abstain label is in
:mod:`triage.app.abstain`; the delay's and the edits' rules in :mod:`triage.app.humans_first`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage.app import abstain, pulls, routing, telemetry
from triage.app.bootstrap import Services
from triage.app.decisions import mark_applied, record_decision, stored_decision
from triage.app.humans_first import RELABEL_REASONS, humans_first, relabel
from triage.app.moves import current_name
from triage.app.repo_settings import load_repo_config, record_config_error
from triage.app.serving import ModelCache, renamed, repo_policy, with_evidence
from triage.app.writers import DryRunWriter, GitHubWriter, LabelWriter, comment_body, upsert_comment
from triage.data.sources import issue_from_github
from triage.domain.errors import ConfigError, InputError, NotFoundError
from triage.domain.issues import Issue, check_repo
from triage.domain.labels import LabelNames
from triage.domain.policy import Decision, Policy, decide
from triage.domain.repo_config import RepoConfig
from triage.learning.feedback import label_names, removed_labels
from triage.learning.tuning import current_overrides, remember_config
from triage.ml.model import Classifier
from triage.ports.github import GitHubApi
from triage.ports.records import PREDICTIONS
from triage.ports.stores import DocumentStore


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
    assignee_model: Any = None  # () -> the learned assignee model or None, for owner routing (triage.app.routing)

    def fetch(self, number: int) -> tuple[Issue, list[dict[str, Any]]]:
        """The issue as GitHub has it now, and its events."""
        assert self.api is not None, "a batch without a GitHub client needs the issues"
        item = self.api.get_issue(self.repo, number)
        events = self.api.issue_events(self.repo, number)
        return pulls.with_files(self.api, self.config, issue_from_github(item, self.repo, events)), events

    def label(self, number: int, issue: Issue | None = None, reason: str = "", delayed: bool = False,
              events: Sequence[dict[str, Any]] = (), raw_scores: Mapping[str, float] | None = None) -> Decision:
        """Decide for one issue (fetched fresh from GitHub unless given, with its ``events``), record, write;
        idempotent. ``raw_scores``: the model's scores of this issue when the caller scored a chunk at once.

        ``reason``: why it was requested (``edited`` and ``transferred`` re-predict under ``relabel_on_edit``);
        ``delayed``: the request waited ``TRIAGE_LABEL_DELAY_SECONDS``, so humans who acted meanwhile go first.
        """
        if self.config_error is not None:
            return self.skip(number, f"the repository config is invalid, nothing is labeled: {self.config_error}",
                             "config-error")
        if issue is None:
            issue, events = self.fetch(number)
        if issue.is_pull_request and not self.config.pull_requests:
            return self.skip(number, "pull requests are not labeled (pull_requests: false)", "skipped")
        if issue.state != "open":
            return self.skip(number, f"the issue is {issue.state}", "skipped")
        issue = renamed(issue, self.names)
        if delayed and reason != "edited":  # an edit's meantime says nothing about who took the issue
            first = humans_first(issue, events, self.model_labels, self.bot_login)
            if first:
                return self.skip(number, first, "humans-first")
        scores: dict[str, float] = {}
        raw = raw_scores if raw_scores is not None else self.model.scores(*pulls.model_input(issue))
        for label, score in raw.items():
            current = self.names.current(label)
            scores[current] = max(score, scores.get(current, 0.0))
        scores, policy, rule_reasons = pulls.with_rules(self.config, issue, scores, self.policy)
        blocked = removed_labels(self.docs, self.repo, number, self.names)
        if reason in RELABEL_REASONS and self.config.relabel_on_edit:
            swapped = relabel(self, issue, scores, blocked)
            if swapped is not None:
                return swapped
        done = self._already_applied(issue)
        if done is not None:
            return routing.route(self, issue, done, reason)
        decision = pulls.explained(with_evidence(decide(issue, scores, policy, self.model.version, blocked=blocked),
                                                 issue, self.model, self.names), rule_reasons)
        record_id = record_decision(self.docs, decision, dry_run=self.dry_run, policy=self.policy)
        adding = [label for label, _ in decision.add] if record_id is not None else []
        decision = self.write(issue, decision, adding, record_id, blocked)
        if self.config.comment and self.api is not None:
            upsert_comment(self.api, self.docs, self.writer, self.repo, number, comment_body(decision),
                           self.bot_login, self.dry_run)
        return routing.route(self, issue, decision, reason)

    @property
    def model_labels(self) -> frozenset[str]:
        """The labels the model may apply, by their current names."""
        return frozenset(self.policy.thresholds)

    def write(self, issue: Issue, decision: Decision, adding: list[str], record_id: str | None,
              blocked: frozenset[str], removing: Sequence[str] = ()) -> Decision:
        """Write the decision's labels, the abstain labels it calls for and (``removing``) the bot's labels it
        replaces: one POST for every label added, then one DELETE per label taken away. Returns the decision
        with the abstain labels' reasons added."""
        number = issue.number
        changes = abstain.plan(self.config.abstain_labels, issue, adding, self.model_labels, blocked,
                               self.bot_login)
        marks = [label for label in changes.add if self.dry_run or abstain.claim(self.docs, self.repo, number, label)]
        if adding or marks:
            try:
                self.writer.add_labels(self.repo, number, adding + marks)
            except BaseException:
                for label in marks:
                    abstain.release(self.docs, self.repo, number, label)
                raise
        if not self.dry_run:
            abstain.adopt(self.docs, self.repo, issue, self.config.abstain_labels, self.bot_login)
            if adding and record_id is not None:
                mark_applied(self.docs, self.repo, record_id)
            for label in marks:
                abstain.mark(self.docs, self.repo, number, label, "applied")
        for label in (*removing, *changes.remove):
            self.writer.remove_label(self.repo, number, label)
            if not self.dry_run and label in changes.remove:
                abstain.mark(self.docs, self.repo, number, label, "removed")
        once = set(changes.add) - set(marks)  # applied once already: never again
        shown = tuple(text for label, text in changes.reasons if label not in once)
        if not shown:
            return decision
        stored = self.docs.get(PREDICTIONS, self.repo, record_id) if record_id else None
        if stored is not None:  # the dashboard's "why" names the abstain label too
            self.docs.upsert(PREDICTIONS, {**stored, "reasons": [*stored.get("reasons", ()), *shown]})
        return dataclasses.replace(decision, reasons=decision.reasons + shown)

    def tidy(self, number: int) -> Decision:
        """After a human labeled the issue: take back the bot's abstain labels of the groups now labeled."""
        if self.config_error is not None:
            return self.skip(number, f"the repository config is invalid, nothing is changed: {self.config_error}",
                             "config-error")
        assert self.api is not None, "tidying reads the issue from GitHub"
        issue = renamed(issue_from_github(self.api.get_issue(self.repo, number), self.repo,
                                           self.api.issue_events(self.repo, number)), self.names)
        changes = abstain.plan(self.config.abstain_labels, issue, (), self.model_labels, frozenset(), self.bot_login)
        for label in changes.remove:
            self.writer.remove_label(self.repo, number, label)
            if not self.dry_run:
                abstain.mark(self.docs, self.repo, number, label, "removed")
        reasons = tuple(text for label, text in changes.reasons if label in changes.remove)
        return Decision(self.repo, number, (), reasons or ("no abstain label to take back",), (), self.model.version)

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
    return Batch(repo, model, config, policy, names, writer, dry_run, s.docs, api, s.settings.bot_login, error,
                 routing.model_loader(s, repo))


def label_batch(s: Services, repo: str, numbers: Sequence[int], model: Classifier, *, reason: str = "",
                delayed: bool = False) -> dict[str, Any]:
    """Label issues of ``repo`` with ``model``: one GitHub client, config and policy for the whole batch; an error
    is raised (the queue's host retries the message; the relabel fan-out, which counts failures instead, is
    :mod:`triage.app.relabel`). ``reason`` and ``delayed`` as in :meth:`Batch.label`. Returns the decisions and
    the counts."""
    batch = open_batch(s, repo, model)
    counts = {"labeled": 0, "abstained": 0, "failed": 0}
    decisions = [label_one(batch, number, counts, reason=reason, delayed=delayed) for number in numbers]
    return {"decisions": decisions, "dry_run": batch.dry_run, **counts}


def label_one(batch: Batch, number: int, counts: dict[str, int], *, reason: str = "", **label: Any) -> Decision:
    """:meth:`Batch.label` (with ``label``'s arguments) in its telemetry span, then reported and counted."""
    with telemetry.span("label_request", repo=batch.repo, issue=number, reason=reason):
        decision = batch.label(number, reason=reason, **label)
    report(decision, batch.dry_run)
    counts["abstained" if decision.abstained else "labeled"] += 1
    return decision


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
    """(repo, number) of a label request; :class:`InputError` if malformed (also for a bad ``delay``)."""
    try:
        number = message["number"]
        if isinstance(number, bool) or not isinstance(number, int) or not 0 < number < 2**31:
            raise ValueError(f"issue number {number!r} is not a positive whole number")
        delay = message.get("delay", 0)
        if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
            raise ValueError(f"delay {delay!r} is not a whole number of seconds")
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
    reason = str(message.get("reason") or "")[:40]
    if reason == abstain.TIDY_REASON:
        batch = open_batch(s, repo, model)
        with telemetry.span("abstain_tidy", repo=repo, issue=number):
            decision = batch.tidy(number)
        telemetry.event("AbstainLabelTidy", repo=repo, issue=number, reason="; ".join(decision.reasons),
                        dry_run=batch.dry_run)
        return decision.to_dict() | {"dry_run": batch.dry_run}
    result = label_batch(s, repo, [number], model, reason=reason, delayed=bool(message.get("delay")))
    return result["decisions"][0].to_dict() | {"dry_run": result["dry_run"]}


def label_issues(s: Services, repo: str, issues: Sequence[Issue], model: Classifier,
                 config: RepoConfig) -> tuple[list[Decision], list[str]]:
    """Decide for issues read from a file (the CLI and the demo): always a dry run; returns decisions and calls."""
    batch = open_batch(s, repo, model, config=config, dry_run=True)
    decisions = [batch.label(issue.number, issue) for issue in issues]
    assert isinstance(batch.writer, DryRunWriter)
    return decisions, batch.writer.calls

