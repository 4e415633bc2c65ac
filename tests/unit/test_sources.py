"""Tests of triage.sources: reading GitHub, bundled and NLBSE exports."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from triage.data.sources import issue_from_github, read_issues
from triage.domain.errors import DataFormatError, InputError
from triage.domain.issues import Issue, LabelEvent

from .helpers import write_jsonl

COREFX = Path(__file__).resolve().parents[2] / "data" / "corefx-area" / "issues.jsonl"


def github_issue(number: int, **extra: Any) -> dict[str, Any]:
    """A GitHub REST issue object, trimmed to what the reader uses."""
    record: dict[str, Any] = {
        "url": f"https://api.github.com/repos/octo/widgets/issues/{number}",
        "repository_url": "https://api.github.com/repos/octo/widgets",
        "html_url": f"https://github.com/octo/widgets/issues/{number}",
        "number": number,
        "title": f"Issue {number}",
        "body": f"Body {number}",
        "user": {"login": "alice", "type": "User"},
        "labels": [{"id": 1, "name": "area-Net", "color": "ededed"}],
        "state": "open",
        "created_at": "2021-03-04T05:06:07Z",
        "updated_at": "2021-03-05T05:06:07Z",
        "author_association": "CONTRIBUTOR",
    }
    record.update(extra)
    return record


def event(kind: str, label: str, login: str, actor_type: str, at: str = "2021-03-04T06:00:00Z") -> dict[str, Any]:
    """A GitHub issue event."""
    return {"event": kind, "label": {"name": label, "color": "ffffff"}, "actor": {"login": login, "type": actor_type},
            "created_at": at}


# --- GitHub REST JSON Lines ----------------------------------------------------------


def test_github_format_fields(tmp_path: Path) -> None:
    events = [
        event("labeled", "area-Net", "issue-triage[bot]", "Bot"),
        event("unlabeled", "area-Net", "bob", "User", "2021-03-04T07:00:00Z"),
        event("labeled", "area-IO", "bob", "User", "2021-03-04T08:00:00Z"),
        {"event": "commented", "actor": {"login": "bob", "type": "User"}},
        {"event": "assigned", "actor": None},
    ]
    path = write_jsonl(tmp_path / "export.jsonl", [
        github_issue(5, labels=[{"name": "area-IO"}, {"name": "bug"}], events=events),
        github_issue(6, body=None, pull_request={"url": "https://api.github.com/repos/octo/widgets/pulls/6"}),
    ])
    issue, pr = read_issues(path, "github")
    assert issue == Issue(
        repo="octo/widgets", number=5, title="Issue 5", body="Body 5", labels=("area-IO", "bug"), state="open",
        created_at="2021-03-04T05:06:07Z", updated_at="2021-03-05T05:06:07Z", author="alice",
        author_association="CONTRIBUTOR", is_pull_request=False,
        label_events=(
            LabelEvent("area-Net", "labeled", "issue-triage[bot]", "Bot", "2021-03-04T06:00:00Z"),
            LabelEvent("area-Net", "unlabeled", "bob", "User", "2021-03-04T07:00:00Z"),
            LabelEvent("area-IO", "labeled", "bob", "User", "2021-03-04T08:00:00Z"),
        ),
    )
    assert issue.removed_by_humans() == {"area-Net"}
    assert issue.human_labels() == ("area-IO", "bug")
    assert pr.is_pull_request and pr.body == "" and pr.labels == ("area-Net",) and pr.label_events == ()
    assert not issue_from_github({**github_issue(7), "pull_request": None}).is_pull_request  # exports write null


def test_github_format_repo_override_and_missing_repository_url(tmp_path: Path) -> None:
    record = github_issue(1)
    del record["repository_url"]
    path = write_jsonl(tmp_path / "x.jsonl", [record])
    with pytest.raises(DataFormatError, match="repository"):
        read_issues(path, "github")
    assert read_issues(path, "github", repo="octo/other")[0].repo == "octo/other"


# --- bundled -------------------------------------------------------------------------


def test_bundled_format(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bundled.jsonl", [
        {"repo": "dotnet/corefx", "number": 10, "title": "T", "body": "B", "labels": ["area-System.Net"],
         "created_at": "2018-01-01T00:00:00Z", "state": "closed"},
        {"repo": "dotnet/corefx", "number": 11, "title": "U", "labels": [],
         "label_events": [{"label": "x", "action": "unlabeled", "actor": "bob", "actor_type": "User", "at": None}]},
    ])
    first, second = read_issues(path, "bundled")
    assert first == Issue("dotnet/corefx", 10, "T", "B", ("area-System.Net",), "closed", "2018-01-01T00:00:00Z")
    assert second.body == "" and second.labels == () and second.created_at is None
    assert second.label_events == (LabelEvent("x", "unlabeled", "bob", "User", None),)


def test_bundled_format_repo_from_argument(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "b.jsonl", [{"number": 1, "title": "T", "labels": ["a"]}])
    with pytest.raises(DataFormatError, match="repo"):
        read_issues(path, "bundled")
    assert read_issues(path, "bundled", repo="octo/widgets")[0].repo == "octo/widgets"


# --- NLBSE CSV -----------------------------------------------------------------------

NLBSE_ROWS = [
    ("facebook/react", "2023-01-02 10:00:00", "bug", "Title, with comma", 'He said "hi", then\nC:\\temp\\x broke'),
    ("facebook/react", "2023-01-03 11:00:00", "feature", "Second", "plain"),
    ("microsoft/vscode", "2023-01-01 09:00:00", "question", "Q", "q body"),
    ("facebook/react", "", "", "Unlabeled", ""),
]


def write_nlbse(path: Path, rows: list[tuple[str, ...]]) -> Path:
    """The NLBSE'24 CSV layout, with \\ as the escape character, as the competition ships it."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, escapechar="\\", doublequote=False)
        writer.writerow(["repo", "created_at", "label", "title", "body"])
        writer.writerows(rows)
    return path


