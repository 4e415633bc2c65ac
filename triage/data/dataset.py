"""Building versioned training datasets from a repository's issues.

Only labels applied by humans are learned. A dataset has three splits, by time: the
newest issues form the test set, which is frozen the first time a repository's dataset
is built so that every later model is compared on the same issues; the older issues are
split into train and validation (stratified by label, deterministic given the seed).
Each dataset is stored as a version named by its content hash.

Human feedback counts as labeling: a label a maintainer confirmed (on GitHub or in the
dashboard's review queue) is a training label, one they removed or rejected is not. In
multi-label mode a removed prediction is also kept as a hard negative (``negatives``), even
on an issue with no other label. A stable share of the issues newer than the frozen test
set (chosen by a hash of the issue number, so the same issues in every version) forms the
``recent`` split: never trained on, it lets the promotion gate see drift in new issues.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from triage.data.dataset_store import (
    RECENT,
    SPLITS,
    UNLABELED,
    frozen_test_numbers,
    latest_version,
    load_manifest,
    load_split,
    save_dataset,
)
from triage.domain.cleaning import issue_text, learn_boilerplate, lexical_text
from triage.domain.errors import (
    EmptyDatasetError,
    InputError,
    UnknownLabelError,
)
from triage.domain.issues import Issue
from triage.domain.path_rules import model_body
from triage.ports.records import arrival

__all__ = ["RECENT", "SPLITS", "Dataset", "DatasetSpec", "build_dataset", "frozen_test_numbers", "latest_version",
           "load_manifest", "load_split", "save_dataset"]


@dataclass(frozen=True)
class DatasetSpec:
    """How a dataset is built; part of the dataset's identity."""

    allow_labels: tuple[str, ...] = ()
    deny_labels: tuple[str, ...] = ()
    min_examples: int = 5
    test_fraction: float = 0.15
    validation_fraction: float = 0.15
    seed: int = 42
    bot_login: str | None = None
    include_pull_requests: bool = False
    aliases: tuple[tuple[str, str], ...] = ()  # (old, new) label renames: old labels count as new ones
    recent_fraction: float = 0.2  # share of the issues after the frozen test set held out as the recent split
    unlabeled: int = 0  # the newest issues without a human label kept as the unlabeled split (for distillation)


