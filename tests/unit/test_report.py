"""The report a maintainer reads before turning dry run off (issue #15, item 8): per-label figures at the chosen
thresholds, labels by support with their names as they are, one self-contained HTML file."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.ml.metrics import confusion, evaluate, indicator
from triage.ml.report import TABLE_HEAD, per_label_table, write_report

LABELS = ["area-Net", "bug", "kind/docs"]  # prefixes of several conventions: none may be cut


def evaluation(probs: np.ndarray, truth_sets: list[list[str]], thresholds: dict[str, float]) -> dict[str, Any]:
    truth = indicator(truth_sets, LABELS)
    result = evaluate(probs, truth, LABELS, thresholds, single_label=True)
    return result | {"confusion": confusion(truth, probs).tolist(), "labels": LABELS, "model_version": "v1"}


def manifest(thresholds: dict[str, float]) -> dict[str, Any]:
    return {"repo": "o/r", "version": "v1", "base_model": "m", "dataset_version": "d1", "labels": LABELS,
            "thresholds": {"target_precision": 0.9, "per_label": thresholds},
            "label_counts": {"train": {"area-Net": 40, "bug": 7, "kind/docs": 3}}}


def test_per_label_rows_hold_what_the_bot_would_do_at_the_thresholds() -> None:
    # Six issues: area-Net 3 times (two confident and right, one unsure), bug twice (one confident but wrong), docs once.
    probs = np.array([[0.95, 0.03, 0.02], [0.92, 0.05, 0.03], [0.5, 0.4, 0.1],
                      [0.91, 0.05, 0.04], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    truth = [["area-Net"], ["area-Net"], ["area-Net"], ["bug"], ["bug"], ["kind/docs"]]
    thresholds = {"area-Net": 0.9, "bug": 0.7, "kind/docs": 0.99}
    rows = per_label_table(evaluation(probs, truth, thresholds), manifest(thresholds))
    assert [row[0] for row in rows] == ["area-Net", "bug", "kind/docs"]  # by support, names untouched
    by = {row[0]: dict(zip(TABLE_HEAD, row)) for row in rows}
    # area-Net: labeled 3 (two right, issue 3 wrong), finds 2 of its 3 issues.
    assert by["area-Net"]["labeled at threshold"] == "3" and by["area-Net"]["precision at threshold"] == "0.67"
    assert by["area-Net"]["recall at threshold"] == "0.67" and by["area-Net"]["test support"] == "3"
    assert by["bug"]["labeled at threshold"] == "1" and by["bug"]["precision at threshold"] == "1.00"
    # Never applied: no precision to show (not a misleading 0.00), and it finds none of its issues.
    assert by["kind/docs"]["labeled at threshold"] == "0" and by["kind/docs"]["precision at threshold"] == "–"
    assert by["kind/docs"]["recall at threshold"] == "0.00" and by["kind/docs"]["train examples"] == "3"


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3)),
                min_size=1, max_size=30),
       st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3))
def test_labeled_and_precision_agree_with_a_direct_count(issues: list[tuple[int, list[float]]],
                                                         cuts: list[float]) -> None:
    probs = np.array([scores for _, scores in issues])
    truth = [[LABELS[gold]] for gold, _ in issues]
    thresholds = dict(zip(LABELS, cuts))
    rows = {row[0]: dict(zip(TABLE_HEAD, row)) for row in per_label_table(evaluation(probs, truth, thresholds),
                                                                          manifest(thresholds))}
    for j, label in enumerate(LABELS):
        chosen = [i for i, (_, scores) in enumerate(issues) if int(np.argmax(scores)) == j and scores[j] >= cuts[j]]
        right = [i for i in chosen if issues[i][0] == j]
        assert rows[label]["labeled at threshold"] == str(len(chosen))
        if chosen:
            assert rows[label]["precision at threshold"] == f"{len(right) / len(chosen):.2f}"
        supports = [int(rows[name]["test support"]) for name in rows]
    assert supports == sorted(supports, reverse=True)


def test_the_html_report_is_one_self_contained_file(tmp_path: Path) -> None:
    probs = np.array([[0.95, 0.03, 0.02], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    thresholds = {"area-Net": 0.9, "bug": 0.7, "kind/docs": 0.5}
    paths = write_report(tmp_path, manifest(thresholds), evaluation(probs, [["area-Net"], ["bug"], ["kind/docs"]],
                                                                     thresholds))
    page = paths["report.html"].read_text()
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    for source, name in zip(sources, ("confusion_matrix.png", "precision_coverage.png")):
        assert base64.b64decode(source.split(",", 1)[1]) == (tmp_path / name).read_bytes()
    assert "area-Net" in page and "kind/docs" in page and "precision at threshold" in page
