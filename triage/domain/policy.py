"""What the labeler may write: thresholds, exclusions, and never fighting a human.

:func:`decide` is pure: it takes an issue and the model's scores and returns a
:class:`Decision` with the labels to add (possibly none) and the reasons.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from triage.domain.errors import UnknownLabelError
from triage.domain.issues import Issue


@dataclass(frozen=True)
class Policy:
    """The rules applied to the model's scores.

    ``thresholds`` maps label → minimum probability; labels missing from it use
    ``default_threshold``. ``excluded`` labels are never applied.
    """

    thresholds: Mapping[str, float]
    default_threshold: float = 0.9
    max_labels: int = 1
    excluded: frozenset[str] = frozenset()
    bot_login: str | None = None
    single_label: bool = True  # the model's labels are mutually exclusive: only its best candidate may be added
    exclusive: tuple[str, ...] = ()  # glob patterns: at most one label matching each per issue
    paused: frozenset[str] = frozenset()  # labels auto-tuning paused: live precision stayed below target

    def group(self, label: str) -> str | None:
        """The exclusive group (pattern) of ``label``, if any."""
        return next((p for p in self.exclusive if fnmatch.fnmatchcase(label, p)), None)

    def threshold(self, label: str) -> float:
        """The minimum probability for ``label``."""
        return float(self.thresholds.get(label, self.default_threshold))

    def check_labels(self, model_labels: Sequence[str]) -> None:
        """Raise :class:`UnknownLabelError` if an excluded label is not one the model knows."""
        unknown = sorted(self.excluded - set(model_labels))
        if unknown:
            raise UnknownLabelError(f"excluded label(s) {unknown} are not model labels; model labels: {', '.join(model_labels)}")


@dataclass(frozen=True)
class Decision:
    """The labeler's decision for one issue."""

    repo: str
    number: int
    add: tuple[tuple[str, float], ...]
    reasons: tuple[str, ...]
    top: tuple[tuple[str, float], ...] = field(default_factory=tuple)
    model_version: str | None = None
    similar: tuple[tuple[str, int, str], ...] = ()  # (label added, number, title) of past issues like this one

    @property
    def abstained(self) -> bool:
        """True when no label is added."""
        return not self.add

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "repo": self.repo, "number": self.number, "model_version": self.model_version,
            "add": [{"label": label, "score": round(score, 4)} for label, score in self.add],
            "top": [{"label": label, "score": round(score, 4)} for label, score in self.top],
            "abstained": self.abstained, "reasons": list(self.reasons),
            "similar": [{"label": label, "number": number, "title": title} for label, number, title in self.similar],
        }


def decide(issue: Issue, scores: Mapping[str, float], policy: Policy, model_version: str | None = None,
           blocked: frozenset[str] = frozenset()) -> Decision:
    """Decide which labels to add to ``issue`` given label → probability ``scores``.

    Rules, in order: an issue a human already labeled with one of the model's labels is
    left alone; excluded labels, labels already present and labels a human removed are
    never added (``blocked`` adds labels known to be removed by humans, e.g. from webhook
    locks); a label whose exclusive group is already taken is not added; a label is added
    only if its score reaches its threshold; at most
    ``max_labels`` labels, highest score first. In single-label mode only the best
    remaining candidate is considered.
    """
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    top = tuple(ranked[:3])

    def result(add: list[tuple[str, float]], reasons: list[str]) -> Decision:
        return Decision(issue.repo, issue.number, tuple(add), tuple(reasons), top, model_version)

    human = set(issue.human_labels(policy.bot_login)) & set(scores)
    if human:
        return result([], [f"a human already applied {', '.join(sorted(human))}"])
    present = set(issue.labels) & set(scores)
    if policy.single_label and present:
        return result([], [f"the issue already carries {', '.join(sorted(present))}; labels are exclusive"])
    removed = issue.removed_by_humans(policy.bot_login) | (blocked - set(issue.labels))
    taken = {policy.group(label) for label in issue.labels} - {None}
    reasons: list[str] = []
    add: list[tuple[str, float]] = []
    for label, score in ranked:
        if len(add) >= policy.max_labels:
            break
        if label in policy.excluded:
            reasons.append(f"{label} is excluded by configuration")
        elif label in policy.paused:
            reasons.append(f"{label} is paused by auto-tuning (live precision below target)")
            if policy.single_label:
                break  # the best guess is paused; a less likely exclusive label does not stand in for it
        elif label in removed:
            reasons.append(f"{label} was removed by a human; never re-added")
        elif label in issue.labels:
            reasons.append(f"{label} is already on the issue")
        elif policy.group(label) in taken:
            reasons.append(f"{label}: the issue already has a label matching {policy.group(label)}")
        elif score >= policy.threshold(label):
            add.append((label, score))
            taken.add(policy.group(label))
            taken.discard(None)
            reasons.append(f"{label} {score:.2f} >= threshold {policy.threshold(label):.2f}")
            if policy.single_label:
                break
        else:
            reasons.append(f"{label} {score:.2f} < threshold {policy.threshold(label):.2f}")
            if policy.single_label:
                break  # an unsure best guess is not replaced by a less likely exclusive label
    return result(add, reasons)
