"""A repository's own config file, as the labeler reads it: found, validated, and its errors made visible.

An invalid file never poisons a label request: the batch records the error (shown by ``/api/status``
and the dashboard, and sent as a ``RepoConfigInvalid`` telemetry event) and labels nothing until the
file is fixed. A copy of what the tuner and the retrain triggers need is kept (see
:func:`triage.learning.tuning.remember_config`).
"""

from __future__ import annotations

from typing import Any

from triage.app import telemetry
from triage.app.settings import Settings
from triage.domain.errors import ConfigError
from triage.domain.repo_config import CONFIG_PATH, LEGACY_CONFIG_PATH, RepoConfig, is_own_config, parse_repo_config
from triage.ports.github import GitHubApi
from triage.ports.records import TUNING, now_iso
from triage.ports.stores import DocumentStore

ERROR_ID = "repo-config-error"


def load_repo_config(api: GitHubApi, repo: str) -> RepoConfig:
    """The repository's config: ``.github/issue-triage.yml``, else the legacy file when it is ours, else defaults.

    Raises :class:`ConfigError` naming the file, the key and the fix when the file is invalid.
    """
    text = api.get_file(repo, CONFIG_PATH)
    if text is not None:
        return parse_repo_config(text, source=f"{repo}:{CONFIG_PATH}")
    legacy = api.get_file(repo, LEGACY_CONFIG_PATH)
    if legacy is not None and is_own_config(legacy):
        return parse_repo_config(legacy, source=f"{repo}:{LEGACY_CONFIG_PATH}")
    return RepoConfig()


def record_config_error(docs: DocumentStore, repo: str, error: ConfigError | None) -> None:
    """Keep (or clear) the repository config's error for the status page and the dashboard."""
    known = docs.get(TUNING, repo, ERROR_ID)
    if error is None:
        if known and known.get("error"):
            docs.upsert(TUNING, {**known, "error": None, "fixed_at": now_iso()})
        return
    if not known or known.get("error") != str(error):
        docs.upsert(TUNING, {"id": ERROR_ID, "repo": repo, "kind": "config-error", "error": str(error),
                             "at": now_iso()})
        telemetry.event("RepoConfigInvalid", repo=repo, error=str(error)[:500])


def config_error(docs: DocumentStore, repo: str) -> dict[str, Any] | None:
    """The repository config's current error (``error``, ``at``), or None when the file is valid."""
    known = docs.get(TUNING, repo, ERROR_ID)
    return {"error": known["error"], "at": known.get("at")} if known and known.get("error") else None


def file_config(settings: Settings) -> RepoConfig:
    """The repository config for issues read from a file: the app's most labels and deny list, in dry run."""
    return RepoConfig(max_labels=settings.max_labels, exclude=settings.deny_labels)

