"""The benchmark commands as a user runs them: real issues, a tiny encoder, the JSON keys the README promises."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from triage.domain.issues import Issue

AREA_AS_CLASS = {"area-System.Net": "bug", "area-System.IO": "feature", "area-Infrastructure": "question"}
FAST = ["--epochs", "1", "--max-tokens", "32", "--batch-size", "8"]


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_area_then_serving_on_the_kept_model(corefx_issues: list[Issue], tiny_encoder: Path, tmp_path: Path) -> None:
    issues = [i for i in corefx_issues if len(i.labels) == 1 and i.labels[0] in AREA_AS_CLASS][:150]
    source = tmp_path / "issues.jsonl"
    source.write_text("".join(json.dumps(i.to_dict()) + "\n" for i in issues))
    out = tmp_path / "bench.json"
    done = bench("benchmarks.quality", "area", "--train", str(source), "--base-model", str(tiny_encoder), *FAST,
                 "--keep-model", str(tmp_path / "models"), "--json", str(out))
    assert done.returncode == 0, done.stderr
    area = json.loads(out.read_text())["area"]
    for key in ("accuracy", "macro_f1", "coverage_at_target", "precision_at_target", "train_seconds"):
        assert isinstance(area[key], (int, float)), key
    assert 0 <= area["accuracy"] <= 1 and area["test_issues"] == 23  # newest 15 % of the 150
    assert "coverage_at_target" in done.stdout and area["machine"]["cores"] >= 1

    model = tmp_path / "models" / "dotnet_corefx"
    assert json.loads((model / "manifest.json").read_text())["repo"] == "dotnet/corefx"
    done = bench("benchmarks.serving", "--model", str(model), "--issues", str(source), "--repeats", "20",
                 "--onnx-file", "model.int8.onnx", "--json", str(out))
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert set(results) == {"area", "serving"}  # merged into the same file
    serving = results["serving"]
    for key in ("p50_ms", "p95_ms", "p99_ms", "throughput_per_s", "cold_start_s", "peak_rss_mb", "int8_f1_delta",
                "neighbours_p50_ms", "neighbours_share_true_label", "neighbours_chance", "neighbours_kb_per_1000"):
        assert isinstance(serving[key], (int, float)), key
    assert serving["served_file"] == "model.int8.onnx" and 0 < serving["p50_ms"] <= serving["p95_ms"] <= serving["p99_ms"]


def nlbse_csv(path: Path, issues: list[Issue], repos: tuple[str, ...], count: int) -> Path:
    """An NLBSE'24-format training file: the first ``count`` single-area issues as bug/feature/question, dealt
    round-robin over ``repos``."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, escapechar="\\", doublequote=False)
        writer.writerow(["repo", "created_at", "label", "title", "body"])
        picked = [i for i in issues if len(i.labels) == 1 and i.labels[0] in AREA_AS_CLASS][:count]
        for n, issue in enumerate(picked):
            writer.writerow([repos[n % len(repos)], "2020-01-01 00:00:00", AREA_AS_CLASS[issue.labels[0]],
                             issue.title, issue.body[:500]])
    return path


def test_nlbse_per_repository(corefx_issues: list[Issue], tiny_encoder: Path, tmp_path: Path) -> None:
    train = nlbse_csv(tmp_path / "issues_train.csv", corefx_issues, ("octo/one", "octo/two"), 120)
    out = tmp_path / "bench.json"
    done = bench("benchmarks.quality", "nlbse", "--train", str(train), "--base-model", str(tiny_encoder), *FAST,
                 "--folds", "2", "--json", str(out))
    assert done.returncode == 0, done.stderr
    nlbse = json.loads(out.read_text())["nlbse"]
    assert set(nlbse["per_repo"]) == {"octo/one", "octo/two"}
    assert nlbse["cross_repo_f1"] == pytest.approx(sum(nlbse["per_repo"].values()) / 2)
    assert set(nlbse["per_class_f1"]) == {"bug", "feature", "question"} and nlbse["train_seconds"] > 0
    assert nlbse["split"] == "development (stratified 20% per repository, mean over folds 0-1 of 5)"
    for repo, folds in nlbse["details"].items():  # each repository's 60 issues: about 12 held out per fold
        assert [f["fold"] for f in folds] == [0, 1] and all(10 <= f["test_issues"] <= 14 for f in folds)
        assert nlbse["per_repo"][repo] == pytest.approx((folds[0]["macro_f1"] + folds[1]["macro_f1"]) / 2)


