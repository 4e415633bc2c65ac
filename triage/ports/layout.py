"""Where things live in the blob store: every blob name is built, and parsed, here.

::

    issues/{owner}/{name}/snapshots/{stamp}-{hash}.jsonl.gz   issue snapshots
    datasets/{owner}/{name}/{version}/{split}.jsonl           dataset splits, manifest.json last
    datasets/{owner}/{name}/frozen-test.json                  the repository's frozen test issues
    datasets/{owner}/{name}/latest.json                       the latest dataset version
    models/{owner}/{name}/{version}/...                       model files, manifest.json last
    models/{owner}/{name}/current.json                        the current-model pointer
    runs/{owner}/{name}/{version}/training-args.json          a training run's arguments

All of it sits in the blob container :data:`CONTAINER`; the Function app's blob trigger watches
:data:`MODEL_MANIFEST_TRIGGER`.
"""

from __future__ import annotations

import re

from triage.domain.errors import InputError

CONTAINER = "triage"  # the blob container (and the Cosmos DB database) of the app
DATABASE = "triage"
MODEL_MANIFEST_TRIGGER = CONTAINER + "/models/{owner}/{name}/{version}/manifest.json"
_MODEL_MANIFEST = re.compile(r"^(?:[^/]+/)?models/([^/]+/[^/]+)/([^/]+)/manifest\.json$")


def snapshots_prefix(repo: str) -> str:
    """The folder of ``repo``'s issue snapshots."""
    return f"issues/{repo}/snapshots/"


def snapshot_name(repo: str, stamp: str, digest: str) -> str:
    """A snapshot of ``repo``'s issues taken at ``stamp`` with content hash ``digest``."""
    return f"{snapshots_prefix(repo)}{stamp}-{digest}.jsonl.gz"


def dataset_prefix(repo: str, version: str | None = None) -> str:
    """The folder of ``repo``'s datasets, or of one dataset version."""
    return f"datasets/{repo}" + (f"/{version}" if version else "")


def frozen_test_name(repo: str) -> str:
    """The blob naming ``repo``'s frozen test issues."""
    return f"{dataset_prefix(repo)}/frozen-test.json"


def latest_dataset_name(repo: str) -> str:
    """The blob naming ``repo``'s latest dataset version."""
    return f"{dataset_prefix(repo)}/latest.json"


def model_prefix(repo: str, version: str) -> str:
    """The folder of one model version."""
    return f"models/{repo}/{version}"


def models_prefix(repo: str) -> str:
    """The folder of all of ``repo``'s models."""
    return f"models/{repo}/"


def pointer_name(repo: str) -> str:
    """The repository's current-model pointer."""
    return f"models/{repo}/current.json"


def repo_of_pointer(name: str) -> str | None:
    """The repository of a current-model pointer's name, or None if ``name`` is not one."""
    if name.startswith("models/") and name.endswith("/current.json"):
        return name[len("models/"):-len("/current.json")]
    return None


def run_args_name(repo: str, version: str) -> str:
    """The training arguments of the run that produces model ``version`` (read by the Azure ML job)."""
    return f"runs/{repo}/{version}/training-args.json"


def parse_model_manifest(name: str) -> tuple[str, str]:
    """(repo, version) from ``[container/]models/{owner}/{name}/{version}/manifest.json``."""
    match = _MODEL_MANIFEST.match(name)
    if not match:
        raise InputError(f"{name!r} is not a model manifest (models/owner/name/version/manifest.json)")
    return match.group(1), match.group(2)