@dataclass
class Dataset:
    """A built dataset: examples are dicts with ``number, text, labels, created_at``."""

    repo: str
    labels: list[str]
    mode: str  # "single" or "multi"
    splits: dict[str, list[dict[str, Any]]]
    spec: DatasetSpec
    dropped: dict[str, int] = field(default_factory=dict)
    boilerplate: list[str] = field(default_factory=list)  # lines the cleaner strips; serving needs them too
    test_window: list[int] = field(default_factory=list)  # numbers of every issue in the test period, kept or not

    @property
    def version(self) -> str:
        """Content hash of the spec, the label set and every example."""
        payload = json.dumps(
            {"spec": asdict(self.spec), "labels": self.labels, "splits": self.splits, "boilerplate": self.boilerplate},
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def manifest(self) -> dict[str, Any]:
        """The small JSON description stored beside the splits."""
        return {
            "version": self.version,
            "repo": self.repo,
            "mode": self.mode,
            "labels": self.labels,
            "sizes": {name: len(rows) for name, rows in self.splits.items()},
            "label_counts": {name: dict(Counter(label for r in rows for label in r.get("labels", ())))
                             for name, rows in self.splits.items()},
            "dropped": self.dropped,
            "spec": asdict(self.spec),
            "boilerplate": self.boilerplate,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }


IssueSource = Sequence[Issue] | Callable[[], Iterable[Issue]]


def build_dataset(issues: IssueSource, spec: DatasetSpec, frozen_test: frozenset[int] | None = None,
                  feedback: Sequence[Mapping[str, Any]] = ()) -> Dataset:
    """Build a dataset from one repository's issues; ``frozen_test`` fixes the test issues by number.

    ``issues``: a sequence, or a function that returns a fresh iterable of them at each call (such as
    ``lambda: iter_issues(docs, repo)``): they are then read twice, a page at a time, and only the examples
    are held, never the issues themselves. ``feedback`` records (see :mod:`triage.feedback`) add confirmed
    labels and take removed ones away.
    """
    read: Callable[[], Iterable[Issue]] = issues if callable(issues) else (lambda: issues)
    repos: set[str] = set()

    def bodies() -> Iterator[str]:
        for issue in read():
            repos.add(issue.repo)
            if not issue.gone:
                yield issue.body

    boilerplate = learn_boilerplate(bodies())
    if len(repos) != 1:
        listed = sorted(repos)
        raise InputError(f"a dataset is built from one repository's issues, got {len(listed)}: {listed[:5]}; "
                         "pass --repo")
    dropped: Counter[str] = Counter()
    candidates = _candidates(read(), spec, boilerplate, _human_changes(feedback), dropped)
    seen_texts: set[bytes] = set()
    rows: list[tuple[int, dict[str, Any]]] = []
    negative_only: list[dict[str, Any]] = []
    unlabeled: dict[bytes, dict[str, Any]] = {}  # a text that is also labeled is not unlabeled, whichever came first
    for _, key, row in sorted(candidates, key=lambda c: c[0]):  # oldest first: the first of equal texts is kept
        if not row["labels"] and "negatives" not in row:
            unlabeled.setdefault(key, {k: row[k] for k in ("number", "text", "created_at")})
            continue
        if key in seen_texts:
            dropped["duplicate"] += 1
            continue
        seen_texts.add(key)
        if row["labels"]:
            rows.append((row["number"], row))
        elif not (frozen_test and row["number"] in frozen_test):
            negative_only.append(row)

    recent: list[dict[str, Any]] = []
    if frozen_test is not None:
        test = [row for number, row in rows if number in frozen_test]
        last = max((i for i, (number, _) in enumerate(rows) if number in frozen_test), default=len(rows))
        recent = [row for i, (number, row) in enumerate(rows)
                  if i > last and number not in frozen_test and _recent_bucket(number) < spec.recent_fraction]
        held = {row["number"] for row in recent}
        pool = [row for number, row in rows if number not in frozen_test and number not in held]
    else:
        n_test = math.ceil(len(rows) * spec.test_fraction) if rows else 0
        pool = [row for _, row in rows[: len(rows) - n_test]]
        test = [row for _, row in rows[len(rows) - n_test:]]

    counts = Counter(label for row in pool for label in row["labels"])
    if spec.allow_labels:
        unknown = sorted(set(spec.allow_labels) - set(counts))
        if unknown:
            known = ", ".join(sorted(counts)[:20])
            raise UnknownLabelError(f"allow-listed label(s) {unknown} have no training issue; known labels: {known}")
        allowed = set(spec.allow_labels)
    else:
        allowed = {label for label, n in counts.items() if n >= spec.min_examples}

    def restrict(split: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for row in split:
            labels = [label for label in row["labels"] if label in allowed]
            if labels:
                kept.append({**row, "labels": labels})
            else:
                dropped["label_not_allowed"] += 1
        return kept

    test_window = sorted(row["number"] for row in test)
    pool, test, recent = restrict(pool), restrict(test), restrict(recent)
    train, validation = _stratified_split(pool, spec.validation_fraction, spec.seed)
    labels = sorted(allowed)
    if len(labels) < 2 or not train or not test:
        raise EmptyDatasetError(
            f"nothing to learn from: {len(labels)} label(s) with >= {spec.min_examples} examples, "
            f"{len(train)} training and {len(test)} test issues after filtering (dropped: {dict(dropped)}); "
            "ingest more labeled issues or lower TRIAGE_MIN_EXAMPLES"
        )
    mode = "single" if all(len(row["labels"]) == 1 for row in train + validation + test) else "multi"
    hard_negatives = [{**row, "negatives": [n for n in row["negatives"] if n in allowed]} for row in negative_only]
    hard_negatives = [row for row in hard_negatives if row["negatives"]]
    if mode == "multi":
        train = sorted(train + hard_negatives, key=lambda r: (r["created_at"] or "", r["number"]))
    elif hard_negatives:
        dropped["negative_only_single_label"] = len(hard_negatives)  # softmax needs a true label to learn from
    splits = {"train": train, "validation": validation, "test": test} | ({RECENT: recent} if recent else {})
    kept = [row for key, row in unlabeled.items() if key not in seen_texts][-spec.unlabeled:] if spec.unlabeled else []
    if kept:
        splits[UNLABELED] = kept
    return Dataset(repo=next(iter(repos)), labels=labels, mode=mode, splits=splits, spec=spec, dropped=dict(dropped),
                   boilerplate=sorted(boilerplate), test_window=test_window)


def _candidates(issues: Iterable[Issue], spec: DatasetSpec, boilerplate: frozenset[str],
                changes: dict[int, tuple[set[str], set[str], set[str]]],
                dropped: Counter[str]) -> list[tuple[tuple[str, int], bytes, dict[str, Any]]]:
    """(sort key, digest of the normalised text, example) of each issue that has something to learn, in the order read;
    the others are counted in ``dropped``."""
    deny = set(spec.deny_labels)
    renames = dict(spec.aliases)
    out: list[tuple[tuple[str, int], bytes, dict[str, Any]]] = []
    for issue in issues:
        if issue.gone:  # deleted or transferred: no longer the repository's, and its label history is incomplete
            dropped["gone"] += 1
            continue
        if issue.is_pull_request and not spec.include_pull_requests:
            dropped["pull_request"] += 1
            continue
        body = model_body(issue.body, issue.paths)  # a pull request's files first, as the labeler reads it
        text = issue_text(issue.title, body, boilerplate)
        if len(text) < 3:
            dropped["empty_text"] += 1
            continue
        added, removed, negatives = ({_canonical(label, renames) for label in group}
                                     for group in changes.get(issue.number, (set(), set(), set())))
        labels = sorted(({_canonical(label, renames) for label in issue.human_labels(spec.bot_login)} | added)
                        - removed - deny)
        negatives -= set(labels) | deny
        if not labels and not negatives:
            dropped["no_human_label"] += 1
            if not spec.unlabeled:
                continue
        row = {"number": issue.number, "text": text, "lexical": lexical_text(issue.title, body),
               "labels": labels, "created_at": issue.created_at}
        if negatives:
            row["negatives"] = sorted(negatives)
        key = hashlib.blake2b(" ".join(text.lower().split()).encode(), digest_size=16).digest()  # not a 2nd copy
        out.append((issue.sort_key, key, row))
    return out


def _human_changes(feedback: Sequence[Mapping[str, Any]]) -> dict[int, tuple[set[str], set[str], set[str]]]:
    """Issue number → (labels humans added, labels they removed, removed predictions), latest change per label."""
    latest: dict[tuple[int, str], Mapping[str, Any]] = {}
    for f in sorted(feedback, key=arrival):
        latest[(int(f["number"]), str(f["label"]))] = f
    changes: dict[int, tuple[set[str], set[str], set[str]]] = {}
    for (number, label), f in latest.items():
        added, removed, negatives = changes.setdefault(number, (set(), set(), set()))
        if f["action"] == "labeled":
            added.add(label)
        else:
            removed.add(label)
            if f.get("verdict") == "corrected":
                negatives.add(label)
    return changes


def _recent_bucket(number: int) -> float:
    """A stable pseudo-random number in [0, 1) for an issue: the same issue is recent in every dataset version."""
    return int(hashlib.sha256(f"recent:{number}".encode()).hexdigest()[:8], 16) / 2**32


def _canonical(label: str, renames: dict[str, str]) -> str:
    seen = {label}
    while label in renames and renames[label] not in seen:
        label = renames[label]
        seen.add(label)
    return label


def _stratified_split(rows: list[dict[str, Any]], fraction: float, seed: int) -> tuple[list, list]:
    """Split off ``fraction`` of each label's issues (by first label), chosen by a seeded hash."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["labels"][0], []).append(row)
    held: set[int] = set()
    for group in groups.values():
        ranked = sorted(group, key=lambda r: hashlib.sha256(f"{seed}:{r['number']}".encode()).hexdigest())
        held.update(r["number"] for r in ranked[: int(len(group) * fraction + 0.5)])
    return [r for r in rows if r["number"] not in held], [r for r in rows if r["number"] in held]
