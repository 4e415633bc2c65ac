"""Tests of triage.metrics on small examples computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from triage.ml.metrics import (
    NEVER,
    confusion,
    evaluate,
    indicator,
    pick_thresholds,
    precision_coverage_curve,
    predict,
    report,
)

LABELS = ["a", "b", "c"]


def rows(*label_sets: str) -> np.ndarray:
    """Indicator matrix over LABELS from strings like ``"a"``, ``"ab"``, ``""``."""
    return indicator([list(s) for s in label_sets], LABELS)


def test_indicator_ignores_unknown_labels() -> None:
    m = indicator([["a"], ["b", "zzz"], []], ["a", "b"])
    assert m.tolist() == [[1, 0], [0, 1], [0, 0]]
    assert m.dtype == np.int8


# --- report --------------------------------------------------------------------------


def test_report_single_label_hand_computed() -> None:
    # issue:  0    1    2    3    4    5
    truth = rows("a", "a", "b", "b", "a", "a")
    pred = rows("a", "b", "b", "", "c", "a")
    r = report(truth, pred, LABELS)
    a, b, c = (r["per_label"][x] for x in LABELS)
    # a: tp=2 (0,5) fp=0 fn=2 (1,4)
    assert a == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 4, "labeled": 2})
    # b: tp=1 (2) fp=1 (1) fn=1 (3)
    assert b == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "labeled": 2})
    # c: no support, one false positive
    assert c == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "labeled": 1}
    # macro over labels with support only (a, b): (2/3 + 1/2) / 2; including c would give 7/18
    assert r["macro_f1"] == pytest.approx(7 / 12)
    # micro: tp=3, fp=2, fn=3 -> P=0.6, R=0.5
    assert r["precision_when_labeled"] == pytest.approx(0.6)
    assert r["micro_f1"] == pytest.approx(2 * 0.6 * 0.5 / 1.1)
    assert r["accuracy"] == pytest.approx(3 / 6)  # issues 0, 2 and 5
    assert r["coverage"] == pytest.approx(5 / 6)
    assert r["n"] == 6


def test_report_multi_label_accuracy_needs_exact_set() -> None:
    truth = rows("ab", "ab", "c", "")
    pred = rows("ab", "a", "c", "")
    r = report(truth, pred, LABELS)
    assert r["accuracy"] == pytest.approx(3 / 4)  # the empty/empty row counts as exact
    assert r["coverage"] == pytest.approx(3 / 4)
    assert r["per_label"]["b"]["recall"] == pytest.approx(0.5)
    assert r["per_label"]["a"]["f1"] == pytest.approx(1.0)
    # micro: tp=4 fp=0 fn=1
    assert r["micro_f1"] == pytest.approx(2 * 1.0 * 0.8 / 1.8)


def test_report_perfect_and_empty() -> None:
    truth = rows("a", "b", "c")
    perfect = report(truth, truth.copy(), LABELS)
    assert perfect["macro_f1"] == perfect["micro_f1"] == perfect["accuracy"] == perfect["coverage"] == 1.0
    empty = report(np.zeros((0, 3), dtype=np.int8), np.zeros((0, 3), dtype=np.int8), LABELS)
    assert empty["macro_f1"] == empty["micro_f1"] == empty["accuracy"] == empty["coverage"] == 0.0
    assert empty["n"] == 0


def test_report_nothing_predicted() -> None:
    r = report(rows("a", "b"), rows("", ""), LABELS)
    assert r["coverage"] == 0.0 and r["micro_f1"] == 0.0 and r["macro_f1"] == 0.0
    assert r["precision_when_labeled"] == 0.0


# --- predict -------------------------------------------------------------------------

PROBS = np.array([
    [0.70, 0.20, 0.10],
    [0.40, 0.35, 0.25],
    [0.05, 0.15, 0.80],
])


def test_predict_single_label_without_thresholds_is_argmax() -> None:
    assert predict(PROBS, None, single_label=True).tolist() == [[1, 0, 0], [1, 0, 0], [0, 0, 1]]


def test_predict_single_label_with_thresholds_abstains_on_unsure_top() -> None:
    thresholds = np.array([0.5, 0.3, 0.9])
    # row 1: top a=0.40 < 0.5 -> nothing, even though b=0.35 >= 0.3 (only the top label counts)
    # row 2: top c=0.80 < 0.9 -> nothing
    assert predict(PROBS, thresholds, single_label=True).tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]


def test_predict_multi_label_default_threshold_half_and_max_labels() -> None:
    probs = np.array([[0.9, 0.6, 0.7], [0.2, 0.1, 0.4]])
    assert predict(probs, None, single_label=False, max_labels=3).tolist() == [[1, 1, 1], [0, 0, 0]]
    assert predict(probs, None, single_label=False, max_labels=2).tolist() == [[1, 0, 1], [0, 0, 0]]
    assert predict(probs, None, single_label=False, max_labels=1).tolist() == [[1, 0, 0], [0, 0, 0]]


def test_predict_multi_label_per_label_thresholds() -> None:
    probs = np.array([[0.9, 0.6, 0.7], [0.3, 0.25, 0.2]])
    thresholds = np.array([0.95, 0.5, 0.5])
    assert predict(probs, thresholds, single_label=False, max_labels=3).tolist() == [[0, 1, 1], [0, 0, 0]]
    thresholds = np.array([0.2, 0.2, 0.2])
    assert predict(probs, thresholds, single_label=False, max_labels=2).tolist() == [[1, 0, 1], [1, 1, 0]]


def test_predict_multi_label_takes_best_labels_that_reach_their_threshold() -> None:
    """``max_labels`` picks among labels reaching their threshold, as policy.decide does when serving.
    """
    probs = np.array([[0.5, 0.45, 0.4]])
    thresholds = np.array([0.9, 0.9, 0.3])
    assert predict(probs, thresholds, single_label=False, max_labels=1).tolist() == [[0, 0, 1]]


# --- pick_thresholds ------------------------------------------------------------------

# Label a is the top label of 10 validation issues, b of 3 (scores and correctness below).
A_TOP = [(0.95, True), (0.90, True), (0.85, True), (0.80, True), (0.75, False),
         (0.70, True), (0.65, True), (0.60, False), (0.55, False), (0.52, False)]
B_TOP = [(0.93, True), (0.78, False), (0.58, True)]


def single_label_validation() -> tuple[np.ndarray, np.ndarray]:
    """Two-label single-label validation data whose top-label decisions are A_TOP and B_TOP."""
    probs, truth = [], []
    for score, right in A_TOP:
        probs.append([score, 1 - score])
        truth.append([1, 0] if right else [0, 1])
    for score, right in B_TOP:
        probs.append([1 - score, score])
        truth.append([0, 1] if right else [1, 0])
    return np.array(probs), np.array(truth, dtype=np.int8)


def test_pick_thresholds_own_and_global_hand_computed() -> None:
    probs, truth = single_label_validation()
    t = pick_thresholds(probs, truth, ["a", "b"], target_precision=0.85, single_label=True, min_support=8, z=0)
    # a (10 candidates): cumulative precision 1,1,1,1,.8,.833,.857,.75,.667,.6 -> lowest cut with >= .85 is 0.65
    assert t["per_label"]["a"] == pytest.approx(0.65)
    assert t["source"] == {"a": "own", "b": "global"}
    # pooled: .95T .93T .90T .85T .80T .78F .75F .70T ... -> precision after .80 is 1, after .78 is .833
    assert t["global"] == pytest.approx(0.80)
    assert t["per_label"]["b"] == t["global"]
    assert t["target_precision"] == 0.85


def test_thresholds_reach_target_precision_on_validation() -> None:
    """Each own threshold reaches the target for its label; the global one for the pooled decisions."""
    probs, truth = single_label_validation()
    for target in (0.6, 0.75, 0.85, 0.9, 1.0):
        t = pick_thresholds(probs, truth, ["a", "b"], target_precision=target, single_label=True, min_support=3, z=0)
        cut = np.array([t["per_label"]["a"], t["per_label"]["b"]])
        r = report(truth, predict(probs, cut, single_label=True), ["a", "b"])
        for label in ("a", "b"):
            assert t["per_label"][label] < NEVER
            assert r["per_label"][label]["precision"] >= target
        pooled = report(truth, predict(probs, np.full(2, t["global"]), single_label=True), ["a", "b"])
        assert pooled["precision_when_labeled"] >= target and pooled["coverage"] > 0


def test_lower_target_gives_lower_or_equal_thresholds() -> None:
    probs, truth = single_label_validation()
    strict = pick_thresholds(probs, truth, ["a", "b"], 0.95, single_label=True, min_support=8, z=0)
    loose = pick_thresholds(probs, truth, ["a", "b"], 0.7, single_label=True, min_support=8, z=0)
    assert loose["per_label"]["a"] <= strict["per_label"]["a"]
    assert loose["global"] <= strict["global"]
    assert loose["global"] == pytest.approx(0.58)  # pooled precision .7 at 0.60, 8/11 at 0.58, 8/12 at 0.55


def test_min_support_decides_own_threshold() -> None:
    probs, truth = single_label_validation()
    t = pick_thresholds(probs, truth, ["a", "b"], 0.85, single_label=True, min_support=3, z=0)
    assert t["source"] == {"a": "own", "b": "own"}
    # b alone: .93T (1.0), .78F (.5), .58T (.667) -> only the first cut reaches .85
    assert t["per_label"]["b"] == pytest.approx(0.93)
    t = pick_thresholds(probs, truth, ["a", "b"], 0.85, single_label=True, min_support=11, z=0)
    assert t["source"] == {"a": "global", "b": "global"}


def test_unreachable_target_gives_never() -> None:
    # a is always the top label and always wrong
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]])
    truth = np.array([[0, 1], [0, 1], [0, 1]], dtype=np.int8)
    t = pick_thresholds(probs, truth, ["a", "b"], 0.5, single_label=True, min_support=1, z=0)
    assert t["per_label"]["a"] == NEVER
    assert t["global"] == NEVER
    assert t["per_label"]["b"] == NEVER  # no candidates of its own: the (unreachable) global one
    assert predict(probs, np.array([NEVER, NEVER]), single_label=True).sum() == 0


def test_target_one_is_never_when_best_score_is_wrong() -> None:
    probs, truth = single_label_validation()
    truth[0] = [0, 1]  # a's 0.95 decision is now wrong
    t = pick_thresholds(probs, truth, ["a", "b"], 1.0, single_label=True, min_support=8, z=0)
    assert t["per_label"]["a"] == NEVER


def test_ties_are_not_split() -> None:
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.8, 0.2]])
    truth = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.int8)
    # Cutting between the two 0.8s would give precision 1.0 at "0.8", but both 0.8s are in or out.
    t = pick_thresholds(probs, truth, ["a", "b"], 0.9, single_label=True, min_support=1, z=0)
    assert t["per_label"]["a"] == pytest.approx(0.9)
    t = pick_thresholds(probs, truth, ["a", "b"], 0.6, single_label=True, min_support=1, z=0)
    assert t["per_label"]["a"] == pytest.approx(0.8)


def test_multi_label_thresholds_use_each_label_column() -> None:
    # Column a: .9T .8T .7F .6T ; column b: .9F .3F .2T .1F ; .01 scores are ignored as hopeless.
    probs = np.array([[0.9, 0.9], [0.8, 0.3], [0.7, 0.2], [0.6, 0.1], [0.01, 0.01]])
    truth = np.array([[1, 0], [1, 0], [0, 1], [1, 0], [1, 1]], dtype=np.int8)
    t = pick_thresholds(probs, truth, ["a", "b"], 0.7, single_label=False, min_support=4, z=0)
    assert t["source"] == {"a": "own", "b": "own"}
    assert t["per_label"]["a"] == pytest.approx(0.6)  # precision 3/4 at 0.6
    assert t["per_label"]["b"] == NEVER  # best cut gives 1/3
    assert t["global"] == NEVER  # pooled: the 0.9 tie (one right, one wrong) gives 1/2, then 2/3, 1/2, 3/5 ...


def test_confidence_bound_needs_more_right_decisions() -> None:
    """By default a cut must reach the target at the lower end of the Wilson interval, not on average."""
    probs, truth = single_label_validation()
    # a's first four decisions are right: observed precision 1.0, Wilson lower bound at z=1.28 is 4/(4+1.64)=0.71.
    assert pick_thresholds(probs, truth, ["a", "b"], 0.7, single_label=True, min_support=8)["per_label"]["a"] == \
        pytest.approx(0.80)
    assert pick_thresholds(probs, truth, ["a", "b"], 0.75, single_label=True, min_support=8)["per_label"]["a"] == NEVER
    # 60 right and 2 wrong (bound 0.925) reach a 0.9 target; 30 and 1 (bound 0.898), the same observed 0.968, do not.
    for right, wrong, reached in ((60, 2, True), (30, 1, False)):
        scores = np.r_[np.linspace(0.99, 0.7, right), [0.65] * wrong, [0.55] * 10]
        probs = np.c_[scores, 1 - scores]
        truth = np.array([[1, 0]] * right + [[0, 1]] * (wrong + 10), dtype=np.int8)
        t = pick_thresholds(probs, truth, ["a", "b"], 0.9, single_label=True)
        assert t["source"]["a"] == "own" and t["confidence_z"] == 1.28
        assert (t["per_label"]["a"] == pytest.approx(0.65)) is reached
        assert pick_thresholds(probs, truth, ["a", "b"], 0.9, single_label=True, z=0)["per_label"]["a"] == \
            pytest.approx(0.65)


def test_empty_validation_gives_never() -> None:
    t = pick_thresholds(np.zeros((0, 2)), np.zeros((0, 2), dtype=np.int8), ["a", "b"], 0.9, single_label=True)
    assert t["global"] == NEVER and t["per_label"] == {"a": NEVER, "b": NEVER}


# --- curve, confusion, evaluate -------------------------------------------------------


def test_precision_coverage_curve_values() -> None:
    # top scores: .6 (right), .9 (right), .7 (right), .8 (wrong) -- deliberately unsorted
    probs = np.array([[0.6, 0.4], [0.9, 0.1], [0.3, 0.7], [0.8, 0.2]])
    truth = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=np.int8)
    curve = precision_coverage_curve(probs, truth)
    assert curve["threshold"] == [0.9, 0.8, 0.7, 0.6]
    assert curve["coverage"] == [0.25, 0.5, 0.75, 1.0]
    assert curve["precision"] == pytest.approx([1.0, 0.5, 2 / 3, 0.75], abs=1e-6)
    assert all(x <= y for x, y in zip(curve["coverage"], curve["coverage"][1:]))
    assert all(x >= y for x, y in zip(curve["threshold"], curve["threshold"][1:]))


def test_precision_coverage_curve_empty() -> None:
    assert precision_coverage_curve(np.zeros((0, 2)), np.zeros((0, 2))) == {"threshold": [], "coverage": [], "precision": []}


def test_confusion_counts_first_true_label_against_top_prediction() -> None:
    truth = rows("a", "a", "b", "bc", "", "c")
    probs = np.array([
        [0.8, 0.1, 0.1],  # a -> a
        [0.2, 0.7, 0.1],  # a -> b
        [0.1, 0.8, 0.1],  # b -> b
        [0.1, 0.2, 0.7],  # b (first of b,c) -> c
        [0.9, 0.05, 0.05],  # no true label: skipped
        [0.6, 0.2, 0.2],  # c -> a
    ])
    m = confusion(truth, probs)
    assert m.tolist() == [[1, 1, 0], [0, 1, 1], [1, 0, 0]]
    assert m.sum() == 5


def test_evaluate_has_raw_thresholded_and_curve() -> None:
    probs, truth = single_label_validation()
    result = evaluate(probs, truth, ["a", "b"], {"a": NEVER, "b": NEVER}, single_label=True)
    assert result["raw"]["coverage"] == 1.0
    assert result["at_thresholds"]["coverage"] == 0.0
    assert len(result["curve"]["threshold"]) == len(probs)
    assert "at_thresholds" not in evaluate(probs, truth, ["a", "b"], None, single_label=True)
