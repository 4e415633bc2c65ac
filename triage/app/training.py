"""Training use cases: build a dataset, start a job, follow it, record how it ended, and decide when to retrain.

The Durable training orchestration calls these as activities; the CLI calls :func:`train_now`,
which runs the same job in the foreground. Every run is one :class:`~triage.ports.records.Run`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from triage.adapters.local.training import run_blocking
from triage.app import telemetry
from triage.app.bootstrap import Services
from triage.app.moves import current_name
from triage.app.routing import train_assignee_model
from triage.app.settings import Settings
from triage.app.webhook import label_aliases
from triage.data.cold_start import cold_start_dataset, label_descriptions
from triage.data.dataset import (
    DatasetSpec,
    build_dataset,
    frozen_test_numbers,
    save_dataset,
)
from triage.data.ingest import iter_issues, stored_issues
from triage.domain.errors import EmptyDatasetError, InputError
from triage.domain.issues import Issue
from triage.domain.schedule import Cron
from triage.learning.tuning import known_config
from triage.ports.records import FEEDBACK, RUNS, Run, now_iso
from triage.ports.training import JobRequest

UNLABELED_ROWS = 5000  # issues without a label a distilled student also learns from (training_job.distil reads 5,000)


def dataset_spec(settings: Settings, aliases: Mapping[str, str] | None = None) -> DatasetSpec:
    """The dataset spec the settings describe, with label renames (old → new); with distillation on, the newest
    :data:`UNLABELED_ROWS` issues without a human label are kept too."""
    return DatasetSpec(allow_labels=settings.allow_labels, deny_labels=settings.deny_labels,
                       min_examples=settings.min_examples, test_fraction=settings.test_fraction,
                       validation_fraction=settings.validation_fraction, seed=settings.seed,
                       bot_login=settings.bot_login, aliases=tuple(sorted((aliases or {}).items())),
                       recent_fraction=settings.recent_fraction,
                       unlabeled=UNLABELED_ROWS if settings.training.distil_layers else 0)


def build_training_dataset(s: Services, repo: str, prior: Sequence[str] | None = None) -> dict[str, Any]:
    """Build and store a dataset from the stored issues, renames and feedback; returns its manifest.

    With too few labeled issues to fine-tune, the dataset is a cold-start one (:mod:`triage.data.cold_start`):
    the repository's labels, with their descriptions from GitHub when it can be reached, the labeled issues
    there are, and the matching issues of the ``prior`` repositories (default: the repository config's
    ``training.prior``), which must be in the store already. With prior repositories named, that is also the
    case below ``TRIAGE_PRIOR_BELOW`` labeled issues, where they teach more than the repository's own.
    """
    spec = dataset_spec(s.settings, label_aliases(s.docs, repo))
    issues = stored_issues(s.docs, repo)
    names = prior_names(s, repo, prior)
    try:
        dataset = build_dataset(issues, spec, frozen_test_numbers(s.blobs, repo), feedback=s.docs.query(FEEDBACK, repo))
        labeled = sum(len(dataset.splits[name]) for name in ("train", "validation", "test"))
        if names and labeled < s.settings.prior_below:
            raise EmptyDatasetError(f"{labeled} labeled issues, fewer than TRIAGE_PRIOR_BELOW="
                                    f"{s.settings.prior_below}, and prior repositories named: they teach more")
    except EmptyDatasetError as exc:
        dataset = cold_start_dataset(issues, spec, repository_labels(s, repo), cause=exc,
                                     prior=prior_issues(s, names))
        telemetry.event("ColdStartDataset", repo=repo, labels=len(dataset.labels),
                        labeled=len(dataset.splits["train"]))
    manifest = save_dataset(s.blobs, dataset)
    train_assignee_model(s, repo)  # owner routing's learned model, from the same stored issues; never raises
    return manifest


def prior_names(s: Services, repo: str, prior: Sequence[str] | None) -> list[str]:
    """The prior repositories' current names (``prior``, or the repository config's ``training.prior``), without
    ``repo`` itself."""
    named = (known_config(s.docs, repo).get("prior") or []) if prior is None else prior
    names = [current_name(s.docs, name) for name in named]  # a renamed repository's issues are under its new name
    return list(dict.fromkeys(name for name in names if name.casefold() != repo.casefold()))


def prior_issues(s: Services, names: Sequence[str]) -> dict[str, list[Issue]]:
    """The stored labeled issues of each prior repository; :class:`InputError` for one with none stored, since
    learning from nothing would pass unnoticed."""
    found = {}
    for name in names:
        found[name] = [issue for issue in iter_issues(s.docs, name) if issue.labels]  # only labeled ones teach
        if not found[name]:
            raise InputError(f"prior repository {name} has no labeled issues stored: run `triage scrape --repo {name}` "
                             "first, or remove it from training.prior in .github/issue-triage.yml")
    return found


def repository_labels(s: Services, repo: str) -> dict[str, str]:
    """Label name → description as GitHub lists them, or nothing when no GitHub credentials are configured."""
    github = s.config.github
    if not (github.token or github.app_id):
        return {}
    with telemetry.span("github.labels", repo=repo):
        return label_descriptions(s.github().repository_labels(repo))


def new_model_version(now: datetime, dataset_version: str) -> str:
    """A model version name: UTC time of the run and the dataset it learns from."""
    return now.strftime("%Y%m%dT%H%M%SZ-") + dataset_version[:6]


def training_input(s: Services, repo: str, reason: str) -> dict[str, Any]:
    """The training orchestration's input: settings are read here, never inside the orchestrator."""
    repo = current_name(s.docs, repo)
    return {"repo": repo, "reason": reason, "poll_seconds": s.app.poll_seconds,
            "deadline_minutes": s.app.training_deadline_minutes}


def next_poll(now: datetime, deadline: datetime, poll_seconds: float) -> datetime | None:
    """When the orchestration should next check the job, or None if that would pass the deadline."""
    fire_at = now + timedelta(seconds=poll_seconds)
    return fire_at if fire_at <= deadline else None


def submit_training(s: Services, repo: str, dataset_version: str, now: datetime, reason: str = "") -> dict[str, Any]:
    """Start a training job; ``now`` comes from the orchestration so that replays agree."""
    version = new_model_version(now, dataset_version)
    with telemetry.span("training.submit", repo=repo, dataset=dataset_version):
        job_id = s.trainer.submit(JobRequest(repo, dataset_version, version, s.settings.training))
    backend = "local" if s.config.azure_ml is None else "azureml"
    s.docs.upsert(RUNS, Run(id=version, repo=repo, dataset_version=dataset_version, job_id=job_id, backend=backend,
                            reason=reason or None).to_doc())
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
    stored = s.docs.get(RUNS, repo, model_version) or {"id": model_version, "repo": repo, "dataset_version": ""}
    run = Run.from_doc({**stored, "state": state, "detail": detail[:1000], "ended_at": now_iso()})
    s.docs.upsert(RUNS, run.to_doc())
    telemetry.event("TrainingRun", repo=repo, model=model_version, state=state, detail=detail[:300])
    telemetry.count("triage.training.runs", 1, repo=repo, state=state)
    return run.to_doc()


def train_now(s: Services, repo: str, dataset_version: str, now: datetime, progress: bool = True) -> dict[str, Any]:
    """Train on this machine in the foreground (the CLI and the demo); returns the model's manifest."""
    request = JobRequest(repo, dataset_version, new_model_version(now, dataset_version), s.settings.training)
    return run_blocking(s.blobs, s.docs, request, progress)


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