def test_nlbse_from_a_model_pretrained_on_every_repository(corefx_issues: list[Issue], tiny_encoder: Path,
                                                           tmp_path: Path) -> None:
    train = nlbse_csv(tmp_path / "issues_train.csv", corefx_issues, ("octo/one", "octo/two"), 120)
    out = tmp_path / "bench.json"
    done = bench("benchmarks.quality", "nlbse", "--train", str(train), "--base-model", str(tiny_encoder), *FAST,
                 "--pretrain-all", "--folds", "2", "--json", str(out))
    assert done.returncode == 0, done.stderr
    nlbse = json.loads(out.read_text())["nlbse"]
    shared = nlbse["pretrained_on_all"]
    assert set(shared) == {"fold0", "fold1"}  # one shared model per fold: it never sees that fold's test issues
    for fold in shared.values():
        assert 92 <= fold["train_issues"] <= 100  # about 80 % of each repository's 60 issues, both repositories
        assert 0 <= fold["pooled_test_macro_f1"] <= 1 and fold["train_seconds"] > 0
    assert nlbse["train_seconds"] > sum(fold["train_seconds"] for fold in shared.values())
    assert set(nlbse["per_repo"]) == {"octo/one", "octo/two"}
    assert "shared model on all repositories (fold 0)" in done.stdout
    assert "shared model on all repositories (fold 1)" in done.stdout


def test_coldstart_by_k_per_repository(corefx_issues: list[Issue], tiny_encoder: Path, tmp_path: Path) -> None:
    train = nlbse_csv(tmp_path / "issues_train.csv", corefx_issues, ("octo/one", "octo/two", "octo/six"), 150)
    areas = tmp_path / "areas.jsonl"
    areas.write_text("".join(json.dumps(i.to_dict()) + "\n" for i in corefx_issues[:200]))
    out, plot = tmp_path / "bench.json", tmp_path / "coldstart.png"
    done = bench("benchmarks.quality", "coldstart", "--train", str(train), "--base-model", str(tiny_encoder),
                 "--max-tokens", "32", "--ks", "0,5,20", "--draws", "2", "--plot", str(plot), "--json", str(out),
                 "--area", str(areas), "--area-ks", "0,2", "--prior-ks", "0,5", "--epochs", "1", "--batch-size", "8")
    assert done.returncode == 0, done.stderr
    cold = json.loads(out.read_text())["coldstart"]
    routes = {"with_prior", "without_prior", "cross_repo_prior"}
    assert set(cold["by_k"]) == {"octo/one", "octo/two", "octo/six"} and set(cold["prior"]) == routes
    for repo, by_k in cold["by_k"].items():
        assert set(by_k) == {"0", "5", "20"} and all(set(scores) == routes for scores in by_k.values())
        assert by_k["0"]["without_prior"] is None  # nothing to learn from without a prior and without issues
        assert all(0 <= by_k[k][r] <= 1 for k in ("5", "20") for r in routes)
        assert 0 <= cold["reference"][repo]["lexical_all"] <= 1 and 8 <= cold["reference"][repo]["test_issues"] <= 12
    for route in routes:  # the cross-repository figure is the mean over repositories
        for k in ("5", "20"):
            mean = sum(cold["by_k"][r][k][route] for r in cold["by_k"]) / 3
            assert cold["cross_repo_f1"][route][k] == pytest.approx(mean, abs=1e-3)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and cold["plot"] == str(plot)
    assert "label-text prior" in done.stdout and cold["ks"] == [0, 5, 20]
    assert set(cold["area"]["by_k"]) == {"0", "2"} and cold["area"]["by_k"]["0"]["without_prior"] is None
    assert 0 <= cold["area"]["by_k"]["2"]["with_prior"] <= 1 and cold["area"]["test_issues"] > 0
    prior = cold["prior_repositories"]  # the product's route: each repository learns from the other two
    assert set(prior["by_k"]) == set(cold["by_k"]) and all(set(by_k) == {"0", "5"} for by_k in prior["by_k"].values())
    for k in ("0", "5"):
        assert prior["cross_repo_f1"][k] == pytest.approx(sum(b[k] for b in prior["by_k"].values()) / 3, abs=1e-3)
    for repo, record in prior["fine_tuned"].items():  # never on its own issues: the other two repositories' only
        assert record["fine_tuned"] is True and set(record["repositories"]) == set(cold["by_k"]) - {repo}


