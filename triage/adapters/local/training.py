"""Training on this machine: ``training_job`` as a child process, watched across invocations or run to the end.

:class:`LocalProcessBackend` is the embedded :class:`~triage.ports.training.TrainingBackend` (the
Durable training orchestration polls it like Azure ML); :func:`run_blocking` trains in the
foreground for the CLI and the demo.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from triage.data.dataset import SPLITS, load_manifest
from triage.data.dataset_store import PRIOR, UNLABELED
from triage.domain.errors import TrainingError
from triage.learning.registry import upload_model
from triage.ports.layout import dataset_prefix
from triage.ports.records import Run, now_iso
from triage.ports.stores import BlobStore, DocumentStore
from triage.ports.training import ARGS_FILE, JobRequest, JobStatus, job_command

_CHILDREN: dict[str, subprocess.Popen[bytes]] = {}  # reaped in status() so finished jobs leave no zombie


def download_dataset(blobs: BlobStore, repo: str, dataset_version: str, folder: Path) -> Path:
    """Copy a stored dataset (splits and manifest) into ``folder``, as the training job reads it."""
    folder.mkdir(parents=True)
    sizes = load_manifest(blobs, repo, dataset_version).get("sizes", {})
    extra = [name for name in (PRIOR, UNLABELED) if sizes.get(name)]
    for name in [f"{s}.jsonl" for s in (*SPLITS, *extra)] + ["manifest.json"]:
        (folder / name).write_bytes(blobs.get(f"{dataset_prefix(repo, dataset_version)}/{name}"))
    return folder


def _command(request: JobRequest, data: Path, output: Path, args_file: Path, progress: bool) -> list[str]:
    args_file.write_text(request.arguments.to_json())
    return job_command(str(data), str(output), request.model_version, str(args_file), python=sys.executable,
                       extra=() if progress else ("--no-progress",))


def run_blocking(blobs: BlobStore, docs: DocumentStore, request: JobRequest, progress: bool = True) -> dict[str, Any]:
    """Train in a child process until it ends, upload the model and return its manifest."""
    load_manifest(blobs, request.repo, request.dataset_version)  # fails early, naming the missing dataset
    run = Run(id=request.model_version, repo=request.repo, dataset_version=request.dataset_version, backend="local",
              job_id=request.model_version, reason="cli")
    docs.upsert(Run.container, run.to_doc())
    with tempfile.TemporaryDirectory(prefix="triage-train-") as tmp:
        data = blobs.local_path(dataset_prefix(request.repo, request.dataset_version))
        if data is None or not data.is_dir():
            data = download_dataset(blobs, request.repo, request.dataset_version, Path(tmp) / "data")
        output = Path(tmp) / request.model_version
        command = _command(request, data, output, Path(tmp) / ARGS_FILE, progress)
        completed = subprocess.run(command, stdout=subprocess.DEVNULL, check=False)
        if completed.returncode != 0 or not (output / "manifest.json").is_file():
            docs.upsert(Run.container, {**run.to_doc(), "state": "failed", "ended_at": now_iso(),
                                        "detail": f"exit code {completed.returncode}"})
            raise TrainingError(f"training job for {request.repo} failed with exit code {completed.returncode}; "
                                "see its output above")
        manifest = upload_model(blobs, docs, output)
    docs.upsert(Run.container, {**run.to_doc(), "state": "succeeded", "ended_at": now_iso(),
                                "seconds": manifest["training"]["seconds"]})
    return manifest


class LocalProcessBackend:
    """A :class:`~triage.ports.training.TrainingBackend` that runs ``training_job`` as a child process.

    Each job has a folder under ``workdir`` holding its arguments, log, exit code and output;
    state survives across invocations of the app (the folder is the record). A finished job's
    model is uploaded to the blob store once, which fires the "model created" event.
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
        command = _command(request, data, job / "model", job / ARGS_FILE, progress=False)
        (job / "job.json").write_text(json.dumps({"repo": request.repo, "command": command}))
        with open(job / "log.txt", "wb") as log:
            # The shell records the exit code so that a later invocation can read it.
            process = subprocess.Popen(["sh", "-c", '"$@"; echo $? > "$0"', str(job / "exit_code"), *command],
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        (job / "pid").write_text(str(process.pid))
        _CHILDREN[request.model_version] = process
        return request.model_version

    def status(self, job_id: str) -> JobStatus:
        """Running until the exit code is written; then succeeded (model uploaded) or failed."""
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
        return JobStatus("succeeded")

    def cancel(self, job_id: str) -> None:
        """Terminate the job's process group."""
        job = self.workdir / job_id
        (job / "canceled").touch()
        try:
            os.killpg(int((job / "pid").read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass  # already gone
