"""Routing benchmark: how often the learned assignee model names the person a human assigned.

Two sources of history:

* ``--data PATH``: a JSON-lines export of real issues, either GitHub REST issue objects (``gh api --paginate
  "repos/OWNER/NAME/issues?state=all&per_page=100" --jq '.[]'``; pull requests are skipped; without issue
  events the first current assignee stands for the first human one) or the product's stored issues.
  Or a CSV with columns ``number,title,body,assignee,labels`` where ``assignee`` is a Python-literal user
  (``{'login': 'jrieken', ...}``) and ``labels`` a Python-literal list of names: the form of the VS Code export
  ``data/cleaned_parsed_issues.tar.gz`` of github.com/JacobSalvi/software-analytics-bug-triaging (titles and
  bodies mostly removed by its cleaning, so it measures routing from labels); ``--newest N`` keeps the N
  newest assigned issues.
* ``--generated`` (the default without ``--data``): the bundled corefx issues with a history generated from
  config-style rules (each area label has an owner; 10 % of issues go to someone else; a bot pre-assigns
  12 %, which training must ignore; one owner hands an area over two thirds of the way through and stops).
* ``--loopback``: the loopback GitHub server's corefx fixture, whose ``assigned`` events (about a fifth of the
  issues) are rewritten by owner rules (:mod:`tests.github.routing_history`), scraped with the product's
  scraper into temporary embedded stores: the whole path from GitHub's REST answers to the stored history.

The newest ``--test-fraction`` of assigned issues is the test set; ``fit_assignees`` sees only the older
ones (training its model on their oldest 80 % and picking thresholds on the newest 20 %). Printed per
learner (softmax, centroid) and with or without the labels as features: top-1 and top-3 accuracy, coverage
and precision at the thresholds on the test set, next to the most-frequent-assignee and the
most-frequent-owner-of-the-labels baselines.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import random
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import machine, table, write_json
from triage.data.sources import is_pull_request, issue_from_github
from triage.domain.assignments import AssignEvent
from triage.domain.errors import DataFormatError, InputError
from triage.domain.issues import Issue
from triage.ml.assignee_features import grams
from triage.ml.assignee_history import assignment_history
from triage.ml.assignee_metrics import heldout_metrics
from triage.ml.assignees import fit_assignees

ROOT = Path(__file__).resolve().parent.parent
COREFX = ROOT / "data" / "corefx-area" / "issues.jsonl"
PEOPLE = 8
MAX_FIELD = 1 << 24  # characters in one CSV field (an issue body is at most 65,536)


def load_issues(path: Path) -> list[Issue]:
    """Issues of a JSON-lines file of GitHub REST issue objects or of stored issues (pull requests skipped), or
    of a CSV export (see the module docstring)."""
    if path.suffix.lower() == ".csv":
        return load_csv(path)
    issues = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{path}:{n}: not JSON ({exc.msg}); give one issue object per line") from None
        if not isinstance(record, dict):
            raise DataFormatError(f"{path}:{n}: a line must hold one issue object")
        try:
            if "repository_url" in record:  # a GitHub REST issue object
                if is_pull_request(record):
                    continue
                repo = "/".join(str(record["repository_url"]).split("/")[-2:])
                issues.append(issue_from_github(record, repo))
            else:
                issues.append(Issue.from_dict(record))
        except InputError as exc:
            raise DataFormatError(f"{path}:{n}: {exc}") from None
    return issues


def load_csv(path: Path, repo: str = "microsoft/vscode") -> list[Issue]:
    """Issues of a CSV export with columns number, title, body, assignee (a Python-literal user object or empty)
    and labels (a Python-literal list of names); raises :class:`DataFormatError` naming the row."""
    csv.field_size_limit(MAX_FIELD)
    issues = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"number", "title", "body", "assignee", "labels"} - set(reader.fieldnames or ())
        if missing:
            raise DataFormatError(f"{path}: the CSV lacks the column(s) {', '.join(sorted(missing))}; it needs "
                                  "number, title, body, assignee and labels")
        for n, row in enumerate(reader, 2):
            try:
                user = _literal(row["assignee"] or "None", (dict, type(None)))
                labels = _literal(row["labels"] or "[]", (list,))
                login = user.get("login") if user else None
                issues.append(Issue.from_dict({"repo": repo, "number": int(row["number"]), "title": row["title"] or "",
                                               "body": row["body"] or "", "labels": labels,
                                               "assignees": [login] if login is not None else []}))
            except DataFormatError as exc:
                raise DataFormatError(f"{path}:{n}: {exc}") from None
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
                raise DataFormatError(f"{path}:{n}: {str(exc)[:160]} (number: a whole number; assignee: "
                                      "{'login': ...} or empty; labels: ['name', ...])") from None
    return issues


def _literal(text: str, kinds: tuple[type, ...]) -> Any:
    """A Python literal of one of ``kinds`` (only literals are evaluated, and only short ones)."""
    if len(text) > 10_000:
        raise ValueError(f"a field of {len(text):,} characters is too long for a user or a label list")
    value = ast.literal_eval(text)
    if not isinstance(value, kinds):
        raise ValueError(f"expected {' or '.join(k.__name__ for k in kinds)}, got {type(value).__name__}")
    return value


def generated_history(path: Path = COREFX, seed: int = 0) -> list[Issue]:
    """The bundled issues with assignment events generated from area-owner rules (see the module docstring)."""
    rows = sorted((json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()),
                  key=lambda r: r["number"])
    areas = sorted({label for row in rows for label in row["labels"]})
    people = [f"owner-{i}" for i in range(PEOPLE)]
    owner = {area: people[i % PEOPLE] for i, area in enumerate(areas)}
    rng = random.Random(f"routing:{seed}")
    start = datetime(2017, 1, 1, tzinfo=timezone.utc)
    issues = []
    for i, row in enumerate(rows):
        at = start + timedelta(days=730 * i / len(rows))
        area = row["labels"][0] if row["labels"] else rng.choice(areas)
        handed_over = i > 2 * len(rows) // 3  # owner-0 left; owner-1 took over owner-0's areas
        who = people[1] if handed_over and owner[area] == people[0] else owner[area]
        if rng.random() < 0.10:
            who = rng.choice(people[1:] if handed_over else people)
        stamp = at.isoformat().replace("+00:00", "Z")
        events = [AssignEvent("assigned", who, "triager", at=stamp)]
        if rng.random() < 0.12:
            events.insert(0, AssignEvent("assigned", rng.choice(people), "routing-bot[bot]", "Bot", at=stamp))
        issues.append(Issue(repo="dotnet/corefx", number=row["number"], title=row["title"], body=row["body"],
                            labels=tuple(row["labels"]), created_at=stamp, assign_events=tuple(events)))
    return issues


def loopback_history() -> list[Issue]:
    """The loopback server's corefx fixture with owner-rule assignments, as the product's scraper stores it."""
    import tempfile

    from tests.github.routing_history import apply_owner_rules, owner_rules
    from tests.github.server import GitHubServer
    from tests.github_server import build_fixture
    from triage.adapters.github.client import GitHubClient
    from triage.adapters.github.settings import GitHubSettings
    from triage.adapters.local.stores import LocalBlobStore, SqliteDocumentStore
    from triage.data.ingest import stored_issues
    from triage.data.scraper import scrape

    fixture = build_fixture()
    apply_owner_rules(fixture, owner_rules(fixture.labels))
    with tempfile.TemporaryDirectory(prefix="routing-") as folder, GitHubServer(fixture) as server:
        docs, blobs = SqliteDocumentStore(Path(folder) / "db.sqlite"), LocalBlobStore(Path(folder) / "blobs")
        api = GitHubClient(GitHubSettings(base_url=server.url, token="test-token"), sleep=lambda _s: None)
        scrape(api, docs, blobs, fixture.repo)
        return stored_issues(docs, fixture.repo)


def evaluate(issues: Sequence[Issue], test_fraction: float, kind: str, use_labels: bool,
             target_precision: float, inactive_months: int) -> dict[str, Any]:
    """Fit on the older issues, score the newest ``test_fraction`` of assigned ones with the fitted thresholds."""
    history = assignment_history(issues, inactive_months=inactive_months)
    reference = history.reference.isoformat() if history.reference else None
    cut = int(round(len(history.examples) * (1 - test_fraction)))
    test = history.examples[cut:]
    test_numbers = {e.issue.number for e in test}
    older = [i for i in issues if i.number not in test_numbers]
    started = time.perf_counter()
    model, fitted = fit_assignees(older, now=reference, inactive_months=inactive_months, kind=kind,
                                  use_labels=use_labels, target_precision=target_precision)
    seconds = time.perf_counter() - started
    probs = model.predict_proba([grams(e.issue.title, e.issue.body) for e in test],
                                [e.issue.labels if use_labels else () for e in test])
    truth = np.array([[e.assignee == who for who in model.assignees] for e in test], dtype=np.int8)
    train = assignment_history(older, now=reference, inactive_months=inactive_months).examples
    result = heldout_metrics(probs, truth, model.assignees, model.thresholds, [e.assignee for e in train],
                             [e.issue.labels for e in train], [e.issue.labels for e in test])
    result.pop("per_assignee")
    return result | {"kind": kind, "use_labels": use_labels, "fit_seconds": round(seconds, 2),
                     "assignees": len(model.assignees), "n_train": fitted["n_train"],
                     "validation_accuracy": fitted["accuracy"], "dropped_inactive": len(fitted["dropped_inactive"]),
                     "bot_only": fitted["bot_only"]}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (or JSON with ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.routing", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path, help="JSON lines of GitHub REST issues or stored issues")
    source.add_argument("--generated", action="store_true", help="corefx issues, owner-rule history (default)")
    source.add_argument("--loopback", action="store_true", help="the same rules, scraped from the loopback server")
    parser.add_argument("--newest", type=int, metavar="N", help="keep only the N newest assigned issues")
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--target-precision", type=float, default=0.8)
    parser.add_argument("--inactive-months", type=int, default=6)
    parser.add_argument("--json", nargs="?", const="-", metavar="PATH",
                        help="print JSON (or merge it into PATH under the key 'routing')")
    args = parser.parse_args(argv)
    if not 0.05 <= args.test_fraction <= 0.5:
        parser.error(f"--test-fraction must be between 0.05 and 0.5, got {args.test_fraction}")
    if args.data is not None and not args.data.is_file():
        parser.error(f"--data {args.data}: no such file; export issues with `gh api --paginate ...` first")
    issues = load_issues(args.data) if args.data else loopback_history() if args.loopback else generated_history()
    if args.newest is not None:
        if args.newest < 20:
            parser.error(f"--newest {args.newest}: keep at least 20 issues")
        assigned = sorted((i for i in issues if i.assignees or i.assign_events), key=lambda i: i.sort_key)
        issues = assigned[-args.newest:]
    runs = [evaluate(issues, args.test_fraction, kind, labels, args.target_precision, args.inactive_months)
            for kind in ("softmax", "centroid") for labels in (True, False)]
    name = "loopback server: corefx fixture, owner-rule assignments, scraped" if args.loopback else \
        "generated from area-owner rules over data/corefx-area"
    result = {"data": str(args.data) if args.data else name, "newest": args.newest,
              "issues": len(issues), "runs": runs, "machine": machine()}
    if args.json == "-":
        print(json.dumps(result, indent=2))
    else:
        write_json(args.json, "routing", result)
        print(table([[r["kind"], r["use_labels"], r["n_train"], r["n_heldout"], r["assignees"], r["accuracy"],
                      r["top3_accuracy"], r["coverage"], r["precision_at_thresholds"] or 0.0,
                      r["baseline_majority"], r["baseline_label_owner"], r["fit_seconds"]] for r in runs],
                    ["learner", "labels", "train", "test", "people", "top-1", "top-3", "coverage", "precision",
                     "majority", "label owner", "fit s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
