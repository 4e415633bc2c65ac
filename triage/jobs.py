"""The app's use cases: one plain function per trigger, over :class:`~triage.bootstrap.Services`.

Function bodies in ``functions/`` decode their binding, call one of these, and return.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Sequence

from . import telemetry
from .bootstrap import Services
from .dataset import DatasetSpec, build_dataset, frozen_test_numbers, save_dataset
from .errors import InputError, NotFoundError
from .feedback import FEEDBACK, arrival
from .ingest import ISSUES, stored_issues
from .intake import IntakeResult, handle_delivery, label_aliases
from .label_requests import handle_label_request, parse_request
from .live import live_quality
from .model import Classifier
from .promotion import promote
from .queues import LABEL_REQUESTS
from .registry import MODELS, model_prefix, pointer_name, read_pointer
from .repo_config import load_repo_config
from .schedule import Cron
from .scraper import CURSOR_ID, CURSORS, scrape
from .training import RUNS, JobRequest, hyperparameters, new_model_version
from .tuning import auto_tune, known_config, tuning_history

POISON = "poison"
_MODEL_PATH = re.compile(r"^(?:[^/]+/)?models/([^/]+/[^/]+)/([^/]+)/manifest\.json$")


def scrape_repository(s: Services, repo: str) -> dict[str, Any]:
    """Scrape one repository (resuming if interrupted) and report it."""
    with telemetry.span("scrape", repo=repo):
        api = s.github()
        result = scrape(api, s.docs, s.blobs, repo)
    out = result.to_dict() | {"requests": getattr(api, "requests_made", None)}
    telemetry.event("ScrapeCompleted", **out)
    telemetry.count("triage.scrape.requests", out["requests"] or 0, repo=repo)
    if result.not_modified:
        telemetry.count("triage.scrape.not_modified", 1, repo=repo)
    return out


def receive_webhook(s: Services, headers: Mapping[str, str], body: bytes) -> IntakeResult:
    """The webhook intake with the app's stores and secret."""
    result = handle_delivery(headers, body, s.webhook_secret, s.docs, s.queue, s.settings.bot_login)
    for repo in sorted({record["repo"] for record in result.feedback}):
        after_feedback(s, repo, [record for record in result.feedback if record["repo"] == repo])
    telemetry.event("WebhookDelivery", status=result.status, message=result.message,
                    event=headers.get("X-GitHub-Event") or headers.get("x-github-event"),
                    enqueued=len(result.enqueued), feedback=len(result.feedback))
    return result


