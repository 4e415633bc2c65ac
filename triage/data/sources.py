"""Readers that turn issue exports into :class:`~triage.issues.Issue` records.

Formats:

* ``github``: JSON Lines of GitHub REST issue objects (the canonical format), as returned by
  ``GET /repos/{owner}/{repo}/issues``; an optional ``events`` list of issue events
  (``labeled``/``unlabeled`` with ``actor``) records who applied each label.
* ``bundled``: JSON Lines with ``repo, number, title, body, labels`` (labels as strings),
  plus any other :class:`Issue` field; the bundled corefx dataset uses it.
* ``nlbse``: the NLBSE'24 CSV (``repo, created_at, label, title, body``), read as
  a CSV with ``\\`` as the escape character. Its rows carry no issue number, so rows are
  numbered per repository in file order.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from triage.domain.errors import DataFormatError, InputError
from triage.domain.issues import Issue, LabelEvent, check_repo

csv.field_size_limit(sys.maxsize)  # issue bodies are long; GitHub allows 65,536 characters
Format = Literal["auto", "github", "bundled", "nlbse"]
FORMATS: tuple[str, ...] = ("auto", "github", "bundled", "nlbse")


def read_issues(path: str | Path, fmt: Format = "auto", repo: str | None = None) -> list[Issue]:
    """Read every issue in ``path``; ``repo`` overrides or supplies the repository name."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"issue file {str(path)!r} does not exist; pass the path of a .jsonl or .csv export")
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if repo is not None:
        check_repo(repo)
    if fmt == "auto":
        fmt = _detect(path)
    if fmt == "nlbse":
        return _read_nlbse(path, repo)
    records = list(_json_lines(path))
    parse = issue_from_github if fmt == "github" else _from_bundled
    issues = []
    for line_no, record in records:
        try:
            issues.append(parse(record, repo))
        except DataFormatError as exc:
            raise DataFormatError(f"{path}:{line_no}: {exc}") from exc
    return issues


def _detect(path: Path) -> Format:
    name = path.name.lower()
    if name.endswith(".csv"):
        return "nlbse"
    for _, record in _json_lines(path):
        labels = record.get("labels") or []
        if "html_url" in record or "user" in record or any(isinstance(label, dict) for label in labels):
            return "github"
        return "bundled"
    raise DataFormatError(f"{path} holds no issues; export at least one issue")


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataFormatError(f"{path}:{line_no}: not valid JSON ({exc.msg}); "
                                          "expected one issue object per line") from exc
                if not isinstance(record, dict):
                    raise DataFormatError(f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}")
                yield line_no, record
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not UTF-8 text ({exc.reason}); re-export the file as UTF-8") from exc
    except (gzip.BadGzipFile, EOFError) as exc:
        raise DataFormatError(f"{path}: not a valid gzip file ({exc})") from exc


def _require(record: Mapping[str, Any], *keys: str) -> None:
    missing = [key for key in keys if key not in record]
    if missing:
        raise DataFormatError(f"missing field(s) {', '.join(missing)} in issue {str(record.get('number', '?'))}")


def _from_bundled(record: Mapping[str, Any], repo: str | None) -> Issue:
    _require(record, "number", "title", "labels")
    data = dict(record)
    data["repo"] = repo or record.get("repo")
    if not data["repo"]:
        raise DataFormatError("no repository: add a 'repo' field or pass --repo owner/name")
    if not isinstance(data["labels"], list):
        raise DataFormatError(f"'labels' of issue {record['number']} must be a list of strings")
    return Issue.from_dict(data)


def issue_from_github(record: Mapping[str, Any], repo: str | None = None,
                      events: Sequence[Mapping[str, Any]] | None = None) -> Issue:
    """An :class:`Issue` from a GitHub REST issue object; ``events`` (issue events) override ``record["events"]``."""
    _require(record, "number", "title", "labels")
    url = str(record.get("repository_url") or "")
    repo = repo or ("/".join(url.rstrip("/").split("/")[-2:]) if "/repos/" in url else None)
    if not repo:
        raise DataFormatError("no repository: the export has no repository_url; pass --repo owner/name")
    try:
        labels = [label["name"] if isinstance(label, dict) else str(label) for label in record["labels"]]
    except (KeyError, TypeError) as exc:
        raise DataFormatError(f"a label of issue {record['number']} has no name: {record['labels']!r:.200}") from exc
    events = label_events_from_github(record.get("events") or () if events is None else events)
    return Issue.from_dict({
        "repo": repo,
        "number": record["number"],
        "title": record["title"],
        "body": record.get("body") or "",
        "labels": labels,
        "state": record.get("state", "open"),
        "created_at": record.get("created_at"),
        "updated_at": record.get("updated_at"),
        "author": (record.get("user") or {}).get("login"),
        "author_association": record.get("author_association"),
        "is_pull_request": "pull_request" in record,
        "label_events": [e.__dict__ for e in events],
    })


def label_events_from_github(events: Sequence[Mapping[str, Any]]) -> tuple[LabelEvent, ...]:
    """The ``labeled``/``unlabeled`` events among GitHub issue events, oldest first."""
    found = [
        LabelEvent(
            label=str((event.get("label") or {}).get("name")),
            action=event["event"],
            actor=(event.get("actor") or {}).get("login"),
            actor_type=(event.get("actor") or {}).get("type"),
            at=event.get("created_at"),
        )
        for event in events
        if event.get("event") in ("labeled", "unlabeled")
    ]
    return tuple(sorted(found, key=lambda e: e.at or ""))


def _read_nlbse(path: Path, repo: str | None) -> list[Issue]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, escapechar="\\")
            missing = {"repo", "label", "title", "body"} - set(reader.fieldnames or ())
            if missing:
                raise DataFormatError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected repo, "
                                      "created_at, label, title, body")
            rows = list(reader)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: not a readable NLBSE CSV ({exc})") from exc
    counters: dict[str, int] = {}
    issues = []
    for line, row in enumerate(rows, start=2):
        if None in row or any(value is None for value in row.values()):
            raise DataFormatError(f"{path}:{line}: expected the 5 columns repo, created_at, label, title, body")
        name = repo or (row["repo"] if "/" in row["repo"] else f"{row['repo']}/{row['repo']}")
        counters[name] = counters.get(name, 0) + 1
        created = row.get("created_at") or None
        issues.append(Issue.from_dict({
            "repo": name,
            "number": counters[name],
            "title": row["title"],
            "body": row["body"],
            "labels": [row["label"]] if row["label"] else [],
            "created_at": created.replace(" ", "T") if created else None,
        }))
    return issues
