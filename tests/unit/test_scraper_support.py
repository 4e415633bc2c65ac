"""What the scraper tests share: a store that crashes at a chosen write, blobs in memory, a GitHub world with
imports, bots and pull requests, changes made while a scrape is down, and an audit of a store against GitHub."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.fake_github import FakeGitHub
from triage.adapters.local.stores import SqliteDocumentStore
from triage.data.scraper import scrape
from triage.domain.errors import NotFoundError
from triage.ports.records import ISSUES

REPO = "octo/widgets"
NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
NEXT_DAY = NOW + timedelta(days=1, hours=1)
CLEAN = {"lost": [], "stale": [], "marked_but_live": [], "gone_unmarked": []}


class MemoryBlobs:
    """The blob store port in a dict (the scraper only writes snapshots; the moves tests list and copy)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, name: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        self.blobs[name] = data
        return str(hash(data))

    def get(self, name: str) -> bytes:
        if name not in self.blobs:
            raise NotFoundError(name)
        return self.blobs[name]

    def get_with_etag(self, name: str) -> tuple[bytes, str]:
        return self.get(name), str(hash(self.get(name)))

    def etag(self, name: str) -> str | None:
        return str(hash(self.blobs[name])) if name in self.blobs else None

    def list(self, prefix: str = "") -> list[str]:
        return sorted(name for name in self.blobs if name.startswith(prefix))

    def delete(self, name: str) -> None:
        self.blobs.pop(name, None)

    def local_path(self, name: str) -> None:
        return None


class Crash(Exception):
    """The process died here."""


class CrashingDocs:
    """A document store whose ``at``-th write raises :class:`Crash` instead of writing, as a killed process."""

    def __init__(self, inner: SqliteDocumentStore, at: int | None) -> None:
        self.inner, self.at, self.writes = inner, at, 0

    def _write(self) -> None:
        self.writes += 1
        if self.writes == self.at:
            raise Crash(f"write {self.at}")

    def upsert(self, container: str, doc: Mapping[str, Any]) -> None:
        self._write()
        self.inner.upsert(container, doc)

    def upsert_many(self, container: str, docs: list[Mapping[str, Any]]) -> None:
        self._write()
        self.inner.upsert_many(container, docs)

    def delete(self, container: str, repo: str, doc_id: str) -> None:
        self._write()
        self.inner.delete(container, repo, doc_id)

    def get(self, container: str, repo: str, doc_id: str) -> dict[str, Any] | None:
        return self.inner.get(container, repo, doc_id)

    def query(self, container: str, repo: str, **equals: Any) -> list[dict[str, Any]]:
        return self.inner.query(container, repo, **equals)

    def query_in(self, container: str, repo: str, field: str, values: Any, **equals: Any) -> list[dict[str, Any]]:
        return self.inner.query_in(container, repo, field, values, **equals)

    def page(self, container: str, repo: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str | None]:
        return self.inner.page(container, repo, **kwargs)

    def count(self, container: str, repo: str, **equals: Any) -> int:
        return self.inner.count(container, repo, **equals)


def world() -> FakeGitHub:
    """Issues labeled by maintainers and bots, a pull request, and an import of 24 issues sharing one time."""
    gh = FakeGitHub(REPO)
    for i in range(1, 25):
        gh.open_issue(f"Imported {i}", f"Old body {i}", labels=["area-io"] if i % 2 else [],
                      at="2026-01-01T08:00:00Z")
    for i in range(25, 41):
        gh.open_issue(f"Crash {i}", f"Body {i}", labels=["bug"] if i % 3 else ["docs", "area-net"])
    gh.open_issue("Fix the crash", pull_request=True)
    for i in range(2, 41, 5):
        gh.label(i, "needs-triage", "ci-bot[bot]", "Bot")
    return gh


def mutate(gh: FakeGitHub, k: int) -> None:
    """Changes made while the scrape is down; ``k`` picks the issues, so each crash meets different ones."""
    live = sorted(n for n, i in gh.issues.items() if "pull_request" not in i)
    deleted, transferred, edited, botted, unlabeled = random.Random(k).sample(live, 5)
    gh.delete_issue(deleted)
    gh.transfer_issue(transferred, "octo/elsewhere")
    gh.edit_issue(edited, title=f"Edited after crash {k}")
    gh.label(botted, "stale", "stale-bot[bot]", "Bot")  # item 6: a bot's label must be known as a bot's
    if gh.issues[unlabeled]["labels"]:
        gh.label(unlabeled, gh.issues[unlabeled]["labels"][0]["name"], "maintainer", action="unlabeled")
    gh.open_issue(f"New after crash {k}", labels=["bug"])


def finish(gh: FakeGitHub, docs: Any, blobs: Any, now: datetime, budget: int = 4,
           between: Callable[[int], None] | None = None) -> int:
    """Scrape calls (``budget`` requests each) until the run is complete, ``between`` them; the number of calls."""
    for calls in range(1, 200):
        if scrape(gh, docs, blobs, REPO, per_page=10, page_budget=budget, now=now).complete:
            return calls
        if between:
            between(calls)
    raise AssertionError("the scrape never completed")


def audit(gh: FakeGitHub, docs: SqliteDocumentStore) -> dict[str, list[int]]:
    """How the store differs from GitHub: issues lost, stale (content or label events), wrongly or not marked gone."""
    stored = {int(d["number"]): d for d in docs.query(ISSUES, REPO)}
    found: dict[str, list[int]] = {"lost": [], "stale": [], "marked_but_live": [], "gone_unmarked": []}
    for number, truth in gh.truth().items():
        doc = stored.get(number)
        if doc is None:
            found["lost"].append(number)
            continue
        if doc.get("gone"):
            found["marked_but_live"].append(number)
        events = sorted((e["label"]["name"], e["event"], e["actor"]["login"], e["actor"]["type"], e["created_at"])
                        for e in truth["events"])
        mine = sorted((e["label"], e["action"], e["actor"], e["actor_type"], e["at"]) for e in doc["label_events"])
        same = all(doc[k] == truth[k] for k in ("title", "body", "state", "updated_at"))
        if not same or events != mine or sorted(doc["labels"]) != sorted(x["name"] for x in truth["labels"]) \
                or doc.get("events_due"):
            found["stale"].append(number)
    for number, moved in gh.gone.items():
        doc = stored.get(number)
        if doc is not None and doc.get("gone") != ("deleted" if moved is None else "transferred"):
            found["gone_unmarked"].append(number)
    return found