def after_feedback(s: Services, repo: str, records: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """What follows new human feedback: a telemetry event per record, then auto-tuning of the current
    model's thresholds when it is on; returns the threshold changes."""
    for record in records:
        telemetry.event("LabelFeedback", repo=repo, issue=record["number"], label=record["label"],
                        verdict=record["verdict"], judged_label=record.get("judged_label"),
                        source=record.get("source"), model=record.get("model_version"))
        telemetry.count("triage.feedback", 1, repo=repo, verdict=record["verdict"])
    if not s.settings.auto_tune:
        return []
    pointer, _ = read_pointer(s.blobs, repo)
    thresholds = _thresholds(s, repo, pointer["version"]) if pointer else None
    if not pointer or thresholds is None:
        return []
    config = known_config(s.docs, repo)
    if config.get("default_threshold"):  # the thresholds the labeler used: the config's default replaces the model's
        thresholds = {label: float(config["default_threshold"]) for label in thresholds}
    changes = auto_tune(s.docs, repo, pointer["version"], thresholds, target=s.settings.target_precision,
                        min_decisions=s.settings.auto_tune_min_decisions, step=s.settings.auto_tune_step,
                        pinned=frozenset(config.get("pinned", {})))
    for change in changes:
        telemetry.event("LabelPaused" if change["paused"] else "ThresholdRaised", repo=repo, **change)
    return changes


def retrain_due(s: Services, repo: str) -> bool:
    """True when the human labels and corrections since the last training run reached the repository config's
    ``training.min_new_labels`` (as last read by the labeler), else ``TRIAGE_RETRAIN_AFTER``."""
    runs = s.docs.query(RUNS, repo)
    since = max((r.get("started_at", "") for r in runs), default="")
    fresh = [f for f in s.docs.query(FEEDBACK, repo) if arrival(f) > since]
    return len(fresh) >= int(known_config(s.docs, repo).get("min_new_labels") or s.retrain_after)


def own_schedule(s: Services, repo: str) -> str | None:
    """The repository config's ``training.schedule`` (as last read by the labeler), or None."""
    return known_config(s.docs, repo).get("schedule")


def scheduled_training_due(s: Services, repo: str, now: datetime) -> bool:
    """True when the repository's own training schedule fired since its last training run started.

    Checked on every scrape timer tick, so a run starts within one scrape interval of its cron time.
    """
    expression = own_schedule(s, repo)
    if not expression:
        return False
    fired = Cron(expression).last_fire(now)
    if fired is None:
        return False
    last_start = max((r.get("started_at", "") for r in s.docs.query(RUNS, repo)), default="")
    return not last_start or datetime.fromisoformat(last_start) < fired


class ModelCache:
    """The current model per repository, kept across invocations and reloaded when the pointer moves."""

    def __init__(self) -> None:
        self._models: dict[str, tuple[str | None, Classifier]] = {}

    def get(self, s: Services, repo: str) -> Classifier:
        """The current model of ``repo``; raises :class:`NotFoundError` before the first promotion."""
        etag = s.blobs.etag(pointer_name(repo))
        cached = self._models.get(repo)
        if cached and cached[0] == etag:
            return cached[1]
        pointer, etag = read_pointer(s.blobs, repo)
        if pointer is None:
            raise NotFoundError(f"no model has been promoted for {repo} yet")
        model = Classifier.from_store(s.blobs, model_prefix(repo, pointer["version"]))
        self._models[repo] = (etag, model)
        return model


def label_request(s: Services, message: Mapping[str, Any], cache: ModelCache) -> dict[str, Any]:
    """Handle one ``label-requests`` message. Writes only if neither the app nor the repository is in dry run."""
    repo, number = parse_request(message)
    with telemetry.span("label_request", repo=repo, issue=number):
        api = s.github()
        config = load_repo_config(api, repo)
        dry_run = s.settings.dry_run or config.dry_run
        decision = handle_label_request(message, api, s.docs, cache.get(s, repo), config, s.settings.bot_login, dry_run)
    telemetry.event("LabelDecision", repo=repo, issue=decision.number, model=decision.model_version,
                    labels=[label for label, _ in decision.add], confidences=[round(c, 4) for _, c in decision.add],
                    top=[label for label, _ in decision.top], applied=bool(decision.add) and not dry_run,
                    abstained=decision.abstained, reason="; ".join(decision.reasons), dry_run=dry_run)
    telemetry.count("triage.decisions", 1, repo=repo, outcome="abstained" if decision.abstained else "labeled")
    for label, confidence in decision.add:
        telemetry.record("triage.confidence", confidence, repo=repo, label=label)
    return decision.to_dict() | {"dry_run": dry_run}


def record_poison(s: Services, text: str) -> dict[str, Any]:
    """Keep a message that failed too often, for the status page, and report it."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        body = {"raw": text[:2000]}
    repo = str(body.get("repo") or "_unknown") if isinstance(body, dict) else "_unknown"
    doc = {"id": hashlib.sha256(text.encode()).hexdigest()[:32], "repo": repo, "message": body,
           "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    s.docs.upsert(POISON, doc)
    telemetry.event("PoisonMessage", repo=repo, message=text[:500])
    telemetry.count("triage.poison", 1, repo=repo)
    return doc


def build_training_dataset(s: Services, repo: str) -> str:
    """Build and store a dataset from the stored issues; returns its version."""
    spec = DatasetSpec.from_settings(s.settings, label_aliases(s.docs, repo))
    dataset = build_dataset(stored_issues(s.docs, repo), spec, frozen_test_numbers(s.blobs, repo),
                            feedback=s.docs.query(FEEDBACK, repo))
    return str(save_dataset(s.blobs, dataset)["version"])


def submit_training(s: Services, repo: str, dataset_version: str, now: datetime) -> dict[str, Any]:
    """Start a training job; ``now`` comes from the orchestration so that replays agree."""
    version = new_model_version(now, dataset_version)
    with telemetry.span("training.submit", repo=repo, dataset=dataset_version):
        job_id = s.trainer.submit(JobRequest(repo, dataset_version, version, hyperparameters(s.settings)))
    s.docs.upsert(RUNS, {"id": version, "repo": repo, "job_id": job_id, "dataset_version": dataset_version,
                         "state": "running", "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    telemetry.event("TrainingSubmitted", repo=repo, job=job_id, model=version, dataset=dataset_version)
    return {"job_id": job_id, "model_version": version}


def training_status(s: Services, job_id: str) -> dict[str, Any]:
    """The job's state as a dict (``state``, ``detail``, ``done``)."""
    status = s.trainer.status(job_id)
    return {"state": status.state, "detail": status.detail, "done": status.done}


def cancel_training(s: Services, job_id: str) -> None:
    """Ask the training job to stop."""
    s.trainer.cancel(job_id)


def record_training(s: Services, repo: str, model_version: str, state: str, detail: str = "") -> dict[str, Any]:
    """Record how a training run ended."""
    run = s.docs.get(RUNS, repo, model_version) or {"id": model_version, "repo": repo}
    run.update(state=state, detail=detail[:1000], ended_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    s.docs.upsert(RUNS, run)
    telemetry.event("TrainingRun", repo=repo, model=model_version, state=state, detail=detail[:300])
    telemetry.count("triage.training.runs", 1, repo=repo, state=state)
    return run


def parse_model_blob(name: str) -> tuple[str, str]:
    """(repo, version) from ``[container/]models/{owner}/{name}/{version}/manifest.json``."""
    match = _MODEL_PATH.match(name)
    if not match:
        raise InputError(f"{name!r} is not a model manifest (models/owner/name/version/manifest.json)")
    return match.group(1), match.group(2)


def on_model_created(s: Services, blob_name: str) -> dict[str, Any]:
    """Evaluate a new model against the champion and promote or reject it."""
    repo, version = parse_model_blob(blob_name)
    with telemetry.span("promotion", repo=repo, model=version):
        outcome = promote(s.blobs, s.docs, repo, version, s.settings.min_improvement)
    telemetry.event("ModelPromoted" if outcome["promoted"] else "ModelRejected", repo=repo, model=version,
                    champion=outcome.get("champion"), reason=outcome["reason"])
    return outcome | {"repo": repo}


def open_unlabeled_issues(s: Services, repo: str, model_labels: list[str] | None = None) -> list[int]:
    """Open issues (not pull requests) that carry no human-applied label from the current model's labels."""
    labels = set(model_labels if model_labels is not None else ModelCache().get(s, repo).labels)
    issues = stored_issues(s.docs, repo)
    return [i.number for i in issues if i.state == "open" and not i.is_pull_request
            and not set(i.human_labels(s.settings.bot_login)) & labels]


def relabel_batch(s: Services, repo: str, numbers: list[int], cache: ModelCache) -> dict[str, int]:
    """Label a batch of issues; one failed issue does not stop the batch (it is counted)."""
    counts = {"labeled": 0, "abstained": 0, "failed": 0}
    for number in numbers:
        try:
            decision = label_request(s, {"repo": repo, "number": number, "reason": "relabel"}, cache)
            counts["abstained" if decision["abstained"] else "labeled"] += 1
        except Exception as exc:  # noqa: BLE001 - reported per issue; the batch goes on
            counts["failed"] += 1
            telemetry.event("RelabelFailed", repo=repo, issue=number, error=repr(exc)[:300])
    return counts


def repositories(s: Services) -> list[str]:
    """The configured repositories and those with a promoted model, sorted."""
    promoted = {name[len("models/"):-len("/current.json")] for name in s.blobs.list("models/")
                if name.endswith("/current.json")}
    return sorted(set(s.repositories) | promoted)


def status(s: Services) -> dict[str, Any]:
    """Everything ``GET /api/status`` shows, per repository."""
    return {"repositories": {repo: _repo_status(s, repo) for repo in repositories(s)},
            "queue": {"depth": s.queue.depth(), "poison": s.queue.depth(f"{LABEL_REQUESTS}-poison")},
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _repo_status(s: Services, repo: str) -> dict[str, Any]:
    pointer, _ = read_pointer(s.blobs, repo)
    model = None
    if pointer:
        record = s.docs.get(MODELS, repo, pointer["version"]) or {}
        promoted = datetime.fromisoformat(pointer["promoted_at"])
        model = {"version": pointer["version"], "promoted_at": pointer["promoted_at"],
                 "age_hours": round((datetime.now(timezone.utc) - promoted) / timedelta(hours=1), 1),
                 "metrics": record.get("gate_scores", {}).get("candidate") or record.get("metrics"),
                 "thresholds": _thresholds(s, repo, pointer["version"])}
    cursor = s.docs.get(CURSORS, repo, CURSOR_ID) or {}
    predictions = sorted(s.docs.query("predictions", repo), key=lambda d: d.get("decided_at", ""), reverse=True)
    live = live_quality(s.docs, repo, window_days=s.settings.live_window_days,
                        max_decisions=s.settings.live_window_decisions, target=s.settings.target_precision)
    return {
        "model": model,
        "scrape": {"last_run": cursor.get("last_run"), "issues": cursor.get("issues"), "since": cursor.get("since"),
                   "in_progress": cursor.get("in_progress", {}).get("page") if cursor.get("in_progress") else None},
        "stored_issues": len(s.docs.query(ISSUES, repo)),
        "training_runs": [{k: r.get(k) for k in ("id", "state", "dataset_version", "started_at", "ended_at")}
                          for r in sorted(s.docs.query(RUNS, repo), key=lambda r: r.get("started_at", ""))[-10:]],
        "recent_decisions": [{k: d.get(k) for k in ("number", "add", "abstained", "reasons", "model_version",
                                                    "decided_at", "dry_run")} for d in predictions[:20]],
        "live": {k: v for k, v in live.items() if k != "series"},
        "tuning": tuning_history(s.docs, repo, limit=10),
        "feedback": len(s.docs.query(FEEDBACK, repo)),
        "poison_messages": len(s.docs.query(POISON, repo)),
    }


def _thresholds(s: Services, repo: str, version: str) -> dict[str, float] | None:
    try:
        manifest = json.loads(s.blobs.get(f"{model_prefix(repo, version)}/manifest.json"))
    except NotFoundError:
        return None
    return manifest["thresholds"]["per_label"]


def training_input(s: Services, repo: str, reason: str) -> dict[str, Any]:
    """The training orchestration's input: settings are read here, never inside the orchestrator."""
    return {"repo": repo, "reason": reason, "poll_seconds": s.poll_seconds,
            "deadline_minutes": s.training_deadline_minutes}
