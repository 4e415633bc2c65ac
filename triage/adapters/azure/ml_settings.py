"""Where and how training jobs run on Azure ML: the ``TRIAGE_AML_*`` settings (no SDK import here)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from triage.domain import env as envreader
from triage.domain.env import one_of, setting
from triage.domain.errors import ConfigError

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



def _positive_minutes(text: str) -> int:
    from triage.domain.env import parse_int

    try:
        value = parse_int(text)
    except ValueError:
        raise ValueError("not a whole number of minutes") from None
    if value <= 0:
        raise ValueError("must be positive")
    return value


@dataclass(frozen=True)
class AzureMLSettings:
    """Where and how training jobs run on Azure ML (all required fields once ``TRIAGE_AML_WORKSPACE`` is set)."""

    subscription_id: str = setting("TRIAGE_AML_SUBSCRIPTION_ID", "", _REQUIRED["TRIAGE_AML_SUBSCRIPTION_ID"] + ".")
    resource_group: str = setting("TRIAGE_AML_RESOURCE_GROUP", "", _REQUIRED["TRIAGE_AML_RESOURCE_GROUP"] + ".")
    workspace: str = setting("TRIAGE_AML_WORKSPACE", "", _REQUIRED["TRIAGE_AML_WORKSPACE"] + "; set: train on "
                             "Azure ML instead of a local process.")
    compute: str = setting("TRIAGE_AML_COMPUTE", "", _REQUIRED["TRIAGE_AML_COMPUTE"] + ".")
    datastore: str = setting("TRIAGE_AML_DATASTORE", "", _REQUIRED["TRIAGE_AML_DATASTORE"] + ".")
    models_datastore: str = setting("TRIAGE_AML_MODELS_DATASTORE", "", "Datastore the job writes "
                                    "`models/{repo}/{version}/` to; empty: `TRIAGE_AML_DATASTORE`.")
    image: str = setting("TRIAGE_AML_IMAGE", DEFAULT_IMAGE, "Base Docker image of the training jobs; empty: the "
                         "default, Microsoft's public Azure ML CUDA image.", parse=lambda text: text.strip() or DEFAULT_IMAGE)
    build_image: bool = setting("TRIAGE_AML_BUILD_IMAGE", False, "`true`: Azure ML builds "
                                "`training_job/environment/conda.yml` into an image once (needs the workspace's "
                                "container registry, ~$5 a month); `false`: each job creates that conda environment "
                                "on the public base image when it starts (a few minutes; no registry).")
    experiment: str = setting("TRIAGE_AML_EXPERIMENT", "issue-triage-training", "Azure ML experiment of the jobs.")
    timeout_minutes: int = setting("TRIAGE_AML_TIMEOUT_MINUTES", 180, "Azure ML cancels a job that runs longer.",
                                   parse=_positive_minutes)
    input_mode: str = setting("TRIAGE_AML_INPUT_MODE", "download", "`download` (the dataset is copied to local disk "
                              "first; it is small) or `ro_mount`.", one_of(*INPUT_MODES))

    @property
    def output_datastore(self) -> str:
        """The datastore the model is written to."""
        return self.models_datastore or self.datastore

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AzureMLSettings:
        """Read ``TRIAGE_AML_*`` variables; raises :class:`ConfigError` naming every missing or invalid one."""
        env = os.environ if env is None else env
        missing = [name for name in _REQUIRED if not env.get(name, "").strip()]
        if missing:
            raise ConfigError("Azure ML training is not configured: "
                              + "; ".join(f"{name} is not set ({_REQUIRED[name]})" for name in missing))
        stripped = {k: v.strip() for k, v in env.items() if k.startswith("TRIAGE_AML_")}
        return envreader.read(cls, stripped)

    @classmethod
    def configured(cls, env: Mapping[str, str]) -> AzureMLSettings | None:
        """The settings when ``TRIAGE_AML_WORKSPACE`` is set (training on Azure ML), else None (a local process)."""
        return cls.from_env(env) if env.get("TRIAGE_AML_WORKSPACE", "").strip() else None
