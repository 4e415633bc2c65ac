"""The typed records the product stores, one serialisation for each, and the containers they live in.

Every record is a frozen dataclass stored as one JSON document in a document-store container
(partitioned by ``repo``, addressed by ``id``): :meth:`Record.to_doc` writes it and
:meth:`Record.from_doc` reads it back, ignoring fields it does not know (documents written by
older versions keep working). Run states have one vocabulary, :data:`RUN_STATES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal, TypeVar

# Document-store containers (Cosmos DB containers, or SQLite rows by container name).
ISSUES = "issues"
PREDICTIONS = "predictions"
FEEDBACK = "feedback"
LOCKS = "locks"
RUNS = "runs"
MODELS = "models"
TUNING = "tuning"
CURSORS = "cursors"
DELIVERIES = "deliveries"
LABELS = "labels"
POISON = "poison"
INSTALLATIONS = "installations"  # the GitHub App's installations and the repositories each holds
CONTAINERS = (ISSUES, PREDICTIONS, FEEDBACK, LOCKS, RUNS, MODELS, TUNING, CURSORS, DELIVERIES, LABELS, POISON,
              INSTALLATIONS)

RunState = Literal["queued", "running", "succeeded", "failed", "canceled"]
RUN_STATES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "canceled")
TERMINAL_STATES = frozenset({"succeeded", "failed", "canceled"})
Verdict = Literal["confirmed", "corrected", "missed", "unrelated"]
JUDGED = ("confirmed", "corrected", "missed")

R = TypeVar("R", bound="Record")


def now_iso(precision: str = "seconds") -> str:
    """The current UTC time as ISO 8601 (``seconds`` or ``microseconds``)."""
    return datetime.now(timezone.utc).isoformat(timespec=precision)


@dataclass(frozen=True)
class Record:
    """Base of the stored records: ``id`` and ``repo`` address the document."""

    container: ClassVar[str] = ""

    def to_doc(self) -> dict[str, Any]:
        """The stored JSON document."""
        return asdict(self)

    @classmethod
    def from_doc(cls: type[R], doc: Mapping[str, Any]) -> R:
        """The record of a stored document (unknown fields are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in names})


@dataclass(frozen=True)
class Run(Record):
    """One training run, whatever started it; ``id`` is the model version it produces."""

    container: ClassVar[str] = RUNS
    id: str
    repo: str
    dataset_version: str
    state: str = "running"
    backend: str = ""
    job_id: str | None = None
    reason: str | None = None
    started_at: str = field(default_factory=now_iso)
    ended_at: str | None = None
    detail: str = ""
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.state not in RUN_STATES:
            raise ValueError(f"run state {self.state!r} is not one of {', '.join(RUN_STATES)}")

    @property
    def model_version(self) -> str:
        """The model version this run produces."""
        return self.id


@dataclass(frozen=True)
class Prediction(Record):
    """The labeler's decision for one issue with one model version (``id`` = ``{number}:{model_version}``).

    ``add`` and ``top`` hold ``{"label", "score"}`` items; ``applied`` is true when the labels were
    written to GitHub (not in dry run); ``single_label`` and ``exclusive`` keep the policy's
    exclusivity so that feedback can tell a correction from a miss.
    """

    container: ClassVar[str] = PREDICTIONS
    id: str
    repo: str
    number: int
    model_version: str | None
    add: list[dict[str, Any]] = field(default_factory=list)
    top: list[dict[str, Any]] = field(default_factory=list)
    abstained: bool = True
    reasons: list[str] = field(default_factory=list)
    similar: list[dict[str, Any]] = field(default_factory=list)  # {"label", "number", "title"}: past issues like it
    dry_run: bool = True
    applied: bool = False
    single_label: bool = True
    exclusive: list[str] = field(default_factory=list)
    decided_at: str = field(default_factory=now_iso)
    kind: str = "model"  # "model" (scored) or a non-decision: "no-model", "not-configured", "closed", "config-error"...


@dataclass(frozen=True)
class Feedback(Record):
    """A human label change judged against the labeler's prediction (``id``: the delivery or review id)."""

    container: ClassVar[str] = FEEDBACK
    id: str
    repo: str
    number: int
    label: str
    action: str  # "labeled" or "unlabeled"
    actor: str
    at: str
    verdict: str
    judged_label: str | None = None
    score: float | None = None
    source: str = "github"  # or "review"
    model_version: str | None = None
    recorded_at: str = field(default_factory=lambda: now_iso("microseconds"))


def arrival(record: Mapping[str, Any]) -> str:
    """When a feedback document arrived (its event time for records older than ``recorded_at``): the order in
    which a human's changes of mind are applied."""
    return str(record.get("recorded_at") or record.get("at", ""))


@dataclass(frozen=True)
class ModelRecord(Record):
    """A trained model version and what the promotion gate decided about it."""

    container: ClassVar[str] = MODELS
    id: str
    repo: str
    dataset_version: str
    status: str = "candidate"  # "candidate", "promoted" or "rejected"
    created_at: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    champion: str | None = None
    decided_at: str | None = None
    gate_scores: dict[str, Any] = field(default_factory=dict)
    recent_scores: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Lock(Record):
    """The last human change of one label on one issue (``id`` = ``{number}:{label}``)."""

    container: ClassVar[str] = LOCKS
    id: str
    repo: str
    number: int
    label: str
    state: str  # "added" or "removed"
    by: str
    at: str


@dataclass(frozen=True)
class Delivery(Record):
    """A claim on a webhook delivery: ``id`` is the ``X-GitHub-Delivery`` or ``sha256:<body digest>`` (a
    suffix ``~n`` for a claim taken over from a crashed host); ``state`` goes from ``claimed`` to ``handled``
    or ``released``. The same container holds the claims on prediction comments (``comment:<number>``)."""

    container: ClassVar[str] = DELIVERIES
    id: str
    repo: str
    event: str
    action: str | None = None
    status: int = 200
    digest: str = ""
    key: str = ""
    state: str = "handled"
    delivery: str = ""
    message: str = ""
    at: str = field(default_factory=now_iso)


@dataclass(frozen=True)
class LabelRecord(Record):
    """One of the repository's labels as the ``label`` webhook events describe it (``id``: the name)."""

    container: ClassVar[str] = LABELS
    id: str
    repo: str
    name: str
    deleted: bool = False
    renamed_to: str | None = None
    at: str = field(default_factory=now_iso)


@dataclass(frozen=True)
class PoisonRecord(Record):
    """A label request that failed every retry."""

    container: ClassVar[str] = POISON
    id: str
    repo: str
    message: Any
    at: str = field(default_factory=now_iso)
