"""Wiring: one place that builds the real parts from configuration.

With no Azure setting everything is embedded (files, SQLite, a local training process).
Azure parts are chosen per setting, with identity-based connections preferred:

* ``TRIAGE_STORAGE`` (a connection string, e.g. Azurite's) or ``TRIAGE_STORAGE__blobServiceUri`` and
  ``TRIAGE_STORAGE__queueServiceUri`` (managed identity): blobs and the label-requests queue;
* ``TRIAGE_COSMOS`` (a connection string) or ``TRIAGE_COSMOS__accountEndpoint`` (managed identity): documents;
* ``TRIAGE_AML_WORKSPACE`` (with the other ``TRIAGE_AML_*`` settings): training on Azure ML.

The names match the Functions bindings' ``connection`` settings, so one setting serves both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Mapping

from .config import Settings, secret_setting
from .errors import ConfigError
from .github_api import GitHubApi
from .queues import LABEL_REQUESTS, MessageQueue, SqliteQueue
from .stores import BlobStore, DocumentStore, LocalBlobStore, SqliteDocumentStore
from .training import LocalProcessBackend, TrainingBackend

CONTAINER = "triage"
DATABASE = "triage"


@dataclass
class Services:
    """The parts every function needs, built once per process."""

    settings: Settings
    blobs: BlobStore
    docs: DocumentStore
    queue: MessageQueue
    trainer: TrainingBackend
    github: Callable[[], GitHubApi]
    repositories: tuple[str, ...] = ()
    webhook_secret: str = ""
    retrain_after: int = 50
    training_deadline_minutes: float = 240.0
    poll_seconds: float = 60.0
    relabel_batch: int = 20
    env: Mapping[str, str] = field(default_factory=dict)


def build_services(env: Mapping[str, str] | None = None) -> Services:
    """Build the services the environment describes."""
    env = dict(os.environ if env is None else env)
    settings = Settings.from_env(env)
    blobs, queue = _storage(env, settings)
    docs = _documents(env, settings)
    return Services(
        settings=settings, blobs=blobs, docs=docs, queue=queue, trainer=_trainer(env, settings, blobs, docs),
        github=lambda: _github(env),
        repositories=tuple(r.strip() for r in env.get("TRIAGE_REPOSITORIES", "").split(",") if r.strip()),
        webhook_secret=secret_setting(env, "TRIAGE_WEBHOOK_SECRET"),
        retrain_after=_number(env, "TRIAGE_RETRAIN_AFTER", 50, int),
        training_deadline_minutes=_number(env, "TRIAGE_TRAINING_DEADLINE_MINUTES", 240.0, float),
        poll_seconds=_number(env, "TRIAGE_TRAINING_POLL_SECONDS", 60.0, float),
        relabel_batch=_number(env, "TRIAGE_RELABEL_BATCH", 20, int),
        env=env,
    )


def _number(env: Mapping[str, str], name: str, default: float, kind: Callable[[str], float]) -> float:
    try:
        value = kind(env[name]) if env.get(name) else default
    except ValueError:
        raise ConfigError(f"{name}={env[name]!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{name}={value} must be positive")
    return value


def _storage(env: Mapping[str, str], settings: Settings) -> tuple[BlobStore, MessageQueue]:
    conn, blob_uri, queue_uri = (env.get("TRIAGE_STORAGE"), env.get("TRIAGE_STORAGE__blobServiceUri"),
                                 env.get("TRIAGE_STORAGE__queueServiceUri"))
    if not (conn or blob_uri):
        return LocalBlobStore(settings.blob_root), SqliteQueue(settings.home / "queues.db")
    from .azure_stores import AzureBlobStore, AzureQueue

    if conn:
        return (AzureBlobStore.from_connection_string(conn, CONTAINER),
                AzureQueue.from_connection_string(conn, LABEL_REQUESTS))
    if not queue_uri:
        raise ConfigError("TRIAGE_STORAGE__blobServiceUri is set but TRIAGE_STORAGE__queueServiceUri is not")
    return AzureBlobStore.from_service_uri(blob_uri, CONTAINER), AzureQueue.from_service_uri(queue_uri, LABEL_REQUESTS)


def _documents(env: Mapping[str, str], settings: Settings) -> DocumentStore:
    conn, endpoint = env.get("TRIAGE_COSMOS"), env.get("TRIAGE_COSMOS__accountEndpoint")
    if not (conn or endpoint):
        return SqliteDocumentStore(settings.database)
    from .azure_stores import CosmosDocumentStore

    # Emulators advertise addresses they do not serve: TRIAGE_COSMOS_ENDPOINT_DISCOVERY=false for them.
    discovery = env.get("TRIAGE_COSMOS_ENDPOINT_DISCOVERY", "true").lower() != "false"
    if conn:
        return CosmosDocumentStore.from_connection_string(conn, DATABASE, enable_endpoint_discovery=discovery)
    return CosmosDocumentStore.from_endpoint(str(endpoint), DATABASE, enable_endpoint_discovery=discovery)


def _trainer(env: Mapping[str, str], settings: Settings, blobs: BlobStore, docs: DocumentStore) -> TrainingBackend:
    if not env.get("TRIAGE_AML_WORKSPACE"):
        return LocalProcessBackend(blobs, docs, settings.home / "jobs")
    from .azure_ml import AzureMLBackend, AzureMLSettings

    return AzureMLBackend.from_settings(AzureMLSettings.from_env(env))


def _github(env: Mapping[str, str]) -> GitHubApi:
    from .github import GitHubClient, GitHubSettings

    return GitHubClient(GitHubSettings.from_env(env))
