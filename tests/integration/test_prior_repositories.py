"""A new repository learns from a prior repository's labeled issues (issue #14's prior that travels).

The prior is named by the maintainer; its issues are in the store, under label names of its own. The
plumbing runs through the app's use cases and the local training job on the tiny encoder; whether the prior
teaches anything is measured with the real all-MiniLM-L6-v2 on real corefx issues.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import minilm_path
from tests.integration.test_cli import export, run_cli
from training_job.train import TrainConfig, run
from triage.adapters.local.training import download_dataset
from triage.app.bootstrap import build_services
from triage.app.settings import Config, Settings
from triage.app.training import build_training_dataset, train_now
from triage.data.cold_start import cold_start_dataset
from triage.data.dataset import DatasetSpec
from triage.data.ingest import ingest
from triage.domain.errors import InputError
from triage.domain.issues import Issue
from triage.domain.repo_config import parse_repo_config
from triage.learning.tuning import remember_config
from triage.ml.model import Classifier
from triage.ports.training import TrainingArguments

AREAS = ("area-System.Net", "area-System.IO", "area-Infrastructure")


def renamed(issue: Issue, repo: str, number: int, labels: tuple[str, ...]) -> Issue:
    return Issue(repo=repo, number=number, title=issue.title, body=issue.body, labels=labels,
                 created_at=issue.created_at)


def split(corefx_issues: list[Issue]) -> tuple[list[Issue], list[Issue], list[Issue]]:
    """The prior repository's issues (labeled ``area/system.net``…, another repository's spelling), the new
    repository's (one labeled issue per area, the rest unlabeled) and held-out issues with their areas."""
    pool = [i for i in corefx_issues if i.labels and i.labels[0] in AREAS]
    prior = [renamed(i, "octo/old", n + 1, (i.labels[0].lower().replace("-", "/", 1),)) for n, i in enumerate(pool[:150])]
    firsts = [next(i for i in pool[150:] if i.labels[0] == area) for area in AREAS]
    rest = [i for i in pool[150:] if i not in firsts]
    own = [renamed(i, "octo/new", n + 1, i.labels[:1]) for n, i in enumerate(firsts)]
    own += [renamed(i, "octo/new", len(own) + n + 1, ()) for n, i in enumerate(rest[:30])]
    return prior, own, rest[30:]


def test_a_new_repository_gets_a_model_from_a_prior_repository(corefx_issues: list[Issue], tiny_encoder: Path,
                                                               tmp_path: Path) -> None:
    prior, own, _ = split(corefx_issues)
    arguments = TrainingArguments(base_model=str(tiny_encoder), max_tokens=32, epochs=1.0)
    s = build_services(Config(settings=Settings(home=tmp_path, training=arguments)))
    ingest(prior, s.blobs, s.docs)
    ingest(own, s.blobs, s.docs)

    with pytest.raises(InputError, match=r"prior repository octo/none has no labeled issues stored: run `triage scrape"):
        build_training_dataset(s, "octo/new", prior=["octo/none"])
    manifest = build_training_dataset(s, "octo/new", prior=["octo/old", "octo/new"])  # itself: ignored
    assert manifest["cold_start"] is True and manifest["labels"] == sorted(AREAS)
    assert manifest["prior_repositories"] == {"octo/old": 150} and manifest["sizes"]["prior"] == 150
    assert manifest["sizes"]["train"] == 3
    assert build_training_dataset(s, "octo/new")["prior_repositories"] == {}  # the config names none
    remember_config(s.docs, "octo/new", parse_repo_config("training:\n  prior: [Octo/Old]\n"))  # as the labeler does
    assert build_training_dataset(s, "octo/new")["version"] == manifest["version"]

    folder = download_dataset(s.blobs, "octo/new", manifest["version"], tmp_path / "copy")
    assert len((folder / "prior.jsonl").read_text().splitlines()) == 150  # what a remote job is given

    model = train_now(s, "octo/new", manifest["version"], datetime(2026, 12, 1, tzinfo=timezone.utc), progress=False)
    record = model["cold_start"]
    assert record["route"] == "prior repositories, few-shot prototypes" and record["labeled_issues"] == 3
    assert record["prior"]["fine_tuned"] is True and record["prior"]["labels"] == sorted(AREAS)
    assert record["prior"]["repositories"] == {"octo/old": 150}
    assert record["prior"]["trained_on"] + 2 * record["prior"]["held_out"] == pytest.approx(150, abs=1)
    assert model["metrics"]["validation"]["raw"]["n"] == 3  # thresholds: the repository's own issues only
    assert model["neighbours"]["issues"] == 3  # the prior's issues are not this repository's past issues


