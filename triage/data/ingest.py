"""The issue store: versioned snapshots in the blob store, one document per issue.

A repository's issues are read a page at a time (:func:`iter_issues`) and snapshots are written as a
stream (:func:`write_snapshot` spools the compressed lines to disk), so neither holds a whole repository.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from triage.domain.errors import InputError, NotFoundError
from triage.domain.issues import Issue
from triage.ports.layout import snapshot_name, snapshots_prefix
from triage.ports.records import ISSUES
from triage.ports.stores import PAGE_SIZE, BlobStore, DocumentStore, scan

SPOOL_BYTES = 8 << 20  # a snapshot up to this size (compressed) stays in memory; larger ones go to a temp file


def ingest(issues: Sequence[Issue], blobs: BlobStore, docs: DocumentStore) -> dict[str, Any]:
    """Store ``issues`` (one repository) as a compressed snapshot and upsert their documents."""
    repos = sorted({issue.repo for issue in issues})
    if len(repos) != 1:
        raise InputError(f"ingest takes one repository's issues at a time, got {len(repos)}: {repos[:5]}; pass --repo")
    repo = repos[0]
    for start in range(0, len(issues), PAGE_SIZE):
        docs.upsert_many(ISSUES, [issue_document(issue) for issue in issues[start:start + PAGE_SIZE]])
    ordered = sorted(issues, key=lambda i: i.number)
    return {"repo": repo, "count": len(issues), "snapshot": write_snapshot(blobs, repo, ordered)}


def issue_document(issue: Issue) -> dict[str, Any]:
    """The stored document of an issue (id = its number); ``assignee``, its first assignee in lower case, is what
    owner routing counts open assignments by."""
    return {**issue.to_dict(), "id": str(issue.number), "assignee": issue.assignees[0].lower() if issue.assignees else None}


def write_snapshot(blobs: BlobStore, repo: str, issues: Iterable[Issue]) -> str:
    """Write ``issues`` in the order given as one gzip-compressed JSONL blob named by time and the hash of its
    lines; return its name. The compressed lines are spooled (to disk beyond :data:`SPOOL_BYTES`), never held
    whole, and the hash is taken as they are written."""
    digest = hashlib.sha256()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        with gzip.GzipFile(filename="", mode="wb", fileobj=spool, mtime=0) as out:
            for issue in issues:
                line = (json.dumps(issue.to_dict(), sort_keys=True) + "\n").encode()
                digest.update(line)
                out.write(line)
        spool.seek(0)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        name = snapshot_name(repo, stamp, digest.hexdigest()[:12])
        blobs.put(name, spool)  # type: ignore[arg-type]  # a spooled file is a binary file
    return name


def prune_snapshots(blobs: BlobStore, repo: str, keep: int, latest: str) -> list[str]:
    """Keep ``latest`` (the snapshot just written) and the newest others up to ``keep`` in all (names start with
    their UTC stamp); delete the rest and return their names."""
    others = sorted(name for name in blobs.list(snapshots_prefix(repo)) if name != latest)
    old = others[:max(len(others) - max(keep - 1, 0), 0)]
    for name in old:
        blobs.delete(name)
    return old


def issue_from_document(doc: dict[str, Any]) -> Issue:
    """The issue a stored document holds (the scraper's bookkeeping fields are ignored)."""
    return Issue.from_dict({k: v for k, v in doc.items() if k != "id"})


def iter_issues(docs: DocumentStore, repo: str, *, page_size: int = PAGE_SIZE, **equals: Any) -> Iterator[Issue]:
    """The stored issues of ``repo`` (those whose fields equal ``equals``) in the store's page order, a page at a
    time: memory stays flat whatever the repository's size."""
    for doc in scan(docs, ISSUES, repo, page_size=page_size, **equals):
        yield issue_from_document(doc)


def stored_issues(docs: DocumentStore, repo: str) -> list[Issue]:
    """All issues of ``repo`` in the document store, oldest first (a list: for small repositories and tests;
    whatever grows with the repository reads :func:`iter_issues`)."""
    issues = sorted(iter_issues(docs, repo), key=lambda i: i.sort_key)
    if not issues:
        raise NotFoundError(f"no issues stored for {repo}; run `triage ingest --repo {repo} --source FILE` first")
    return issues
