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
import os
import re
import shlex
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from .errors import ConfigError, InputError, NotFoundError
from .training import JobRequest, JobStatus

if TYPE_CHECKING:  # pragma: no cover - types only; the SDK is imported lazily
    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import Command

#: The repository root: the job's code snapshot (``training_job`` and ``triage``).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The job's conda specification, relative to the code folder.
CONDA_FILE = Path("training_job") / "environment" / "conda.yml"
#: Azure ML's curated OpenMPI 5.0 + CUDA 12.4 + Ubuntu 22.04 base image (github.com/Azure/AzureML-Containers).
#: It has the conda that Azure ML builds ``conda.yml`` with, OpenMPI and CUDA 12.4 libraries; torch
#: brings its own CUDA runtime as pip wheels (see ``conda.yml``). ``TRIAGE_AML_IMAGE`` overrides it.
DEFAULT_IMAGE = "mcr.microsoft.com/azureml/openmpi5.0-cuda12.4-ubuntu22.04:latest"
INPUT_MODES = ("download", "ro_mount")

_REQUIRED = {
    "TRIAGE_AML_SUBSCRIPTION_ID": "the Azure subscription id of the Azure ML workspace",
    "TRIAGE_AML_RESOURCE_GROUP": "the resource group of the Azure ML workspace",
    "TRIAGE_AML_WORKSPACE": "the Azure ML workspace name",
    "TRIAGE_AML_COMPUTE": "the Azure ML GPU compute cluster that runs training jobs",
    "TRIAGE_AML_DATASTORE": "the Azure ML datastore over the blob container that holds datasets/ and models/",
}
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class AzureMLSettings:
    """Where and how training jobs run on Azure ML.

    Attributes:
        subscription_id, resource_group, workspace: the Azure ML workspace.
        compute: name of the GPU compute cluster.
        datastore: datastore whose container holds ``datasets/{repo}/{version}/`` (the job's input).
        models_datastore: datastore for ``models/{repo}/{version}/`` (the job's output); empty = ``datastore``.
        image: base Docker image of the job's environment (``conda.yml`` is built on top of it).
        experiment: Azure ML experiment the jobs are grouped under.
        timeout_minutes: Azure ML cancels a job that runs longer than this.
        input_mode: ``download`` (the dataset is copied to local disk first; it is small) or ``ro_mount``.
    """

    subscription_id: str
    resource_group: str
    workspace: str
    compute: str
    datastore: str
    models_datastore: str = ""
    image: str = DEFAULT_IMAGE
    experiment: str = "issue-triage-training"
    timeout_minutes: int = 180
    input_mode: str = "download"

    @property
    def output_datastore(self) -> str:
        """The datastore the model is written to."""
        return self.models_datastore or self.datastore

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AzureMLSettings:
        """Read ``TRIAGE_AML_*`` variables; raises :class:`ConfigError` naming any missing or invalid one.

        Required: ``TRIAGE_AML_SUBSCRIPTION_ID``, ``TRIAGE_AML_RESOURCE_GROUP``, ``TRIAGE_AML_WORKSPACE``,
        ``TRIAGE_AML_COMPUTE``, ``TRIAGE_AML_DATASTORE``. Optional: ``TRIAGE_AML_MODELS_DATASTORE``,
        ``TRIAGE_AML_IMAGE``, ``TRIAGE_AML_EXPERIMENT``, ``TRIAGE_AML_TIMEOUT_MINUTES``, ``TRIAGE_AML_INPUT_MODE``.
        """
        env = os.environ if env is None else env
        value = {name: env.get(name, "").strip() for name in _REQUIRED}
        missing = [name for name in _REQUIRED if not value[name]]
        if missing:
            raise ConfigError("Azure ML training is not configured: "
                              + "; ".join(f"{name} is not set ({_REQUIRED[name]})" for name in missing))
        timeout_text = env.get("TRIAGE_AML_TIMEOUT_MINUTES", "").strip() or str(cls.timeout_minutes)
        try:
            timeout = int(timeout_text)
        except ValueError:
            raise ConfigError(f"TRIAGE_AML_TIMEOUT_MINUTES={timeout_text!r} is not a whole number of minutes") from None
        if timeout <= 0:
            raise ConfigError(f"TRIAGE_AML_TIMEOUT_MINUTES={timeout} must be positive")
        mode = env.get("TRIAGE_AML_INPUT_MODE", "").strip() or cls.input_mode
        if mode not in INPUT_MODES:
            raise ConfigError(f"TRIAGE_AML_INPUT_MODE={mode!r} is invalid: use one of {', '.join(INPUT_MODES)}")
        return cls(
            subscription_id=value["TRIAGE_AML_SUBSCRIPTION_ID"],
            resource_group=value["TRIAGE_AML_RESOURCE_GROUP"],
            workspace=value["TRIAGE_AML_WORKSPACE"],
            compute=value["TRIAGE_AML_COMPUTE"],
            datastore=value["TRIAGE_AML_DATASTORE"],
            models_datastore=env.get("TRIAGE_AML_MODELS_DATASTORE", "").strip(),
            image=env.get("TRIAGE_AML_IMAGE", "").strip() or cls.image,
            experiment=env.get("TRIAGE_AML_EXPERIMENT", "").strip() or cls.experiment,
            timeout_minutes=timeout,
            input_mode=mode,
        )


