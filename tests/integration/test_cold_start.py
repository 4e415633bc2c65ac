"""Cold start end to end: a repository with no labeled issue gets a model through `triage train`.

The issues and the repository's labels (with descriptions) come from GitHub's REST API served over loopback;
the encoder is the real all-MiniLM-L6-v2 for zero-shot ranking (a random one cannot rank by meaning), the tiny
random one where only the arithmetic is checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import minilm_path
from tests.github_server import GitHubServer, build_fixture, label_object
from tests.integration.test_cli import run_cli
from training_job.train import TrainConfig, run
from triage.data.cold_start import cold_start_dataset
from triage.data.dataset import DatasetSpec
from triage.domain.issues import Issue
from triage.ml import cold_start
from triage.ml.metrics import indicator
from triage.ml.model import Classifier
from triage.ports.training import TrainingArguments

REPO = "dotnet/corefx"
LABELS = {  # as a maintainer would describe them on GitHub
    "area-System.Net": "Networking: sockets, HttpClient, DNS, TLS connections",
    "area-System.IO": "Files, directories, paths and streams on disk",
    "area-System.Xml": "XML documents: XmlReader, XmlDocument, XSLT and XPath",
    "area-System.Text.RegularExpressions": "",  # no description: the name alone
}


@pytest.fixture()
def github(tmp_path: Path, corefx_issues: list[Issue]) -> Iterator[GitHubServer]:
    """The repository on GitHub: 40 real corefx issues, none of them labeled, and four labels defined."""
    source = tmp_path / "unlabeled.jsonl"
    source.write_text("".join(json.dumps({"repo": REPO, "number": i.number, "title": i.title, "body": i.body,
                                          "labels": []}) + "\n" for i in corefx_issues[:40]))
    fixture = build_fixture(source, limit=40)
    assert not any(fixture.issues[n]["labels"] for n in fixture.issues)
    fixture.labels.update({name: label_object(REPO, name, description=text or None) for name, text in LABELS.items()})
    with GitHubServer(fixture) as server:
        yield server


def test_a_repository_without_labeled_issues_gets_a_ranking_model(
        github: GitHubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in {"TRIAGE_HOME": str(tmp_path / "home"), "GITHUB_API_URL": github.url,
                       "GITHUB_TOKEN": "test-token", "TRIAGE_BASE_MODEL": str(minilm_path()),
                       "TRIAGE_MAX_TOKENS": "64"}.items():
        monkeypatch.setenv(key, value)
    code, out, err = run_cli(capsys, "-q", "scrape", "--repo", REPO)
    assert code == 0, err
    code, dataset, err = run_cli(capsys, "-q", "dataset", "--repo", REPO)
    assert code == 0, err
    assert dataset["cold_start"] is True and dataset["labels"] == len(LABELS) and dataset["sizes"]["train"] == 0

    code, trained, err = run_cli(capsys, "-q", "train", "--repo", REPO)
    assert code == 0, err
    assert trained["cold_start"]["route"] == "zero-shot label text" and trained["cold_start"]["abstains"] is True
    assert trained["test_accuracy"] is None  # no test issues: no score, not a zero
    folder = Path(trained["path"])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["cold_start"]["label_texts"]["area-System.Net"].startswith("System Net: Networking")
    assert manifest["cold_start"]["label_texts"]["area-System.Text.RegularExpressions"] == "System Text Regular Expressions"
    assert all(t > 1 for t in manifest["thresholds"]["per_label"].values())  # abstains until told otherwise

    served = Classifier.from_dir(folder)  # the normal serving path: ONNX Runtime, no torch
    obvious = {
        "area-System.Net": ("HttpClient.SendAsync hangs when the server resets the TLS connection",
                            "The socket is closed by the peer and the request never completes."),
        "area-System.IO": ("File.Move fails when the destination directory path is long",
                           "Moving a file to a deep directory throws DirectoryNotFoundException."),
        "area-System.Xml": ("XmlReader throws on a valid XML document with a DTD", "XmlDocument.Load works."),
        "area-System.Text.RegularExpressions": ("Regex with a lookbehind matches the wrong text",
                                                "Regular expression pattern (?<=a)b matches in 'cb'."),
    }
    for label, (title, body) in obvious.items():
        scores = served.scores(title, body)
        assert next(iter(scores)) == label, (label, scores)
        assert max(scores.values()) < served.thresholds[label]  # ranked, not applied

    code, promoted, err = run_cli(capsys, "-q", "promote", "--repo", REPO, "--model", trained["model"])
    assert code == 0 and promoted["promoted"] is True, err  # the first model: nothing to compare it with
    code, predicted, err = run_cli(capsys, "-q", "predict", "--repo", REPO, *obvious["area-System.IO"])
    assert code == 0, err
    assert predicted["scores"][0]["label"] == "area-System.IO" and predicted["scores"][0]["threshold"] > 1


def test_few_labeled_issues_make_prototypes_served_exactly(corefx_issues: list[Issue], tiny_encoder: Path,
                                                           tmp_path: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    from training_job.modeling import embed

    areas = ("area-System.Net", "area-System.IO", "area-Infrastructure")
    labeled = [i for i in corefx_issues if i.labels and i.labels[0] in areas][:9]
    unlabeled = [Issue(repo=i.repo, number=i.number, title=i.title, body=i.body) for i in corefx_issues[200:230]]
    dataset = cold_start_dataset(labeled + unlabeled, DatasetSpec(allow_labels=areas), {"area-System.IO": "Files"})
    folder = tmp_path / "ds"
    folder.mkdir()
    for name, rows in dataset.splits.items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "manifest.json").write_text(json.dumps(dataset.manifest()))
    arguments = TrainingArguments(base_model=str(tiny_encoder), max_tokens=32)
    manifest = run(TrainConfig(data=folder, output=tmp_path / "model", args=arguments, progress=False, version="v"))
    assert manifest["cold_start"]["route"] == "few-shot prototypes" and manifest["cold_start"]["labeled_issues"] == 9
    assert manifest["metrics"]["validation"]["raw"]["n"] == 9  # leave-one-out scores of the labeled issues

    tokenizer, encoder = AutoTokenizer.from_pretrained(tiny_encoder), AutoModel.from_pretrained(tiny_encoder)
    train = dataset.splits["train"]
    labels = dataset.labels
    protos = cold_start.prototypes(embed(encoder, tokenizer, cold_start.describe(labels, {"area-System.IO": "Files"}),
                                         32).numpy(),
                                   embed(encoder, tokenizer, [r["text"] for r in train], 32).numpy(),
                                   indicator([r["labels"] for r in train], labels))
    texts = [issue.title + "\n" + issue.body for issue in unlabeled[:8]]
    expected = cold_start.scores(embed(encoder, tokenizer, texts, 32).numpy(), protos)
    served = Classifier.from_dir(tmp_path / "model").encoder_proba(texts)
    assert np.allclose(served, expected, atol=2e-3)
