"""The embedded training backend: a real child process, polled as the orchestration polls it."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from tests.integration.test_training_job import three_areas
from triage.adapters.local.stores import LocalBlobStore, SqliteDocumentStore
from triage.adapters.local.training import LocalProcessBackend
from triage.data.dataset import DatasetSpec, build_dataset, save_dataset
from triage.domain.issues import Issue
from triage.ports.layout import model_prefix
from triage.ports.training import JobRequest, TrainingArguments


def test_job_runs_uploads_its_model_and_can_be_cancelled(tmp_path: Path, corefx_issues: list[Issue],
                                                         tiny_encoder: Path) -> None:
    blobs, docs = LocalBlobStore(tmp_path / "blobs"), SqliteDocumentStore(":memory:")
    dataset = build_dataset(three_areas(corefx_issues, 20), DatasetSpec(test_fraction=0.2, validation_fraction=0.2))
    save_dataset(blobs, dataset)
    backend = LocalProcessBackend(blobs, docs, tmp_path / "jobs")
    args = TrainingArguments(base_model=str(tiny_encoder), max_tokens=32, epochs=1, batch_size=8)
    job = backend.submit(JobRequest("dotnet/corefx", dataset.version, "v-local", args))
    deadline = time.monotonic() + 300
    while not (status := backend.status(job)).done:
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.5)
    assert status.state == "succeeded", status.detail
    assert blobs.etag(f"{model_prefix('dotnet/corefx', 'v-local')}/manifest.json") is not None
    assert backend.status(job).state == "succeeded", "polling again does not upload twice or fail"

    slow = backend.submit(JobRequest("dotnet/corefx", dataset.version, "v-cancel", replace(args, epochs=50)))
    backend.cancel(slow)
    assert backend.status(slow).state == "canceled"
    assert backend.status("no-such-job").state == "failed"
