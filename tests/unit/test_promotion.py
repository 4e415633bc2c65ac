"""Promotion: the pure gate, the atomic pointer and the rejection of a worse model (fake classifiers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from triage.adapters.local.stores import LocalBlobStore, SqliteDocumentStore
from triage.domain.errors import ConcurrencyError
from triage.learning.promotion import gate, promote
from triage.learning.registry import current_version, read_pointer, write_pointer
from triage.ports.layout import model_prefix, pointer_name

REPO = "octo/widgets"
LABELS = ["bug", "docs", "feature"]
TEST = [{"number": n, "text": f"issue {n}", "labels": [LABELS[n % 3]]} for n in range(30)]


class FakeClassifier:
    """Stands in for an ONNX model: right on the first ``correct`` test issues, wrong on the rest."""

    def __init__(self, version: str, correct: int) -> None:
        self.version = version
        self.labels = LABELS
        self.single_label = True
        self.thresholds = {label: 0.5 for label in LABELS}
        self.manifest: dict[str, Any] = {"version": version, "dataset_version": "ds1"}
        self.correct = correct

    def predict_rows(self, rows: list[dict[str, Any]]) -> np.ndarray:
        probs = np.full((len(rows), 3), 0.1, dtype=np.float32)
        for i, row in enumerate(rows):
            n = int(row["text"].split()[1])
            probs[i, (n % 3) if n < self.correct else (n + 1) % 3] = 0.8
        return probs


@pytest.fixture()
def stores(tmp_path: Path) -> tuple[LocalBlobStore, SqliteDocumentStore]:
    blobs = LocalBlobStore(tmp_path / "blobs")
    blobs.put(f"datasets/{REPO}/ds1/test.jsonl", "".join(json.dumps(r) + "\n" for r in TEST).encode())
    return blobs, SqliteDocumentStore(tmp_path / "db.sqlite")


def loader(models: dict[str, FakeClassifier]):
    return lambda _blobs, prefix: models[prefix.rsplit("/", 1)[-1]]


def test_gate() -> None:
    assert gate({"macro_f1": 0.5}, None).promote
    assert gate({"macro_f1": 0.7}, {"macro_f1": 0.7}).promote
    assert gate({"macro_f1": 0.72}, {"macro_f1": 0.7}, min_improvement=0.01).promote
    worse = gate({"macro_f1": 0.69}, {"macro_f1": 0.7})
    assert not worse.promote and "0.6900 < champion 0.7000" in worse.reason
    assert not gate({"macro_f1": 0.705}, {"macro_f1": 0.7}, min_improvement=0.01).promote


def test_first_model_is_promoted_and_a_worse_one_rejected(stores) -> None:
    blobs, docs = stores
    models = {"v1": FakeClassifier("v1", 24), "v2": FakeClassifier("v2", 12), "v3": FakeClassifier("v3", 30)}
    first = promote(blobs, docs, REPO, "v1", load=loader(models))
    assert first["promoted"] and current_version(blobs, REPO) == "v1"

    worse = promote(blobs, docs, REPO, "v2", load=loader(models))
    assert not worse["promoted"] and "champion" in worse["reason"]
    assert current_version(blobs, REPO) == "v1", "a worse candidate must not move the pointer"
    assert docs.get("models", REPO, "v2")["status"] == "rejected"
    assert docs.get("models", REPO, "v2")["reason"] == worse["reason"]

    better = promote(blobs, docs, REPO, "v3", load=loader(models))
    assert better["promoted"] and current_version(blobs, REPO) == "v3"
    pointer, _ = read_pointer(blobs, REPO)
    assert pointer["previous"] == "v1"
    assert better["scores"]["candidate"]["macro_f1"] == 1.0


def test_promoting_the_current_model_again_is_a_no_op(stores) -> None:
    blobs, docs = stores
    models = {"v1": FakeClassifier("v1", 24)}
    promote(blobs, docs, REPO, "v1", load=loader(models))
    etag = blobs.etag(pointer_name(REPO))
    again = promote(blobs, docs, REPO, "v1", load=loader(models))
    assert not again["promoted"] and blobs.etag(pointer_name(REPO)) == etag


def test_pointer_is_compare_and_swap(stores) -> None:
    blobs, _ = stores
    write_pointer(blobs, REPO, "v1", None, None, "first")
    _, etag = read_pointer(blobs, REPO)
    write_pointer(blobs, REPO, "v2", "v1", etag, "newer")  # someone else promoted meanwhile
    with pytest.raises(ConcurrencyError, match="another promotion"):
        write_pointer(blobs, REPO, "v3", "v1", etag, "stale")
    with pytest.raises(ConcurrencyError):
        write_pointer(blobs, REPO, "v3", None, None, "thinks it is first")
    assert current_version(blobs, REPO) == "v2"


def test_race_between_read_and_write_loses_cleanly(stores) -> None:
    blobs, docs = stores
    models = {"v1": FakeClassifier("v1", 20), "v2": FakeClassifier("v2", 30)}
    promote(blobs, docs, REPO, "v1", load=loader(models))

    def racing_loader(store: LocalBlobStore, prefix: str) -> FakeClassifier:
        if prefix == model_prefix(REPO, "v1"):  # the champion is loaded after the pointer was read
            write_pointer(store, REPO, "v9", "v1", store.etag(pointer_name(REPO)), "concurrent")
        return models[prefix.rsplit("/", 1)[-1]]

    with pytest.raises(ConcurrencyError):
        promote(blobs, docs, REPO, "v2", load=racing_loader)
    assert current_version(blobs, REPO) == "v9"


class DriftingClassifier(FakeClassifier):
    """Right on the frozen test issues (numbers < 30) per ``correct``; on recent issues right only if ``knows_recent``."""

    def __init__(self, version: str, correct: int, knows_recent: bool) -> None:
        super().__init__(version, correct)
        self.knows_recent = knows_recent

    def predict_rows(self, rows: list[dict[str, Any]]) -> np.ndarray:
        probs = super().predict_rows(rows)
        for i, row in enumerate(rows):
            n = int(row["text"].split()[1])
            if n >= 100:
                probs[i] = 0.1
                probs[i, (n % 3) if self.knows_recent else (n + 1) % 3] = 0.8
        return probs


def test_gate_with_recent_issues() -> None:
    assert gate({"macro_f1": 0.8}, {"macro_f1": 0.7}, 0.0, {"macro_f1": 0.6, "n": 20}, {"macro_f1": 0.6, "n": 20}).promote
    worse = gate({"macro_f1": 0.8}, {"macro_f1": 0.7}, 0.0, {"macro_f1": 0.5, "n": 20}, {"macro_f1": 0.6, "n": 20})
    assert not worse.promote and "20 recent issues" in worse.reason
    assert not gate({"macro_f1": 0.6}, {"macro_f1": 0.7}, 0.0, {"macro_f1": 0.9, "n": 20}, {"macro_f1": 0.1, "n": 20}).promote


def test_a_candidate_worse_on_recent_issues_is_rejected_even_if_better_on_the_frozen_test(stores) -> None:
    blobs, docs = stores
    recent = [{"number": n, "text": f"issue {n}", "labels": [LABELS[n % 3]]} for n in range(100, 112)]
    blobs.put(f"datasets/{REPO}/ds1/recent.jsonl", "".join(json.dumps(r) + "\n" for r in recent).encode())
    models = {"v1": DriftingClassifier("v1", 24, knows_recent=True),
              "v2": DriftingClassifier("v2", 30, knows_recent=False),
              "v3": DriftingClassifier("v3", 30, knows_recent=True)}
    assert promote(blobs, docs, REPO, "v1", load=loader(models))["promoted"]
    outcome = promote(blobs, docs, REPO, "v2", load=loader(models))
    assert not outcome["promoted"] and "12 recent issues" in outcome["reason"]
    assert outcome["recent_scores"]["candidate"]["macro_f1"] < outcome["recent_scores"]["champion"]["macro_f1"]
    assert docs.get("models", REPO, "v2")["recent_scores"]["candidate"]["n"] == 12
    assert promote(blobs, docs, REPO, "v3", load=loader(models))["promoted"]
    assert current_version(blobs, REPO) == "v3"


def test_too_few_recent_issues_do_not_gate(stores) -> None:
    blobs, docs = stores
    recent = [{"number": n, "text": f"issue {n}", "labels": [LABELS[n % 3]]} for n in range(100, 105)]
    blobs.put(f"datasets/{REPO}/ds1/recent.jsonl", "".join(json.dumps(r) + "\n" for r in recent).encode())
    models = {"v1": DriftingClassifier("v1", 24, True), "v2": DriftingClassifier("v2", 30, False)}
    promote(blobs, docs, REPO, "v1", load=loader(models))
    outcome = promote(blobs, docs, REPO, "v2", load=loader(models))
    assert outcome["promoted"] and outcome["recent_scores"] == {}
