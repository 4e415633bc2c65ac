"""The training port: a backend starts ``training_job`` for a stored dataset and reports its state.

:class:`TrainingArguments` is how a model is trained: one typed class, read from the environment by
the app and handed to the job as a JSON file (:data:`ARGS_FILE`), so that defaults and range checks
exist once; ``python -m training_job.train --args FILE`` reads it back with the same checks.
:func:`job_command` is the one command line every backend runs.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

from triage.domain.env import between, check_all, check_text, setting
from triage.domain.errors import ConfigError
from triage.ports.records import TERMINAL_STATES

ARGS_FILE = "training-args.json"


@dataclass(frozen=True)
class TrainingArguments:
    """How a model is trained. Every field is documented, read from its ``TRIAGE_*`` variable and checked."""

    base_model: str = setting("TRIAGE_BASE_MODEL", "", "Hugging Face model name or local folder to fine-tune; "
                              "empty: the bundled all-MiniLM-L6-v2.")
    max_tokens: int = setting("TRIAGE_MAX_TOKENS", 128, "Tokens per issue; longer texts are cut (the title first).",
                              between(16, 512))
    encoder_layers: int = setting("TRIAGE_ENCODER_LAYERS", 0, "Keep only the base model's first N transformer layers "
                                  "(0: all); serving time falls in proportion, and so does quality.", between(0, 1000))
    epochs: float = setting("TRIAGE_EPOCHS", 4.0, "Passes over the training split (fractions allowed).",
                            between(0, 1000, low_open=True))
    batch_size: int = setting("TRIAGE_BATCH_SIZE", 16, "Examples per optimisation step.", between(1, 4096))
    learning_rate: float = setting("TRIAGE_LEARNING_RATE", 1e-4, "Peak learning rate of the encoder; the new head "
                                   "learns `head_lr_multiplier` times faster.", between(0, 1, low_open=True,
                                                                                         high_open=True))
    head_lr_multiplier: float = setting("TRIAGE_HEAD_LR_MULTIPLIER", 20.0, "How much faster the freshly initialised "
                                        "head learns than the pretrained encoder.", between(0, 1000, low_open=True))
    warmup_fraction: float = setting("TRIAGE_WARMUP_FRACTION", 0.1, "Share of steps with a linearly rising "
                                     "learning rate.", between(0, 1, high_open=True))
    weight_decay: float = setting("TRIAGE_WEIGHT_DECAY", 0.01, "AdamW weight decay.", between(0, 1))
    seed: int = setting("TRIAGE_SEED", 42, "Seed of splits and training; the same seed gives the same model on the "
                        "same device.", between(0, 2**32 - 1))
    distil_layers: int = setting("TRIAGE_DISTIL_LAYERS", 0, "Also distil the fine-tuned model into a student with "
                                 "this many layers, served only if it holds up on validation and test (0: off). "
                                 "The student also learns from the newest 5,000 issues no human labeled, which "
                                 "the dataset then keeps.",
                                 between(0, 1000))
    budget_minutes: float = setting("TRIAGE_BUDGET_MINUTES", 30.0, "Wall-clock budget of the training loop; "
                                    "training stops when it is spent.", between(0, 7 * 24 * 60, low_open=True))
    target_precision: float = setting("TRIAGE_TARGET_PRECISION", 0.9, "Precision the per-label thresholds aim for "
                                      "on validation data (below 1: its confidence bound never reaches 1).",
                                      between(0, 1, low_open=True, high_open=True))

    def __post_init__(self) -> None:
        check_all(self)

    def to_json(self) -> str:
        """The JSON file the training job reads."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TrainingArguments:
        """Arguments from a mapping; unknown keys and wrong types are refused with the key named."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"training arguments must be a JSON object, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"unknown training argument(s) {unknown}; known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            kind = type(known[name].default)
            ok = isinstance(value, kind) and not isinstance(value, bool) or (kind is float and isinstance(value, int)
                                                                               and not isinstance(value, bool))
            if not ok:
                raise ConfigError(f"training argument {name}={_shown(value)} must be a {kind.__name__}")
            if isinstance(value, str):
                check_text(f"training argument {name}", value)
            try:
                values[name] = kind(value)
            except OverflowError:  # an integer too large for a float
                raise ConfigError(f"training argument {name}={_shown(value)} is out of range") from None
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> TrainingArguments:
        """Inverse of :meth:`to_json`; anything but a flat JSON object of known arguments is a :class:`ConfigError`."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, over-long integers, deep nesting
            raise ConfigError(f"training arguments are not valid JSON: {str(exc)[:200]}") from None
        return cls.from_mapping(data)


def _shown(value: Any) -> str:
    """A value for an error message: scalars as written (cut to 80 characters), containers by their type."""
    if value is None or isinstance(value, (str, int, float)):
        text = repr(value) if not isinstance(value, int) or abs(value) < 10**80 else "a huge integer"
        return text[:80]
    return f"a {type(value).__name__}"


def job_command(data: str, output: str, version: str, args_file: str, *, python: str = "python",
                extra: tuple[str, ...] = ()) -> list[str]:
    """The training job's command line; the same for the local process and Azure ML."""
    return [python, "-m", "training_job.train", "--data", data, "--output", output, "--version", version,
            "--args", args_file, *extra]


def shell_command(words: list[str], keep_unquoted: tuple[str, ...] = ()) -> str:
    """``words`` as one shell command, each quoted except the Azure ML placeholders in ``keep_unquoted``."""
    return " ".join(word if word in keep_unquoted else shlex.quote(word) for word in words)


@dataclass(frozen=True)
class JobRequest:
    """One training run: which dataset, which model version to produce, and how to train."""

    repo: str
    dataset_version: str
    model_version: str
    arguments: TrainingArguments = TrainingArguments()


@dataclass(frozen=True)
class JobStatus:
    """A job's state, in the runs' vocabulary (:data:`~triage.ports.records.RUN_STATES`)."""

    state: str
    detail: str = ""

    @property
    def done(self) -> bool:
        """True once the job can no longer change."""
        return self.state in TERMINAL_STATES


class TrainingBackend(Protocol):
    """Starts, watches and cancels training jobs."""

    def submit(self, request: JobRequest) -> str:
        """Start a job; return its id."""
        ...

    def status(self, job_id: str) -> JobStatus:
        """The job's current state."""
        ...

    def cancel(self, job_id: str) -> None:
        """Ask the job to stop."""
        ...
