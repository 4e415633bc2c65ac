"""Label names as words, and when two repositories' labels mean the same thing.

``area-System.Net.Http`` is "System Net Http" to a sentence encoder; ``kind/bug`` in one repository is
``Bug`` in another, and ``defect`` there is a ``bug`` here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# "area-", "type:", "kind/" ...: the prefix names the label family, not the label
_PREFIX = re.compile(r"^(?:area|type|kind|topic|component|category)\s*[-:/]\s*", re.IGNORECASE)
_SEPARATORS = re.compile(r"[-_./:]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def label_words(name: str) -> str:
    """A label name as words: ``"area-System.Net.Http"`` → ``"System Net Http"``, ``"good_first-issue"`` →
    ``"good first issue"``; a name that is only a prefix keeps it."""
    stripped = _PREFIX.sub("", name.strip()) or name.strip()
    words = _SEPARATORS.sub(" ", _CAMEL.sub(" ", stripped))
    return " ".join(words.split()) or name.strip()


# Issue types under the names trackers give them; a label matches another in the same group.
_SYNONYMS: tuple[frozenset[str], ...] = (
    frozenset({"bug", "bugs", "defect", "bug report", "type bug"}),
    frozenset({"feature", "features", "enhancement", "enhancements", "feature request", "feature requests",
               "new feature", "improvement"}),
    frozenset({"question", "questions", "support", "usage", "help wanted question"}),
    frozenset({"documentation", "docs", "doc"}),
)


def label_key(name: str) -> str:
    """What two label names must share to match: the words of the name, lower case, or its synonym group."""
    words = label_words(name).casefold()
    return next((min(group) for group in _SYNONYMS if words in group), words)


def label_mapping(prior_labels: Iterable[str], own_labels: Sequence[str]) -> dict[str, str]:
    """Prior label → this repository's label, for the prior labels that match exactly one of ``own_labels``."""
    by_key: dict[str, list[str]] = {}
    for label in own_labels:
        by_key.setdefault(label_key(label), []).append(label)
    mapping = {}
    for label in prior_labels:
        matches = by_key.get(label_key(label), [])
        if len(matches) == 1:  # two own labels with one meaning ("bug", "type: bug"): ambiguous, left out
            mapping[label] = matches[0]
    return mapping


