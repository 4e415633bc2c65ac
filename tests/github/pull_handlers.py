"""Pull requests on the GitHub test server: opening one (an issue with ``pull_request`` and ``draft``, as the
issues API shows it) with its changed files, marking a draft ready, and ``GET /pulls/{number}/files``.

GitHub lists at most :data:`MAX_FILES` files of a pull request (docs.github.com/rest/pulls/pulls#list-pull-
requests-files), 30 a page by default and 100 at most; an issue that is not a pull request answers 404.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from tests.github.objects import API_BASE, HTML_BASE, rebase
from tests.github.replies import Ctx, HTTPError, Reply, paginate
from tests.github.repository import Invalid, Repository

MAX_FILES = 3000
STATUSES = ("added", "removed", "modified", "renamed", "copied", "changed", "unchanged")


def diff_entry(repo: str, path: str, status: str = "modified", previous: str | None = None) -> dict[str, Any]:
    """One item of ``GET /pulls/{number}/files`` as GitHub's description has it (``diff-entry``)."""
    if not isinstance(path, str) or not path.strip() or path.startswith("/") or len(path) > 4096:
        raise Invalid(f"a changed file needs a relative path, not {path!r:.80}", "filename", "PullRequest")
    if status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}, not {status!r:.40}", "status", "PullRequest")
    sha = hashlib.sha1(f"{repo}:{path}".encode()).hexdigest()
    quoted = quote(path)
    entry = {"sha": sha, "filename": path, "status": status, "additions": 3, "deletions": 1, "changes": 4,
             "blob_url": f"{HTML_BASE}/{repo}/blob/{sha}/{quoted}", "raw_url": f"{HTML_BASE}/{repo}/raw/{sha}/{quoted}",
             "contents_url": f"{API_BASE}/repos/{repo}/contents/{quoted}?ref={sha}", "patch": "@@ -1,1 +1,3 @@"}
    if previous is not None:
        entry["previous_filename"] = previous
    return entry


def open_pull_request(repo: Repository, title: str, body: str, user: dict[str, Any],
                      files: Sequence[str | tuple[str, str]], draft: bool, association: str) -> dict[str, Any]:
    """A new pull request with the next number; ``files``: paths, or (new path, previous path) for a rename."""
    entries = [diff_entry(repo.name, f) if isinstance(f, str) else diff_entry(repo.name, f[0], "renamed", f[1])
               for f in files]
    issue = repo.open_issue(title, body, user, (), association)
    number = issue["number"]
    pulls = f"{repo.name}/pull/{number}"
    issue["pull_request"] = {"url": f"{API_BASE}/repos/{repo.name}/pulls/{number}", "html_url": f"{HTML_BASE}/{pulls}",
                             "diff_url": f"{HTML_BASE}/{pulls}.diff", "patch_url": f"{HTML_BASE}/{pulls}.patch",
                             "merged_at": None}
    issue["draft"] = bool(draft)
    repo.pull_files[number] = entries
    return issue


def mark_ready(repo: Repository, number: int) -> dict[str, Any]:
    """Take a draft out of draft (GitHub's ``ready_for_review``)."""
    issue = repo.issues[number]
    if "pull_request" not in issue:
        raise KeyError(f"#{number} is not a pull request")
    issue.update(draft=False, updated_at=repo.world.tick())
    return issue


def pull_files(ctx: Ctx) -> Reply:
    """GET /repos/{owner}/{repo}/pulls/{number}/files: the first 3,000 changed files, paged."""
    assert ctx.repo is not None
    number = int(ctx.params["number"])
    issue = ctx.repo.issues.get(number)
    if issue is None or "pull_request" not in issue:
        raise HTTPError(404, "Not Found")
    return paginate(ctx, ctx.repo.pull_files.get(number, [])[:MAX_FILES], lambda entry: rebase(entry, ctx.base, ctx.base))
