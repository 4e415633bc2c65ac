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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from .config import Settings
from .dataset import SPLITS, load_manifest
from .errors import TrainingError
from .registry import upload_model
from .stores import BlobStore, DocumentStore

RUNS = "runs"
_CHILDREN: dict[str, subprocess.Popen[bytes]] = {}  # reaped in status() so finished jobs leave no zombie
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
    if settings.encoder_layers:
        args += ["--encoder-layers", str(settings.encoder_layers)]
    return tuple(args)


def job_arguments(settings: Settings, data: Path, output: Path, version: str, progress: bool) -> list[str]:
    """Command-line arguments of ``python -m training_job.train`` for these settings."""
    args = ["--data", str(data), "--output", str(output), "--version", version, *hyperparameters(settings)]
    if not progress:
        args.append("--no-progress")
    return args


def new_model_version(now: datetime, dataset_version: str) -> str:
    """A model version name: UTC time of the run and the dataset it learns from."""
    return now.strftime("%Y%m%dT%H%M%SZ-") + dataset_version[:6]


def download_dataset(blobs: BlobStore, repo: str, dataset_version: str, folder: Path) -> Path:
    """Copy a stored dataset (splits and manifest) into ``folder``, as the training job reads it."""
    folder.mkdir(parents=True)
    for name in [f"{s}.jsonl" for s in SPLITS] + ["manifest.json"]:
        (folder / name).write_bytes(blobs.get(f"datasets/{repo}/{dataset_version}/{name}"))
    return folder


def train_local(blobs: BlobStore, docs: DocumentStore, repo: str, dataset_version: str, settings: Settings,
                progress: bool = True) -> dict[str, Any]:
    """Train a model on a stored dataset in a child process, upload it and return its manifest."""
    load_manifest(blobs, repo, dataset_version)  # fails early, naming the missing dataset
    version = new_model_version(datetime.now(timezone.utc), dataset_version)
    run = {"id": version, "repo": repo, "dataset_version": dataset_version, "backend": "local", "state": "running",
           "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    docs.upsert(RUNS, run)
    with tempfile.TemporaryDirectory(prefix="triage-train-") as tmp:
        data = blobs.local_path(f"datasets/{repo}/{dataset_version}")
        if data is None or not data.is_dir():
            data = download_dataset(blobs, repo, dataset_version, Path(tmp) / "data")
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


class LocalProcessBackend:
    """A :class:`TrainingBackend` that runs ``training_job`` as a child process of this machine.

    Each job has a folder under ``workdir`` holding its log, its exit code and its output;
    state survives across invocations of the app (the folder is the record). A completed
    job's model is uploaded to the blob store once, which fires the "model created" event.
    """

    def __init__(self, blobs: BlobStore, docs: DocumentStore, workdir: Path) -> None:
        self.blobs = blobs
        self.docs = docs
        self.workdir = workdir

    def submit(self, request: JobRequest) -> str:
        """Materialise the dataset and start the job; the job id is the model version."""
        job = self.workdir / request.model_version
        job.mkdir(parents=True, exist_ok=False)
        data = download_dataset(self.blobs, request.repo, request.dataset_version, job / "data")
        command = [sys.executable, "-m", "training_job.train", "--data", str(data), "--output", str(job / "model"),
                   "--version", request.model_version, *request.arguments, "--no-progress"]
        (job / "job.json").write_text(json.dumps({"repo": request.repo, "command": command}))
        with open(job / "log.txt", "wb") as log:
            # The shell records the exit code so that a later invocation can read it.
            process = subprocess.Popen(["sh", "-c", '"$@"; echo $? > "$0"', str(job / "exit_code"), *command],
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (job / "pid").write_text(str(process.pid))
        _CHILDREN[request.model_version] = process
        return request.model_version

    def status(self, job_id: str) -> JobStatus:
        """Running until the exit code is written; then completed (model uploaded) or failed."""
        job = self.workdir / job_id
        if job_id in _CHILDREN and _CHILDREN[job_id].poll() is not None:
            del _CHILDREN[job_id]
        if not job.is_dir():
            return JobStatus("failed", f"unknown job {job_id}")
        if (job / "canceled").exists():
            return JobStatus("canceled")
        exit_file = job / "exit_code"
        if not exit_file.exists() or not exit_file.read_text().strip():
            return JobStatus("running")
        code = int(exit_file.read_text().strip())
        if code != 0 or not (job / "model" / "manifest.json").is_file():
            tail = (job / "log.txt").read_text(errors="replace")[-500:]
            return JobStatus("failed", f"exit code {code}: {tail}")
        if not (job / "uploaded").exists():
            upload_model(self.blobs, self.docs, job / "model")
            (job / "uploaded").touch()
        return JobStatus("completed")

    def cancel(self, job_id: str) -> None:
        """Terminate the job's process group."""
        job = self.workdir / job_id
        (job / "canceled").touch()
        try:
            os.killpg(int((job / "pid").read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass  # already gone


def next_poll(now: datetime, deadline: datetime, poll_seconds: float) -> datetime | None:
    """When the orchestration should next check the job, or None if that would pass the deadline."""
    fire_at = now + timedelta(seconds=poll_seconds)
    return fire_at if fire_at <= deadline else None
