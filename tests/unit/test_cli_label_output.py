"""`triage label`: a repository config file, one JSON object per issue, a table for people, and bad configs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integration.test_training_job import AREAS
from triage.adapters.local.stores import LocalBlobStore, SqliteDocumentStore
from triage.app.writers import DryRunWriter
from triage.cli.main import main
from triage.cli.output import call_issue, decision_record, label_output, label_summary, parse_call
from triage.domain.issues import Issue
from triage.domain.policy import Decision, Policy
from triage.learning.registry import upload_model, write_pointer

REPO = "dotnet/corefx"


@pytest.fixture()
def home(tmp_path: Path, tiny_area_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TRIAGE_HOME with the tiny model stored and promoted."""
    home = tmp_path / "home"
    monkeypatch.setenv("TRIAGE_HOME", str(home))
    blobs = LocalBlobStore(home / "blobs")
    manifest = upload_model(blobs, SqliteDocumentStore(home / "triage.db"), tiny_area_model)
    write_pointer(blobs, REPO, manifest["version"], None, None, "test")
    return home


@pytest.fixture()
def issues_file(tmp_path: Path, corefx_issues: list[Issue]) -> Path:
    """Twelve newer corefx issues as a bundled export, one of them closed by way of a human label."""
    picked = [i for i in corefx_issues if i.labels and i.labels[0] in AREAS][-12:]
    path = tmp_path / "new.jsonl"
    path.write_text("".join(json.dumps({"repo": REPO, "number": i.number, "title": i.title, "body": i.body,
                                        "labels": []}) + "\n" for i in picked))
    return path


