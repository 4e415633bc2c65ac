"""Owner routing: once an issue's labels are decided, assign it to one person (the ``routing`` config section).

The rules, in order:

1. Never touch an issue that has an assignee, or whose history shows a human (un)assigned anyone: a
   maintainer's choice stands, also after they took someone off.
2. The owners of the first ``routing.owners`` entry matching one of the issue's labels (those it carries and
   those just decided), the ``away`` people left out; among several, ``least_assigned`` (fewest open issues
   assigned in the issue store: no GitHub call) or ``round_robin`` (a turn counter in the document store).
3. Else, with ``learned: true``, the learned assignee model: the person it scores highest among those whose
   score clears their own threshold (picked at the target precision), never someone away.

The assignment is one ``POST .../assignees`` (recorded, not sent, in dry run) and is recorded on the issue's
decision (``assign``: login, reason, how, applied) for the dashboard and for feedback
(:mod:`triage.learning.assignee_feedback`). Retries and concurrent workers assign once: the first worker claims
``route:{number}`` with the store's atomic create and everyone else reuses its choice. Round-robin turns are
tickets ``turn:{hash of the pattern}:{n}`` created atomically, so two workers never get the same turn; a hint
document keeps the next number, and a stale hint only costs a few more creates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from triage.app import telemetry
from triage.app.assignee_training import load_assignee_model, train_assignees
from triage.data.ingest import issue_document
from triage.domain.assignments import human_touched
from triage.domain.issues import Issue
from triage.domain.policy import Decision
from triage.domain.repo_config import RepoConfig
from triage.domain.routing_config import RoutingConfig
from triage.learning.feedback import latest_prediction
from triage.learning.tuning import known_config
from triage.ports.records import DELIVERIES, ISSUES, PREDICTIONS, now_iso
from triage.ports.stores import DocumentStore

if TYPE_CHECKING:
    from triage.app.bootstrap import Services
    from triage.app.writers import LabelWriter

log = logging.getLogger(__name__)
MODEL_SECONDS = 600  # how long a worker keeps a loaded assignee model before looking for a newer one
MAX_TURN_PROBES = 1000
RULE_WORDS = {"least_assigned": "fewest open issues", "round_robin": "round robin"}
_models: dict[tuple[int, str], tuple[float, Any]] = {}


@dataclass(frozen=True)
class Route:
    """Who gets the issue (``login`` None: nobody) and why; ``via``: ``owner``, ``learned`` or ``""``."""

    login: str | None
    reason: str
    via: str = ""
    score: float | None = None

    def to_doc(self, applied: bool) -> dict[str, Any]:
        """The ``assign`` field of the decision record."""
        return {"login": self.login, "reason": self.reason, "via": self.via, "score": self.score,
                "applied": applied, "at": now_iso()}


def leave_alone(issue: Issue, bot_login: str | None) -> str | None:
    """Why routing must not touch ``issue`` (it has an assignee, or a human (un)assigned before), or None."""
    if issue.assignees:
        return f"already assigned to {', '.join(issue.assignees)}"
    if human_touched(issue, bot_login):
        return "a human assigned or unassigned someone before: left to them"
    return None


def pick_owner(owners: Sequence[str], rule: str, *, counts: Mapping[str, int] | None = None, turn: int = 0) -> str:
    """One of ``owners`` (not empty): the first with the fewest open issues (``counts``, by lower-case login),
    or the one whose ``turn`` it is."""
    if rule == "round_robin":
        return owners[turn % len(owners)]
    counts = counts or {}
    return min(owners, key=lambda login: (counts.get(login.lower(), 0), owners.index(login)))


def learned_pick(scores: Mapping[str, float], thresholds: Mapping[str, float], config: RoutingConfig) -> Route:
    """The highest-scoring person whose score clears their threshold and who is not away."""
    sure = [(score, login) for login, score in scores.items()
            if login in thresholds and score >= thresholds[login] and not config.is_away(login)]
    if not sure:
        return Route(None, "learned: nobody's score clears their threshold")
    score, login = max(sure, key=lambda pair: (pair[0], pair[1]))
    return Route(login, f"learned: {score:.2f} ≥ {thresholds[login]:.2f}", "learned", round(score, 4))


def choose(config: RoutingConfig, issue: Issue, labels: Sequence[str], *, counts: Callable[[Sequence[str]], dict[str, int]],
           turn: Callable[[str], int], model: Callable[[], Any]) -> Route:
    """Whom the rules give ``issue`` with ``labels`` (the issue's and the decided ones); store reads are callbacks,
    called only when the rule needs them."""
    found = config.owners_for(labels)
    if found is not None:
        pattern, label, owners = found
        several = len(owners) > 1
        words = RULE_WORDS[config.rule] if several else "the only owner present"
        login = pick_owner(owners, config.rule, counts=counts(owners) if several and config.rule == "least_assigned"
                           else None, turn=turn(pattern) if several and config.rule == "round_robin" else 0)
        return Route(login, f"owner of {label} ({words})", "owner")
    if not config.learned:
        return Route(None, "no routing.owners entry matches the labels, and routing.learned is off")
    loaded = model()
    if loaded is None:
        return Route(None, "no routing.owners entry matches the labels, and no assignee model is trained yet")
    return learned_pick(loaded.scores(issue.title, issue.body, list(labels)), loaded.thresholds, config)


def open_counts(docs: DocumentStore, repo: str, logins: Sequence[str]) -> dict[str, int]:
    """Open issues in the store whose (first) assignee is each of ``logins``: one count each, by the store."""
    return {login.lower(): docs.count(ISSUES, repo, state="open", assignee=login.lower()) for login in logins}


def take_turn(docs: DocumentStore, repo: str, pattern: str, *, dry_run: bool) -> int:
    """The next round-robin turn of ``pattern``'s owners; taken atomically unless ``dry_run`` (then only read)."""
    key = f"turn:{hashlib.sha256(pattern.encode()).hexdigest()[:16]}"
    hint = docs.get(DELIVERIES, repo, key) or {}
    n = int(hint.get("next", 0))
    for _ in range(MAX_TURN_PROBES):  # the hint can lag behind a concurrent worker's ticket: look past taken turns
        ticket = f"{key}:{n}"
        if dry_run and docs.get(DELIVERIES, repo, ticket) is None:
            return n
        if not dry_run and docs.create(DELIVERIES, {"id": ticket, "repo": repo, "kind": "route-turn", "at": now_iso()}):
            docs.upsert(DELIVERIES, {"id": key, "repo": repo, "kind": "route-turn", "next": n + 1, "at": now_iso()})
            return n
        n += 1
    raise RuntimeError(f"no free round-robin turn for {pattern!r} after {MAX_TURN_PROBES} tries")


def model_loader(s: Services, repo: str) -> Callable[[], Any]:
    """A function giving ``repo``'s assignee model (None before one is trained), loaded at most once per
    :data:`MODEL_SECONDS` per worker."""
    def load() -> Any:
        key, now = (id(s), repo), time.monotonic()
        held = _models.get(key)
        if held is None or now - held[0] > MODEL_SECONDS:
            try:
                held = (now, load_assignee_model(s, repo))
            except Exception as exc:  # noqa: BLE001 - a broken model must not fail the label request behind it
                log.warning("the assignee model of %s cannot be loaded: %s", repo, exc)
                telemetry.event("AssigneeModelUnreadable", repo=repo, error=f"{type(exc).__name__}: {exc}"[:300])
                held = (now, None)
            _models[key] = held
        return held[1]
    return load


class Batch(Protocol):
    """What routing reads of a labeling batch (:class:`triage.app.labeling.Batch`)."""

    repo: str
    config: RepoConfig
    docs: DocumentStore
    writer: LabelWriter
    dry_run: bool
    bot_login: str
    assignee_model: Any


def train_assignee_model(s: Services, repo: str) -> dict[str, Any]:
    """Train ``repo``'s learned assignee model beside its label model, unless the repository config (as the labeler
    last read it) turns ``routing.learned`` off; never raises, so that a failure here never blocks the label model's
    training. The metrics, or ``{"error": ...}``."""
    known = known_config(s.docs, repo)
    if "assignee_months" in known and known["assignee_months"] is None:
        return {"trained": False, "reason": "routing.learned is off in the repository config"}
    try:
        result = train_assignees(s, repo, inactive_months=int(known.get("assignee_months") or 6))
    except Exception as exc:  # noqa: BLE001 - reported, and the label model's training goes on
        log.warning("training the assignee model of %s failed: %s", repo, exc)
        telemetry.event("AssigneeTrainingFailed", repo=repo, error=f"{type(exc).__name__}: {exc}"[:300])
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    _models.pop((id(s), repo), None)  # this worker serves the new model at once
    return result


def route(batch: Batch, issue: Issue, decision: Decision, reason: str = "") -> Decision:
    """Route ``issue`` after ``decision`` (see the module docstring); the decision with the routing reason added.
    Does nothing without a ``routing`` section, for pull requests, and for the relabel fan-out after a promotion
    (``reason`` ``relabel``: a backlog is not handed out behind the maintainers' backs)."""
    config = batch.config.routing
    if config is None or issue.is_pull_request or issue.state != "open" or reason == "relabel":
        return decision
    why_not = leave_alone(issue, batch.bot_login)
    labels = list(dict.fromkeys([*issue.labels, *(label for label, _ in decision.add)]))
    docs, repo, number = batch.docs, batch.repo, issue.number
    claim_id = f"route:{number}"
    held = None if batch.dry_run else docs.get(DELIVERIES, repo, claim_id)
    if held is not None and held.get("login"):  # a retry, or another worker routed it: its choice stands
        chosen = Route(held["login"], held.get("reason", ""), held.get("via", ""), held.get("score"))
        ours = {login.lower() for login in issue.assignees} <= {chosen.login.lower()}  # type: ignore[union-attr]
        why_not = None if ours and not human_touched(issue, batch.bot_login) else why_not
    elif why_not is None:
        chosen = choose(config, issue, labels, counts=lambda owners: open_counts(docs, repo, owners),
                        turn=lambda pattern: take_turn(docs, repo, pattern, dry_run=batch.dry_run),
                        model=batch.assignee_model or (lambda: None))
        if chosen.login is not None and not batch.dry_run and not docs.create(
                DELIVERIES, {"id": claim_id, "repo": repo, "number": number, "kind": "route", **chosen.to_doc(False)}):
            held = docs.get(DELIVERIES, repo, claim_id) or {}
            chosen = Route(held.get("login"), held.get("reason", ""), held.get("via", ""), held.get("score"))
    if why_not is not None:
        return _note(batch, decision, Route(None, why_not))
    applied = False
    if chosen.login is not None:
        after = batch.writer.add_assignees(repo, number, [chosen.login])
        applied = not batch.dry_run and chosen.login.lower() in {login.lower() for login in after}
        if not batch.dry_run and not applied:
            chosen = dataclasses.replace(chosen, reason=f"{chosen.reason}; GitHub did not assign {chosen.login} "
                                         "(not a collaborator with access to the repository?)")
        if applied:
            _store_assignee(docs, issue, chosen.login)
    return _note(batch, decision, chosen, applied)


def _note(batch: Batch, decision: Decision, chosen: Route, applied: bool = False) -> Decision:
    """Record the routing outcome on the issue's latest decision and add it to the decision's reasons."""
    stored = latest_prediction(batch.docs, batch.repo, decision.number)
    if stored is not None and not (stored.get("assign") or {}).get("login"):  # a route once made is kept
        batch.docs.upsert(PREDICTIONS, {**stored, "assign": chosen.to_doc(applied), "routed": chosen.login is not None})
    text = f"assign {chosen.login}: {chosen.reason}" if chosen.login else f"nobody assigned: {chosen.reason}"
    return dataclasses.replace(decision, reasons=(*decision.reasons, text))


def _store_assignee(docs: DocumentStore, issue: Issue, login: str) -> None:
    """Keep the issue store's open-assignment counts current until the next scrape (least_assigned reads them)."""
    doc = docs.get(ISSUES, issue.repo, str(issue.number))
    if doc is None:  # opened since the last scrape: stored now, its events fetched by the next one
        doc = {**issue_document(issue), "events_at": None, "events_due": True}
    docs.upsert(ISSUES, {**doc, "assignees": [login], "assignee": login.lower()})
