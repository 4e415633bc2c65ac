"""Which of a training run's ONNX files is served: the fastest one that is as good as the teacher.

A pure decision over scores the training job has already measured, so it is tested directly.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_SERVING_LOSS = 0.005  # half a point of blended macro-F1 on validation, and on test as a guard
REFERENCE = "model.onnx"  # the fine-tuned teacher in fp32: what every other candidate is compared with
INT8_COST = 0.64  # int8 time / fp32 time per layer on the serving path (corefx demo model: p50 17.4 vs 27.4 ms)


def relative_cost(layers: int, int8: bool) -> float:
    """Estimated single-issue encoder time in fp32-layer units: time grows with depth, int8 is cheaper per layer."""
    if layers < 1:
        raise ValueError(f"an encoder has at least one layer, got {layers}")
    return round(layers * (INT8_COST if int8 else 1.0), 4)


def choose_serving(scores: Mapping[str, Mapping[str, float]], costs: Mapping[str, float],
                   max_loss: float = MAX_SERVING_LOSS, reference: str = REFERENCE) -> str:
    """The cheapest candidate whose macro-F1 is at most ``max_loss`` below the reference's on validation **and** test.

    ``scores``: file → {"validation": macro-F1, "test": macro-F1}; ``costs``: file → relative serving cost.
    Only validation and cost choose; test is a guard that can rule a candidate out, never favour one (a
    candidate that beats the reference on test is not preferred over a cheaper one that merely holds up).
    Validation alone is too small to trust: on corefx it once favoured an int8 model that lost 2.5 points on
    test. Ties in cost go to the name, so the choice is deterministic. The reference itself always qualifies.
    """
    if reference not in scores:
        raise ValueError(f"the reference {reference!r} must be among the candidates {sorted(scores)}")
    missing = sorted(set(scores) - set(costs))
    if missing:
        raise ValueError(f"candidates {missing} have no serving cost")
    base = scores[reference]

    def holds(file: str) -> bool:
        return all(round(base[split] - scores[file][split], 4) <= max_loss for split in ("validation", "test"))

    return min((file for file in scores if file == reference or holds(file)), key=lambda file: (costs[file], file))
