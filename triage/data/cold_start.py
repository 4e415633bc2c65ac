"""Cold-start datasets: for a repository with too few labeled issues to fine-tune a model.

When :func:`triage.data.dataset.build_dataset` finds fewer than two labels with enough examples, the
repository still gets a model: the training job ranks its labels by how close an issue is to each
label's name and description, sharpened by whatever human-labeled issues exist (see
:mod:`triage.ml.cold_start`). The dataset says so (``cold_start: true`` in its manifest) and carries
the label descriptions; every labeled issue goes to the training split (the prototypes and the
leave-one-out thresholds need all of them), and no test set is frozen, so the first real dataset
freezes one as usual.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from triage.data.dataset import Dataset, DatasetSpec
from triage.data.dataset_store import PRIOR
from triage.data.prior import prior_rows
from triage.domain.cleaning import issue_text, learn_boilerplate, lexical_text
from triage.domain.errors import EmptyDatasetError
from triage.domain.issues import Issue


@dataclass
class ColdStartDataset(Dataset):
    """A :class:`Dataset` in cold-start mode; ``label_descriptions`` maps label → GitHub description."""

    label_descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """Content hash of the spec, labels, descriptions and examples."""
        payload = json.dumps({"spec": asdict(self.spec), "labels": self.labels, "splits": self.splits,
                              "boilerplate": self.boilerplate, "descriptions": self.label_descriptions,
                              "cold_start": True}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def manifest(self) -> dict[str, Any]:
        """The dataset manifest plus ``cold_start``, ``label_descriptions`` and ``prior_repositories`` (rows each)."""
        return super().manifest() | {"version": self.version, "cold_start": True,
                                     "label_descriptions": self.label_descriptions,
                                     "prior_repositories": dict(Counter(r["repo"] for r in self.splits.get(PRIOR, [])))}


MAX_DESCRIPTION = 500  # GitHub allows 100 characters; a longer one is cut, not refused


def label_descriptions(items: Sequence[Any]) -> dict[str, str]:
    """Label name → description (one line, at most :data:`MAX_DESCRIPTION` characters) from GitHub's label list;
    items that are not label objects with a non-empty string ``name`` are skipped (the list is outside input)."""
    found: dict[str, str] = {}
    for item in items if isinstance(items, Sequence) and not isinstance(items, (str, bytes)) else ():
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or not name.strip():
            continue
        description = item.get("description")
        found[name.strip()] = " ".join(description.split())[:MAX_DESCRIPTION] if isinstance(description, str) else ""
    return found


def candidate_labels(issues: Sequence[Issue], spec: DatasetSpec, repository_labels: Mapping[str, str]) -> list[str]:
    """The labels a cold-start model ranks: the allow list if set, else the repository's labels (from GitHub)
    and every label seen on its issues, minus the deny list."""
    if spec.allow_labels:
        names = set(spec.allow_labels)
    else:
        names = set(repository_labels) | {label for issue in issues if not issue.gone for label in issue.labels}
    renames = dict(spec.aliases)
    return sorted({renames.get(name, name) for name in names} - set(spec.deny_labels))


def cold_start_dataset(issues: Sequence[Issue], spec: DatasetSpec, repository_labels: Mapping[str, str],
                       cause: EmptyDatasetError | None = None,
                       prior: Mapping[str, Sequence[Issue]] | None = None) -> ColdStartDataset:
    """A cold-start dataset of one repository's issues; ``repository_labels`` maps each of its label names to its
    description (empty when unknown). ``prior``: other repositories' issues (repository → issues); those with a label
    matching one of these form the ``prior`` split (:mod:`triage.data.prior`). Raises
    :class:`EmptyDatasetError` when fewer than two labels are known."""
    repos = sorted({issue.repo for issue in issues})
    labels = candidate_labels(issues, spec, repository_labels)
    if len(repos) != 1 or len(labels) < 2:
        reason = f"{cause}. " if cause else ""
        raise EmptyDatasetError(
            f"{reason}A cold-start model needs at least two label names and found {len(labels)}: let `triage "
            "dataset` read the repository's labels from GitHub (set GITHUB_TOKEN), or name them in "
            "TRIAGE_ALLOW_LABELS")
    known = set(labels)
    renames = dict(spec.aliases)
    boilerplate = learn_boilerplate(issue.body for issue in issues if not issue.gone)
    dropped: Counter[str] = Counter()
    train: list[dict[str, Any]] = []
    seen: set[str] = set()
    for issue in sorted(issues, key=lambda i: i.sort_key):
        if issue.gone or (issue.is_pull_request and not spec.include_pull_requests):
            continue
        mine = sorted({renames.get(label, label) for label in issue.human_labels(spec.bot_login)} & known)
        if not mine:
            dropped["no_human_label"] += 1
            continue
        text = issue_text(issue.title, issue.body, boilerplate)
        key = " ".join(text.lower().split())
        if len(text) < 3 or key in seen:
            dropped["empty_or_duplicate"] += 1
            continue
        seen.add(key)
        train.append({"number": issue.number, "text": text, "lexical": lexical_text(issue.title, issue.body),
                      "labels": mine, "created_at": issue.created_at})
    descriptions = {label: " ".join(str(repository_labels.get(label) or "").split())[:MAX_DESCRIPTION]
                    for label in labels}
    splits = {"train": train, "validation": [], "test": []}
    learned_from = prior_rows(prior, labels, spec.bot_login) if prior else []
    if learned_from:
        splits[PRIOR] = learned_from
    return ColdStartDataset(repo=repos[0], labels=labels, mode="single", splits=splits, spec=spec, dropped=dict(dropped),
                            boilerplate=sorted(boilerplate), test_window=[], label_descriptions=descriptions)
