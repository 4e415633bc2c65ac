"""Cold start: label texts, prototypes, leave-one-out scores and thresholds (triage.ml.cold_start), and
cold-start datasets (triage.data.cold_start)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from triage.adapters.local.stores import LocalBlobStore
from triage.data.cold_start import MAX_DESCRIPTION, candidate_labels, cold_start_dataset, label_descriptions
from triage.data.dataset import DatasetSpec, build_dataset, frozen_test_numbers, save_dataset
from triage.domain.errors import EmptyDatasetError
from triage.ml import cold_start
from triage.ml.metrics import NEVER
from triage.ports.layout import frozen_test_name

from .helpers import BOT, corpus, labeled_by, make_issue

# --- label texts -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "words"), [
    ("area-System.Net.Http", "System Net Http"),
    ("type: bug", "bug"),
    ("kind/feature-request", "feature request"),
    ("good_first-issue", "good first issue"),
    ("needsTriage", "needs Triage"),
    ("area-", "area"),  # only a prefix: kept as a word
    ("---", "---"),
    ("bug", "bug"),
])
def test_label_words(name: str, words: str) -> None:
    assert cold_start.label_words(name) == words


def test_label_text_adds_the_description_on_one_line() -> None:
    assert cold_start.label_text("area-System.IO", "Files,\n  directories\tand streams") == \
        "System IO: Files, directories and streams"
    assert cold_start.label_text("bug", "") == cold_start.label_text("bug", "   ") == "bug"


@given(st.text(min_size=1, max_size=60).filter(lambda s: s.strip()), st.text(max_size=300))
def test_label_text_is_never_empty_and_one_line(name: str, description: str) -> None:
    text = cold_start.label_text(name, description)
    assert text.strip() and "\n" not in text and "\t" not in text
    assert " ".join(description.split()) in text  # the description is never lost


# --- prototypes and scores -------------------------------------------------------------------------------------

vectors = arrays(np.float32, st.tuples(st.integers(1, 6), st.just(8)),
                 elements=st.floats(-1, 1, allow_nan=False, width=32))


@given(vectors, vectors, st.integers(0, 2**31 - 1), st.floats(0, 5))
@settings(max_examples=60, deadline=None)
def test_prototypes_are_unit_length_means(labels: np.ndarray, examples: np.ndarray, seed: int, weight: float) -> None:
    rng = np.random.default_rng(seed)
    targets = np.zeros((len(examples), len(labels)), dtype=np.int8)
    targets[np.arange(len(examples)), rng.integers(0, len(labels), len(examples))] = 1
    protos = cold_start.prototypes(labels, examples, targets, weight)
    assert protos.shape == labels.shape and np.isfinite(protos).all()
    norms = np.linalg.norm(protos, axis=1)
    assert np.all((np.abs(norms - 1) < 1e-4) | (norms == 0))
    for j in range(len(labels)):  # the direction of weight × label + the sum of the label's examples
        expected = weight * cold_start.normalise(labels)[j] + cold_start.normalise(examples)[targets[:, j] == 1].sum(0)
        if np.linalg.norm(expected) > 1e-3:
            assert np.allclose(protos[j], expected / np.linalg.norm(expected), atol=1e-4)


@given(vectors, vectors)
@settings(max_examples=40, deadline=None)
def test_scores_are_probabilities(issues: np.ndarray, protos: np.ndarray) -> None:
    probs = cold_start.scores(issues, cold_start.normalise(protos))
    assert probs.shape == (len(issues), len(protos)) and np.isfinite(probs).all()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5) and (probs >= 0).all()


def test_zero_shot_ranks_the_closest_label_text_first() -> None:
    labels = np.eye(3, 8, dtype=np.float32)
    issue = np.array([[0.1, 0.9, 0.2, 0, 0, 0, 0, 0]], dtype=np.float32)
    protos = cold_start.prototypes(labels, np.zeros((0, 8), np.float32), np.zeros((0, 3)))
    assert cold_start.scores(issue, protos).argmax() == 1


def test_leave_one_out_scores_each_issue_without_itself() -> None:
    rng = np.random.default_rng(0)
    labels, examples = rng.normal(size=(3, 8)).astype(np.float32), rng.normal(size=(7, 8)).astype(np.float32)
    targets = np.zeros((7, 3), dtype=np.int8)
    targets[np.arange(7), [0, 1, 2, 0, 1, 2, 0]] = 1
    loo = cold_start.leave_one_out(labels, examples, targets)
    for i in range(7):
        keep = np.arange(7) != i
        protos = cold_start.prototypes(labels, examples[keep], targets[keep])
        assert np.allclose(loo[i], cold_start.scores(examples[i:i + 1], protos)[0], atol=1e-5)
    # an issue inside its own prototype looks surer of its label than it does left out
    with_self = cold_start.scores(examples, cold_start.prototypes(labels, examples, targets))
    assert (with_self[targets == 1] >= loo[targets == 1] - 1e-6).all()


def test_no_labeled_issue_means_abstain_everywhere() -> None:
    t = cold_start.cold_thresholds(np.zeros((0, 2)), np.zeros((0, 2), dtype=np.int8), ["a", "b"], 0.9)
    assert t["per_label"] == {"a": NEVER, "b": NEVER} and t["global"] > 1
    assert all(source.startswith("abstain") for source in t["source"].values())


def test_labeled_issues_give_thresholds_for_the_target() -> None:
    probs = np.array([[0.95, 0.05]] * 30 + [[0.3, 0.7]] * 30, dtype=np.float32)
    truth = np.array([[1, 0]] * 30 + [[0, 1]] * 30, dtype=np.int8)
    t = cold_start.cold_thresholds(probs, truth, ["a", "b"], 0.9)
    assert t["per_label"]["a"] <= 0.95 and t["per_label"]["b"] <= 0.7


# --- cold-start datasets ---------------------------------------------------------------------------------------


def test_labels_come_from_github_and_the_issues_unless_allow_listed() -> None:
    issues = [make_issue(1, ["area-Net"], events=[labeled_by("area-Net", BOT, "Bot")]), make_issue(2)]
    assert candidate_labels(issues, DatasetSpec(), {"area-IO": "Files"}) == ["area-IO", "area-Net"]
    assert candidate_labels(issues, DatasetSpec(allow_labels=("x", "y")), {"area-IO": ""}) == ["x", "y"]
    assert candidate_labels(issues, DatasetSpec(deny_labels=("area-Net",)), {"area-IO": ""}) == ["area-IO"]


def test_zero_labeled_issues_give_a_dataset_of_label_texts() -> None:
    issues = [make_issue(n) for n in range(1, 11)]
    with pytest.raises(EmptyDatasetError):
        build_dataset(issues, DatasetSpec())
    ds = cold_start_dataset(issues, DatasetSpec(), {"bug": "Something isn't working", "feature": None})  # type: ignore[dict-item]
    assert ds.labels == ["bug", "feature"] and ds.splits == {"train": [], "validation": [], "test": []}
    manifest = ds.manifest()
    assert manifest["cold_start"] is True and manifest["version"] == ds.version
    assert manifest["label_descriptions"] == {"bug": "Something isn't working", "feature": ""}
    other = cold_start_dataset(issues, DatasetSpec(), {"bug": "Broken", "feature": ""})
    assert other.version != ds.version  # descriptions are part of the content


def test_the_few_human_labeled_issues_are_all_training_examples() -> None:
    issues = corpus({"area-Net": 3, "area-IO": 2})
    issues.append(make_issue(50, ["area-Xml"], events=[labeled_by("area-Xml", BOT, "Bot")]))  # a bot's label
    ds = cold_start_dataset(issues, DatasetSpec(bot_login=BOT), {})
    assert ds.labels == ["area-IO", "area-Net", "area-Xml"]  # the bot's label is a label of the repository ...
    assert len(ds.splits["train"]) == 5 and 50 not in {r["number"] for r in ds.splits["train"]}  # ... not an example


def test_fewer_than_two_labels_is_a_clear_error() -> None:
    with pytest.raises(EmptyDatasetError, match="TRIAGE_ALLOW_LABELS"):
        cold_start_dataset([make_issue(1)], DatasetSpec(), {"bug": ""})


def test_a_cold_start_dataset_freezes_no_test_set(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    issues = [make_issue(n) for n in range(1, 6)]
    manifest = save_dataset(store, cold_start_dataset(issues, DatasetSpec(), {"a": "", "b": ""}))
    assert manifest["cold_start"] and frozen_test_numbers(store, issues[0].repo) is None
    later = build_dataset(corpus({"a": 20, "b": 20}), DatasetSpec(), frozen_test_numbers(store, issues[0].repo))
    save_dataset(store, later)  # the first real dataset freezes its test set as usual
    frozen = json.loads(store.get(frozen_test_name(issues[0].repo)))["numbers"]
    assert frozen and set(frozen) == {r["number"] for r in later.splits["test"]}


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=8)
label_items = st.fixed_dictionaries({"name": st.text(max_size=40) | json_values},
                                    optional={"description": st.text(max_size=800) | json_values})


@given(st.lists(label_items | json_values, max_size=8))
def test_github_label_lists_are_read_defensively(items: list) -> None:  # type: ignore[type-arg]
    found = label_descriptions(items)
    names = [i["name"].strip() for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)
             and i["name"].strip()]
    assert set(found) == set(names)
    for description in found.values():
        assert len(description) <= MAX_DESCRIPTION and "\n" not in description and description == description.strip()


@pytest.mark.parametrize("items", [None, "bug", b"bug", 7, {"name": "bug"}])
def test_a_label_list_that_is_not_a_list_gives_no_labels(items: object) -> None:
    assert label_descriptions(items) == {}  # type: ignore[arg-type]


def test_label_descriptions_of_a_real_answer() -> None:
    items = [{"id": 1, "name": "bug", "color": "d73a4a", "description": "Something isn't working"},
             {"id": 2, "name": "area-IO", "description": None}, {"id": 3, "name": "  ", "description": "x"}]
    assert label_descriptions(items) == {"bug": "Something isn't working", "area-IO": ""}
