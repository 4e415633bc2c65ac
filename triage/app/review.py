"""The review queue's actions: a maintainer's verdict on a predicted label, carried out on GitHub.

* **Confirm** records the verdict (feedback exactly like a human keeping the label on GitHub).
* **Apply on GitHub** (a dry-run prediction): the maintainer asks for the label, so it is written even in dry
  run, then recorded as confirmed; the prediction is marked applied.
* **Reject** records the correction and, when the bot wrote the label (the prediction is marked applied),
  removes it from the issue; with ``TRIAGE_DRY_RUN`` on, the removal is only shown. Rejecting a dry-run
  prediction makes no GitHub request.

Both writes re-read the issue first and respect the rules the labeler keeps: a label a human removed is not
put back, a label a human applied or re-applied is not taken away, an issue a human labeled is left alone.
Such a request is refused with :class:`~triage.domain.errors.ConcurrencyError` (409) saying who acted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from triage.app.bootstrap import Services
from triage.app.decisions import mark_applied
from triage.data.sources import issue_from_github
from triage.domain.errors import ConcurrencyError, InputError, NotFoundError
from triage.domain.issues import Issue
from triage.learning.feedback import label_names, latest_prediction, record_review, removed_labels
from triage.ports.layout import model_prefix

VERDICTS = ("confirm", "reject", "apply")


@dataclass(frozen=True)
class ReviewOutcome:
    """What a review did: the feedback record, a short code for the page (``confirmed``, ``applied``,
    ``rejected``, ``removed``, ``would-remove``) and the GitHub calls made (or, in dry run, not made)."""

    record: dict[str, Any]
    done: str
    calls: list[str] = field(default_factory=list)


def review(s: Services, repo: str, number: int, label: str, verdict: str, actor: str) -> ReviewOutcome:
    """Carry out ``verdict`` on the predicted ``label`` of ``repo#number`` for maintainer ``actor``.

    Raises :class:`InputError` for an unknown verdict, :class:`NotFoundError` when the latest prediction did not
    propose ``label``, :class:`ConcurrencyError` when a human's change on GitHub forbids the write.
    """
    if verdict not in VERDICTS:
        raise InputError(f"review verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    prediction = latest_prediction(s.docs, repo, number)
    if prediction is None or label not in {a["label"] for a in prediction.get("add", [])}:
        raise NotFoundError(f"issue #{number} of {repo} has no prediction of {label!r} to review")
    if verdict == "confirm":
        return ReviewOutcome(record_review(s.docs, repo, number, label, "confirm", actor), "confirmed")
    if verdict == "reject" and not prediction.get("applied"):  # never written: nothing on GitHub to take back
        return ReviewOutcome(record_review(s.docs, repo, number, label, "reject", actor), "rejected")
    names = label_names(s.docs, repo)
    current = names.current(label)
    api = s.github()
    issue = issue_from_github(api.get_issue(repo, number), repo, api.issue_events(repo, number))
    bot = s.settings.bot_login
    if verdict == "apply":
        _check_apply(s, repo, issue, prediction, current)
        api.add_labels(repo, number, [current])
        mark_applied(s.docs, repo, prediction["id"])
        record = record_review(s.docs, repo, number, label, "confirm", actor)
        return ReviewOutcome(record, "applied", [f"POST /repos/{repo}/issues/{number}/labels "
                                                 f"{json.dumps({'labels': [current]})}"])
    on_issue = current in issue.labels
    if on_issue and current in issue.human_labels(bot):
        raise ConcurrencyError(f"{current} on #{number} was applied by a human since the prediction; the bot never "
                               "removes a human's label: remove it on GitHub if you mean to")
    if not on_issue and current in issue.removed_by_humans(bot):
        raise ConcurrencyError(f"a human already removed {current} from #{number}; that removal is already "
                               "recorded as the correction, nothing to undo")
    calls = [f"DELETE /repos/{repo}/issues/{number}/labels/{quote(current, safe='')}"] if on_issue else []
    if calls and not s.settings.dry_run:
        api.remove_label(repo, number, current)
    record = record_review(s.docs, repo, number, label, "reject", actor)
    done = "rejected" if not calls else ("would-remove" if s.settings.dry_run else "removed")
    return ReviewOutcome(record, done, calls)


def _check_apply(s: Services, repo: str, issue: Issue, prediction: dict[str, Any], label: str) -> None:
    """Refuse to write ``label`` where the labeler itself would not (see the module docstring)."""
    bot = s.settings.bot_login
    names = label_names(s.docs, repo)
    if label in names.deleted:
        raise ConcurrencyError(f"the label {label} was deleted from {repo}; it cannot be applied")
    if issue.state != "open":
        raise ConcurrencyError(f"#{issue.number} is {issue.state}; closed issues are not labeled")
    if label in issue.labels:
        raise ConcurrencyError(f"{label} is already on #{issue.number}; use Confirm")
    if label in issue.removed_by_humans(bot) | removed_labels(s.docs, repo, issue.number, names):
        raise ConcurrencyError(f"a human removed {label} from #{issue.number}; the bot never puts it back")
    labels = names.all_current(_model_labels(s, repo, prediction) | {label})
    human = sorted(set(names.all_current(issue.human_labels(bot))) & labels)
    if human:
        raise ConcurrencyError(f"a human already labeled #{issue.number} with {', '.join(human)}; the bot leaves "
                               "it alone: change the labels on GitHub if you mean to")


def _model_labels(s: Services, repo: str, prediction: dict[str, Any]) -> set[str]:
    """The labels of the model that made the prediction (its top labels when the model is gone)."""
    fallback = {t["label"] for t in prediction.get("top", [])}
    version = prediction.get("model_version")
    if not version:
        return fallback
    try:
        manifest = json.loads(s.blobs.get(f"{model_prefix(repo, str(version))}/manifest.json"))
    except NotFoundError:
        return fallback
    return set(manifest.get("labels") or ()) | fallback
