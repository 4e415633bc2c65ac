"""The settings tree: every value the product reads from the environment, typed, documented and checked once.

:class:`Config` gathers the parts; each part is a frozen dataclass whose fields name their
variable (see :mod:`triage.domain.env`, the one reader). Every default works on a laptop with no
cloud account. ``docs/configuration.md`` is generated from these classes (:func:`reference`), and a
test keeps it in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from triage.adapters.azure.ml_settings import AzureMLSettings
from triage.adapters.github.settings import GitHubSettings
from triage.domain import env as envreader
from triage.domain.env import KEY_VAULT_REFERENCE, between, setting
from triage.domain.errors import ConfigError, InputError
from triage.domain.issues import check_repo
from triage.domain.schedule import Cron
from triage.ports.training import TrainingArguments


def usable_folder(path: Path) -> bool:
    """True if ``path`` is a folder or can become one: its nearest existing ancestor is a folder."""
    try:
        for candidate in (path, *path.parents):
            if candidate.exists():
                return candidate.is_dir()
    except (OSError, ValueError):  # a name too long for the file system
        return False
    return True


FOLDER = envreader.Rule(usable_folder, "a folder, or a path where one can be made (not a file, nor inside one)")


def _fraction(high: float = 1.0, *, high_open: bool = True) -> envreader.Rule:
    return between(0, high, low_open=True, high_open=high_open)


@dataclass(frozen=True)
class Settings:
    """The pipeline's settings: data, labeling policy, the learning loop; ``training`` holds the job's arguments."""

    home: Path = setting("TRIAGE_HOME", Path(".triage"), "Folder of the embedded stores (`blobs/`, `triage.db`, "
                         "`queues.db`).", FOLDER)
    min_examples: int = setting("TRIAGE_MIN_EXAMPLES", 5, "Default allow-list: labels with at least this many "
                                "train + validation issues.", between(1, 1_000_000))
    allow_labels: tuple[str, ...] = setting("TRIAGE_ALLOW_LABELS", (), "Comma-separated labels to learn; empty: by "
                                            "`TRIAGE_MIN_EXAMPLES`.")
    deny_labels: tuple[str, ...] = setting("TRIAGE_DENY_LABELS", (), "Comma-separated labels never learned nor "
                                           "applied.")
    prior_below: int = setting("TRIAGE_PRIOR_BELOW", 80, "With prior repositories named (`training.prior`), a "
                               "repository with fewer labeled issues than this gets the cold-start model built on "
                               "theirs instead of a classifier fine-tuned on its own alone.", between(0, 1_000_000))
    test_fraction: float = setting("TRIAGE_TEST_FRACTION", 0.15, "Newest share of issues frozen as the test set.",
                                   _fraction(0.5))
    validation_fraction: float = setting("TRIAGE_VALIDATION_FRACTION", 0.15, "Share of older issues, stratified by "
                                         "label, used to pick thresholds.", _fraction(0.5))
    max_labels: int = setting("TRIAGE_MAX_LABELS", 1, "Most labels added to one issue (multi-label models).",
                              between(1, 100))
    dry_run: bool = setting("TRIAGE_DRY_RUN", True, "Log GitHub writes instead of making them (the repository "
                            "config's `dry_run` must also be false for labels to be written).")
    bot_login: str = setting("TRIAGE_BOT_LOGIN", "issue-triage[bot]", "The product's own GitHub login; its labels "
                             "are never training data. With a GitHub App left at this default, the App's slug from "
                             "`GET /app` and `[bot]`.")
    min_improvement: float = setting("TRIAGE_MIN_IMPROVEMENT", 0.0, "Macro-F1 a candidate must gain over the current "
                                     "model to be promoted.", between(-1, 1))
    recent_fraction: float = setting("TRIAGE_RECENT_FRACTION", 0.2, "Share of the issues newer than the frozen test "
                                     "set held out as the `recent` split of the promotion gate.",
                                     between(0, 1, high_open=True))
    live_window_days: int = setting("TRIAGE_LIVE_WINDOW_DAYS", 30, "Live precision and coverage look at the "
                                    "decisions of the last this-many days...", between(1, 3650))
    live_window_decisions: int = setting("TRIAGE_LIVE_WINDOW_DECISIONS", 500, "... and at most this many of them.",
                                         between(1, 1_000_000))
    auto_tune: bool = setting("TRIAGE_AUTO_TUNE", False, "Raise a label's threshold (or pause it) when its live "
                              "precision stays below the target.")
    auto_tune_min_decisions: int = setting("TRIAGE_AUTO_TUNE_MIN_DECISIONS", 20, "Judged decisions needed before "
                                           "(and between) threshold changes.", between(1, 1_000_000))
    auto_tune_step: float = setting("TRIAGE_AUTO_TUNE_STEP", 0.05, "How far one change raises a threshold "
                                    "(thresholds never exceed 0.99).", _fraction(0.5, high_open=False))
    training: TrainingArguments = TrainingArguments()

    def __post_init__(self) -> None:
        envreader.check_all(self)
        overlap = set(self.allow_labels) & set(self.deny_labels)
        if overlap:
            raise ConfigError(f"labels {sorted(overlap)} are in both TRIAGE_ALLOW_LABELS and TRIAGE_DENY_LABELS; "
                              "keep them in one")

    @property
    def target_precision(self) -> float:
        """The precision thresholds aim for (a training argument the labeler and the tuner share)."""
        return self.training.target_precision

    @property
    def seed(self) -> int:
        """The seed of dataset splits and training."""
        return self.training.seed

    @property
    def blob_root(self) -> Path:
        """Folder of the embedded blob store."""
        return self.home / "blobs"

    @property
    def database(self) -> Path:
        """File of the embedded document store."""
        return self.home / "triage.db"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read settings from ``env`` (default ``os.environ``); ``overrides`` (not None) win over the environment."""
        env = os.environ if env is None else env
        training_names = {f.name for f in fields(TrainingArguments)}
        training = envreader.read(TrainingArguments, env, **{k: v for k, v in overrides.items() if k in training_names})
        return envreader.read(cls, env, training=training,
                              **{k: v for k, v in overrides.items() if k not in training_names})