def label(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["-q", "label", "--repo", REPO, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(out: str) -> list[dict[str, Any]]:
    lines = out.strip().split("\n")
    records = [json.loads(line) for line in lines]
    assert all(isinstance(r, dict) for r in records), "each line is one JSON object, not an escaped string"
    return records


def test_every_issue_gets_one_json_object_with_its_decision(home: Path, tmp_path: Path, issues_file: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "issue-triage.yml"
    config.write_text(f"thresholds:\n  default: 0.3\nlabels:\n  exclude: [{AREAS[2]}]\nmax_labels: 1\n")
    code, out, err = label(capsys, "--source", str(issues_file), "--config", str(config))
    assert code == 0, err
    *records, summary = json_lines(out)
    assert len(records) == 12 and {r["kind"] for r in records} == {"decision"} and summary["kind"] == "summary"
    assert summary["config"] == str(config) and summary["issues"] == 12
    assert summary["would_label"] == sum(r["decision"] == "label" for r in records) > 0
    for r in records:
        assert r["repo"] == REPO and r["title"] and r["top"], r
        assert all(t["threshold"] == 0.3 for t in r["top"]), "the config's default threshold is the one in force"
        if r["decision"] == "label":
            (chosen,) = r["labels"]
            assert chosen["label"] != AREAS[2] and chosen["confidence"] >= chosen["threshold"] == 0.3
            assert r["confidence"] == chosen["confidence"] and r["abstained_because"] is None
            (call,) = r["calls"]
            assert call == {"method": "POST", "path": f"/repos/{REPO}/issues/{r['number']}/labels",
                            "body": {"labels": [chosen["label"]]}}, "the call's body is an object, not a string"
        else:
            assert r["labels"] == [] and r["confidence"] is None and r["calls"] == []
            assert r["abstained_because"] and r["abstained_because"] == "; ".join(r["reasons"])
            assert f"{AREAS[2]} is excluded by configuration" in r["reasons"] or "< threshold" in r["reasons"][0]


def test_a_strict_config_abstains_and_says_why(home: Path, tmp_path: Path, issues_file: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "strict.yml"
    config.write_text("thresholds:\n  default: 1.0\n")
    code, out, _ = label(capsys, "--source", str(issues_file), "--config", str(config))
    *records, summary = json_lines(out)
    assert code == 0 and summary["would_label"] == 0 and summary["abstained"] == 12 and summary["calls"] == 0
    for r in records:
        best = r["top"][0]
        assert r["abstained_because"] == f"{best['label']} {best['score']:.2f} < threshold 1.00", r


def test_the_table_is_for_people(home: Path, tmp_path: Path, issues_file: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yml"
    config.write_text("thresholds:\n  default: 0.3\n")
    code, out, _ = label(capsys, "--source", str(issues_file), "--config", str(config), "--format", "table")
    lines = out.rstrip("\n").split("\n")
    assert code == 0 and lines[0].split() == ["issue", "decision", "label", "confidence", "threshold", "title", "why"]
    assert len(lines) == 2 + 12 + 1 and re.match(r"12 issues: would label \d+, abstain on \d+", lines[-1])
    assert all(re.match(r"#\d+ +(label|abstain) ", row) for row in lines[2:-1])


def test_without_config_the_app_defaults_apply(home: Path, issues_file: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = label(capsys, "--source", str(issues_file))
    *records, summary = json_lines(out)
    assert code == 0 and len(records) == 12 and summary["config"] == "defaults (no --config)"


BAD_CONFIGS = {
    "unknown key": ("thresholds:\n  defualt: 0.5\n", "unknown key(s) ['defualt'] in thresholds"),
    "not yaml": ("labels: [unclosed\n", "not valid YAML"),
    "bad threshold": ("thresholds:\n  default: 1.5\n", "thresholds.default must be a number in (0, 1]"),
    "alias bomb": ("a: &a [x]\nb: *a\n", "aliases"),
    "huge": ("# " + "x" * 70_000 + "\n", "larger than 64 KB"),
    "not a mapping": ("- 1\n- 2\n", "the file must be a mapping"),
    "both lists": ("labels:\n  allow: [a]\n  exclude: [a]\n", "both allowed and excluded"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_bad_config_names_the_file_and_the_fix(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 issues_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "untouched-home"
    monkeypatch.setenv("TRIAGE_HOME", str(home))
    text, needle = BAD_CONFIGS[case]
    config = tmp_path / "issue-triage.yml"
    config.write_text(text)
    code, out, err = label(capsys, "--source", str(issues_file), "--config", str(config))
    assert code == 2 and out == "" and err.startswith(f"error: {config}: ") and needle in err, err
    assert err.count("\n") == 1 and not home.exists(), "nothing is written, not even the stores' folder"


def test_a_config_that_is_missing_a_folder_or_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       issues_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    latin = tmp_path / "latin.yml"
    latin.write_bytes("comment: false # caf\u00e9\n".encode("latin-1"))
    for path, needle in ((tmp_path / "nope.yml", "is not a file"), (tmp_path, "is not a file"),
                         (latin, "not UTF-8 text")):
        code, _, err = label(capsys, "--source", str(issues_file), "--config", str(path))
        assert code == 2 and str(path) in err and needle in err, err
    assert not (tmp_path / "home").exists()


# --- the output functions, on any input ------------------------------------------------------------------------

labels = st.text(st.characters(codec="utf-8"), min_size=1, max_size=30)
scores = st.floats(0, 1, allow_nan=False)
odd_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200) | st.sampled_from(
    ["\x1b[2J\x1b[31mred", "line\nbreak\rreturn", "\u202eevil\u202c", "\u2028sep", "\x00nul", "\x9bcsi"])


@st.composite
def decisions(draw: st.DrawFn) -> tuple[Decision, str]:
    top = tuple(draw(st.lists(st.tuples(labels, scores), max_size=3)))
    add = top[:1] if top and draw(st.booleans()) else ()
    reasons = tuple(draw(st.lists(odd_text, max_size=3)))
    number = draw(st.integers(1, 2**31 - 1))
    return Decision("o/r", number, add, reasons, top, draw(st.none() | labels)), draw(odd_text)


@settings(max_examples=150, deadline=None)
@given(st.lists(decisions(), max_size=8), st.floats(0.01, 1), odd_text)
def test_any_decisions_print_as_one_object_a_line_and_a_table_row_each(
        drawn: list[tuple[Decision, str]], threshold: float, config: str) -> None:
    policy = Policy(thresholds={}, default_threshold=threshold)
    writer = DryRunWriter()
    records = []
    for decision, title in drawn:
        done = len(writer.calls)
        if decision.add:
            writer.add_labels(decision.repo, decision.number, [label for label, _ in decision.add])
        records.append(decision_record(decision, policy, writer.calls[done:], title))
    result = {"issues": records, "summary": label_summary(records, "v1", config)}
    lines = label_output(result, "json").split("\n")
    assert [json.loads(line) for line in lines] == [*records, result["summary"]]
    for record, (decision, title) in zip(records, drawn):
        assert record["title"] == title and record["decision"] == ("abstain" if decision.abstained else "label")
        assert [call_issue(call) for call in record["calls"]] == [decision.number] * len(decision.add)
        assert all(call["body"] == {"labels": [decision.add[0][0]]} for call in record["calls"])
    table = label_output(result, "table").split("\n")
    assert len(table) == 2 + len(records) + 1, "one line per issue: no title or reason breaks a row"
    assert not any(re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]", line) for line in table), (
        "nothing from an issue reaches the terminal as a control character")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_call_text_parses_without_error(text: str) -> None:
    call = parse_call(text)
    assert set(call) == {"method", "path", "body"}
    if call["method"] is None:
        assert call["body"] == text