def test_coldstart_prior_only_compares_the_prior_with_fine_tuning_on_own_issues(
        corefx_issues: list[Issue], tiny_encoder: Path, tmp_path: Path) -> None:
    train = nlbse_csv(tmp_path / "issues_train.csv", corefx_issues, ("octo/one", "octo/two"), 150)
    out = tmp_path / "bench.json"
    done = bench("benchmarks.quality", "coldstart", "--train", str(train), "--base-model", str(tiny_encoder),
                 "--max-tokens", "32", "--prior-only", "--prior-ks", "10", "--own-ks", "20,40", "--epochs", "1",
                 "--batch-size", "8", "--json", str(out))
    assert done.returncode == 0, done.stderr
    cold = json.loads(out.read_text())["coldstart"]
    assert "by_k" not in cold and "plot" not in cold  # the label-text benchmark is skipped
    own = cold["fine_tuned_own"]
    assert set(own["by_k"]) == {"octo/one", "octo/two"} and all(set(b) == {"20", "40"} for b in own["by_k"].values())
    assert own["cross_repo_f1"]["40"] == pytest.approx((own["by_k"]["octo/one"]["40"] + own["by_k"]["octo/two"]["40"])
                                                       / 2, abs=1e-3)
    assert set(cold["prior_repositories"]["cross_repo_f1"]) == {"10"}
    assert "fine-tuned on k own issues alone" in done.stdout


def test_coldstart_refuses_bad_ks(tmp_path: Path) -> None:
    source = tmp_path / "t.csv"
    source.write_text("repo,created_at,label,title,body\n")
    done = bench("benchmarks.quality", "coldstart", "--train", str(source), "--ks", "0,ten")
    assert done.returncode == 2 and "--ks '0,ten' must be comma-separated whole numbers" in done.stderr


def test_development_folds_partition_each_label() -> None:
    from benchmarks.quality import stratified_holdout

    rows = [{"number": n, "labels": ["bug" if n % 3 else "question"]} for n in range(103)]
    held = [{r["number"] for r in stratified_holdout(rows, 0.2, 42, fold)[1]} for fold in range(5)]
    assert sum(map(len, held)) == len(set().union(*held)) == 103  # disjoint, and together every row
    for fold in held:
        assert 6 <= sum(n % 3 == 0 for n in fold) <= 7  # a fifth of the 35 questions in each


def test_missing_training_file_is_a_clear_error(tmp_path: Path) -> None:
    done = bench("benchmarks.quality", "area", "--train", str(tmp_path / "nope.jsonl"))
    assert done.returncode == 2 and "nope.jsonl does not exist" in done.stderr


def test_cleaning_on_hostile_and_real_bodies(corefx_issues: list[Issue], tmp_path: Path) -> None:
    source = tmp_path / "issues.jsonl"
    source.write_text("".join(json.dumps(i.to_dict()) + "\n" for i in corefx_issues[:40]))
    out = tmp_path / "bench.json"
    done = bench("benchmarks.cleaning", "--size", "2048", "--repeats", "1", "--issues", str(source), "--json", str(out))
    assert done.returncode == 0, done.stderr
    cleaning = json.loads(out.read_text())["cleaning"]
    assert {"size", "worst_s", "worst_generator", "worst_by_entry_point_s", "median_hostile_s", "timed_out", "hostile",
            "real", "machine"} <= set(cleaning)
    entry_points = {"issue_text", "clean_body", "lexical_text"}
    assert cleaning["hostile"] and all(set(times) == entry_points for times in cleaning["hostile"].values())
    assert set(cleaning["worst_by_entry_point_s"]) == set(cleaning["median_hostile_s"]) == entry_points
    assert {"issues", "mean_chars"} | entry_points <= set(cleaning["real"])
    assert all(set(cleaning["real"][fn]) == {"mean_s", "max_s"} for fn in entry_points)
    assert "worst hostile body" in done.stdout


def test_cleaning_of_a_missing_issues_file_is_a_clear_error(tmp_path: Path) -> None:
    done = bench("benchmarks.cleaning", "--issues", str(tmp_path / "nope.jsonl"))
    assert done.returncode == 2 and "nope.jsonl does not exist" in done.stderr
