"""Prior repositories: matching their label names to this repository's, and turning their issues into rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage.data.cold_start import cold_start_dataset
from triage.data.dataset import DatasetSpec
from triage.data.prior import prior_rows
from triage.domain.issues import Issue, LabelEvent
from triage.domain.label_words import label_key, label_mapping
from triage.ml import cold_start

TYPES = ["bug", "enhancement", "question", "documentation"]


@pytest.mark.parametrize(("prior", "own", "expected"), [
    ("kind/bug", ["Bug", "Feature"], "Bug"),
    ("type: bug", ["bug", "enhancement"], "bug"),
    ("defect", ["bug", "enhancement"], "bug"),
    ("Bug Report", ["type/bug", "type/feature"], "type/bug"),
    ("enhancement", ["type: feature request", "type: bug"], "type: feature request"),
    ("feature", ["enhancement", "bug"], "enhancement"),
    ("support", ["question", "bug"], "question"),
    ("docs", ["documentation", "bug"], "documentation"),
    ("area-System.Net", ["area-System.Net", "area-System.IO"], "area-System.Net"),
    ("area/system-net", ["area-System.Net"], "area-System.Net"),  # the same words, other separators and case
])
def test_a_prior_label_maps_to_the_label_that_means_the_same(prior: str, own: list[str], expected: str) -> None:
    assert label_mapping([prior], own) == {prior: expected}


@pytest.mark.parametrize(("prior", "own"), [
    ("bug", ["feature", "question"]),  # nothing matches
    ("area-System.Net", ["area-System.Net.Http"]),  # a narrower area is another label
    ("bug", ["bug", "type: bug"]),  # two own labels mean the same: ambiguous, left out
    ("good first issue", ["bug", "enhancement"]),
])
def test_a_prior_label_without_one_clear_match_is_left_out(prior: str, own: list[str]) -> None:
    assert label_mapping([prior], own) == {}


labels = st.text(min_size=1, max_size=30)


@given(st.lists(labels, max_size=8), st.lists(labels, max_size=8))
def test_the_mapping_only_names_own_labels_and_never_two_for_one_meaning(prior: list[str], own: list[str]) -> None:
    mapping = label_mapping(prior, own)
    assert set(mapping) <= set(prior) and set(mapping.values()) <= set(own)
    for source, target in mapping.items():
        assert label_key(source) == label_key(target)
        assert [label for label in own if label_key(label) == label_key(target)] == [target]


@given(st.lists(st.sampled_from(TYPES + ["kind/bug", "Feature", "Docs", "support"]), unique=True, max_size=6))
def test_every_unambiguous_label_maps_to_itself(own: list[str]) -> None:
    keys = [label_key(label) for label in own]
    mapping = label_mapping(own, own)
    assert mapping == {label: label for label, key in zip(own, keys) if keys.count(key) == 1}


def issue(repo: str, number: int, labels: tuple[str, ...], *, body: str = "", created: str = "", title: str = "",
          **extra: object) -> Issue:
    return Issue(repo=repo, number=number, title=title or f"Issue {number} about sockets", body=body, labels=labels,
                 created_at=created or f"2024-01-{1 + number % 28:02d}T00:00:00Z", **extra)  # type: ignore[arg-type]


def test_prior_rows_keep_human_labeled_issues_with_a_matching_label() -> None:
    template = "### Steps to reproduce\nPlease describe the steps."
    issues = [
        issue("o/old", 1, ("kind/bug",), body=template + "\nThe app crashes."),
        issue("o/old", 2, ("enhancement", "good first issue"), body=template + "\nAdd a flag."),
        issue("o/old", 3, ("good first issue",)),  # no label that matches: left out
        issue("o/old", 4, ("kind/bug",), is_pull_request=True),  # pull requests are not issues
        issue("o/old", 5, ("kind/bug",), gone="deleted"),
        issue("o/old", 6, ("kind/bug",), label_events=(LabelEvent("kind/bug", "labeled", "robot[bot]", "Bot"),)),
        issue("o/old", 7, ("kind/bug",), body=template + "\nThe app crashes.", title="Issue 1 about sockets"),  # again
        *[issue("o/old", n, ("kind/bug",), body=template + f"\nCase {n}.") for n in range(10, 14)],
        *[issue("o/old", n, ("wontfix",), body=template + f"\nOther {n}.") for n in range(20, 40)],  # learns the template
    ]
    rows = prior_rows({"o/old": issues}, ["bug", "feature"])
    assert [(r["number"], r["labels"]) for r in rows] == [(1, ["bug"]), (2, ["feature"]), (10, ["bug"]),
                                                          (11, ["bug"]), (12, ["bug"]), (13, ["bug"])]
    assert all(r["repo"] == "o/old" for r in rows)
    assert "Please describe the steps" not in rows[0]["text"]  # the prior repository's own template is stripped
    assert "The app crashes" in rows[0]["text"] and "Add a flag" in rows[1]["lexical"]


def test_prior_rows_keep_the_newest_within_the_limit_over_all_repositories() -> None:
    old = [issue("o/old", n, ("bug",), body=f"Body {n}", created=f"2023-01-{n:02d}T00:00:00Z") for n in range(1, 11)]
    new = [issue("o/new", n, ("bug",), body=f"Text {n}", created=f"2024-01-{n:02d}T00:00:00Z") for n in range(1, 6)]
    rows = prior_rows({"o/old": old, "o/new": new}, ["bug", "question"], limit=7)
    assert [(r["repo"], r["number"]) for r in rows] == [("o/old", 9), ("o/old", 10)] + [("o/new", n) for n in range(1, 6)]
    assert prior_rows({"o/old": old}, ["bug"], limit=0) == []


def test_a_cold_start_dataset_carries_the_prior_split() -> None:
    own = [issue("o/new", 1, ("bug",), body="Crash on start"), issue("o/new", 2, (), body="How do I do this?")]
    prior = {"o/old": [issue("o/old", n, ("kind/bug",) if n % 2 else ("type: question",), body=f"Case {n}")
                       for n in range(1, 9)]}
    dataset = cold_start_dataset(own, DatasetSpec(), {"bug": "Something isn't working", "question": ""}, prior=prior)
    assert dataset.splits["prior"] and {tuple(r["labels"]) for r in dataset.splits["prior"]} == {("bug",), ("question",)}
    manifest = dataset.manifest()
    assert manifest["prior_repositories"] == {"o/old": 8} and manifest["sizes"]["prior"] == 8
    without = cold_start_dataset(own, DatasetSpec(), {"bug": "", "question": ""})
    assert "prior" not in without.splits and without.manifest()["prior_repositories"] == {}
    assert without.version != dataset.version  # the prior issues are part of what the model learns from


def test_the_prior_term_weighs_a_label_as_a_fixed_number_of_issues() -> None:
    rng = np.random.default_rng(0)
    examples = rng.normal(size=(30, 8)).astype(np.float32)
    targets = np.zeros((30, 3), dtype=np.float32)
    targets[:20, 0] = 1
    targets[20:, 1] = 1  # label 2: no prior issue
    term = cold_start.prior_term(examples, targets, weight=10.0)
    assert np.allclose(np.linalg.norm(term, axis=1), [10.0, 10.0, 0.0], atol=1e-4)
    mean = cold_start.normalise(examples[:20]).mean(axis=0)
    assert np.allclose(term[0], 10.0 * mean / np.linalg.norm(mean), atol=1e-4)
    # With the term, a label with no own issue still gets the prior's direction; without, only its text.
    label_vectors = rng.normal(size=(3, 8)).astype(np.float32)
    with_prior = cold_start.prototypes(label_vectors, np.zeros((0, 8)), np.zeros((0, 3)), prior=term)
    assert float(with_prior[0] @ term[0]) / 10.0 > float(cold_start.normalise(label_vectors)[0] @ term[0]) / 10.0
    assert np.allclose(with_prior[2], cold_start.normalise(label_vectors)[2], atol=1e-5)
    loo = cold_start.leave_one_out(label_vectors, examples[:4], targets[:4], prior=term)
    assert loo.shape == (4, 3) and np.allclose(loo.sum(axis=1), 1.0, atol=1e-5)
