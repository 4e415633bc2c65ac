"""The ``triage`` command line: every step of the pipeline on one machine, with embedded stores."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .config import Settings
from .dataset import (
    DatasetSpec,
    build_dataset,
    frozen_test_numbers,
    latest_version,
    load_split,
    save_dataset,
)
from .errors import InputError, TriageError
from .evaluation import evaluate_model
from .feedback import FEEDBACK
from .ingest import ingest, stored_issues
from .intake import label_aliases
from .issues import check_repo
from .labeler import DryRunWriter, label_issues, policy_for
from .model import Classifier
from .promotion import promote
from .registry import current_version, model_prefix
from .report import write_report
from .sources import FORMATS, read_issues
from .stores import LocalBlobStore, SqliteDocumentStore
from .training import train_local


class Context:
    """Settings and the embedded stores."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.blobs = LocalBlobStore(settings.blob_root)
        self.docs = SqliteDocumentStore(settings.database)

    def spec(self) -> DatasetSpec:
        """The dataset spec from the settings."""
        return DatasetSpec.from_settings(self.settings)

    def model(self, repo: str, version: str | None = None) -> Classifier:
        """A stored model: ``version`` or the current one."""
        return Classifier.from_store(self.blobs, model_prefix(repo, version or current_version(self.blobs, repo)))


