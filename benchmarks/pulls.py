"""Pull-request labeling on a measured set: the issue model, one joint model, path rules, and both together.

    python -m benchmarks.pulls [--issues data/corefx-area/issues.jsonl] [--two] [--json [out/bench.json]]

No public data set of labeled pull requests *with their changed files* could be used offline, so the set is
**generated**, and says so in its output: each pull request has the title and body of a real dotnet/corefx issue
(MIT, ``data/corefx-area/issues.jsonl``) and files drawn from its area's corefx source folders
(``src/System.Net.Http/src/...``, ``eng/...`` for area-Infrastructure), plus shared files that say nothing of the
area (``src/Common/...``, package indexes), with a share of pull requests that also touch another area's folder
(cross-area changes) and a share that touch only shared files. The path rules are what a maintainer would write
from the folder layout (one glob per source folder of the area). Numbers measured here bound what rules and files
add on a repository laid out like corefx; they are not a measurement on real pull requests.

Issues are split by time: the oldest 55 % train as issues, the next 25 % become training pull requests, the
newest 20 % become test pull requests (and, without files, test issues). Compared on the test pull requests, with
the product's serving path (``Classifier.scores`` on :func:`~triage.app.pulls.model_input`, path rules merged by
:func:`~triage.app.pulls.with_rules`, then :func:`~triage.domain.policy.decide` at the model's thresholds):

* ``issue_model_text``: the model trained on issues only, reading the pull request's title and body;
* ``issue_model``: the same model reading the files line too (what serving does);
* ``joint_model``: one model trained on issues and pull requests (the files line in the pull requests' text);
* ``pr_model`` (``--two``): a second model trained on pull requests only;
* ``rules``: the path rules alone (the first rule that matches);
* ``issue_model+rules`` and ``joint_model+rules``: what the labeler does with ``paths`` configured.

Each reports ``accuracy`` (the top label, or the rule's, right over all test pull requests), ``coverage`` (the share
labeled under the policy) and ``precision`` (right among those labeled). ``issues`` compares the issue model and
the joint model on the test issues, so the price of one model for both is visible.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.common import machine, table, write_json
from benchmarks.quality import stratified_holdout, train_and_score
from training_job.train import TrainConfig
from triage.app.pulls import model_input, with_rules
from triage.app.serving import repo_policy
from triage.data.sources import read_issues
from triage.domain.cleaning import issue_text, learn_boilerplate, lexical_text
from triage.domain.errors import ConfigError
from triage.domain.issues import Issue
from triage.domain.path_rules import model_body
from triage.domain.policy import Policy, decide
from triage.domain.repo_config import RepoConfig, parse_repo_config
from triage.ml.model import Classifier
from triage.ports.training import TrainingArguments

REPO = "dotnet/corefx"
DEFAULT_ISSUES = Path("data/corefx-area/issues.jsonl")
# corefx source folders (src/<folder>/) of each area, as the repository laid them out.
AREA_FOLDERS: dict[str, tuple[str, ...]] = {
    "area-System.Net": ("System.Net.Http", "System.Net.Sockets", "System.Net.Security", "System.Net.Primitives",
                        "System.Net.WebSockets.Client", "System.Net.NameResolution"),
    "area-System.IO": ("System.IO.FileSystem", "System.IO.Pipes", "System.IO.Compression", "System.IO.Ports",
                       "System.IO.FileSystem.Watcher"),
    "area-System.Memory": ("System.Memory", "System.Buffers"),
    "area-System.Runtime": ("System.Runtime", "System.Runtime.Extensions", "System.Runtime.InteropServices"),
    "area-System.Data": ("System.Data.Common", "System.Data.SqlClient", "System.Data.Odbc"),
    "area-System.Security": ("System.Security.Cryptography.X509Certificates", "System.Security.Cryptography.Algorithms",
                             "System.Security.Principal.Windows"),
    "area-System.Diagnostics": ("System.Diagnostics.Process", "System.Diagnostics.DiagnosticSource",
                                "System.Diagnostics.EventLog"),
    "area-Serialization": ("System.Runtime.Serialization.Json", "System.Private.DataContractSerialization",
                           "System.Runtime.Serialization.Formatters"),
    "area-System.Threading": ("System.Threading", "System.Threading.Tasks.Dataflow", "System.Threading.Channels"),
    "area-System.Text": ("System.Text.Encoding", "System.Text.RegularExpressions", "System.Text.Json"),
    "area-System.Collections": ("System.Collections", "System.Collections.Immutable", "System.Collections.Concurrent"),
    "area-System.ComponentModel": ("System.ComponentModel.Annotations", "System.ComponentModel.TypeConverter"),
    "area-System.Globalization": ("System.Globalization", "System.Globalization.Calendars"),
    "area-System.Drawing": ("System.Drawing.Common", "System.Drawing.Primitives"),
    "area-System.Reflection": ("System.Reflection.Metadata", "System.Reflection.Emit"),
    "area-System.Xml": ("System.Private.Xml", "System.Xml.XDocument"),
    "area-System.Numerics": ("System.Numerics.Vectors", "System.Runtime.Numerics"),
    "area-Microsoft.CSharp": ("Microsoft.CSharp",),
    "area-System.Linq": ("System.Linq", "System.Linq.Expressions", "System.Linq.Parallel"),
    "area-System.Console": ("System.Console",),
}
ROOT_AREAS = {"area-Infrastructure": ("eng/pipelines/libraries.yml", "eng/Versions.props", "eng/common/build.sh",
                                      "build.sh", "eng/Tools.props"),
              "area-Meta": ("Documentation/coding-guidelines/api-guidelines.md", "Documentation/README.md",
                            "Documentation/project-docs/contributing.md")}
ROOT_RULES = {"area-Infrastructure": ["/eng/**", "/build.*"], "area-Meta": ["/Documentation/**"]}
SHARED = ("src/Common/src/Interop/Unix/Interop.Libraries.cs", "src/Common/tests/System/PlatformDetection.cs",
          "src/Common/src/System/SR.cs", "pkg/Microsoft.Private.PackageBaseline/packageIndex.json",
          "THIRD-PARTY-NOTICES.TXT", "src/Common/tests/TestUtilities/AssertExtensions.cs")
FILE_NAMES = ("Helpers.cs", "Extensions.cs", "Interop.cs", "Constants.cs", "Pal.Unix.cs", "Pal.Windows.cs",
              "Strings.resx", "Tests.cs", "ThrowHelper.cs")
CROSS_AREA, SHARED_ONLY = 0.15, 0.10  # shares of generated pull requests


def rules_config() -> RepoConfig:
    """The repository config a maintainer would write: ``pull_requests: true`` and one glob per source folder."""
    lines = ["pull_requests: true", "paths:"]
    for area, folders in AREA_FOLDERS.items():
        lines.append(f"  {area}: [{', '.join(repr(f'src/{folder}/**') for folder in folders)}]")
    for area, globs in ROOT_RULES.items():
        lines.append(f"  {area}: [{', '.join(map(repr, globs))}]")
    return parse_repo_config("\n".join(lines) + "\n", "benchmarks.pulls")


def area_file(area: str, rng: random.Random) -> str:
    """One changed file of ``area``'s folders."""
    if area in ROOT_AREAS:
        return rng.choice(ROOT_AREAS[area])
    folder = rng.choice(AREA_FOLDERS[area])
    kind = rng.choice(("src", "src", "tests", "ref"))
    inner = "/".join(folder.split(".")[:3]) if kind == "src" else "FunctionalTests" if kind == "tests" else ""
    return "/".join(part for part in ("src", folder, kind, inner, rng.choice(FILE_NAMES)) if part)


