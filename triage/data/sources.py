"""Readers that turn issue exports into :class:`~triage.domain.issues.Issue` records.

Formats:

* ``github``: JSON Lines of GitHub REST issue objects (the canonical format), as returned by
  ``GET /repos/{owner}/{repo}/issues``; an optional ``events`` list of issue events
  (``labeled``/``unlabeled`` with ``actor``) records who applied each label.
* ``bundled``: JSON Lines with ``repo, number, title, body, labels`` (labels as strings),
  plus any other :class:`Issue` field; the bundled corefx dataset uses it.
* ``nlbse``: the NLBSE'24 CSV (``repo, created_at, label, title, body``), read as
  a CSV with ``\\`` as the escape character. Its rows carry no issue number, so rows are
  numbered per repository in file order.

Every reader is strict and reads the whole file before anything is stored: a value of the wrong type
(an issue number of ``1.5``, ``"7"`` or ``true``, a list as a title, a number as a label), a non-finite
number, a line nested deeper than :data:`MAX_DEPTH` or longer than :data:`MAX_LINE`, a duplicate key or
issue, and an empty file are each a :class:`DataFormatError` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from triage.data.assign_events import assign_events_from_github, assignees_from_github, events_of
from triage.domain.errors import DataFormatError, InputError
from triage.domain.issues import Issue, LabelEvent, check_repo, label_name

Format = Literal["auto", "github", "bundled", "nlbse"]
FORMATS: tuple[str, ...] = ("auto", "github", "bundled", "nlbse")
MAX_LINE = 16 * 1024 * 1024  # characters in one JSON line (a GitHub body is at most 65,536)
MAX_DEPTH = 64  # nesting of objects and lists in one line (a GitHub issue object with events needs about 6)
MAX_FIELD = 4 * 1024 * 1024  # characters in one CSV field
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def read_issues(path: str | Path, fmt: Format = "auto", repo: str | None = None) -> list[Issue]:
    """Every issue in ``path``, all checked; ``repo`` overrides or supplies the repository name."""
    path = Path(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if repo is not None:
        repo = check_repo(repo)
    try:
        if not path.exists():
            raise InputError(f"issue file {str(path)!r} does not exist; pass the path of a .jsonl or .csv export")
        if not path.is_file():
            raise InputError(f"issue file {str(path)!r} is not a regular file; pass the path of a .jsonl or .csv export")
        if fmt == "auto":
            fmt = "nlbse" if path.name.lower().endswith(".csv") else _detect(path)
        issues = _read_nlbse(path, repo) if fmt == "nlbse" else _read_json_lines(path, fmt, repo)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc}); check the path and its permissions") from None
    if not issues:
        raise DataFormatError(f"{path} holds no issues; export at least one issue")
    return issues


def _read_json_lines(path: Path, fmt: str, repo: str | None) -> list[Issue]:
    parse = issue_from_github if fmt == "github" else _from_bundled
    issues: list[Issue] = []
    seen: dict[tuple[str, int], int] = {}
    for line_no, record in _json_lines(path):
        try:
            issue = parse(record, repo)
        except (DataFormatError, InputError) as exc:
            raise DataFormatError(f"{path}:{line_no}: {exc}") from None
        key = (issue.repo, issue.number)
        if key in seen:
            raise DataFormatError(f"{path}:{line_no}: issue {issue.repo}#{issue.number} is also on line {seen[key]}; "
                                  "keep one line per issue")
        seen[key] = line_no
        issues.append(issue)
    return issues


def _detect(path: Path) -> Format:
    for _, record in _json_lines(path):
        labels = record.get("labels")
        label_objects = isinstance(labels, list) and any(isinstance(label, dict) for label in labels)
        return "github" if "html_url" in record or "user" in record or label_objects else "bundled"
    raise DataFormatError(f"{path} holds no issues; export at least one issue")


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The objects of a JSON Lines file (gzip-compressed if its name ends in ``.gz``), one per non-blank line."""
    opener = gzip.open if path.name.endswith(".gz") else open
    line_no = 0
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="\n") as handle:
            while line := handle.readline(MAX_LINE + 1):
                line_no += 1
                if len(line) > MAX_LINE:
                    raise DataFormatError(f"{path}:{line_no}: the line is longer than {MAX_LINE:,} characters")
                if line.strip():
                    yield line_no, parse_line(line, f"{path}:{line_no}")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}:{line_no + 1}: not UTF-8 text ({exc.reason}); re-export the file as UTF-8") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: not a valid gzip file ({exc})") from None


