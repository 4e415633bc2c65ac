"""The routing benchmark runs, reads GitHub REST exports, and says clearly what is wrong with bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import quality, routing
from triage.domain.errors import InputError


def test_the_generated_history_run_writes_every_learner_and_beats_the_most_frequent_assignee(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    out.write_text(json.dumps({"area": {"kept": True}}))

    assert quality.main(["routing", "--generated", "--json", str(out)]) == 0

    data = json.loads(out.read_text())
    assert data["area"] == {"kept": True}
    runs = {(r["kind"], r["use_labels"]): r for r in data["routing"]["runs"]}
    assert set(runs) == {(k, u) for k in ("softmax", "centroid") for u in (True, False)}
    best = runs[("softmax", True)]
    assert best["accuracy"] > best["baseline_majority"] + 0.3
    assert best["top3_accuracy"] >= best["accuracy"]
    assert best["bot_only"] == 0 and best["dropped_inactive"] == 1  # the owner who handed over and left


def rest_issue(number: int, assignee: str | None, *, pull: bool = False, day: int = 1) -> dict:
    """A GitHub REST issue object as `gh api .../issues` prints it (only the fields the loader reads)."""
    return {"repository_url": "https://api.github.com/repos/o/r", "number": number, "title": f"issue {number}",
            "body": "text", "state": "open", "labels": [], "user": {"login": "u"},
            "created_at": f"2024-01-{day:02d}T00:00:00Z", "updated_at": f"2024-01-{day:02d}T00:00:00Z",
            "assignees": [{"login": assignee}] if assignee else [],
            "pull_request": {"url": "x"} if pull else None}


def test_a_rest_export_loads_without_pull_requests(tmp_path: Path) -> None:
    path = tmp_path / "issues.jsonl"
    path.write_text("\n".join(json.dumps(rest_issue(n, "ann" if n % 2 else None, pull=n == 3)) for n in range(1, 6)))

    issues = routing.load_issues(path)

    assert [i.number for i in issues] == [1, 2, 4, 5]
    assert [i.assignees for i in issues] == [("ann",), (), (), ("ann",)]


@pytest.mark.parametrize("line, message", [("{not json", "not JSON"), ("[1, 2]", "one issue object")])
def test_bad_lines_name_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "issues.jsonl"
    path.write_text(json.dumps(rest_issue(1, "ann")) + "\n" + line + "\n")
    with pytest.raises(InputError, match=f"issues.jsonl:2: .*{message}"):
        routing.load_issues(path)


def test_a_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        routing.main(["--data", str(tmp_path / "nope.jsonl")])
    assert exit_info.value.code == 2 and "no such file" in capsys.readouterr().err


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=st.dictionaries(st.sampled_from(sorted(rest_issue(1, "ann")) + ["repo", "title"]), JSON, max_size=8),
       rest=st.booleans())
def test_any_record_loads_or_fails_with_a_clear_error(tmp_path: Path, record: dict, rest: bool) -> None:
    if rest:
        record["repository_url"] = "https://api.github.com/repos/o/r"
    path = tmp_path / "issues.jsonl"
    path.write_text(json.dumps(record) + "\n")
    try:
        routing.load_issues(path)
    except InputError as exc:
        assert "issues.jsonl:1: " in str(exc)


def write_csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = ("id", "number", "title", "body",
                                                                                   "assignee", "labels")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_the_vscode_csv_export_loads(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "issues.csv", [
        {"id": "1", "number": "3", "title": "", "body": "", "assignee": "{'login': 'jrieken', 'id': 1}",
         "labels": "['bug', 'verified']"},
        {"id": "2", "number": "4", "title": "t", "body": "b", "assignee": "", "labels": "[]"}])

    issues = routing.load_issues(path)

    assert [(i.number, i.assignees, i.labels) for i in issues] == [(3, ("jrieken",), ("bug", "verified")),
                                                                   (4, (), ())]


@pytest.mark.parametrize("row, message", [
    ({"number": "x", "assignee": "", "labels": "[]"}, "whole number"),
    ({"number": "1", "assignee": "__import__('os')", "labels": "[]"}, "malformed"),
    ({"number": "1", "assignee": "['not', 'a', 'user']", "labels": "[]"}, "expected dict"),
    ({"number": "1", "assignee": "", "labels": "[" * 20000}, "too long"),
    ({"number": "1", "assignee": "", "labels": "[1, 2]"}, "labels"),
])
def test_bad_csv_rows_name_the_row(tmp_path: Path, row: dict[str, str], message: str) -> None:
    path = write_csv(tmp_path / "issues.csv", [{"title": "", "body": "", **row}])
    with pytest.raises(InputError, match=f"issues.csv:2: .*{message}"):
        routing.load_issues(path)


def test_a_csv_without_the_columns_says_which(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "issues.csv", [], columns=("number", "title"))
    with pytest.raises(InputError, match="lacks the column.*assignee, body, labels"):
        routing.load_issues(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(number=st.text(max_size=12), assignee=st.one_of(st.text(max_size=60), JSON.map(repr)),
       labels=st.one_of(st.text(max_size=60), JSON.map(repr)))
def test_any_csv_row_loads_or_fails_with_a_clear_error(tmp_path: Path, number: str, assignee: str,
                                                       labels: str) -> None:
    path = write_csv(tmp_path / "issues.csv", [{"number": number, "title": "t", "body": "", "assignee": assignee,
                                                "labels": labels}])
    try:
        routing.load_issues(path)
    except InputError as exc:
        assert "issues.csv" in str(exc)
