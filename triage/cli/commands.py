"""The ``triage`` subcommands: each reads its arguments, calls the use case, and returns a JSON-ready result."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from triage.adapters.local.queue import SqliteQueue
from triage.adapters.local.stores import LocalBlobStore, SqliteDocumentStore
from triage.app.bootstrap import Services, build_services
from triage.app.labeling import open_batch
from triage.app.markdown import issue_url
from triage.app.repo_settings import file_config
from triage.app.settings import Config, usable_folder
from triage.app.training import build_training_dataset, train_now
from triage.app.writers import DryRunWriter
from triage.cli.output import decision_record, headline, label_summary
from triage.data.dataset import latest_version, load_split
from triage.data.ingest import ingest
from triage.data.sources import read_issues
from triage.domain.errors import ConfigError, InputError
from triage.learning.promotion import promote
from triage.learning.registry import current_version
from triage.ml.evaluation import evaluate_model
from triage.ml.model import Classifier
from triage.ml.report import write_report
from triage.ports.layout import model_prefix


def embedded(config: Config) -> Services:
    """Services on the embedded stores under ``TRIAGE_HOME``: the pipeline commands always run on this machine."""
    home = config.settings.home
    if not usable_folder(home):
        raise ConfigError(f"TRIAGE_HOME={str(home)!r} is a file (or inside one), not a folder; point TRIAGE_HOME or "
                          "--home at a folder for the embedded stores")
    return build_services(config, blobs=LocalBlobStore(config.settings.blob_root),
                          docs=SqliteDocumentStore(config.settings.database), queue=SqliteQueue(home / "queues.db"))


def model(s: Services, repo: str, version: str | None = None) -> Classifier:
    """A stored model: ``version`` or the current one."""
    return Classifier.from_store(s.blobs, model_prefix(repo, version or current_version(s.blobs, repo)))


def read_inputs(args: argparse.Namespace) -> None:
    """Read and check the files named on the command line (``--source``, ``--model-dir``) before any store is
    opened, so that a bad file leaves the stores untouched."""
    if getattr(args, "source", None) is not None:
        args.issues = read_issues(args.source, args.format, args.repo)
    for name in ("title", "body"):
        text = getattr(args, name, None)
        if isinstance(text, str):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise InputError(f"the issue {name} is not UTF-8 text; pass it as UTF-8") from None
    if getattr(args, "model_dir", None) is not None:
        args.served = _model_folder(args.model_dir)


def cmd_ingest(s: Services, args: argparse.Namespace) -> dict[str, Any]:
    """Store the issues of an export (read by :func:`read_inputs`)."""
    return ingest(args.issues, s.blobs, s.docs)


def cmd_scrape(s: Services, args: argparse.Namespace) -> dict[str, Any]:
    """Scrape a repository's issues from GitHub (full, incremental or resuming; following a rename)."""
    from triage.app.scraping import scrape_repository

    return scrape_repository(s, args.repo, full=args.full, include_pull_requests=args.pull_requests)


def cmd_dataset(s: Services, args: argparse.Namespace) -> dict[str, Any]:
    """Build and store a dataset version from the stored issues."""
    manifest = build_training_dataset(s, args.repo, prior=args.prior)  # None: the config's training.prior
    return ({k: manifest[k] for k in ("version", "mode", "sizes", "dropped")} | {"labels": len(manifest["labels"])}
            | ({"cold_start": True} if manifest.get("cold_start") else {}))


def cmd_train(s: Services, args: argparse.Namespace) -> dict[str, Any]:
    """Fine-tune a model on a stored dataset."""
    version = args.dataset or latest_version(s.blobs, args.repo)
    manifest = train_now(s, args.repo, version, datetime.now(timezone.utc), progress=not args.quiet)
    test = manifest["metrics"]["test"]["raw"]
    tested = bool(test["n"])  # a cold-start model has no test issues: no score rather than a zero
    return {"model": manifest["version"], "path": str(s.blobs.local_path(model_prefix(args.repo, manifest["version"]))),
            "test_accuracy": round(test["accuracy"], 4) if tested else None,
            "test_macro_f1": round(test["macro_f1"], 4) if tested else None,
            "train_seconds": manifest["training"]["seconds"]} | _cold_start(manifest)


def _cold_start(manifest: dict[str, Any]) -> dict[str, Any]:
    """How a cold-start model was made and whether it abstains (nothing for a fine-tuned model)."""
    cold = manifest.get("cold_start")
    if not cold:
        return {}
    prior = {k: v for k, v in (cold.get("prior") or {}).items() if k in ("repositories", "fine_tuned", "held_out_macro_f1")}
    return {"cold_start": {k: cold[k] for k in ("route", "labeled_issues", "abstains", "note")}
            | ({"prior": prior} if prior else {})}


