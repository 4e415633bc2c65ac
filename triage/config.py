"""Configuration: one typed, frozen object read from the environment.

Every setting has a default that works on a laptop with no cloud account. Values are
validated when read; a bad value raises :class:`ConfigError` naming the variable.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import ConfigError


def _labels(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("


def secret_setting(env: Mapping[str, str], name: str) -> str:
    """A secret from the environment; "" when unset or when App Service could not resolve its Key Vault
    reference (it then passes the reference text itself, which must never serve as a key)."""
    value = env.get(name, "")
    if value.strip().startswith(KEY_VAULT_REFERENCE):
        logging.getLogger(__name__).error(
            "%s is an unresolved Key Vault reference: check that the secret exists and that the app's identity "
            "has Key Vault Secrets User on the vault; treating it as unset", name)
        return ""
    return value


@dataclass(frozen=True)
class Settings:
    """All settings; the environment variable of each field is ``TRIAGE_`` + its upper-case name."""

    home: Path = Path(".triage")  # embedded stores: blobs/ and triage.db
    target_precision: float = 0.9  # per-label thresholds are chosen on validation data to reach this
    min_examples: int = 5  # default allow-list: labels with at least this many train + validation issues
    allow_labels: tuple[str, ...] = ()  # explicit allow-list (comma-separated); empty = by min_examples
    deny_labels: tuple[str, ...] = ()  # labels never learned nor applied
    test_fraction: float = 0.15  # newest share of issues frozen as the test set
    validation_fraction: float = 0.15  # share of the older issues used to pick thresholds
    max_labels: int = 1  # most labels the labeler adds to one issue
    dry_run: bool = True  # log GitHub writes instead of making them
    bot_login: str = "issue-triage[bot]"  # the product's own account: its labels are not training data
    base_model: str = ""  # Hugging Face name or folder; empty = the bundled all-MiniLM-L6-v2
    max_tokens: int = 128
    encoder_layers: int = 0  # keep only the base model's first N layers (0 = all): faster serving, lower quality
    epochs: float = 4.0
    batch_size: int = 16
    learning_rate: float = 1e-4
    seed: int = 42
    budget_minutes: float = 30.0  # the training job stops after this wall time
    min_improvement: float = 0.0  # candidate macro-F1 must beat the champion's by at least this
    recent_fraction: float = 0.2  # share of issues newer than the frozen test set held out for the promotion gate
    live_window_days: int = 30  # live precision and coverage look back this far
    live_window_decisions: int = 500  # ... and at most this many of the latest decisions
    auto_tune: bool = False  # raise a label's threshold (or pause it) when its live precision stays below target
    auto_tune_min_decisions: int = 20  # judged decisions needed before (and between) threshold changes
    auto_tune_step: float = 0.05  # how much one change raises a threshold; thresholds never exceed 0.99

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
        """Read settings from ``env`` (default ``os.environ``); ``overrides`` win over the environment."""
        env = os.environ if env is None else env
        parsers: dict[type | str, Callable[[str], Any]] = {
            "Path": Path, "float": float, "int": int, "bool": _bool, "str": str, "tuple[str, ...]": _labels,
        }
        values: dict[str, Any] = {}
        for f in fields(cls):
            var = "TRIAGE_" + f.name.upper()
            if var in env:
                try:
                    values[f.name] = parsers[str(f.type)](env[var])
                except ValueError as exc:
                    raise ConfigError(f"{var}={env[var]!r} is invalid: {exc}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise :class:`ConfigError` if a value is out of range."""
        checks = [
            (0.0 < self.target_precision < 1.0, "target_precision",
             "a number in (0, 1): thresholds need precision's confidence bound to reach it, which never reaches 1"),
            (self.min_examples >= 1, "min_examples", "at least 1"),
            (0.0 < self.test_fraction < 0.5, "test_fraction", "a number in (0, 0.5)"),
            (0.0 < self.validation_fraction < 0.5, "validation_fraction", "a number in (0, 0.5)"),
            (self.max_labels >= 1, "max_labels", "at least 1"),
            (16 <= self.max_tokens <= 512, "max_tokens", "between 16 and 512"),
            (self.encoder_layers >= 0, "encoder_layers", "0 (all layers) or more"),
            (self.epochs > 0, "epochs", "positive"),
            (self.batch_size >= 1, "batch_size", "at least 1"),
            (0 < self.learning_rate < 1, "learning_rate", "a number in (0, 1)"),
            (self.budget_minutes > 0, "budget_minutes", "positive"),
            (0.0 <= self.recent_fraction < 1.0, "recent_fraction", "a number in [0, 1)"),
            (self.live_window_days >= 1, "live_window_days", "at least 1"),
            (self.live_window_decisions >= 1, "live_window_decisions", "at least 1"),
            (self.auto_tune_min_decisions >= 1, "auto_tune_min_decisions", "at least 1"),
            (0.0 < self.auto_tune_step <= 0.5, "auto_tune_step", "a number in (0, 0.5]"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise ConfigError(f"TRIAGE_{name.upper()}={getattr(self, name)!r} is invalid: must be {expected}")
        overlap = set(self.allow_labels) & set(self.deny_labels)
        if overlap:
            raise ConfigError(f"labels {sorted(overlap)} are in both TRIAGE_ALLOW_LABELS and TRIAGE_DENY_LABELS; keep them in one")
