"""The training job end to end: tiny random BERT (fast) and the real MiniLM (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT
from training_job.train import TrainConfig, parse_args, run
from triage.data.dataset import DatasetSpec, build_dataset
from triage.domain.issues import Issue
from triage.ml.lexical import LexicalModel
from triage.ml.model import Classifier
from triage.ports.training import TrainingArguments

AREAS = ("area-System.Net", "area-System.IO", "area-Infrastructure")


def write_dataset(folder: Path, issues: list[Issue], **spec: object) -> dict:
    """Build a dataset from ``issues`` and write it as the training job reads it."""
    dataset = build_dataset(issues, DatasetSpec(**spec))  # type: ignore[arg-type]
    folder.mkdir(parents=True)
    for name, rows in dataset.splits.items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    manifest = dataset.manifest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def three_areas(issues: list[Issue], per_label: int) -> list[Issue]:
    """``per_label`` issues of each of three areas, spread evenly over time so every split holds all three."""
    picked: list[Issue] = []
    for area in AREAS:
        mine = [i for i in issues if i.labels == (area,)]
        picked += [mine[int(k)] for k in np.linspace(0, len(mine) - 1, per_label)]
    return sorted(picked, key=lambda i: i.sort_key)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory, corefx_issues: list[Issue]) -> Path:
    folder = tmp_path_factory.mktemp("data") / "ds"
    write_dataset(folder, three_areas(corefx_issues, 20), test_fraction=0.2, validation_fraction=0.2)
    return folder


def tiny_config(data: Path, output: Path, encoder: Path, **kw: object) -> TrainConfig:
    arguments = TrainingArguments(base_model=str(encoder), max_tokens=32, epochs=2, batch_size=8, **kw)  # type: ignore[arg-type]
    return TrainConfig(data=data, output=output, args=arguments, progress=False, version="v-test")


def test_writes_a_complete_servable_model(tiny_data: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    manifest = run(tiny_config(tiny_data, tmp_path / "model", tiny_encoder))
    folder = tmp_path / "model"
    assert {"model.onnx", "tokenizer.json", "manifest.json", "hf"} <= {p.name for p in folder.iterdir()}
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk == manifest
    for key in ("labels", "base_model", "dataset_version", "metrics", "thresholds", "created_at", "code_version", "version"):
        assert key in manifest, key
    assert manifest["labels"] == sorted(AREAS)
    assert set(manifest["metrics"]) == {"validation", "test"}
    assert set(manifest["thresholds"]["per_label"]) == set(AREAS)
    assert manifest["training"]["steps"] == manifest["training"]["planned_steps"] > 0
    # The model card travels with the model: data version, label counts, metrics, thresholds, plots.
    card = (folder / "card.md").read_text()
    assert manifest["dataset_version"] in card and f"{manifest['metrics']['test']['raw']['macro_f1']:.3f}" in card
    for label in AREAS:
        count, threshold = manifest["label_counts"]["train"][label], manifest["thresholds"]["per_label"][label]
        assert f"| {label} | {count} | {threshold:.2f} |" in card
    assert "data:image/png;base64," in (folder / "card.html").read_text()  # plots inlined: one file to share
    for plot in ("confusion_matrix.png", "precision_coverage.png"):
        assert (folder / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / "model.int8.onnx").stat().st_size < (folder / "model.onnx").stat().st_size
    serving = manifest["serving"]
    assert serving["file"] in ("model.onnx", "model.int8.onnx") and set(serving["int8_macro_f1_delta"]) == {"validation", "test"}
    assert (serving["file"] == "model.int8.onnx") == (max(serving["int8_macro_f1_delta"].values()) <= 0.005)
    # Served: the equal blend of the encoder and the lexical model.
    assert (folder / "lexical.npz").is_file() and manifest["ensemble"]["encoder_weight"] == 0.5
    assert set(manifest["ensemble"]["validation_macro_f1_by_weight"]) == {str(w / 10) for w in range(11)}
    served = Classifier.from_dir(folder)
    rows = [served.encode("HttpClient times out", "SocketsHttpHandler on Linux")]
    lexical = LexicalModel.from_bytes((folder / "lexical.npz").read_bytes()).predict_proba([rows[0]["lexical"]])
    np.testing.assert_allclose(served.predict_rows(rows), 0.5 * served.encoder_proba([rows[0]["text"]]) + 0.5 * lexical,
                               rtol=1e-5)
    model = Classifier.from_dir(folder)
    probs = model.encoder_proba(["HttpClient times out on Linux", "File.Move fails on network share"])
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert not list(tmp_path.glob("*.partial-*")), "no partial folder may be left behind"


def test_same_seed_gives_the_same_model(tiny_data: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    texts = ["Socket exception in SslStream", "Build fails on arm64", "Directory.Delete throws"]
    probs = []
    for name in ("a", "b"):
        run(tiny_config(tiny_data, tmp_path / name, tiny_encoder, seed=7))
        probs.append(Classifier.from_dir(tmp_path / name).encoder_proba(texts))
    np.testing.assert_array_equal(probs[0], probs[1])


def test_budget_stops_training(tiny_data: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    manifest = run(tiny_config(tiny_data, tmp_path / "m", tiny_encoder, budget_minutes=1e-9))
    assert manifest["training"]["stopped_by_budget"] is True
    assert manifest["training"]["steps"] < manifest["training"]["planned_steps"]


def test_multi_label_mode(corefx_issues: list[Issue], tiny_encoder: Path, tmp_path: Path) -> None:
    issues = three_areas(corefx_issues, 12)
    # Give every third issue a second label so the dataset is multi-label.
    issues = [Issue(**{**i.__dict__, "labels": i.labels + (("needs-triage",) if n % 3 == 0 else ())})
              for n, i in enumerate(issues)]
    manifest = write_dataset(tmp_path / "ds", issues, test_fraction=0.2, validation_fraction=0.2, min_examples=3)
    assert manifest["mode"] == "multi"
    run(tiny_config(tmp_path / "ds", tmp_path / "m", tiny_encoder))
    model = Classifier.from_dir(tmp_path / "m")
    probs = model.encoder_proba(["one", "two"])
    assert model.single_label is False
    assert ((probs > 0) & (probs < 1)).all() and not np.allclose(probs.sum(axis=1), 1.0)


def test_refuses_a_non_empty_output_folder(tiny_data: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "old.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="not empty"):
        run(tiny_config(tiny_data, tmp_path / "m", tiny_encoder))
    assert (tmp_path / "m" / "old.txt").read_text() == "keep me"


def test_writes_into_an_empty_mounted_output_folder(tiny_data: Path, tiny_encoder: Path, tmp_path: Path) -> None:
    (tmp_path / "mount").mkdir()  # as Azure ML prepares a job's output
    run(tiny_config(tiny_data, tmp_path / "mount", tiny_encoder))
    assert Classifier.from_dir(tmp_path / "mount").labels == sorted(AREAS)


def test_a_shallower_encoder_is_trained_exported_and_served(tiny_data: Path, tiny_encoder: Path,
                                                            tmp_path: Path) -> None:
    manifest = run(tiny_config(tiny_data, tmp_path / "m", tiny_encoder, encoder_layers=1))
    assert manifest["encoder_layers"] == 1
    assert json.loads((tmp_path / "m" / "hf" / "config.json").read_text())["num_hidden_layers"] == 1
    import onnx

    graph = onnx.load(str(tmp_path / "m" / "model.onnx")).graph
    # One attention softmax per layer: the exported graph has the kept layer only.
    assert sum(node.op_type == "Softmax" for node in graph.node) == 1
    assert Classifier.from_dir(tmp_path / "m").encoder_proba(["HttpClient times out"]).shape == (1, 3)
    with pytest.raises(SystemExit, match="out of range: the encoder has 2 layers"):
        run(tiny_config(tiny_data, tmp_path / "m3", tiny_encoder, encoder_layers=3))
    assert not (tmp_path / "m3").exists()


def test_arguments_are_validated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = tmp_path / "args.json"
    for bad in ({"max_tokens": 4}, {"encoder_layers": -1}, {"target_precision": 1}, {"epochs": "2"}, {"nope": 1}, []):
        args.write_text(json.dumps(bad))
        with pytest.raises(SystemExit):
            parse_args(["--data", "d", "--output", "o", "--args", str(args)])
        assert "--args" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--data", "d", "--output", "o", "--args", str(tmp_path / "missing.json")])
    args.write_text(TrainingArguments(epochs=2.5, encoder_layers=3).to_json())
    config = parse_args(["--data", "d", "--output", "o", "--args", str(args), "--device", "cpu"])
    assert config.args.epochs == 2.5 and config.device == "cpu" and config.data == Path("d")
    assert config.args.encoder_layers == 3 and parse_args(["--data", "d", "--output", "o"]).args == TrainingArguments()


def test_serving_path_does_not_import_torch() -> None:
    code = ("import sys, function_app, triage.cli.main, triage.app.labeling, triage.ml.model, triage.learning.promotion,"
            " triage.cli.demo;"
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.slow
def test_real_minilm_beats_the_majority_class(corefx_issues: list[Issue], tmp_path: Path) -> None:
    """Fine-tune the real all-MiniLM-L6-v2 on ~60 real issues; it must beat the majority baseline on held-out ones."""
    issues = three_areas(corefx_issues, 30)
    manifest = write_dataset(tmp_path / "ds", issues, test_fraction=0.3, validation_fraction=0.1)
    assert 55 <= manifest["sizes"]["train"] <= 70
    result = run(TrainConfig(data=tmp_path / "ds", output=tmp_path / "m", progress=False,
                             args=TrainingArguments(max_tokens=96, epochs=5, batch_size=8, seed=1)))
    test = result["metrics"]["test"]["raw"]
    train_counts, test_counts = manifest["label_counts"]["train"], manifest["label_counts"]["test"]
    majority_label = max(train_counts, key=train_counts.get)
    majority = test_counts.get(majority_label, 0) / sum(test_counts.values())
    print(f"accuracy {test['accuracy']:.3f} vs majority {majority:.3f}")
    assert test["accuracy"] > majority + 0.15, (test["accuracy"], majority)