def test_a_small_repository_learns_from_the_prior_until_it_has_enough_of_its_own(corefx_issues: list[Issue],
                                                                                  tmp_path: Path) -> None:
    prior, _, held_out = split(corefx_issues)
    own = [renamed(i, "octo/new", n + 1, i.labels[:1]) for n, i in enumerate(held_out[:45])]  # enough to fine-tune
    for below, cold in ((100, True), (45, False), (0, False)):
        s = build_services(Config(settings=Settings(home=tmp_path / str(below), prior_below=below)))
        ingest(prior, s.blobs, s.docs)
        ingest(own, s.blobs, s.docs)
        assert build_training_dataset(s, "octo/new").get("cold_start") is None  # no prior named: its own model
        manifest = build_training_dataset(s, "octo/new", prior=["octo/old"])
        assert bool(manifest.get("cold_start")) is cold, below
        if cold:  # every own labeled issue stays, for the thresholds; the prior's issues join them
            assert manifest["sizes"]["train"] == 45 and manifest["sizes"]["prior"] == 150


def test_the_command_line_names_the_prior(corefx_issues: list[Issue], tiny_encoder: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    prior, own, _ = split(corefx_issues)
    for key, value in {"TRIAGE_HOME": str(tmp_path / "home"), "TRIAGE_BASE_MODEL": str(tiny_encoder),
                       "TRIAGE_MAX_TOKENS": "32", "TRIAGE_EPOCHS": "1"}.items():
        monkeypatch.setenv(key, value)
    for repo, issues in (("octo/old", prior), ("octo/new", own)):
        code, _, err = run_cli(capsys, "-q", "ingest", "--repo", repo, "--source", str(export(issues, tmp_path / "i.jsonl")))
        assert code == 0, err
    code, dataset, err = run_cli(capsys, "-q", "dataset", "--repo", "octo/new", "--prior", "Octo/Old")
    assert code == 0 and dataset["cold_start"] is True and dataset["sizes"]["prior"] == 150, err
    code, trained, err = run_cli(capsys, "-q", "train", "--repo", "octo/new")
    assert code == 0, err
    assert trained["cold_start"]["route"] == "prior repositories, few-shot prototypes"
    assert trained["cold_start"]["prior"]["repositories"] == {"octo/old": 150}
    assert trained["cold_start"]["prior"]["fine_tuned"] is True and trained["test_accuracy"] is None
    code, promoted, err = run_cli(capsys, "-q", "promote", "--repo", "octo/new", "--model", trained["model"])
    assert code == 0 and promoted["promoted"] is True, err
    code, predicted, err = run_cli(capsys, "-q", "predict", "--repo", "octo/new", "Socket hangs", "TLS handshake")
    assert code == 0 and len(predicted["scores"]) == 3, err


def train_cold(dataset_rows: dict[str, list], manifest: dict, folder: Path, arguments: TrainingArguments) -> Path:
    data = folder / "data"
    data.mkdir(parents=True)
    for name, rows in dataset_rows.items():
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "manifest.json").write_text(json.dumps(manifest))
    run(TrainConfig(data=data, output=folder / "model", args=arguments, progress=False, version="v"))
    return folder / "model"


def test_the_prior_teaches_what_label_names_alone_cannot(corefx_issues: list[Issue], tmp_path: Path) -> None:
    """Zero own labeled issues: the model built from the prior repository ranks held-out issues far better
    than ranking by label names, which is all a repository without labeled issues had before."""
    prior, own, held_out = split(corefx_issues)
    unlabeled = [i for i in own if not i.labels]
    descriptions = {area: "" for area in AREAS}
    arguments = TrainingArguments(base_model=str(minilm_path()), max_tokens=64, epochs=2.0)
    accuracy = {}
    for name, source in (("names", None), ("prior", {"octo/old": prior})):
        dataset = cold_start_dataset(unlabeled, DatasetSpec(allow_labels=AREAS), descriptions, prior=source)
        folder = train_cold(dataset.splits, dataset.manifest(), tmp_path / name, arguments)
        served = Classifier.from_dir(folder)
        probs = served.encoder_proba([f"{i.title}\n\n{i.body}" for i in held_out])
        truth = [served.labels.index(i.labels[0]) for i in held_out]
        accuracy[name] = float(np.mean(np.argmax(probs, axis=1) == truth))
    chance = max(sum(i.labels[0] == area for i in held_out) for area in AREAS) / len(held_out)
    assert len(held_out) >= 40
    assert accuracy["prior"] > max(accuracy["names"], chance) + 0.1, (accuracy, chance)
