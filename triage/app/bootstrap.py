"""Wiring: one place that builds the real parts from the settings tree, or takes the fakes a test hands in.

With no Azure setting everything is embedded (files, SQLite, a local training process). Azure
parts are chosen per setting, with identity-based connections preferred (see
:class:`~triage.app.settings.StorageSettings`); ``TRIAGE_AML_WORKSPACE`` trains on Azure ML.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from triage.adapters.local.queue import SqliteQueue
from triage.adapters.local.stores import LocalBlobStore, SqliteDocumentStore
from triage.adapters.local.training import LocalProcessBackend
from triage.app.settings import AppSettings, Config, Settings
from triage.ports.github import GitHubApi
from triage.ports.layout import CONTAINER, DATABASE
from triage.ports.queues import LABEL_REQUESTS, MessageQueue
from triage.ports.stores import BlobStore, DocumentStore
from triage.ports.training import TrainingBackend

DEFAULT_BOT_LOGIN = next(f.default for f in dataclasses.fields(Settings) if f.name == "bot_login")


@dataclass
class Services:
    """The parts every use case needs, built once per process, and the settings they were built from."""

    config: Config
    blobs: BlobStore
    docs: DocumentStore
    queue: MessageQueue
    trainer: TrainingBackend
    github: Callable[[], GitHubApi]

    @property
    def settings(self) -> Settings:
        """The pipeline's settings."""
        return self.config.settings

    @property
    def app(self) -> AppSettings:
        """The Function app's settings."""
        return self.config.app


def build_services(config: Config | Mapping[str, str] | None = None, *, blobs: BlobStore | None = None,
                   docs: DocumentStore | None = None, queue: MessageQueue | None = None,
                   trainer: TrainingBackend | None = None,
                   github: Callable[[], GitHubApi] | None = None) -> Services:
    """The services ``config`` (or an environment mapping, default ``os.environ``) describes; parts given win."""
    if not isinstance(config, Config):
        config = Config.from_env(config)
    if blobs is None or queue is None:
        real_blobs, real_queue = _storage(config)
        blobs, queue = blobs or real_blobs, queue or real_queue
    docs = docs or _documents(config)
    services = Services(config=config, blobs=blobs, docs=docs, queue=queue,
                        trainer=trainer or _trainer(config, blobs, docs), github=github or (lambda: _github(config)))
    if github is None and config.github.is_app:
        services.github = _app_client(services)
    return services


def _storage(config: Config) -> tuple[BlobStore, MessageQueue]:
    storage, home = config.storage, config.settings.home
    if storage.embedded:
        return LocalBlobStore(config.settings.blob_root), SqliteQueue(home / "queues.db")
    from triage.adapters.azure.blobs import AzureBlobStore
    from triage.adapters.azure.queues import AzureQueue

    if storage.connection:
        return (AzureBlobStore.from_connection_string(storage.connection, CONTAINER),
                AzureQueue.from_connection_string(storage.connection, LABEL_REQUESTS))
    return (AzureBlobStore.from_service_uri(storage.blob_service_uri, CONTAINER),
            AzureQueue.from_service_uri(storage.queue_service_uri, LABEL_REQUESTS))


def _documents(config: Config) -> DocumentStore:
    storage = config.storage
    if not (storage.cosmos_connection or storage.cosmos_endpoint):
        return SqliteDocumentStore(config.settings.database)
    from triage.adapters.azure.cosmos import CosmosDocumentStore

    discovery = storage.cosmos_endpoint_discovery
    if storage.cosmos_connection:
        return CosmosDocumentStore.from_connection_string(storage.cosmos_connection, DATABASE,
                                                          enable_endpoint_discovery=discovery)
    return CosmosDocumentStore.from_endpoint(storage.cosmos_endpoint, DATABASE, enable_endpoint_discovery=discovery)


def _trainer(config: Config, blobs: BlobStore, docs: DocumentStore) -> TrainingBackend:
    if config.azure_ml is None:
        return LocalProcessBackend(blobs, docs, config.settings.home / "jobs")
    from triage.adapters.azure.ml import AzureMLBackend

    return AzureMLBackend.from_settings(config.azure_ml, blobs)


def _github(config: Config) -> GitHubApi:
    from triage.adapters.github.client import GitHubClient

    return GitHubClient(config.github)


def _app_client(s: Services) -> Callable[[], GitHubApi]:
    """A GitHub App's client, made on first use and kept: one per process, so each installation's token is fetched
    once and reused until it nears expiry. Each repository's installation comes from the installation registry
    (else GitHub, then recorded); on first use the bot's login is read from ``GET /app`` (the App's slug and
    ``[bot]``) unless ``TRIAGE_BOT_LOGIN`` names another login."""
    from triage.adapters.github.installations import AppClient
    from triage.app import installations

    made: list[AppClient] = []

    def client() -> GitHubApi:
        if made:
            return made[0]
        api = AppClient(s.config.github, lookup=lambda repo: installations.installation_of(s.docs, repo),
                        remember=lambda repo, ident, account: installations.remember(s.docs, repo, ident, account))
        if s.settings.bot_login == DEFAULT_BOT_LOGIN:
            s.config = dataclasses.replace(s.config, settings=dataclasses.replace(s.settings,
                                                                                  bot_login=api.bot_login()))
        made.append(api)
        return api

    return client
