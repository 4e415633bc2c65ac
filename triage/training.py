"""Running the training job as a local process (the embedded default; Azure ML comes later)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .config import Settings
from .dataset import SPLITS, load_manifest
from .errors import TrainingError
from .registry import upload_model
from .stores import BlobStore, DocumentStore

RUNS = "runs"


def job_arguments(settings: Settings, data: Path, output: Path, version: str, progress: bool) -> list[str]:
    """Command-line arguments of ``python -m training_job.train`` for these settings."""
    args = ["--data", str(data), "--output", str(output), "--version", version,
            "--max-tokens", str(settings.max_tokens), "--epochs", str(settings.epochs),
            "--batch-size", str(settings.batch_size), "--learning-rate", str(settings.learning_rate),
            "--seed", str(settings.seed), "--budget-minutes", str(settings.budget_minutes),
            "--target-precision", str(settings.target_precision)]
    if settings.base_model:
        args += ["--base-model", settings.base_model]
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
