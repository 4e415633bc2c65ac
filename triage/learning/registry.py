"""Where models live: ``models/{repo}/{version}/`` in the blob store, plus the current-model pointer."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from triage.domain.errors import ConcurrencyError, NotFoundError, TrainingError
from triage.ml.model import MODEL_FILES
from triage.ports.layout import model_prefix, pointer_name
from triage.ports.records import MODELS, ModelRecord
from triage.ports.stores import BlobStore, DocumentStore


def upload_model(blobs: BlobStore, docs: DocumentStore, folder: Path) -> dict[str, Any]:
    """Copy a model folder written by the training job into the store; manifest.json goes last.

    The manifest's arrival is the "model created" event, so readers never see half a model.
    """
    manifest_path = folder / "manifest.json"
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise TrainingError(f"model folder {folder} is incomplete: missing {', '.join(missing)}")
    manifest = json.loads(manifest_path.read_text())
    prefix = model_prefix(manifest["repo"], manifest["version"])
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path != manifest_path:
            blobs.put(f"{prefix}/{path.relative_to(folder).as_posix()}", path.read_bytes())
    blobs.put(f"{prefix}/manifest.json", manifest_path.read_bytes())
    docs.upsert(MODELS, ModelRecord(
        id=manifest["version"], repo=manifest["repo"], dataset_version=manifest["dataset_version"],
        created_at=manifest["created_at"],
        metrics={split: {k: m["raw"][k] for k in ("accuracy", "macro_f1", "micro_f1")}
                 for split, m in manifest["metrics"].items()},
    ).to_doc())
    return manifest


def read_pointer(blobs: BlobStore, repo: str) -> tuple[dict[str, Any] | None, str | None]:
    """The current-model pointer and its ETag, or (None, None) before the first promotion."""
    try:
        data, etag = blobs.get_with_etag(pointer_name(repo))
    except NotFoundError:
        return None, None
    return json.loads(data), etag


def current_version(blobs: BlobStore, repo: str) -> str:
    """The promoted model version of ``repo``; raises :class:`NotFoundError` if none."""
    pointer, _ = read_pointer(blobs, repo)
    if pointer is None:
        raise NotFoundError(f"no model has been promoted for {repo}; run `triage train` and `triage promote` first")
    return str(pointer["version"])


def write_pointer(blobs: BlobStore, repo: str, version: str, previous: str | None, etag: str | None, reason: str) -> None:
    """Atomically move the pointer to ``version``, only if it still has ``etag`` (compare-and-swap)."""
    body = json.dumps({
        "version": version, "previous": previous, "reason": reason,
        "promoted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }).encode()
    try:
        if etag is None:
            blobs.put(pointer_name(repo), body, if_none_match=True)
        else:
            blobs.put(pointer_name(repo), body, if_match=etag)
    except ConcurrencyError as exc:
        raise ConcurrencyError(f"another promotion for {repo} happened meanwhile; evaluate again ({exc})") from exc
