"""``python -m benchmarks.pulls`` runs end to end on a small share of the bundled corefx issues (tiny encoder)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.pulls import SHARED, as_pull_request, rules_config, split
from tests.conftest import ROOT
from triage.app.pulls import with_rules
from triage.data.sources import read_issues
from triage.domain.issues import Issue
from triage.domain.policy import Policy

FAST = ["--epochs", "1", "--max-tokens", "32", "--batch-size", "8"]


def test_the_benchmark_prints_json_with_every_comparison(corefx_issues: list[Issue], tiny_encoder: Path,
                                                         tmp_path: Path) -> None:
    source = tmp_path / "issues.jsonl"
    source.write_text("".join(json.dumps(i.to_dict()) + "\n" for i in corefx_issues[::4]))
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks.pulls", "--issues", str(source), "--base-model",
                           str(tiny_encoder), *FAST, "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = json.loads(done.stdout)
    assert printed == json.loads(out.read_text())["pulls"] and "GENERATED" in printed["data"]
    pulls = printed["pull_requests"]
    assert set(pulls) == {"issue_model_text", "issue_model", "joint_model", "rules", "issue_model+rules",
                          "joint_model+rules"}
    n = printed["sizes"]["test_pull_requests"]
    for name, m in pulls.items():
        assert m["n"] == n and 0 <= m["accuracy"] <= 1 and 0 <= m["coverage"] <= 1, name
    # Rules never fight the model's policy: where they match they decide, so the product covers at least as much.
    assert pulls["joint_model+rules"]["coverage"] >= pulls["rules"]["coverage"] - 1e-9
    assert set(printed["issues"]) == {"issue_model", "joint_model"}


def test_generated_pull_requests_follow_the_documented_shares_and_the_rules_read_them(corefx_issues: list[Issue]) -> None:
    train_issues, train_prs, test_prs = split(corefx_issues, 7)
    assert len(train_issues) + len(train_prs) + len(test_prs) == sum(1 for i in corefx_issues if len(i.labels) == 1)
    assert max(i.created_at or "" for i in train_issues) <= min(i.created_at or "" for i in test_prs)
    prs = train_prs + test_prs
    shared_only = [p for p in prs if set(p.paths) <= set(SHARED)]
    assert 0.05 < len(shared_only) / len(prs) < 0.15
    config = rules_config()
    first = [next(iter(with_rules(config, p, {}, Policy(thresholds={}))[0]), None) for p in prs]
    assert all(label is None for p, label in zip(prs, first) if p in shared_only)
    assert sum(label == p.labels[0] for p, label in zip(prs, first)) / len(prs) > 0.7
    again = as_pull_request(corefx_issues[0], __import__("random").Random(1))
    assert again == as_pull_request(corefx_issues[0], __import__("random").Random(1)) and again.is_pull_request
    assert read_issues(ROOT / "data/corefx-area/issues.jsonl")  # the default --issues exists


def test_the_lexical_proxy_runs_in_seconds_and_says_what_it_measured(corefx_issues: list[Issue],
                                                                      tmp_path: Path) -> None:
    source = tmp_path / "issues.jsonl"
    source.write_text("".join(json.dumps(i.to_dict()) + "\n" for i in corefx_issues[::2]))
    done = subprocess.run([sys.executable, "-m", "benchmarks.pulls", "--issues", str(source), "--lexical", "--two"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = json.loads(done.stdout)
    assert printed["model"].startswith("lexical half only") and {"pr_model", "pr_model+rules"} <= set(
        printed["pull_requests"])
    pulls = printed["pull_requests"]
    assert pulls["issue_model"]["accuracy"] > pulls["issue_model_text"]["accuracy"], "the files line helps the model"
    missing = subprocess.run([sys.executable, "-m", "benchmarks.pulls", "--issues", str(tmp_path / "nope.jsonl")],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
