"""Running the training job: the backend port, a local child-process backend, and a blocking local run.

A backend starts ``training_job`` for a stored dataset and reports the job's state; the
Durable training orchestration polls it with durable timers. Azure ML is the cloud backend
(:mod:`triage.azure_ml`); :class:`LocalProcessBackend` is the embedded default.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .config import Settings
from .dataset import SPLITS, load_manifest
from .errors import TrainingError
from .registry import upload_model
from .stores import BlobStore, DocumentStore

RUNS = "runs"
TERMINAL = frozenset({"completed", "failed", "canceled"})


@dataclass(frozen=True)
class JobRequest:
    """One training run: which dataset, which model version to produce, and the job's arguments."""

    repo: str
    dataset_version: str
    model_version: str
    arguments: tuple[str, ...]  # training_job.train options other than --data/--output/--version


@dataclass(frozen=True)
class JobStatus:
    """A job's state: queued, running, completed, failed or canceled."""

    state: str
    detail: str = ""

    @property
    def done(self) -> bool:
        """True once the job can no longer change."""
        return self.state in TERMINAL


class TrainingBackend(Protocol):
    """Starts, watches and cancels training jobs."""

    def submit(self, request: JobRequest) -> str:
        """Start a job; return its id."""
        ...

    def status(self, job_id: str) -> JobStatus:
        """The job's current state."""
        ...

    def cancel(self, job_id: str) -> None:
        """Ask the job to stop."""
        ...


def hyperparameters(settings: Settings) -> tuple[str, ...]:
    """``training_job.train`` options for these settings (without data, output and version)."""
    args = ["--max-tokens", str(settings.max_tokens), "--epochs", str(settings.epochs),
            "--batch-size", str(settings.batch_size), "--learning-rate", str(settings.learning_rate),
            "--seed", str(settings.seed), "--budget-minutes", str(settings.budget_minutes),
            "--target-precision", str(settings.target_precision)]
    if settings.base_model:
        args += ["--base-model", settings.base_model]
    return tuple(args)


def job_arguments(settings: Settings, data: Path, output: Path, version: str, progress: bool) -> list[str]:
    """Command-line arguments of ``python -m training_job.train`` for these settings."""
    args = ["--data", str(data), "--output", str(output), "--version", version, *hyperparameters(settings)]
    if not progress:
        args.append("--no-progress")
    return args


def train_local(blobs: BlobStore, docs: DocumentStore, repo: str, dataset_version: str, settings: Settings,
                progress: bool = True) -> dict[str, Any]:
    """Train a model on a stored dataset in a child process, upload it and return its manifest."""
    load_manifest(blobs, repo, dataset_version)  # fails early, naming the missing dataset
    version = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + dataset_version[:6]
    run = {"id": version, "repo": repo, "dataset_version": dataset_version, "backend": "local", "state": "running",
           "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    docs.upsert(RUNS, run)
    with tempfile.TemporaryDirectory(prefix="triage-train-") as tmp:
        data = blobs.local_path(f"datasets/{repo}/{dataset_version}")
        if data is None or not data.is_dir():
            data = Path(tmp) / "data"
            data.mkdir()
            for name in [f"{s}.jsonl" for s in SPLITS] + ["manifest.json"]:
                (data / name).write_bytes(blobs.get(f"datasets/{repo}/{dataset_version}/{name}"))
        output = Path(tmp) / version
        command = [sys.executable, "-m", "training_job.train", *job_arguments(settings, data, output, version, progress)]
        completed = subprocess.run(command, stdout=subprocess.DEVNULL, check=False)
        if completed.returncode != 0 or not (output / "manifest.json").is_file():
            docs.upsert(RUNS, {**run, "state": "failed", "exit_code": completed.returncode})
            raise TrainingError(f"training job for {repo} failed with exit code {completed.returncode}; see its output above")
        manifest = upload_model(blobs, docs, output)
    docs.upsert(RUNS, {**run, "state": "succeeded", "model_version": version,
                       "ended_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "seconds": manifest["training"]["seconds"]})
    return manifest
