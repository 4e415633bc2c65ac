"""A new model arrived: evaluate it against the champion and promote it or reject it."""

from __future__ import annotations

from typing import Any

from triage.app import telemetry
from triage.app.bootstrap import Services
from triage.learning.promotion import promote
from triage.ports.layout import parse_model_manifest
from triage.ports.records import MODELS


def on_model_created(s: Services, blob_name: str) -> dict[str, Any]:
    """Run the promotion gate for the model whose manifest is ``blob_name``."""
    repo, version = parse_model_manifest(blob_name)
    decided = s.docs.get(MODELS, repo, version) or {}
    if decided.get("status") in ("promoted", "rejected"):  # e.g. copied here when the repository was renamed
        return {"promoted": False, "reason": f"{version} was already {decided['status']}", "version": version,
                "repo": repo, "champion": decided.get("champion")}
    with telemetry.span("promotion", repo=repo, model=version):
        outcome = promote(s.blobs, s.docs, repo, version, s.settings.min_improvement)
    telemetry.event("ModelPromoted" if outcome["promoted"] else "ModelRejected", repo=repo, model=version,
                    champion=outcome.get("champion"), reason=outcome["reason"])
    return outcome | {"repo": repo}
