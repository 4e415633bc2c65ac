"""The GitHub App's installations and the repositories each holds, kept from webhook deliveries.

``installation`` events (created, deleted, suspend, unsuspend) and ``installation_repositories`` events (added,
removed) change the registry; an issue delivery's ``installation.id`` records a repository the registry does not
know yet, and so does the GitHub client when it had to ask ``GET /repos/{owner}/{repo}/installation``. The
registry records what GitHub says; ``TRIAGE_REPOSITORIES``, when set, restricts what is served from it
(:func:`installed_repositories`), so a repository outside it is ignored, and widening the list needs no new event.

Documents live in the ``installations`` container under one partition, :data:`PARTITION`: ``repo:{owner/name}``
(``installation``, ``account``, ``state`` active or removed) and ``installation:{id}`` (``account``, ``state``
active, suspended or deleted). A repository is served while its document is active and its installation is
neither suspended nor deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from triage.domain.payloads import APP_HOME, InstallationChange
from triage.ports.records import INSTALLATIONS, now_iso
from triage.ports.stores import DocumentStore

PARTITION = APP_HOME  # not a repository name: the registry spans every repository


def _repo_id(repo: str) -> str:
    return f"repo:{repo.lower()}"


def _installation_id(ident: int) -> str:
    return f"installation:{ident}"


def allowed(repo: str, restrict: Sequence[str]) -> bool:
    """Whether ``repo`` may be served: ``TRIAGE_REPOSITORIES`` (``restrict``) is empty or names it."""
    return not restrict or repo.lower() in {r.lower() for r in restrict}


def installation_of(docs: DocumentStore, repo: str) -> int | None:
    """The installation that holds ``repo`` as recorded, or None (unknown, removed, suspended or deleted)."""
    doc = docs.get(INSTALLATIONS, PARTITION, _repo_id(repo))
    if not doc or doc.get("state") != "active":
        return None
    holder = docs.get(INSTALLATIONS, PARTITION, _installation_id(int(doc["installation"])))
    if holder and holder.get("state") in ("suspended", "deleted"):
        return None
    return int(doc["installation"])


def _serving(docs: DocumentStore) -> dict[str, bool]:
    """Every repository the registry records → whether it is served now (active, and its installation neither
    suspended nor deleted), from one query of the registry."""
    held = docs.query(INSTALLATIONS, PARTITION)
    stopped = {d["installation"] for d in held if d.get("kind") == "installation"
               and d.get("state") in ("suspended", "deleted")}
    return {d["name"]: d.get("state") == "active" and d.get("installation") not in stopped
            for d in held if d.get("kind") == "repository"}


def installed_repositories(docs: DocumentStore, restrict: Sequence[str] = ()) -> list[str]:
    """Repositories the App is installed on and may serve, sorted (``restrict``: ``TRIAGE_REPOSITORIES``)."""
    return sorted(name for name, serving in _serving(docs).items() if serving and allowed(name, restrict))


def served_repositories(docs: DocumentStore, restrict: Sequence[str] = ()) -> list[str]:
    """The repositories the app serves (scrapes, trains, shows): with ``TRIAGE_REPOSITORIES`` (``restrict``) set,
    those it names except the ones the App was removed from or whose installation is suspended or deleted; else
    every repository the App is installed on."""
    if not restrict:
        return installed_repositories(docs)
    known = _serving(docs)
    return sorted({r.lower() for r in restrict if known.get(r.lower(), True)})  # not recorded yet: GitHub is asked


def remember(docs: DocumentStore, repo: str, installation: int, account: str | None = None, *,
             source: str = "lookup", only_new: bool = False) -> bool:
    """Record that ``installation`` holds ``repo``; False (nothing written) when it is recorded so already, or when
    ``only_new`` and the repository is recorded at all (a late issue delivery never undoes a removal)."""
    known = docs.get(INSTALLATIONS, PARTITION, _repo_id(repo))
    if known and (only_new or (known.get("installation") == installation and known.get("state") == "active")):
        return False
    docs.upsert(INSTALLATIONS, {"id": _repo_id(repo), "repo": PARTITION, "kind": "repository", "name": repo.lower(),
                                "installation": installation, "account": account, "state": "active",
                                "source": source, "at": now_iso()})
    return True


def apply_change(docs: DocumentStore, change: InstallationChange, restrict: Sequence[str] = ()) -> str:
    """Apply an ``installation`` or ``installation_repositories`` delivery; returns what changed, in words
    (``restrict``: ``TRIAGE_REPOSITORIES``, to say which repositories will be ignored)."""
    ident, action = change.installation, change.action
    state = {"deleted": "deleted", "suspend": "suspended"}.get(action, "active")
    docs.upsert(INSTALLATIONS, {"id": _installation_id(ident), "repo": PARTITION, "kind": "installation",
                                "installation": ident, "account": change.account, "state": state,
                                "at": now_iso()})
    added = [r for r in change.added if remember(docs, r, ident, change.account, source=f"{change.event}.{action}")]
    removed = _remove(docs, ident, change.removed)
    if action == "deleted":
        removed += _remove(docs, ident, [d["name"] for d in docs.query(INSTALLATIONS, PARTITION, kind="repository")
                                         if d.get("installation") == ident and d.get("state") == "active"])
    ignored = [r for r in change.added if not allowed(r, restrict)]
    parts = [f"installation {ident} ({change.account or 'unknown account'}) {state}"]
    parts += [f"added {', '.join(added)}"] if added else []
    parts += [f"removed {', '.join(removed)}"] if removed else []
    parts += [f"ignored {len(ignored)} outside TRIAGE_REPOSITORIES"] if ignored else []
    return "; ".join(parts)


def _remove(docs: DocumentStore, ident: int, repos: Iterable[str]) -> list[str]:
    """Mark the repositories ``ident`` holds as removed; those another installation holds now are left alone."""
    done = []
    for repo in repos:
        doc = docs.get(INSTALLATIONS, PARTITION, _repo_id(repo))
        if doc and doc.get("installation") == ident and doc.get("state") == "active":
            docs.upsert(INSTALLATIONS, {**doc, "state": "removed", "at": now_iso()})
            done.append(repo.lower())
    return sorted(set(done))


def registry(docs: DocumentStore) -> list[dict[str, Any]]:
    """Every document of the registry (for the status page and tests)."""
    return docs.query(INSTALLATIONS, PARTITION)
