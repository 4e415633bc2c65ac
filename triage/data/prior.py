"""Prior repositories: other repositories' labeled issues, for a repository too new to learn from its own.

A maintainer names them (the repository config's ``training.prior``, or ``triage dataset --prior``); their
issues must already be in the store. Only labels that match one of this repository's labels are kept:
the same name once the family prefix (``type:``, ``kind/``…), separators and case are set aside
(``kind/bug`` is ``Bug``), or a common synonym of the issue *types* every tracker has (``defect`` is a
``bug``, ``enhancement`` a ``feature request``). An issue with no matching label is left out. The rows go
to the dataset's ``prior`` split, which the training job learns from but never scores this repository on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from triage.domain.cleaning import issue_text, learn_boilerplate, lexical_text
from triage.domain.issues import Issue
from triage.domain.label_words import label_mapping

MAX_PRIOR_ROWS = 3000  # newest first, over all prior repositories: bounds the training job's extra work


def prior_rows(repositories: Mapping[str, Sequence[Issue]], own_labels: Sequence[str], bot_login: str | None = None,
               limit: int = MAX_PRIOR_ROWS) -> list[dict[str, Any]]:
    """The prior repositories' issues as training rows labeled with ``own_labels`` (newest ``limit``, oldest first).

    Each repository's text is cleaned with its own boilerplate (its issue templates), as its own dataset would
    be; only human labels count, pull requests and deleted issues are left out, and equal texts are kept once.
    """
    found: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for repo, issues in sorted(repositories.items()):
        live = [i for i in issues if not i.gone and not i.is_pull_request]
        mapping = label_mapping({label for issue in live for label in issue.human_labels(bot_login)}, own_labels)
        if not mapping:
            continue
        boilerplate = learn_boilerplate(issue.body for issue in live)
        for issue in live:
            labels = sorted({mapping[label] for label in issue.human_labels(bot_login) if label in mapping})
            text = issue_text(issue.title, issue.body, boilerplate) if labels else ""
            key = " ".join(text.casefold().split())
            if len(key) < 3 or key in seen:
                continue
            seen.add(key)
            found.append((issue.created_at or "", {
                "repo": repo, "number": issue.number, "text": text, "lexical": lexical_text(issue.title, issue.body),
                "labels": labels, "created_at": issue.created_at}))
    found.sort(key=lambda pair: (pair[0], pair[1]["repo"], pair[1]["number"]))
    return [row for _, row in found[-limit:]] if limit > 0 else []
