"""A repository's label names over time: renames and deletions, so that no rule is defeated by a new name.

GitHub keeps a label's identity across a rename: the issues that carried ``area-Old`` carry ``area-A``
after it is renamed, and events recorded before the rename still say ``area-Old``. The product sees
names, so every name it compares (model labels, locks, label events, predictions, feedback) goes
through :meth:`LabelNames.current` first, and a deleted label is never applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LabelNames:
    """Renames (old → new, possibly chained) and deleted current names of one repository."""

    renames: Mapping[str, str] = field(default_factory=dict)
    deleted: frozenset[str] = frozenset()

    def current(self, label: str) -> str:
        """The name ``label`` has now (itself when never renamed); a rename cycle stops at the last new name."""
        seen = {label}
        while label in self.renames and self.renames[label] not in seen:
            label = self.renames[label]
            seen.add(label)
        return label

    def usable(self, label: str) -> bool:
        """False for a label whose current name was deleted: it must never be applied."""
        return self.current(label) not in self.deleted

    def all_current(self, labels: Iterable[str]) -> frozenset[str]:
        """The current names of ``labels``."""
        return frozenset(self.current(label) for label in labels)


NO_RENAMES = LabelNames()