def as_pull_request(issue: Issue, rng: random.Random) -> Issue:
    """A generated pull request with the issue's text, label and time, and files drawn as the module describes."""
    area = issue.labels[0]
    shared = rng.sample(SHARED, rng.randint(0, 2))
    draw = rng.random()
    if draw < SHARED_ONLY:
        files = shared or [rng.choice(SHARED)]
    else:
        files = [area_file(area, rng) for _ in range(rng.randint(1, 4))] + shared
        if draw < SHARED_ONLY + CROSS_AREA:
            other = rng.choice(sorted(a for a in (*AREA_FOLDERS, *ROOT_AREAS) if a != area))
            files.insert(rng.randint(0, len(files)), area_file(other, rng))
    return replace(issue, is_pull_request=True, paths=tuple(dict.fromkeys(files)))


def split(issues: Sequence[Issue], seed: int) -> tuple[list[Issue], list[Issue], list[Issue]]:
    """(training issues, training pull requests, test pull requests) by time: 55 %, 25 %, 20 %."""
    ordered = sorted((i for i in issues if len(i.labels) == 1), key=lambda i: i.sort_key)
    a, b = int(len(ordered) * 0.55), int(len(ordered) * 0.80)
    rng = random.Random(seed)
    return (ordered[:a], [as_pull_request(i, rng) for i in ordered[a:b]],
            [as_pull_request(i, rng) for i in ordered[b:]])