@contextmanager
def _sdk() -> Iterator[None]:
    """Run azure-ai-ml code with its marshmallow-4 deprecation warnings ignored (see the module docstring).

    ``warnings.catch_warnings`` swaps the process-wide filter list, so the filter is in force only
    while SDK code runs; the warnings concern the SDK's pinned marshmallow 3, not this code.
    """
    with warnings.catch_warnings():
        try:
            from marshmallow.warnings import Marshmallow4Warning as category
        except ImportError:  # a marshmallow without the 4.0 deprecation warnings: nothing to filter
            yield
            return
        warnings.filterwarnings("ignore", category=category, module=r"(marshmallow|azure\.ai\.ml)\.")
        yield


def _check_request(request: JobRequest) -> None:
    """Refuse names that would escape their datastore folder, and Azure ML expressions in arguments."""
    parts = request.repo.split("/")
    if len(parts) != 2 or not all(_SEGMENT.match(p) and p not in (".", "..") for p in parts):
        raise InputError(f"repository {request.repo!r} is not of the form owner/name")
    for what, version in (("dataset version", request.dataset_version), ("model version", request.model_version)):
        if not _SEGMENT.match(version) or version in (".", ".."):
            raise InputError(f"{what} {version!r} may hold only letters, digits, '.', '_' and '-'")
    for argument in request.arguments:
        if "${{" in argument:  # Azure ML substitutes these before the shell sees the command
            raise InputError(f"training argument {argument!r} contains an Azure ML expression '${{{{'")


def job_name(request: JobRequest) -> str:
    """The Azure ML job name of a request: deterministic, so a retried submission finds its job.

    Azure ML job names hold lower-case letters, digits, '_' and '-' (the SDK lower-cases any
    other name, logging a warning); a hash of the exact repository and version keeps names of
    e.g. ``A.b/c`` and ``a_b/c`` apart.
    """
    digest = hashlib.sha256(f"{request.repo}\n{request.model_version}".encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9_-]", "_", f"{request.repo}-{request.model_version}".lower())[:200]
    return f"triage-{slug}-{digest}"


def job_command(request: JobRequest) -> str:
    """The job's shell command; every argument the request supplies is shell-quoted."""
    words = [shlex.quote(request.model_version), *map(shlex.quote, request.arguments)]
    return ("python -m training_job.train --data ${{inputs.data}} --output ${{outputs.model}} --version "
            + " ".join(words) + " --device cuda --no-progress")


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
        environment = Environment(image=settings.image, conda_file=str(conda_file),
                                  description="issue-triage training_job (training_job/environment/conda.yml)")
        data_path = f"datasets/{request.repo}/{request.dataset_version}"
        model_path = f"models/{request.repo}/{request.model_version}/"
        input_mode = InputOutputModes.DOWNLOAD if settings.input_mode == "download" else InputOutputModes.RO_MOUNT
        return command(
            name=job_name(request),
            display_name=f"train {request.repo} {request.model_version}",
            description=f"Fine-tune the issue labeler of {request.repo} on dataset {request.dataset_version}.",
            experiment_name=settings.experiment,
            tags={"app": "issue-triage", "repo": request.repo, "dataset_version": request.dataset_version,
                  "model_version": request.model_version},
            code=str(code_dir),
            command=job_command(request),
            inputs={"data": Input(type=AssetTypes.URI_FOLDER, path=datastore_uri(settings.datastore, data_path),
                                  mode=input_mode)},
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
    "completed": ("completed", "the model was written"),
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

    def __init__(self, ml_client: MLClient | Any, settings: AzureMLSettings, code_dir: Path = REPO_ROOT) -> None:
        self.ml_client = ml_client
        self.settings = settings
        self.code_dir = Path(code_dir)

    @classmethod
    def from_settings(cls, settings: AzureMLSettings, code_dir: Path = REPO_ROOT,
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
        return cls(client, settings, code_dir)

    def submit(self, request: JobRequest) -> str:
        """Create the job (uploading the code snapshot if it changed) and return its name.

        Submitting the same request twice (an activity retried after the job was created)
        returns the existing job instead of starting a second one.
        """
        job = build_job(request, self.settings, self.code_dir)
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
