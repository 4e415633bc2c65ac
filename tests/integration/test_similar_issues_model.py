"""Similar past issues with real trained models: the stored file, the second ONNX output, serving and the reasons.

The tiny session model (``tiny_area_model``) checks shapes, hashes and the arithmetic; the cold-start model on the
real all-MiniLM-L6-v2 (no fine-tuning, seconds) checks that neighbours mean something on the demo data.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from benchmarks.serving import neighbour_quality
from tests.conftest import minilm_path
from training_job.train import TrainConfig, run
from triage.adapters.local.stores import LocalBlobStore
from triage.app.serving import with_evidence
from triage.app.writers import comment_body
from triage.data.cold_start import cold_start_dataset
from triage.data.dataset import DatasetSpec
from triage.domain.issues import Issue
from triage.domain.labels import NO_RENAMES
from triage.domain.policy import Policy, decide
from triage.ml.model import Classifier
from triage.ml.neighbours import NEIGHBOURS_FILE, Neighbours
from triage.ports.training import TrainingArguments


def rows(folder: Path, *splits: str) -> list[dict]:
    return [json.loads(line) for name in splits for line in (folder / f"{name}.jsonl").read_text().splitlines() if line]


def test_the_model_folder_holds_the_labeled_issues_embeddings(tiny_area_model: Path) -> None:
    manifest = json.loads((tiny_area_model / "manifest.json").read_text())
    stored = rows(tiny_area_model.parent / "ds", "train", "validation")
    data = (tiny_area_model / NEIGHBOURS_FILE).read_bytes()
    assert manifest["files"][NEIGHBOURS_FILE] == hashlib.sha256(data).hexdigest()
    record = manifest["neighbours"]
    assert record["issues"] == len(stored) == record["of"] and record["bytes"] == len(data)
    assert record["embedded_by"] == manifest["serving"]["file"]
    with np.load(tiny_area_model / NEIGHBOURS_FILE, allow_pickle=False) as npz:
        assert npz["vectors"].dtype == np.float16 and npz["vectors"].shape == (len(stored), 32)  # the tiny BERT's width
        assert np.allclose(np.linalg.norm(npz["vectors"].astype(np.float32), axis=1), 1, atol=2e-3)
        assert sorted(npz["numbers"].tolist()) == sorted(r["number"] for r in stored)
        assert list(npz["label_names"]) == manifest["labels"]
    index = Neighbours(data, manifest["labels"])
    by_number = {r["number"]: r for r in stored}
    for label in manifest["labels"]:
        assert sorted(index.numbers[index.rows(label)].tolist()) == sorted(
            r["number"] for r in stored if label in r["labels"])
    for number, title in zip(index.numbers.tolist(), index.titles):
        assert by_number[number]["text"].startswith(title)


def test_both_onnx_files_give_the_embedding_of_the_same_run(tiny_area_model: Path) -> None:
    texts = [r["text"] for r in rows(tiny_area_model.parent / "ds", "test")[:6]]
    tokenizer = (tiny_area_model / "tokenizer.json").read_text()
    manifest = json.loads((tiny_area_model / "manifest.json").read_text())
    embeddings = {}
    for file in ("model.onnx", "model.int8.onnx"):
        outputs = [o.name for o in onnx.load(str(tiny_area_model / file)).graph.output]
        assert outputs == ["logits", "embedding"], file
        embeddings[file] = Classifier(str(tiny_area_model / file), tokenizer, manifest).embed(texts)
        assert np.allclose(np.linalg.norm(embeddings[file], axis=1), 1, atol=1e-4)
    assert (embeddings["model.onnx"] * embeddings["model.int8.onnx"]).sum(axis=1).min() > 0.9


def test_serving_finds_the_most_similar_stored_issues_of_a_label_without_a_second_run(tiny_area_model: Path) -> None:
    model = Classifier.from_dir(tiny_area_model)
    assert model.neighbours is not None
    runs = []
    session_run = model._session.run
    model._session.run = lambda *a, **k: runs.append(1) or session_run(*a, **k)  # count the ONNX runs
    issues = rows(tiny_area_model.parent / "ds", "test")[:5]
    pairs = [(r["text"].split("\n", 1)[0], r["text"].split("\n\n", 1)[-1]) for r in issues]
    model.scores_many(pairs)
    assert len(runs) == 1
    stored = model.neighbours
    vectors = model.embed([model.encode(title, body)["text"] for title, body in pairs])  # the same batch: same vectors
    for (title, body), row, vector in zip(pairs, issues, vectors):
        label = row["labels"][0]
        found = model.similar(title, body, label, number=row["number"])
        mine = stored.rows(label)
        mine = mine[stored.numbers[mine] != row["number"]]
        best = mine[np.argsort(-(stored.vectors[mine] @ vector), kind="stable")][:3]
        assert found == [(int(stored.numbers[i]), stored.titles[i]) for i in best]
    assert len(runs) == 2  # similar() reused the embeddings of the scoring run; only embed() above ran again
    first = int(stored.numbers[0])
    own = stored.titles[0], ""
    assert first not in [n for n, _ in model.similar(*own, model.labels[0], number=first)]


def test_with_evidence_adds_the_similar_issues_to_the_reasons_and_the_comment(tiny_area_model: Path) -> None:
    model = Classifier.from_dir(tiny_area_model)
    issue = Issue("dotnet/corefx", 999_999, "HttpClient hangs on redirect", "GetAsync never returns")
    scores = model.scores(issue.title, issue.body)
    decision = decide(issue, scores, Policy(thresholds=dict.fromkeys(model.labels, 0.0)), model.version)
    label = decision.add[0][0]
    decision = with_evidence(decision, issue, model, NO_RENAMES)
    numbers = [n for n, _ in model.similar(issue.title, issue.body, label, issue.number)]
    assert len(numbers) == 3
    assert f"{label}: like " + ", ".join(f"#{n}" for n in numbers) in decision.reasons
    assert [(n, t) for known, n, t in decision.similar if known == label] == model.similar(
        issue.title, issue.body, label, issue.number)
    body = comment_body(decision)
    for n in numbers:
        assert f"[#{n}](https://github.com/dotnet/corefx/issues/{n})" in body


def test_a_model_trained_before_neighbours_serves_as_before(tiny_area_model: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(tiny_area_model, old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["files"][NEIGHBOURS_FILE], manifest["neighbours"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    (old / NEIGHBOURS_FILE).unlink()
    for file in ("model.onnx", "model.int8.onnx"):  # and its ONNX files had one output
        graph = onnx.load(str(old / file))
        del graph.graph.output[1]
        onnx.save(graph, str(old / file))
    model = Classifier.from_dir(old)
    issue = Issue("dotnet/corefx", 5, "HttpClient hangs", "")
    assert model.neighbours is None and model.similar(issue.title, issue.body, model.labels[0]) == []
    new = Classifier.from_dir(tiny_area_model).scores(issue.title, issue.body)
    assert model.scores(issue.title, issue.body) == pytest.approx(new, abs=1e-5)
    decision = decide(issue, new, Policy(thresholds=dict.fromkeys(model.labels, 0.0)), model.version)
    assert with_evidence(decision, issue, model, NO_RENAMES).similar == ()
    with pytest.raises(Exception, match="no embedding output"):
        model.embed(["x"])


def test_a_stored_model_loads_its_neighbours_and_a_missing_file_is_named(tiny_area_model: Path, tmp_path: Path) -> None:
    class RemoteStore(LocalBlobStore):  # a store whose blobs are not files here, as in Azure
        def local_path(self, name: str) -> Path | None:
            return None

    store = RemoteStore(tmp_path / "blobs")
    prefix = "models/dotnet/corefx/v1"
    for path in tiny_area_model.iterdir():
        if path.is_file():
            store.put(f"{prefix}/{path.name}", path.read_bytes())
    model = Classifier.from_store(store, prefix)
    assert model.neighbours is not None and len(model.neighbours) == json.loads(
        (tiny_area_model / "manifest.json").read_text())["neighbours"]["issues"]
    store.delete(f"{prefix}/{NEIGHBOURS_FILE}")
    with pytest.raises(Exception, match="incomplete or missing"):
        Classifier.from_store(store, prefix)
    folder = tmp_path / "folder"
    shutil.copytree(tiny_area_model, folder)
    (folder / NEIGHBOURS_FILE).unlink()
    with pytest.raises(Exception, match=f"missing {NEIGHBOURS_FILE}"):
        Classifier.from_dir(folder)


def test_neighbours_on_the_demo_data_share_the_true_label_more_often_than_chance(corefx_issues: list[Issue],
                                                                                 tmp_path: Path) -> None:
    """A cold-start model on the real MiniLM (pretrained embeddings, no fine-tuning): the 3 stored issues most like a
    held-out issue carry its label more often than issues drawn at random would."""
    areas = ("area-System.Net", "area-System.IO", "area-System.Xml")
    mine = [i for i in corefx_issues if len(i.labels) == 1 and i.labels[0] in areas]
    labeled = [i for area in areas for i in [j for j in mine if j.labels[0] == area][:12]]
    held = [i for i in mine if i not in labeled][:45]
    unlabeled = [Issue(repo=i.repo, number=i.number, title=i.title, body=i.body) for i in held]
    dataset = cold_start_dataset(labeled + unlabeled, DatasetSpec(allow_labels=areas), {})
    folder = tmp_path / "ds"
    folder.mkdir()
    for name, split in dataset.splits.items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in split))
    (folder / "manifest.json").write_text(json.dumps(dataset.manifest()))
    arguments = TrainingArguments(base_model=str(minilm_path()), max_tokens=64)
    manifest = run(TrainConfig(data=folder, output=tmp_path / "model", args=arguments, progress=False, version="v"))
    assert manifest["neighbours"]["issues"] == len(labeled)
    model = Classifier.from_dir(tmp_path / "model")
    test = [{**model.encode(i.title, i.body), "labels": list(i.labels), "number": i.number} for i in held]
    quality = neighbour_quality(model, test)
    print(quality)
    assert quality["neighbours_chance"] == pytest.approx(1 / 3, abs=0.01)  # 12 stored issues of each of 3 areas
    assert quality["neighbours_share_true_label"] > quality["neighbours_chance"] + 0.15


def test_triage_predict_prints_the_similar_issues_of_each_label(tiny_area_model: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from tests.integration.test_cli import run_cli

    code, out, err = run_cli(capsys, "--home", str(tmp_path / "home"), "predict", "--model-dir", str(tiny_area_model),
                             "HttpClient hangs on redirect", "GetAsync never returns")
    assert code == 0, err
    model = Classifier.from_dir(tiny_area_model)
    for entry in out["scores"]:
        expected = model.similar("HttpClient hangs on redirect", "GetAsync never returns", entry["label"])
        assert [(s["number"], s["title"]) for s in entry["similar"]] == expected and len(expected) == 3
        assert all(s["url"] == f"https://github.com/dotnet/corefx/issues/{s['number']}" for s in entry["similar"])