def parse_line(line: str, where: str) -> dict[str, Any]:
    """One JSON object, strictly: bounded nesting, finite numbers, integers of at most 30 digits, unique keys."""
    if _depth(line) > MAX_DEPTH:
        raise DataFormatError(f"{where}: nested deeper than {MAX_DEPTH} levels; expected one flat issue object")
    try:
        record = json.loads(line, parse_constant=_refuse_constant, parse_float=_finite, parse_int=_integer,
                            object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); expected one issue "
                              "object per line") from None
    except ValueError as exc:  # from the hooks below
        raise DataFormatError(f"{where}: {exc}") from None
    if not isinstance(record, dict):
        raise DataFormatError(f"{where}: expected a JSON object, got {type(record).__name__}")
    return record


def _depth(line: str) -> int:
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", line)) if ("[" in line or "{" in line) else ""
    depth = deepest = 0
    for char in brackets:
        depth += 1 if char in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a finite number; write a number or null")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is too large a number")
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 30:
        raise ValueError(f"an integer of {len(text)} digits is too large")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        raise ValueError(f"key(s) {', '.join(map(repr, twice[:3]))} appear twice in one object; keep one")
    return record


def _require(record: Mapping[str, Any], *keys: str) -> None:
    missing = [key for key in keys if key not in record]
    if missing:
        number = record.get("number")
        shown = number if isinstance(number, int) and not isinstance(number, bool) else "?"
        raise DataFormatError(f"missing field(s) {', '.join(missing)} in issue {shown}")


def _from_bundled(record: Mapping[str, Any], repo: str | None) -> Issue:
    _require(record, "number", "title", "labels")
    data = dict(record)
    data["repo"] = repo or record.get("repo")
    if not data["repo"]:
        raise DataFormatError("no repository: add a 'repo' field or pass --repo owner/name")
    if not isinstance(data["labels"], list):
        raise DataFormatError(f"'labels' of issue {_shown_number(record)} must be a list of strings")
    return Issue.from_dict(data)


def _shown_number(record: Mapping[str, Any]) -> str:
    number = record.get("number")
    return str(number) if isinstance(number, int) and not isinstance(number, bool) else "?"


def _object(value: Any, what: str) -> Mapping[str, Any]:
    """``value`` if it is an object (or null, as an empty one)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DataFormatError(f"{what} must be an object or null, got {type(value).__name__}")
    return value


def is_pull_request(record: Mapping[str, Any]) -> bool:
    """Whether a REST issue object is a pull request: it has a ``pull_request`` object (some exports write null
    on every plain issue)."""
    return record.get("pull_request") is not None


def issue_from_github(record: Mapping[str, Any], repo: str | None = None,
                      events: Sequence[Mapping[str, Any]] | None = None) -> Issue:
    """An :class:`Issue` from a GitHub REST issue object; ``events`` (issue events) override ``record["events"]``."""
    _require(record, "number", "title", "labels")
    url = record.get("repository_url")
    if url is not None and not isinstance(url, str):
        raise DataFormatError(f"'repository_url' of issue {_shown_number(record)} must be a URL")
    repo = repo or ("/".join(url.rstrip("/").split("/")[-2:]) if url and "/repos/" in url else None)
    if not repo:
        raise DataFormatError("no repository: the export has no repository_url; pass --repo owner/name")
    labels = record["labels"]
    if not isinstance(labels, list) or not all(isinstance(label, (str, Mapping)) for label in labels):
        raise DataFormatError(f"'labels' of issue {_shown_number(record)} must be a list of label objects or names")
    names = [label.get("name") if isinstance(label, Mapping) else label for label in labels]
    if not all(isinstance(name, str) for name in names):
        raise DataFormatError(f"a label of issue {_shown_number(record)} has no name (a string): {str(labels)[:200]}")
    user = _object(record.get("user"), "'user'")
    listed = record.get("events") or [] if events is None else events
    found = label_events_from_github(listed)
    return Issue.from_dict({
        "repo": repo, "number": record["number"], "title": record["title"], "body": record.get("body"),
        "labels": names, "state": record.get("state", "open"), "created_at": record.get("created_at"),
        "updated_at": record.get("updated_at"), "author": user.get("login"),
        "author_association": record.get("author_association"), "is_pull_request": is_pull_request(record),
        "label_events": [e.__dict__ for e in found], "assignees": assignees_from_github(record),
        "assign_events": [e.__dict__ for e in assign_events_from_github(listed)],
    })


def label_events_from_github(events: Sequence[Mapping[str, Any]]) -> tuple[LabelEvent, ...]:
    """The ``labeled``/``unlabeled`` events among GitHub issue events, oldest first.

    ``via_app`` is the slug of the GitHub App that made the change (``performed_via_github_app``), so that an
    automation acting with a person's token is not taken for that person's judgement.
    """
    found = []
    for event in events_of(events, ("labeled", "unlabeled")):
        actor = _object(event.get("actor"), "an event's 'actor'")
        app = _object(event.get("performed_via_github_app"), "an event's 'performed_via_github_app'")
        try:
            found.append(LabelEvent.from_dict({
                "label": _object(event.get("label"), "an event's 'label'").get("name"), "action": event["event"],
                "actor": actor.get("login"), "actor_type": actor.get("type"), "at": event.get("created_at"),
                "via_app": app.get("slug")}))
        except ValueError as exc:
            raise DataFormatError(f"a {event['event']} event: {exc}") from None
    return tuple(sorted(found, key=lambda e: e.at or ""))


def _read_nlbse(path: Path, repo: str | None) -> list[Issue]:
    previous = csv.field_size_limit(MAX_FIELD)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle, escapechar="\\")
            if reader.fieldnames is None:
                raise DataFormatError(f"{path} is empty; expected a header line repo,created_at,label,title,body")
            missing = {"repo", "label", "title", "body"} - set(reader.fieldnames)
            if missing:
                raise DataFormatError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected repo, "
                                      "created_at, label, title, body")
            rows = [(reader.line_num, row) for row in reader]  # the line on which each row ends
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: not a readable NLBSE CSV ({exc}); export it as UTF-8 CSV with \\ as the escape "
                              "character") from None
    finally:
        csv.field_size_limit(previous)
    counters: dict[str, int] = {}
    issues = []
    for line, row in rows:
        if None in row or any(value is None for value in row.values()):
            raise DataFormatError(f"{path}:{line}: expected the 5 columns repo, created_at, label, title, body")
        name = repo or (row["repo"] if "/" in row["repo"] else f"{row['repo']}/{row['repo']}")
        counters[name] = counters.get(name, 0) + 1
        created = row.get("created_at") or None
        try:
            issues.append(Issue.from_dict({
                "repo": name, "number": counters[name], "title": row["title"], "body": row["body"],
                "labels": [label_name(row["label"])] if row["label"] else [],
                "created_at": created.replace(" ", "T") if created else None,
            }))
        except (DataFormatError, ValueError) as exc:
            raise DataFormatError(f"{path}:{line}: {exc}") from None
    return issues