def cmd_evaluate(s: Services, args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate a model on its dataset's test split and write the report."""
    served = model(s, args.repo, args.model)
    rows = load_split(s.blobs, args.repo, served.manifest["dataset_version"], "test")
    evaluation = evaluate_model(served, rows, progress=not args.quiet)
    paths = write_report(Path(args.out), served.manifest, evaluation)
    return headline(evaluation) | {"report": str(paths["report.html"])}


def cmd_promote(s: Services, args: argparse.Namespace) -> dict[str, Any]:
    """Promote a model version if it is not worse than the current one."""
    return promote(s.blobs, s.docs, args.repo, args.model, s.settings.min_improvement, progress=not args.quiet)


def cmd_predict(s: Services, args: argparse.Namespace) -> dict[str, Any]:
    """Label probabilities for one issue text, each with the past issues of that label most like it (models trained
    with them)."""
    served = args.served if args.model_dir else model(s, args.repo, args.model)
    scores = served.scores(args.title, args.body)
    top = list(scores.items())[: args.top]
    repo = str(served.manifest.get("repo", ""))
    return {"model": served.version, "scores": [
        {"label": k, "score": round(v, 4), "threshold": served.thresholds[k],
         "similar": [{"number": n, "title": title, "url": issue_url(repo, n)}
                     for n, title in served.similar(args.title, args.body, k)]} for k, v in top]}


def _model_folder(folder: Path) -> Classifier:
    """A model folder named by ``--model-dir``; a damaged one is an :class:`InputError`, not a traceback."""
    if not folder.is_dir():
        raise InputError(f"--model-dir {str(folder)!r} is not a folder; pass a model folder written by `triage train`")
    return Classifier.from_dir(folder)  # a damaged folder raises InputError naming it


def cmd_label(s: Services, args: argparse.Namespace) -> dict[str, Any]:
    """Decide labels for the issues in a file with the current model, in dry run, under the repository config given
    by ``--config`` (read by :func:`triage.cli.main.read_label_config`) or the app's defaults: one record per issue
    (decision, confidence, threshold, reasons, why it abstained, the exact calls) and a summary."""
    served = model(s, args.repo)
    config = getattr(args, "repo_config", None)
    batch = open_batch(s, args.repo, served, config=config or file_config(s.settings), dry_run=True)
    assert isinstance(batch.writer, DryRunWriter), "a dry-run batch records its calls"
    records = []
    for issue in args.issues:
        done = len(batch.writer.calls)
        decision = batch.label(issue.number, issue)
        records.append(decision_record(decision, batch.policy, batch.writer.calls[done:], issue.title))
    source = str(args.config) if getattr(args, "config", None) is not None else "defaults (no --config)"
    return {"issues": records, "summary": label_summary(records, served.version, source)}


def cmd_dashboard(s: Services, args: argparse.Namespace) -> dict[str, Any]:
    """Serve the maintainer dashboard over HTTP (loopback by default) until interrupted."""
    from urllib.parse import quote

    from triage.web.handlers import auth_for, handle_dashboard, handle_review
    from triage.web.http import WebRequest, WebResponse
    from triage.web.local_server import LocalServer, router

    served = build_services(s.config)  # whatever TRIAGE_STORAGE / TRIAGE_COSMOS point to, else the embedded stores
    auth = auth_for(served)

    def review(request: WebRequest) -> WebResponse:
        response, due = handle_review(served, request, auth)
        if due:  # no Durable Functions here: say so instead of starting the training orchestration
            logging.getLogger("triage.dashboard").warning(
                "retraining %s is due: run `triage dataset --repo %s` and `triage train --repo %s`", due, due, due)
        return response

    if auth.disabled:
        raise ConfigError(auth.disabled)
    routes = {("GET", "/api/dashboard"): lambda request: handle_dashboard(served, request, auth),
              ("POST", "/api/dashboard/review"): review}
    server = LocalServer(router(routes), args.host, args.port)
    url = f"{server.url}/api/dashboard"
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


def cmd_demo(s: Services, args: argparse.Namespace) -> int:
    """The whole pipeline on the bundled issues (prints as it goes; returns the exit code)."""
    from triage.cli.demo import run_demo

    return run_demo(s, args.out, args.held_back, progress=not args.quiet)
