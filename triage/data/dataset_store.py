"""Storing and reading built datasets: the splits as JSON lines, then the manifest; the frozen test issues.

Re-exported by :mod:`triage.data.dataset`, which builds them.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from triage.domain.errors import NotFoundError
from triage.ports.layout import dataset_prefix, frozen_test_name, latest_dataset_name
from triage.ports.stores import BlobStore

SPLITS = ("train", "validation", "test")  # what the training job reads
RECENT = "recent"  # held out for the promotion gate only
PRIOR = "prior"  # other repositories' issues a cold-start model learns from (triage.data.prior)
UNLABELED = "unlabeled"  # issues without a human label: what a distilled student also learns from


class Built(Protocol):
    """What :func:`save_dataset` needs of a built dataset (:class:`triage.data.dataset.Dataset`)."""

    repo: str
    splits: dict[str, list[dict[str, Any]]]
    test_window: list[int]

    @property
    def version(self) -> str:
        """Content hash."""
        ...

    def manifest(self) -> dict[str, Any]:
        """The JSON description stored beside the splits."""
        ...


def save_dataset(store: BlobStore, dataset: Built) -> dict[str, Any]:
    """Write the splits, then the manifest (last, so a reader never sees half a dataset).

    The first dataset of a repository also freezes its test issues for later datasets.
    Returns the manifest. Saving the same content again is a no-op.
    """
    version = dataset.version
    base = dataset_prefix(dataset.repo, version)
    if store.etag(f"{base}/manifest.json") is None:
        for name in [*SPLITS, *(extra for extra in (RECENT, PRIOR, UNLABELED) if extra in dataset.splits)]:
            body = "".join(json.dumps(row, sort_keys=True) + "\n" for row in dataset.splits[name])
            store.put(f"{base}/{name}.jsonl", body.encode())
        store.put(f"{base}/manifest.json", json.dumps(dataset.manifest(), indent=2).encode())
    frozen = frozen_test_name(dataset.repo)
    if store.etag(frozen) is None and dataset.test_window:  # a cold-start dataset has no test set to freeze
        store.put(frozen, json.dumps({"dataset": version, "numbers": dataset.test_window}).encode(), if_none_match=True)
    store.put(latest_dataset_name(dataset.repo), json.dumps({"version": version}).encode())
    return json.loads(store.get(f"{base}/manifest.json"))


def frozen_test_numbers(store: BlobStore, repo: str) -> frozenset[int] | None:
    """The repository's frozen test issue numbers, or None before its first dataset."""
    try:
        return frozenset(json.loads(store.get(frozen_test_name(repo)))["numbers"])
    except NotFoundError:
        return None


def latest_version(store: BlobStore, repo: str) -> str:
    """The most recently saved dataset version of ``repo``."""
    try:
        return str(json.loads(store.get(latest_dataset_name(repo)))["version"])
    except NotFoundError:
        raise NotFoundError(f"no dataset for {repo}; run `triage dataset --repo {repo}` first") from None


def load_split(store: BlobStore, repo: str, version: str, split: str) -> list[dict[str, Any]]:
    """The examples of one split of a stored dataset (the recent split may be absent: then empty)."""
    try:
        text = store.get(f"{dataset_prefix(repo, version)}/{split}.jsonl").decode()
    except NotFoundError:
        if split == RECENT:
            return []
        raise
    return [json.loads(line) for line in text.splitlines() if line]


def load_manifest(store: BlobStore, repo: str, version: str) -> dict[str, Any]:
    """The manifest of a stored dataset version."""
    try:
        return json.loads(store.get(f"{dataset_prefix(repo, version)}/manifest.json"))
    except NotFoundError:
        raise NotFoundError(f"dataset version {version} of {repo} does not exist") from None
