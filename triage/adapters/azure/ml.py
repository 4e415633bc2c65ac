"""The Azure ML training backend: ``training_job`` as an Azure ML command job on a GPU cluster.

The job reads the stored dataset from the blob container through an Azure ML datastore and
writes the model straight into the same container's ``models/{repo}/{version}/`` folder, so
the model's ``manifest.json`` (written last by ``training_job``) is the usual "model created"
event. The job's code is this repository's root (``training_job`` imports ``triage``), uploaded
by Azure ML as a content-hashed snapshot that ``.amlignore`` keeps small; its environment is
``training_job/environment/conda.yml`` on an Azure ML CUDA base image.

This is the only module that imports ``azure.ai.ml``. The SDK takes about two seconds to import,
so it is imported inside the functions that need it: the Function app pays for it only when a
training job is submitted or polled, never at cold start.

azure-ai-ml 1.35 declares its marshmallow schemas with marshmallow-3 idioms that marshmallow 3.26
deprecates ahead of 4.0; it emits hundreds of ``Marshmallow4Warning`` on import and more while
serialising a job. Every SDK call here runs inside :func:`_sdk`, which ignores exactly that
category from marshmallow's and the SDK's own modules (the test suite turns warnings into errors).
The SDK also *logs* (not warns) "This is an experimental class" for a few internal schemas; that
is left alone.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage.adapters.azure.ml_settings import AzureMLSettings
from triage.domain.errors import ConfigError, InputError, NotFoundError
from triage.ports.layout import dataset_prefix, model_prefix, run_args_name
from triage.ports.stores import BlobStore
from triage.ports.training import JobRequest, JobStatus, job_command, shell_command

if TYPE_CHECKING:  # pragma: no cover - types only; the SDK is imported lazily
    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import Command

#: The repository root: the job's code snapshot (``training_job`` and ``triage``).
REPO_ROOT = Path(__file__).resolve().parents[3]
#: The job's conda specification, relative to the code folder.
CONDA_FILE = Path("training_job") / "environment" / "conda.yml"
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")

@contextmanager
def _sdk() -> Iterator[None]:
    """Run azure-ai-ml code with its marshmallow-4 deprecation warnings ignored (see the module docstring).

    ``warnings.catch_warnings`` swaps the process-wide filter list, so the filter is in force only
    while SDK code runs; the warnings concern the SDK's pinned marshmallow 3, not this code.
    """
    with warnings.catch_warnings():
        try:
            from marshmallow.warnings import Marshmallow4Warning
        except ImportError:  # a marshmallow without the 4.0 deprecation warnings: nothing to filter
            yield
            return
        warnings.filterwarnings("ignore", category=Marshmallow4Warning, module=r"(marshmallow|azure\.ai\.ml)\.")
        yield


def _check_request(request: JobRequest) -> None:
    """Refuse names that would escape their datastore folder (the arguments travel in a file, not the command)."""
    parts = request.repo.split("/")
    if len(parts) != 2 or not all(_SEGMENT.match(p) and p not in (".", "..") for p in parts):
        raise InputError(f"repository {request.repo!r} is not of the form owner/name")
    for what, version in (("dataset version", request.dataset_version), ("model version", request.model_version)):
        if not _SEGMENT.match(version) or version in (".", ".."):
            raise InputError(f"{what} {version!r} may hold only letters, digits, '.', '_' and '-'")


def job_name(request: JobRequest) -> str:
    """The Azure ML job name of a request: deterministic, so a retried submission finds its job.

    Azure ML job names hold lower-case letters, digits, '_' and '-' (the SDK lower-cases any
    other name, logging a warning); a hash of the exact repository and version keeps names of
    e.g. ``A.b/c`` and ``a_b/c`` apart.
    """
    digest = hashlib.sha256(f"{request.repo}\n{request.model_version}".encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9_-]", "_", f"{request.repo}-{request.model_version}".lower())[:200]
    return f"triage-{slug}-{digest}"


#: Without a built image, the job creates the conda environment on the base image when it starts.
JOB_ENV = "/tmp/triage-env"


def aml_command(request: JobRequest, build_image: bool = False) -> str:
    """The job's shell command: the one training command with Azure ML's input and output placeholders.

    Without a built image (``build_image`` false, the default) it first creates ``conda.yml``'s
    environment under :data:`JOB_ENV` (the base image's own Python is 3.10; the job needs 3.11).
    """
    placeholders = ("${{inputs.data}}", "${{outputs.model}}", "${{inputs.args}}")
    python = "python" if build_image else f"{JOB_ENV}/bin/python"
    words = job_command(*placeholders[:2], request.model_version, placeholders[2], python=python,
                        extra=("--device", "cuda", "--no-progress"))
    command = shell_command(words, keep_unquoted=placeholders)
    if build_image:
        return command
    return f"conda env create --quiet -p {JOB_ENV} -f {CONDA_FILE.as_posix()} && {command}"


def datastore_uri(datastore: str, path: str) -> str:
    """An ``azureml://`` URI of a folder in a datastore."""
    return f"azureml://datastores/{datastore}/paths/{path}"


def build_job(request: JobRequest, settings: AzureMLSettings, code_dir: Path = REPO_ROOT) -> Command:
    """The Azure ML command job that trains ``request``; built offline, nothing is sent."""
    _check_request(request)
    code_dir = Path(code_dir).resolve()
    conda_file = code_dir / CONDA_FILE
    if not (code_dir / "training_job" / "train.py").is_file() or not conda_file.is_file():
        raise ConfigError(f"{code_dir} does not hold training_job/train.py and {CONDA_FILE.as_posix()}: "
                          "the Azure ML job's code is the repository root; deploy it with training_job/ included")
    with _sdk():
        from azure.ai.ml import Input, Output, command
        from azure.ai.ml.constants import AssetTypes, InputOutputModes
        from azure.ai.ml.entities import Environment

        # Anonymous (unnamed) environment: Azure ML names it by a hash of image + conda file, so the
        # image is built once per distinct specification and reused by later jobs.
        environment = (Environment(image=settings.image, conda_file=str(conda_file),
                                   description="issue-triage training_job (training_job/environment/conda.yml)")
                       if settings.build_image else Environment(image=settings.image))
        data_path = dataset_prefix(request.repo, request.dataset_version)
        model_path = model_prefix(request.repo, request.model_version) + "/"
        input_mode = InputOutputModes.DOWNLOAD if settings.input_mode == "download" else InputOutputModes.RO_MOUNT
        return command(
            name=job_name(request),
            display_name=f"train {request.repo} {request.model_version}",
            description=f"Fine-tune the issue labeler of {request.repo} on dataset {request.dataset_version}.",
            experiment_name=settings.experiment,
            tags={"app": "issue-triage", "repo": request.repo, "dataset_version": request.dataset_version,
                  "model_version": request.model_version},
            code=str(code_dir),
            command=aml_command(request, settings.build_image),
            inputs={"data": Input(type=AssetTypes.URI_FOLDER, path=datastore_uri(settings.datastore, data_path),
                                  mode=input_mode),
                    "args": Input(type=AssetTypes.URI_FILE, mode=InputOutputModes.DOWNLOAD,
                                  path=datastore_uri(settings.datastore,
                                                     run_args_name(request.repo, request.model_version)))},
            # training_job writes into the mounted (existing, empty) folder; manifest.json goes last.
            outputs={"model": Output(type=AssetTypes.URI_FOLDER,
                                     path=datastore_uri(settings.output_datastore, model_path),
                                     mode=InputOutputModes.RW_MOUNT)},
            environment=environment,
            compute=settings.compute,
            timeout=settings.timeout_minutes * 60,
        )


def job_spec(job: Command) -> dict[str, Any]:
    """The job in Azure ML's job YAML schema (what ``az ml job create --file`` reads), as plain data; offline."""
    import json

    with _sdk():
        # _to_job()._to_dict() is private, but it is the SDK's only offline serialiser (Job.dump writes the same).
        return json.loads(json.dumps(job._to_job()._to_dict()))


# Azure ML job status -> (JobStatus state, what it means). Statuses are compared case-insensitively.
_STATES: dict[str, tuple[str, str]] = {
    "notstarted": ("queued", "submitted, not started yet"),
    "starting": ("queued", "accepted, starting"),
    "provisioning": ("queued", "waiting for compute nodes"),
    "preparing": ("queued", "preparing the environment (image build or data)"),
    "queued": ("queued", "queued on the compute cluster"),
    "paused": ("queued", "paused"),
    "running": ("running", "training"),
    "finalizing": ("running", "training finished, uploading outputs"),
    "cancelrequested": ("running", "cancellation requested"),
    # Not terminal: Azure ML says a job may come back from NotResponding; its timeout still applies.
    "notresponding": ("running", "no heartbeat recently; it may recover"),
    "unknown": ("running", "Azure ML does not know the state yet"),
    "completed": ("succeeded", "the model was written"),
    "failed": ("failed", "the job failed; see its logs"),
    "canceled": ("canceled", "the job was canceled"),
}


def map_status(status: str | None, url: str | None = None) -> JobStatus:
    """The :class:`JobStatus` of an Azure ML job status; unrecognised ones count as running (polling goes on)."""
    raw = status or "Unknown"
    state, meaning = _STATES.get(raw.replace(" ", "").lower(), ("running", "status not recognised; still polling"))
    detail = f"Azure ML {raw}: {meaning}" + (f" ({url})" if url else "")
    return JobStatus(state, detail)


class AzureMLBackend:
    """A :class:`~triage.training.TrainingBackend` that runs ``training_job`` as Azure ML command jobs.

    ``ml_client`` is an ``azure.ai.ml.MLClient`` (see :meth:`from_settings`); the job id is the
    Azure ML job name, which is derived from the request (:func:`job_name`).
    """

    def __init__(self, ml_client: MLClient | Any, settings: AzureMLSettings, blobs: BlobStore,
                 code_dir: Path = REPO_ROOT) -> None:
        self.ml_client = ml_client
        self.settings = settings
        self.blobs = blobs
        self.code_dir = Path(code_dir)

    @classmethod
    def from_settings(cls, settings: AzureMLSettings, blobs: BlobStore, code_dir: Path = REPO_ROOT,
                      credential: Any = None) -> AzureMLBackend:
        """A backend with an ``MLClient`` for the workspace, authenticated by ``DefaultAzureCredential``.

        In the Function app that is its managed identity (``AZURE_CLIENT_ID`` picks a user-assigned
        one); locally, ``az login``. Nothing is contacted until a job is submitted or polled.
        """
        with _sdk():
            from azure.ai.ml import MLClient

            if credential is None:
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential()
            client = MLClient(credential=credential, subscription_id=settings.subscription_id,
                              resource_group_name=settings.resource_group, workspace_name=settings.workspace)
        return cls(client, settings, blobs, code_dir)

    def submit(self, request: JobRequest) -> str:
        """Create the job (uploading the code snapshot if it changed) and return its name.

        The training arguments go first to ``runs/{repo}/{version}/training-args.json`` in the container the
        datastore reads. Submitting the same request twice (an activity retried after the job was created)
        returns the existing job instead of starting a second one.
        """
        job = build_job(request, self.settings, self.code_dir)
        self.blobs.put(run_args_name(request.repo, request.model_version), request.arguments.to_json().encode())
        from azure.core.exceptions import ResourceNotFoundError

        with _sdk():
            try:
                return str(self.ml_client.jobs.get(job.name).name)
            except ResourceNotFoundError:
                pass
            return str(self.ml_client.jobs.create_or_update(job).name)

    def status(self, job_id: str) -> JobStatus:
        """The job's state, mapped from its Azure ML status; the detail names the status and the studio URL."""
        with _sdk():
            job = self._get(job_id)
            return map_status(job.status, getattr(job, "studio_url", None))

    def cancel(self, job_id: str) -> None:
        """Ask Azure ML to cancel the job and return at once.

        ``begin_cancel`` sends the cancel request before it returns; ``polling=False`` skips the
        poller (which would otherwise follow the operation from a background thread). The job
        passes through CancelRequested to Canceled, which :meth:`status` reports.
        """
        from azure.core.exceptions import ResourceNotFoundError

        with _sdk():
            try:
                self.ml_client.jobs.begin_cancel(job_id, polling=False)
            except ResourceNotFoundError:
                raise self._not_found(job_id) from None

    def _get(self, job_id: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.ml_client.jobs.get(job_id)
        except ResourceNotFoundError:
            raise self._not_found(job_id) from None

    def _not_found(self, job_id: str) -> NotFoundError:
        return NotFoundError(f"Azure ML job {job_id} does not exist in workspace {self.settings.workspace}")