def _endpoint(text: str) -> str:
    """An Azure endpoint: empty (unset) or an ``https://`` (``http://`` for a local emulator) URL with a host."""
    url = text.strip()
    try:
        host = urlsplit(url).hostname
    except ValueError:  # an invalid IPv6 literal or port
        host = None
    if url and not (url.startswith(("https://", "http://")) and host):
        raise ValueError("expected an https:// endpoint URL such as https://ACCOUNT.blob.core.windows.net/")
    return url


def _repositories(text: str) -> tuple[str, ...]:
    try:
        return tuple(dict.fromkeys(check_repo(name) for name in envreader.parse_list(text)))
    except InputError as exc:
        raise ValueError(str(exc)) from None


def _ncrontab(text: str) -> str:
    Cron(text, host=True)
    return text.strip()


@dataclass(frozen=True)
class AppSettings:
    """The Function app's own settings: which repositories, the webhook secret, when to scrape and retrain."""

    repositories: tuple[str, ...] = setting("TRIAGE_REPOSITORIES", (), "Optional comma-separated `owner/name` "
                                            "list that restricts the repositories served (case does not matter, as on "
                                            "GitHub); empty: every repository the GitHub App is installed on.",
                                            parse=_repositories)
    webhook_secret: str = setting("TRIAGE_WEBHOOK_SECRET", "", "The GitHub App's webhook secret (a Key Vault "
                                  "reference in Azure); without it every delivery is refused.", secret=True,
                                  min_length=16)
    scrape_schedule: str = setting("TRIAGE_SCRAPE_SCHEDULE", "0 */15 * * * *", "NCRONTAB (6 fields, seconds first) "
                                   "of the scrape timer; a repository with its own `training.schedule` is also "
                                   "checked for training at each tick.", parse=_ncrontab)
    train_schedule: str = setting("TRIAGE_TRAIN_SCHEDULE", "0 0 3 * * 0", "NCRONTAB (6 fields) of the app-wide "
                                  "retraining timer.", parse=_ncrontab)
    retrain_after: int = setting("TRIAGE_RETRAIN_AFTER", 50, "Retrain after this many human label changes (a "
                                 "repository's `training.min_new_labels` wins).", between(1, 1_000_000))
    training_deadline_minutes: float = setting("TRIAGE_TRAINING_DEADLINE_MINUTES", 240.0, "Cancel a training job "
                                               "after this long.", between(1, 7 * 24 * 60))
    poll_seconds: float = setting("TRIAGE_TRAINING_POLL_SECONDS", 60.0, "Check a running training job this often.",
                                  between(5, 3600))
    relabel_batch: int = setting("TRIAGE_RELABEL_BATCH", 20, "Issues per relabel batch after a promotion.",
                                 between(1, 1000))
    label_delay_seconds: int = setting("TRIAGE_LABEL_DELAY_SECONDS", 0, "Humans first: a new or edited issue's "
                                       "label request waits this long on the queue (its visibility timeout); an "
                                       "issue a human labeled or assigned meanwhile is left to them.",
                                       between(0, 7 * 24 * 3600 - 1))

    def __post_init__(self) -> None:
        envreader.check_all(self)
        if self.poll_seconds > self.training_deadline_minutes * 60:
            raise ConfigError(f"TRIAGE_TRAINING_POLL_SECONDS={self.poll_seconds:g} is longer than "
                              f"TRIAGE_TRAINING_DEADLINE_MINUTES={self.training_deadline_minutes:g} minutes: a job "
                              "would never be checked before its deadline; poll more often or allow longer")