def cmd_ingest(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """Read an issue export and store it."""
    issues = read_issues(args.source, args.format, args.repo)
    if not issues:
        raise InputError(f"{args.source} holds no issues")
    return ingest(issues, ctx.blobs, ctx.docs)


def cmd_scrape(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """Scrape a repository's issues from GitHub (full, incremental or resuming)."""
    from .github import GitHubClient, GitHubSettings
    from .scraper import scrape

    client = GitHubClient(GitHubSettings.from_env())
    result = scrape(client, ctx.docs, ctx.blobs, args.repo, full=args.full, include_pull_requests=args.pull_requests)
    return result.to_dict() | {"requests": client.requests_made}


def cmd_dataset(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """Build and store a dataset version from the stored issues."""
    issues = stored_issues(ctx.docs, args.repo)
    spec = DatasetSpec.from_settings(ctx.settings, label_aliases(ctx.docs, args.repo))
    dataset = build_dataset(issues, spec, frozen_test_numbers(ctx.blobs, args.repo),
                            feedback=ctx.docs.query(FEEDBACK, args.repo))
    manifest = save_dataset(ctx.blobs, dataset)
    return {k: manifest[k] for k in ("version", "mode", "sizes", "dropped")} | {"labels": len(manifest["labels"])}


def cmd_train(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """Fine-tune a model on a stored dataset."""
    version = args.dataset or latest_version(ctx.blobs, args.repo)
    manifest = train_local(ctx.blobs, ctx.docs, args.repo, version, ctx.settings, progress=not args.quiet)
    test = manifest["metrics"]["test"]
    return {"model": manifest["version"], "path": str(ctx.blobs.local_path(model_prefix(args.repo, manifest["version"]))),
            "test_accuracy": round(test["raw"]["accuracy"], 4), "test_macro_f1": round(test["raw"]["macro_f1"], 4),
            "train_seconds": manifest["training"]["seconds"]}


def cmd_evaluate(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate a model on its dataset's test split and write the report."""
    model = ctx.model(args.repo, args.model)
    rows = load_split(ctx.blobs, args.repo, model.manifest["dataset_version"], "test")
    evaluation = evaluate_model(model, rows, progress=not args.quiet)
    paths = write_report(Path(args.out), model.manifest, evaluation)
    return _headline(evaluation) | {"report": str(paths["report.html"])}


def cmd_promote(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """Promote a model version if it is not worse than the current one."""
    return promote(ctx.blobs, ctx.docs, args.repo, args.model, ctx.settings.min_improvement, progress=not args.quiet)


def cmd_predict(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """Label probabilities for one issue text."""
    model = Classifier.from_dir(args.model_dir) if args.model_dir else ctx.model(args.repo, args.model)
    scores = model.scores(args.title, args.body)
    top = list(scores.items())[: args.top]
    return {"model": model.version, "scores": [{"label": k, "score": round(v, 4), "threshold": model.thresholds[k]}
                                               for k, v in top]}


def cmd_label(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """Decide labels for the issues in a file with the current model; dry run only."""
    issues = read_issues(args.source, args.format, args.repo)
    model = ctx.model(args.repo)
    policy = policy_for(model, ctx.settings.max_labels, frozenset(ctx.settings.deny_labels), ctx.settings.bot_login)
    writer = DryRunWriter()
    decisions = label_issues(issues, model, policy, writer, ctx.docs)
    return {"model": model.version, "issues": len(decisions), "would_label": len(writer.calls), "calls": writer.calls}


def cmd_dashboard(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """Serve the maintainer dashboard over HTTP (loopback by default) until interrupted."""
    import os
    from urllib.parse import quote

    from .bootstrap import build_services
    from .dashboard import WebRequest, WebResponse, auth_for, handle_dashboard, handle_review
    from .localweb import LocalServer, router

    s = build_services({**os.environ, "TRIAGE_HOME": str(ctx.settings.home)})
    auth = auth_for(s)

    def review(request: WebRequest) -> WebResponse:
        response, due = handle_review(s, request, auth)
        if due:  # no Durable Functions here: say so instead of starting the training orchestration
            logging.getLogger("triage.dashboard").warning(
                "retraining %s is due: run `triage dataset --repo %s` and `triage train --repo %s`", due, due, due)
        return response

    routes = {("GET", "/api/dashboard"): lambda request: handle_dashboard(s, request, auth),
              ("POST", "/api/dashboard/review"): review}
    server = LocalServer(router(routes), args.host, args.port)
    url = f"{server.url}/api/dashboard"
    if auth.disabled:
        print(auth.disabled, file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host} over plain HTTP; the session cookie can be read on the network",
              file=sys.stderr)
    print(f"dashboard: log in at {url}?token={quote(auth.token)}" if auth.token else f"dashboard: {url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return {"dashboard": url, "stopped": True}


def _headline(evaluation: dict[str, Any]) -> dict[str, Any]:
    raw, at = evaluation["raw"], evaluation["at_thresholds"]
    return {"accuracy": round(raw["accuracy"], 4), "macro_f1": round(raw["macro_f1"], 4),
            "micro_f1": round(raw["micro_f1"], 4), "coverage_at_thresholds": round(at["coverage"], 4),
            "precision_at_thresholds": round(at["precision_when_labeled"], 4)}


def print_table(rows: list[list[str]], header: list[str]) -> None:
    """Print an aligned text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))))


def _repo_arg(text: str) -> str:
    try:
        return check_repo(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="triage", description="A GitHub issue labeler that learns from the repository's own history.")
    parser.add_argument("--version", action="version", version=f"triage {__version__}")
    parser.add_argument("--home", type=Path, help="folder of the embedded stores (default: $TRIAGE_HOME or .triage)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Any, help_: str, repo_required: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        p.add_argument("--repo", type=_repo_arg, required=repo_required, help="owner/name")
        return p

    p = add("ingest", cmd_ingest, "read an issue export (GitHub JSONL, bundled JSONL or NLBSE CSV) into the issue store", False)
    p.add_argument("--source", required=True, type=Path, help="the export file")
    p.add_argument("--format", choices=FORMATS, default="auto")
    p = add("scrape", cmd_scrape, "copy a repository's issues from GitHub (GITHUB_TOKEN or GITHUB_APP_*; GITHUB_API_URL)")
    p.add_argument("--full", action="store_true", help="re-read every issue instead of only those updated since the last run")
    p.add_argument("--pull-requests", action="store_true", help="keep pull requests too")
    add("dataset", cmd_dataset, "build a versioned dataset from the stored issues (human labels, cleaned, time split)")
    p = add("train", cmd_train, "fine-tune a transformer classifier on a dataset (local process)")
    p.add_argument("--dataset", help="dataset version (default: the latest)")
    p = add("evaluate", cmd_evaluate, "evaluate a model on its frozen test split and write the report")
    p.add_argument("--model", help="model version (default: the current one)")
    p.add_argument("--out", default="out", help="report folder (default: out)")
    p = add("promote", cmd_promote, "make a model current if it is not worse than the current one")
    p.add_argument("--model", required=True, help="model version")
    p = add("predict", cmd_predict, "label probabilities for one issue", False)
    p.add_argument("title")
    p.add_argument("body", nargs="?", default="")
    p.add_argument("--model", help="model version (default: the current one)")
    p.add_argument("--model-dir", type=Path, help="a model folder instead of a stored model")
    p.add_argument("--top", type=int, default=5)
    p = add("label", cmd_label, "decide labels for the issues in a file with the current model (dry run)")
    p.add_argument("--source", required=True, type=Path)
    p.add_argument("--format", choices=FORMATS, default="auto")
    p.add_argument("--dry-run", action="store_true", default=True,
                   help="log the GitHub calls instead of making them (the only mode until the GitHub adapter lands)")
    p = sub.add_parser("dashboard", help="serve the maintainer dashboard on this machine (prints the login URL)",
                       description="serve the maintainer dashboard on this machine (prints the login URL)")
    p.set_defaults(func=cmd_dashboard)
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    p = sub.add_parser("demo", help="run the whole pipeline on the bundled corefx issues", description="run the whole pipeline on the bundled corefx issues")
    p.set_defaults(func=None)
    p.add_argument("--out", type=Path, default=Path("out"))
    p.add_argument("--held-back", type=int, default=100, help="newest issues kept back as 'new' issues to label")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``triage`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(home=args.home)
        if args.command == "predict" and not (args.repo or args.model_dir):
            raise InputError("predict needs --repo owner/name (its current model) or --model-dir FOLDER")
        ctx = Context(settings)
        if args.func is None:
            from .demo import run_demo

            return run_demo(ctx, args.out, args.held_back, progress=not args.quiet)
        print(json.dumps(args.func(ctx, args), indent=2))
        return 0
    except TriageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