def rows(items: Sequence[Issue], boilerplate: frozenset[str]) -> list[dict[str, Any]]:
    """Training rows in the product's format (the files line through :func:`model_body`, as the dataset does)."""
    out = []
    for i in items:
        body = model_body(i.body, i.paths)
        out.append({"number": i.number, "text": issue_text(i.title, body, boilerplate),
                    "lexical": lexical_text(i.title, body), "labels": list(i.labels), "created_at": i.created_at})
    return out


def train(name: str, items: Sequence[Issue], test: Sequence[Issue], config: TrainConfig, seed: int,
          keep: Path, lexical: bool = False) -> Classifier | LexicalOnly:
    """Train the product's model on ``items`` and load it as the labeler would (``lexical``: :class:`LexicalOnly`)."""
    if lexical:
        return LexicalOnly(items, seed)
    boilerplate = learn_boilerplate(i.body for i in items)
    started = time.monotonic()
    train_and_score(rows(items, boilerplate), rows(test, boilerplate), REPO, config, sorted(boilerplate), seed,
                    keep / name)
    print(f"{name}: trained on {len(items)} examples in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return Classifier.from_dir(keep / name / REPO.replace("/", "_"))


class LexicalOnly:
    """``--lexical``: the product's lexical half alone (TF-IDF word 1-2-grams and logistic regression, as
    ``training_job`` fits it), thresholds picked for 90 % precision on a 15 % holdout as training picks them. A quick
    proxy (seconds, not minutes) with the serving interface the comparisons use; not the served model."""

    def __init__(self, items: Sequence[Issue], seed: int) -> None:
        from training_job.lexical import fit_lexical
        from triage.ml.metrics import indicator, pick_thresholds

        fit, validation = stratified_holdout(rows(items, frozenset()), 0.15, seed + 1)
        self.labels = sorted({label for r in fit for label in r["labels"]})
        self.single_label = True
        self._model = fit_lexical([r["lexical"] for r in fit], indicator([r["labels"] for r in fit], self.labels),
                                  self.labels, True)
        probs = self._model.predict_proba([r["lexical"] for r in validation])
        picked = pick_thresholds(probs, indicator([r["labels"] for r in validation], self.labels), self.labels, 0.9, True)
        self.thresholds: dict[str, float] = dict(picked["per_label"])

    def scores_many(self, pairs: Sequence[tuple[str, str]]) -> list[dict[str, float]]:
        """Label -> probability per (title, body), highest first, as :meth:`Classifier.scores_many`."""
        probs = self._model.predict_proba([lexical_text(title, body) for title, body in pairs])
        return [{self.labels[j]: float(row[j]) for j in (-row).argsort()} for row in probs]


def evaluate(model: Classifier | LexicalOnly | None, items: Sequence[Issue], config: RepoConfig, *, files: bool = True,
             rules: bool = False) -> dict[str, Any]:
    """Accuracy, coverage and precision on ``items`` through the serving path (``model`` None: rules alone)."""
    right = labeled = right_labeled = 0
    inputs = [model_input(i) if files else (i.title, i.body) for i in items]
    scored = model.scores_many(inputs) if model is not None else [{} for _ in items]
    plain_policy = repo_policy(model, config, "issue-triage[bot]") if model is not None else Policy(thresholds={})
    for issue, scores in zip(items, scored):
        merged, policy, _ = with_rules(config, issue, scores, plain_policy) if rules or model is None \
            else (scores, plain_policy, ())
        truth = issue.labels[0]
        plain = replace(issue, labels=())
        if model is None:
            top = next(iter(merged), None)
            added = [top] if top else []
        else:
            top = max(merged, key=lambda label: merged[label])
            added = [label for label, _ in decide(plain, merged, policy).add]
        right += top == truth
        labeled += bool(added)
        right_labeled += bool(added) and added[0] == truth
    n = len(items)
    return {"n": n, "accuracy": round(right / n, 4), "coverage": round(labeled / n, 4),
            "precision": round(right_labeled / labeled, 4) if labeled else None}


def run_benchmark(args: argparse.Namespace, config: TrainConfig) -> dict[str, Any]:
    """Every comparison of the module docstring."""
    issues = [i for i in read_issues(args.issues) if i.labels]
    train_issues, train_prs, test_prs = split(issues, args.seed)
    test_issues = [replace(i, is_pull_request=False, paths=()) for i in test_prs]
    rules = rules_config()
    plain = replace(rules, path_rules=())
    result: dict[str, Any] = {
        "data": "GENERATED pull requests: real dotnet/corefx issue texts and labels (MIT), files drawn from each "
                "area's corefx source folders plus shared files (see benchmarks/pulls.py)",
        "sizes": {"train_issues": len(train_issues), "train_pull_requests": len(train_prs),
                  "test_pull_requests": len(test_prs)},
        "cross_area_share": CROSS_AREA, "shared_only_share": SHARED_ONLY}
    with tempfile.TemporaryDirectory(prefix="bench-pulls-") as tmp:
        keep = Path(tmp)
        issue_model = train("issue_model", train_issues, test_issues, config, args.seed, keep, args.lexical)
        joint = train("joint_model", train_issues + train_prs, test_prs, config, args.seed, keep, args.lexical)
        pulls = {
            "issue_model_text": evaluate(issue_model, test_prs, plain, files=False),
            "issue_model": evaluate(issue_model, test_prs, plain),
            "joint_model": evaluate(joint, test_prs, plain),
            "rules": evaluate(None, test_prs, rules),
            "issue_model+rules": evaluate(issue_model, test_prs, rules, rules=True),
            "joint_model+rules": evaluate(joint, test_prs, rules, rules=True),
        }
        if args.two:
            pr_model = train("pr_model", train_prs, test_prs, config, args.seed, keep, args.lexical)
            pulls["pr_model"] = evaluate(pr_model, test_prs, plain)
            pulls["pr_model+rules"] = evaluate(pr_model, test_prs, rules, rules=True)
        result["pull_requests"] = pulls
        result["issues"] = {"issue_model": evaluate(issue_model, test_issues, plain),
                            "joint_model": evaluate(joint, test_issues, plain)}
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pulls", description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues", type=Path, default=DEFAULT_ISSUES, help="corefx-format JSON Lines issues")
    parser.add_argument("--two", action="store_true", help="also train a second model on pull requests only")
    parser.add_argument("--lexical", action="store_true",
                        help="the lexical half alone instead of the fine-tuned model: a quick proxy, seconds per model")
    parser.add_argument("--json", nargs="?", const="out/bench.json",
                        help="merge the results into this JSON file under 'pulls' (alone: out/bench.json)")
    parser.add_argument("--base-model", default="", help="default: the bundled all-MiniLM-L6-v2")
    parser.add_argument("--epochs", type=float, default=4.0)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    if not args.issues.is_file():
        parser.error(f"{args.issues} does not exist; give --issues PATH (the corefx format)")
    try:
        arguments = TrainingArguments(base_model=args.base_model, epochs=args.epochs, max_tokens=args.max_tokens,
                                      batch_size=args.batch_size, seed=args.seed)
    except ConfigError as exc:
        parser.error(str(exc))
    config = TrainConfig(data=Path("."), output=Path("."), args=arguments, device=args.device, progress=False,
                         version="bench")
    result = run_benchmark(args, config)
    result["machine"] = machine()
    result["model"] = "lexical half only (--lexical): TF-IDF + logistic regression" if args.lexical \
        else "the product's model: fine-tuned encoder blended with the lexical half"
    result["config"] = {"base_model": args.base_model or "all-MiniLM-L6-v2 (bundled)", "epochs": args.epochs,
                        "max_tokens": args.max_tokens, "batch_size": args.batch_size, "seed": args.seed}
    pulls = result["pull_requests"]
    print(table([[name, m["accuracy"], m["coverage"], m["precision"]] for name, m in pulls.items()],
                ["on test pull requests (generated)", "accuracy", "coverage", "precision"]), file=sys.stderr)
    write_json(args.json, "pulls", result)
    if args.json:
        print(f"written to {args.json} under 'pulls'", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
