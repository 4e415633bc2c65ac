"""The issue store: versioned snapshots in the blob store, one document per issue."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from triage.domain.errors import InputError, NotFoundError
from triage.domain.issues import Issue
from triage.ports.layout import snapshot_name
from triage.ports.records import ISSUES
from triage.ports.stores import BlobStore, DocumentStore


def ingest(issues: Sequence[Issue], blobs: BlobStore, docs: DocumentStore) -> dict[str, Any]:
    """Store ``issues`` (one repository) as a compressed snapshot and upsert their documents."""
    repos = sorted({issue.repo for issue in issues})
    if len(repos) != 1:
        raise InputError(f"ingest takes one repository's issues at a time, got {len(repos)}: {repos[:5]}; pass --repo")
    repo = repos[0]
    docs.upsert_many(ISSUES, [issue_document(issue) for issue in issues])
    return {"repo": repo, "count": len(issues), "snapshot": write_snapshot(blobs, repo, issues)}


def issue_document(issue: Issue) -> dict[str, Any]:
    """The stored document of an issue (id = its number)."""
    return {**issue.to_dict(), "id": str(issue.number)}


def write_snapshot(blobs: BlobStore, repo: str, issues: Sequence[Issue]) -> str:
    """Write all ``issues`` as one gzip-compressed JSONL blob named by time and content hash; return its name."""
    records = [issue.to_dict() for issue in sorted(issues, key=lambda i: i.number)]
    lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
    version = hashlib.sha256(lines).hexdigest()[:12]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = snapshot_name(repo, stamp, version)
    blobs.put(name, gzip.compress(lines, mtime=0))
    return name


def stored_issues(docs: DocumentStore, repo: str) -> list[Issue]:
    """All issues of ``repo`` in the document store, oldest first."""
    found = docs.query(ISSUES, repo)
    if not found:
        raise NotFoundError(f"no issues stored for {repo}; run `triage ingest --repo {repo} --source FILE` first")
    issues = [Issue.from_dict({k: v for k, v in d.items() if k != "id"}) for d in found]
    return sorted(issues, key=lambda i: i.sort_key)
