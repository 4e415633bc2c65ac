"""Distillation in the training job: a shallower student of the fine-tuned model, served when it holds up."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_training_job import three_areas, tiny_config, write_dataset
from training_job.distil import (
    STUDENT_FILE,
    STUDENT_INT8_FILE,
    UNLABELED_FILE,
    distil_loss,
    layer_indices,
    read_unlabeled,
)
from training_job.serving_choice import choose_serving
from training_job.train import TrainConfig, parse_args, run
from triage.domain.issues import Issue
from triage.ml.model import Classifier

UNLABELED = ["SslStream hangs on renegotiation", "Path.Combine drops the drive letter", "CI leg times out on arm64"]


@pytest.fixture(scope="module")
def data_with_unlabeled(tmp_path_factory: pytest.TempPathFactory, corefx_issues: list[Issue]) -> Path:
    folder = tmp_path_factory.mktemp("distil") / "ds"
    write_dataset(folder, three_areas(corefx_issues, 20), test_fraction=0.2, validation_fraction=0.2)
    (folder / UNLABELED_FILE).write_text("".join(json.dumps({"number": n, "text": t}) + "\n"
                                                 for n, t in enumerate(UNLABELED)))
    return folder


def distilling(config: TrainConfig, layers: int) -> TrainConfig:
    """``config`` with a student of ``layers`` layers asked for."""
    return replace(config, args=replace(config.args, distil_layers=layers))


def onnx_layers(path: Path) -> set[int]:
    """The transformer layer numbers whose weights an exported ONNX file holds."""
    names = (init.name for init in onnx.load(str(path)).graph.initializer)
    return {int(m.group(1)) for name in names if (m := re.search(r"encoder\.encoder\.layer\.(\d+)\.", name))}


def test_student_is_trained_exported_and_considered(data_with_unlabeled: Path, tiny_encoder: Path,
                                                    tmp_path: Path) -> None:
    folder = tmp_path / "model"
    manifest = run(distilling(tiny_config(data_with_unlabeled, folder, tiny_encoder), 1))
    record = manifest["distillation"]
    assert record["layers"] == 1 and record["teacher_layers_kept"] == [0]
    assert record["unlabeled_texts"] == len(UNLABELED) and record["steps"] == record["planned_steps"] > 0
    assert onnx_layers(folder / "model.onnx") == {0, 1}  # the teacher: the tiny encoder's 2 layers
    assert onnx_layers(folder / STUDENT_FILE) == {0}
    candidates = manifest["serving"]["candidates"]
    assert set(candidates) == {"model.onnx", "model.int8.onnx", STUDENT_FILE, STUDENT_INT8_FILE}
    scores = {name: {"validation": c["validation_macro_f1"], "test": c["test_macro_f1"]}
              for name, c in candidates.items()}
    costs = {name: c["relative_cost"] for name, c in candidates.items()}
    assert costs[STUDENT_INT8_FILE] < costs[STUDENT_FILE] < costs["model.onnx"]
    assert manifest["serving"]["file"] == choose_serving(scores, costs)
    assert {STUDENT_FILE, STUDENT_INT8_FILE} <= set(manifest["files"])
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    texts = ["HttpClient times out on Linux", "File.Move fails on network share"]
    student = Classifier.from_dir(folder, onnx_file=STUDENT_FILE).encoder_proba(texts)
    teacher = Classifier.from_dir(folder, onnx_file="model.onnx").encoder_proba(texts)
    assert student.shape == (2, 3)
    np.testing.assert_allclose(student.sum(axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(student, teacher)  # a different, shallower network
    served = Classifier.from_dir(folder)  # whatever was chosen loads and labels
    assert set(served.scores("SocketsHttpHandler leaks", "on macOS")) == set(manifest["labels"])


def test_no_student_as_deep_as_the_teacher(data_with_unlabeled: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    manifest = run(distilling(tiny_config(data_with_unlabeled, tmp_path / "m", tiny_encoder), 2))
    assert manifest["distillation"] is None
    assert set(manifest["serving"]["candidates"]) == {"model.onnx", "model.int8.onnx"}
    assert not (tmp_path / "m" / STUDENT_FILE).exists()


def test_the_option_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args(["--data", "d", "--output", "o", "--distil-layers", "3"]).args.distil_layers == 3
    assert parse_args(["--data", "d", "--output", "o"]).args.distil_layers == 0
    with pytest.raises(SystemExit):
        parse_args(["--data", "d", "--output", "o", "--distil-layers", "-1"])
    assert "--distil-layers -1:" in capsys.readouterr().err


@given(st.integers(2, 48).flatmap(lambda total: st.tuples(st.just(total), st.integers(1, total - 1))), st.booleans())
def test_layer_indices(total_keep: tuple[int, int], spread: bool) -> None:
    total, keep = total_keep
    picked = layer_indices(total, keep, spread)
    assert len(picked) == keep and picked == sorted(set(picked)) and picked[0] >= 0 and picked[-1] < total
    if spread and keep >= 2:
        assert picked[0] == 0 and picked[-1] == total - 1
    if not spread:
        assert picked == list(range(keep))


@pytest.mark.parametrize("total, keep", [(6, 0), (6, 6), (6, 7), (1, 1)])
def test_layer_indices_out_of_range(total: int, keep: int) -> None:
    with pytest.raises(ValueError, match=f"of the teacher's {total} layers"):
        layer_indices(total, keep)


def test_spread_and_first_on_minilm() -> None:
    assert layer_indices(6, 3) == [0, 2, 5]
    assert layer_indices(6, 2) == [0, 5] and layer_indices(6, 3, spread=False) == [0, 1, 2]


@pytest.mark.parametrize("single", [True, False])
def test_distil_loss(single: bool) -> None:
    torch.manual_seed(0)
    teacher = torch.randn(8, 4) * 3
    target = torch.nn.functional.one_hot(teacher.argmax(dim=1), 4).float()
    none = torch.zeros(8, dtype=torch.bool)
    soft_only = distil_loss(teacher, teacher, target, none, single, hard_weight=0.5)
    if single:
        assert float(soft_only) == pytest.approx(0.0, abs=1e-6)  # KL of identical distributions
    worse = distil_loss(-teacher, teacher, target, none, single)
    assert float(worse) > float(soft_only) + 0.1
    # Unlabeled rows (mask False) carry no hard loss: the same loss whatever their target says.
    assert float(distil_loss(teacher, teacher, 1 - target, none, single)) == pytest.approx(float(soft_only))
    labeled = torch.ones(8, dtype=torch.bool)
    assert float(distil_loss(teacher, teacher, 1 - target, labeled, single)) > float(soft_only)


def test_read_unlabeled_bounded_and_absent(tmp_path: Path) -> None:
    assert read_unlabeled(tmp_path) == []
    (tmp_path / UNLABELED_FILE).write_text("".join(json.dumps({"text": f"t{i}"}) + "\n\n" for i in range(10)))
    assert read_unlabeled(tmp_path, limit=3) == ["t7", "t8", "t9"]


@pytest.mark.parametrize("line, problem", [
    ("{not json", "line 2 is not JSON"),
    ('["a list"]', "line 2 has no text"),
    ('{"text": 5}', "line 2 has no text"),
    ('{"title": "no text"}', "line 2 has no text"),
    ("NaN", "line 2 has no text"),
])
def test_read_unlabeled_names_the_bad_line(tmp_path: Path, line: str, problem: str) -> None:
    (tmp_path / UNLABELED_FILE).write_text(json.dumps({"text": "fine"}) + "\n" + line + "\n")
    with pytest.raises(SystemExit, match=f"{UNLABELED_FILE} {problem}; rebuild the dataset"):
        read_unlabeled(tmp_path)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=30)
@given(st.lists(st.text(max_size=40), max_size=20))
def test_read_unlabeled_round_trips(tmp_path: Path, texts: list[str]) -> None:
    (tmp_path / UNLABELED_FILE).write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts))
    assert read_unlabeled(tmp_path) == texts