def test_nlbse_csv_numbers_issues_per_repo(tmp_path: Path) -> None:
    issues = read_issues(write_nlbse(tmp_path / "issues.csv", NLBSE_ROWS))
    assert [(i.repo, i.number) for i in issues] == [
        ("facebook/react", 1), ("facebook/react", 2), ("microsoft/vscode", 1), ("facebook/react", 3)]
    first = issues[0]
    assert first.title == "Title, with comma"
    assert first.body == 'He said "hi", then\nC:\\temp\\x broke'
    assert first.labels == ("bug",)
    assert first.created_at == "2023-01-02T10:00:00"
    assert issues[3].labels == () and issues[3].created_at is None and issues[3].body == ""


def test_nlbse_repo_without_owner_and_repo_override(tmp_path: Path) -> None:
    path = write_nlbse(tmp_path / "n.csv", [("vscode", "2023-01-01 09:00:00", "bug", "T", "B")])
    assert read_issues(path, "nlbse")[0].repo == "vscode/vscode"
    assert read_issues(path, "nlbse", repo="microsoft/vscode")[0].repo == "microsoft/vscode"


def test_nlbse_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("repo,title,body\nfacebook/react,T,B\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="label"):
        read_issues(path)


# --- gzip and auto-detection ---------------------------------------------------------


def test_gzip_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for n in (1, 2, 3):
            handle.write(json.dumps(github_issue(n)) + "\n")
    issues = read_issues(path)
    assert [i.number for i in issues] == [1, 2, 3]
    assert issues[0].author == "alice" and issues[0].repo == "octo/widgets"


@pytest.mark.parametrize(
    ("record", "expected_author"),
    [
        ({"number": 1, "title": "t", "labels": [{"name": "a"}], "repository_url": "https://api.github.com/repos/o/r"}, None),
        ({"number": 1, "title": "t", "labels": [], "user": {"login": "carol"},
          "repository_url": "https://api.github.com/repos/o/r"}, "carol"),
        ({"repo": "o/r", "number": 1, "title": "t", "labels": ["a"], "author": "dave"}, "dave"),
    ],
    ids=["github-label-dicts", "github-user", "bundled"],
)
def test_auto_detection(tmp_path: Path, record: dict[str, Any], expected_author: str | None) -> None:
    path = write_jsonl(tmp_path / "auto.jsonl", [record])
    (issue,) = read_issues(path)
    assert issue.repo == "o/r" and issue.author == expected_author


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_text('\n{"repo": "o/r", "number": 1, "title": "t", "labels": []}\n\n   \n', encoding="utf-8")
    assert len(read_issues(path)) == 1


# --- errors --------------------------------------------------------------------------


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_issues(tmp_path / "nope.jsonl")
    with pytest.raises(InputError):
        read_issues(tmp_path)  # a folder is not an issue file


def test_invalid_json_line_mentions_line_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = [json.dumps({"repo": "o/r", "number": n, "title": "t", "labels": []}) for n in (1, 2)]
    path.write_text(f"{good[0]}\n{good[1]}\n{{not json\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad\.jsonl:3: not valid JSON"):
        read_issues(path)
    with pytest.raises(DataFormatError, match=r":3:"):
        read_issues(path, "bundled")


def test_non_object_line_raises(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=":1: expected a JSON object"):
        read_issues(path, "bundled")


def test_non_utf8_bytes_raise_data_format_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    record = {"repo": "o/r", "number": 1, "title": "caf\u00e9", "labels": []}
    path.write_bytes(json.dumps(record, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(DataFormatError, match="UTF-8"):
        read_issues(path)
    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes("repo,created_at,label,title,body\no/r,,bug,caf\u00e9,x\n".encode("latin-1"))
    with pytest.raises(DataFormatError):
        read_issues(csv_path)


def test_corrupt_gzip_raises_data_format_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(b"this is not gzip data")
    with pytest.raises(DataFormatError, match="gzip"):
        read_issues(path, "github")


@pytest.mark.parametrize("missing", ["number", "title", "labels"])
def test_missing_field_raises_data_format_error(tmp_path: Path, missing: str) -> None:
    records = [github_issue(1), github_issue(2)]
    del records[1][missing]
    path = write_jsonl(tmp_path / "m.jsonl", records)
    with pytest.raises(DataFormatError, match=f"m.jsonl:2: .*missing field\\(s\\) {missing}"):
        read_issues(path, "github")


def test_github_label_object_without_name_raises_data_format_error(tmp_path: Path) -> None:
    """A malformed label object is a data-format problem, reported with its line.
    """
    path = write_jsonl(tmp_path / "l.jsonl", [github_issue(1, labels=[{"color": "ffffff"}])])
    with pytest.raises(DataFormatError, match=":1:"):
        read_issues(path, "github")


def test_malformed_values_raise_data_format_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "v.jsonl", [{"repo": "o/r", "number": "one", "title": "t", "labels": []}])
    with pytest.raises(DataFormatError, match="v.jsonl:1"):
        read_issues(path)
    record = {"repo": "o/r", "number": 1, "title": "t", "labels": [], "created_at": "yesterday"}
    path = write_jsonl(tmp_path / "d.jsonl", [record])
    with pytest.raises(DataFormatError, match="ISO 8601"):
        read_issues(path)
    path = write_jsonl(tmp_path / "s.jsonl", [{"repo": "o/r", "number": 1, "title": "t", "labels": "bug"}])
    with pytest.raises(DataFormatError, match="must be a list"):
        read_issues(path, "bundled")


@pytest.mark.parametrize("bad_repo", ["widgets", "octo/widgets/extra", "octo widgets/x", ""])
def test_bad_repo_name_raises_input_error(tmp_path: Path, bad_repo: str) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [{"repo": "o/r", "number": 1, "title": "t", "labels": []}])
    with pytest.raises(InputError, match="owner/name"):
        read_issues(path, repo=bad_repo)


def test_bad_repo_name_inside_file_raises_input_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "r.jsonl", [{"repo": "not a repo", "number": 1, "title": "t", "labels": []}])
    with pytest.raises(InputError, match="owner/name"):
        read_issues(path)


