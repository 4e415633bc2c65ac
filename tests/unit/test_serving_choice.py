"""Which ONNX file a training run serves: the cheapest that holds up against the fp32 teacher."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from training_job.serving_choice import MAX_SERVING_LOSS, choose_serving, relative_cost

COSTS = {"model.onnx": relative_cost(6, False), "model.int8.onnx": relative_cost(6, True),
         "student.onnx": relative_cost(3, False), "student.int8.onnx": relative_cost(3, True)}


def scores(**f1: tuple[float, float]) -> dict[str, dict[str, float]]:
    """file (dots as underscores) → (validation, test) macro-F1."""
    return {name.replace("_", "."): {"validation": v, "test": t} for name, (v, t) in f1.items()}


def test_costs_follow_depth_and_precision() -> None:
    assert COSTS["student.int8.onnx"] < COSTS["student.onnx"] < COSTS["model.int8.onnx"] < COSTS["model.onnx"]
    with pytest.raises(ValueError, match="at least one layer"):
        relative_cost(0, True)


def test_the_cheapest_candidate_that_holds_up_is_served() -> None:
    f1 = scores(model_onnx=(0.70, 0.66), model_int8_onnx=(0.70, 0.66), student_onnx=(0.698, 0.657),
                student_int8_onnx=(0.69, 0.66))
    # student.int8 loses a point on validation: out; student fp32 loses 0.2 and 0.3 points: cheapest that holds.
    assert choose_serving(f1, COSTS) == "student.onnx"


def test_test_is_a_guard_never_a_reason_to_pick() -> None:
    # The teacher's int8 file is better on test than everything, but the cheaper student holds up: the student.
    f1 = scores(model_onnx=(0.70, 0.66), model_int8_onnx=(0.70, 0.70), student_onnx=(0.70, 0.661),
                student_int8_onnx=(0.70, 0.659))
    assert choose_serving(f1, COSTS) == "student.int8.onnx"
    # The same validation scores, but student.int8 loses two points on test: the guard rules it out.
    f1["student.int8.onnx"]["test"] = 0.64
    assert choose_serving(f1, COSTS) == "student.onnx"


def test_fp32_teacher_when_nothing_else_holds_up() -> None:
    f1 = scores(model_onnx=(0.70, 0.66), model_int8_onnx=(0.68, 0.66), student_onnx=(0.60, 0.70),
                student_int8_onnx=(0.71, 0.60))
    assert choose_serving(f1, COSTS) == "model.onnx"


def test_only_the_teachers_files_as_before_distillation() -> None:
    two = {k: COSTS[k] for k in ("model.onnx", "model.int8.onnx")}
    assert choose_serving(scores(model_onnx=(0.7, 0.7), model_int8_onnx=(0.695, 0.695)), two) == "model.int8.onnx"
    assert choose_serving(scores(model_onnx=(0.7, 0.7), model_int8_onnx=(0.694, 0.7)), two) == "model.onnx"


def test_bad_candidates_are_named() -> None:
    with pytest.raises(ValueError, match="reference 'model.onnx'"):
        choose_serving(scores(student_onnx=(0.7, 0.7)), COSTS)
    with pytest.raises(ValueError, match=r"\['extra.onnx'\] have no serving cost"):
        choose_serving(scores(model_onnx=(0.7, 0.7), extra_onnx=(0.7, 0.7)), COSTS)


f1_value = st.floats(0, 1, allow_nan=False)
candidate_scores = st.fixed_dictionaries({name: st.fixed_dictionaries({"validation": f1_value, "test": f1_value})
                                          for name in COSTS})


@given(candidate_scores, st.floats(0, 0.05))
def test_the_choice_holds_up_and_nothing_cheaper_does(f1: dict[str, dict[str, float]], max_loss: float) -> None:
    chosen = choose_serving(f1, COSTS, max_loss)
    base = f1["model.onnx"]

    def holds(name: str) -> bool:
        return all(round(base[s] - f1[name][s], 4) <= max_loss for s in ("validation", "test"))

    assert chosen == "model.onnx" or holds(chosen)
    assert not any(holds(name) and COSTS[name] < COSTS[chosen] for name in COSTS)


@given(candidate_scores, st.floats(0, 1, allow_nan=False))
def test_a_better_test_score_never_changes_the_choice(f1: dict[str, dict[str, float]], raise_to: float) -> None:
    chosen = choose_serving(f1, COSTS)
    for name in COSTS:
        if name != "model.onnx" and f1[name]["test"] < raise_to:  # only raising a rival's test score
            lifted = {**f1, name: {**f1[name], "test": raise_to}}
            again = choose_serving(lifted, COSTS)
            # The lifted file may newly pass the guard (then it was ruled out by test before), but a file that
            # already held up is never displaced by a rival's better test score unless the rival is cheaper.
            assert again == chosen or (again == name and COSTS[name] < COSTS[chosen])


def test_default_tolerance_is_half_a_point() -> None:
    assert MAX_SERVING_LOSS == 0.005
