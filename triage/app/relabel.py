"""The relabel fan-out after a promotion: the open issues no human has labeled yet, labeled in chunks.

Each chunk is fetched fresh from GitHub and then scored in one batched run of the model (rather than one run
per issue), and each issue then goes through :meth:`~triage.app.labeling.Batch.label` as a queued request
would. One failed issue does not stop the batch: it is counted.
"""

from __future__ import annotations

from typing import Any

from triage.app import telemetry
from triage.app.bootstrap import Services
from triage.app.labeling import label_one, open_batch
from triage.app.serving import ModelCache
from triage.data.ingest import iter_issues
from triage.domain.issues import Issue
from triage.learning.feedback import label_names

SCORE_CHUNK = 32  # issues fetched, then scored together


def relabel_batch(s: Services, repo: str, numbers: list[int], cache: ModelCache) -> dict[str, int]:
    """Label a batch after a promotion; returns how many were labeled, abstained on and failed."""
    batch = open_batch(s, repo, cache.get(s, repo))
    counts = {"labeled": 0, "abstained": 0, "failed": 0}
    for start in range(0, len(numbers), SCORE_CHUNK):
        fetched: dict[int, tuple[Issue, list[dict[str, Any]]]] = {}
        for number in numbers[start:start + SCORE_CHUNK]:
            try:
                fetched[number] = batch.fetch(number)
            except Exception as exc:  # noqa: BLE001 - one failed issue does not stop the fan-out
                _failed(counts, repo, number, exc)
        scored = [number for number, (issue, _) in fetched.items() if issue.state == "open"]
        raw = dict(zip(scored, batch.model.scores_many([(fetched[n][0].title, fetched[n][0].body) for n in scored])))
        for number, (issue, events) in fetched.items():
            try:
                label_one(batch, number, counts, reason="relabel", issue=issue, events=events,
                          raw_scores=raw.get(number))
            except Exception as exc:  # noqa: BLE001 - as above
                _failed(counts, repo, number, exc)
    return counts


def _failed(counts: dict[str, int], repo: str, number: int, exc: Exception) -> None:
    counts["failed"] += 1
    telemetry.event("RelabelFailed", repo=repo, issue=number, error=repr(exc)[:300])


def open_unlabeled_issues(s: Services, repo: str, cache: ModelCache) -> list[int]:
    """Open issues (not pull requests, not gone) with no human-applied label among the current model's labels,
    read from the store a page at a time."""
    names = label_names(s.docs, repo)
    labels = names.all_current(cache.get(s, repo).labels)
    return sorted(i.number for i in iter_issues(s.docs, repo, state="open") if not i.is_pull_request
                  and not i.gone and not names.all_current(i.human_labels(s.settings.bot_login)) & labels)