def test_unknown_format_raises_input_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "u.jsonl", [{"repo": "o/r", "number": 1, "title": "t", "labels": []}])
    with pytest.raises(InputError, match="unknown format 'xml'"):
        read_issues(path, "xml")  # type: ignore[arg-type]


def test_empty_file_in_auto_mode_raises(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="no issues"):
        read_issues(path)


# --- the bundled real data -----------------------------------------------------------


def test_real_bundled_corefx_file() -> None:
    issues = read_issues(COREFX)
    assert len(issues) == 1292
    assert len({label for issue in issues for label in issue.labels}) == 22
    assert {issue.repo for issue in issues} == {"dotnet/corefx"}
    assert len({issue.number for issue in issues}) == 1292
    assert all(issue.title and not issue.is_pull_request for issue in issues)


def test_label_events_record_the_app_that_made_the_change() -> None:
    from triage.data.sources import label_events_from_github

    events = [event("labeled", "bug", "alice", "User") | {"performed_via_github_app": {"id": 7, "slug": "triage-bot"}},
              event("unlabeled", "bug", "bob", "User", "2021-03-04T07:00:00Z") | {"performed_via_github_app": None},
              event("labeled", "docs", "carol", "User", "2021-03-04T08:00:00Z")]
    found = label_events_from_github(events)
    assert [(e.label, e.action, e.actor, e.via_app) for e in found] == [
        ("bug", "labeled", "alice", "triage-bot"), ("bug", "unlabeled", "bob", None), ("docs", "labeled", "carol", None)]
    assert found[0].is_bot() and not found[2].is_bot()
    with pytest.raises(DataFormatError, match="performed_via_github_app"):
        label_events_from_github([event("labeled", "bug", "a", "User") | {"performed_via_github_app": "triage-bot"}])