@dataclass(frozen=True)
class StorageSettings:
    """Where blobs, queues and documents live; all empty: the embedded stores under ``TRIAGE_HOME``.

    The names match the Functions bindings' ``connection`` settings, so one setting serves both.
    """

    connection: str = setting("TRIAGE_STORAGE", "", "Blob container `triage` and the `label-requests` queue: a "
                              "connection string (Azurite's, for example).", secret=True)
    blob_service_uri: str = setting("TRIAGE_STORAGE__blobServiceUri", "", "... or, in Azure, the blob endpoint "
                                    "reached with the managed identity.", parse=_endpoint)
    queue_service_uri: str = setting("TRIAGE_STORAGE__queueServiceUri", "", "The queue endpoint reached with the "
                                     "managed identity (with the blob endpoint).", parse=_endpoint)
    cosmos_connection: str = setting("TRIAGE_COSMOS", "", "Cosmos DB (database `triage`, containers partitioned by "
                                     "`/repo`): a connection string (the emulator's)...", secret=True)
    cosmos_endpoint: str = setting("TRIAGE_COSMOS__accountEndpoint", "", "... or the account endpoint reached with "
                                   "the managed identity.", parse=_endpoint)
    cosmos_endpoint_discovery: bool = setting("TRIAGE_COSMOS_ENDPOINT_DISCOVERY", True, "`false` for the emulator "
                                              "only (it advertises addresses it does not serve).")

    def __post_init__(self) -> None:
        if self.blob_service_uri and not self.queue_service_uri:
            raise ConfigError("TRIAGE_STORAGE__blobServiceUri is set but TRIAGE_STORAGE__queueServiceUri is not")

    @property
    def embedded(self) -> bool:
        """True when blobs and queues live on this machine."""
        return not (self.connection or self.blob_service_uri)


DASHBOARD_MODES = ("token", "easyauth")


@dataclass(frozen=True)
class DashboardSettings:
    """Who may use the dashboard (see ``docs/dashboard.md``)."""

    auth: str = setting("TRIAGE_DASHBOARD_AUTH", "token", "`token` (a login URL; local use) or `easyauth` (App "
                        "Service Authentication with Entra ID in front of the app).",
                        parse=lambda t: t.strip().lower())
    token: str = setting("TRIAGE_DASHBOARD_TOKEN", "", "The login token of `token` mode; unset on an embedded "
                         "install: generated once into `TRIAGE_HOME/dashboard-secrets.json`.", secret=True,
                         min_length=16)
    secret: str = setting("TRIAGE_DASHBOARD_SECRET", "", "Signs sessions and CSRF tokens (a Key Vault reference in "
                          "Azure; derived from the token when unset in `token` mode).", secret=True, min_length=16)
    maintainers: tuple[str, ...] = setting("TRIAGE_DASHBOARD_MAINTAINERS", (), "`easyauth` mode: comma-separated "
                                           "user principal names or Entra object ids allowed in.")
    platform_auth: bool = setting("WEBSITE_AUTH_ENABLED", False, "Set by App Service when App Service "
                                  "Authentication is on; `easyauth` trusts identity headers only then.")
    unresolved: tuple[str, ...] = ()  # secrets whose Key Vault reference App Service could not resolve

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DashboardSettings:
        """The dashboard settings; names of unresolved Key Vault references are kept to explain a 503."""
        unresolved = tuple(name for name in ("TRIAGE_DASHBOARD_SECRET", "TRIAGE_DASHBOARD_TOKEN")
                           if env.get(name, "").strip().startswith(KEY_VAULT_REFERENCE))
        return envreader.read(cls, env, unresolved=unresolved)


@dataclass(frozen=True)
class TelemetrySettings:
    """Where telemetry goes."""

    connection_string: str = setting("APPLICATIONINSIGHTS_CONNECTION_STRING", "", "Send traces, metrics and custom "
                                     "events to Application Insights.", secret=True)


@dataclass(frozen=True)
class Config:
    """Every setting of the product, read once per process."""

    settings: Settings = Settings()
    app: AppSettings = AppSettings()
    storage: StorageSettings = StorageSettings()
    dashboard: DashboardSettings = DashboardSettings()
    github: GitHubSettings = GitHubSettings()
    azure_ml: AzureMLSettings | None = None
    telemetry: TelemetrySettings = TelemetrySettings()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Read every part from ``env`` (default ``os.environ``); ``overrides`` apply to :class:`Settings`."""
        env = dict(os.environ if env is None else env)
        return cls(settings=Settings.from_env(env, **overrides), app=envreader.read(AppSettings, env),
                   storage=envreader.read(StorageSettings, env), dashboard=DashboardSettings.from_env(env),
                   github=GitHubSettings.from_env(env), azure_ml=AzureMLSettings.configured(env),
                   telemetry=envreader.read(TelemetrySettings, env))



def reference() -> str:
    """The configuration reference (Markdown) generated from the settings classes."""
    parts = [("The pipeline", (Settings,)), ("How models are trained", (TrainingArguments,)),
             ("The Function app", (AppSettings,)), ("Storage", (StorageSettings,)),
             ("The dashboard", (DashboardSettings,)), ("GitHub", (GitHubSettings,)),
             ("Azure ML training", (AzureMLSettings,)), ("Telemetry", (TelemetrySettings,))]
    return "\n".join(f"### {title}\n\n{envreader.reference(*classes)}" for title, classes in parts)


if __name__ == "__main__":
    print(reference(), end="")
