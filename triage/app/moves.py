"""Renamed and transferred repositories: recording the move and carrying the repository's data to its new name.

When GitHub redirects a repository to a new name, everything the product keeps under the old name (the
documents of every container, the blobs under ``issues/``, ``datasets/``, ``models/`` and ``runs/``) is
copied to the new name, the move is recorded under the old name (cursor document ``moved``), then the old
copies are deleted. Each step is idempotent and a copy never overwrites what already exists under the new
name (it may be newer), so a carry that crashes is finished by the next one. :func:`current_name` follows
recorded moves, so work started under either name lands in one place and the configured name keeps working.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from triage.domain.errors import InputError
from triage.domain.issues import check_repo
from triage.ports.records import CONTAINERS, CURSORS
from triage.ports.stores import BlobStore, DocumentStore

MOVED_ID = "moved"
BLOB_ROOTS = ("issues", "datasets", "models", "runs")
MAX_MOVES = 10
# Pointers and manifests are copied after the files they name, so a reader never sees half a model or dataset.
_LAST = ("manifest.json", "current.json", "latest.json", "frozen-test.json")


def current_name(docs: DocumentStore, repo: str) -> str:
    """The name ``repo`` has now, after the moves recorded for it (``repo`` itself if none)."""
    name, seen = check_repo(repo), set()
    while name not in seen:
        seen.add(name)
        record = docs.get(CURSORS, name, MOVED_ID)
        if record is None:
            return name
        name = check_repo(record["to"])
    raise InputError(f"the recorded renames of {repo} form a loop ({' → '.join(sorted(seen))}); delete the "
                     f"'{MOVED_ID}' cursor document of the name GitHub no longer redirects")


def carry_repository(docs: DocumentStore, blobs: BlobStore, old: str, new: str) -> dict[str, Any]:
    """Move everything kept under ``old`` to ``new`` and record the move; returns what was carried."""
    old, new = check_repo(old), check_repo(new)
    if old == new:
        return {"from": old, "to": new, "documents": 0, "blobs": 0}
    if current_name(docs, new) == old:
        docs.delete(CURSORS, new, MOVED_ID)  # renamed back: the record of the first rename would make a loop
    moved_docs = 0
    for container in CONTAINERS:
        for doc in docs.query(container, old):
            if container == CURSORS and doc["id"] == MOVED_ID:
                continue
            if docs.get(container, new, doc["id"]) is None:
                docs.upsert(container, {**doc, "repo": new})
                moved_docs += 1
    names = [name for root in BLOB_ROOTS for name in blobs.list(f"{root}/{old}/")]
    names.sort(key=lambda name: (name.rsplit("/", 1)[-1] in _LAST, name))
    moved_blobs = 0
    for name in names:
        root, rest = name.split("/", 1)
        target = f"{root}/{new}/{rest[len(old) + 1:]}"
        if blobs.etag(target) is None:
            blobs.put(target, blobs.get(name))
            moved_blobs += 1
    docs.upsert(CURSORS, {"id": MOVED_ID, "repo": old, "to": new,
                          "at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    for container in CONTAINERS:
        if container != CURSORS:
            for doc in docs.query(container, old):
                docs.delete(container, old, doc["id"])
    for name in names:
        blobs.delete(name)
    for doc in docs.query(CURSORS, old):  # last: a cursor left under the old name means the carry is unfinished
        if doc["id"] != MOVED_ID:
            docs.delete(CURSORS, old, doc["id"])
    return {"from": old, "to": new, "documents": moved_docs, "blobs": moved_blobs}


def unfinished_moves(docs: DocumentStore, repo: str) -> list[tuple[str, str]]:
    """The recorded moves from ``repo`` on whose carry did not finish (documents are left under the old name)."""
    found, name, seen = [], check_repo(repo), set()
    while name not in seen:
        seen.add(name)
        record = docs.get(CURSORS, name, MOVED_ID)
        if record is None:
            break
        if any(doc["id"] != MOVED_ID for doc in docs.query(CURSORS, name)):
            found.append((name, check_repo(record["to"])))
        name = check_repo(record["to"])
    return found
