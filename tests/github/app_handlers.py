"""Handlers of the App, installation, rate-limit, repository and contents endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.github.access import credentials
from tests.github.objects import (
    APP_PERMISSIONS,
    START,
    content_file_object,
    installation_object,
    iso,
    rebase,
    repository_object,
    user_object,
)
from tests.github.replies import Ctx, HTTPError, Reply, paginate
from tests.github.repository import Repository

if TYPE_CHECKING:
    from tests.github.server import GitHubServer


def repository(server: GitHubServer, ctx: Ctx) -> Reply:
    """GET /repos/{owner}/{repo} (and /repositories/{id})."""
    repo = ctx.repo
    assert repo is not None
    opened = sum(1 for issue in repo.issues.values() if issue["state"] == "open")
    return Reply(200, rebase(repository_object(repo.id, repo.name, private=repo.private,
                                               has_issues=repo.issues_enabled, open_issues=opened),
                             ctx.base, ctx.base))


def contents(server: GitHubServer, ctx: Ctx) -> Reply:
    """GET /repos/{owner}/{repo}/contents/{path}: a file set with ``set_file``."""
    repo = ctx.repo
    assert repo is not None
    path = ctx.params["path"].strip("/")
    if path not in repo.files:
        raise HTTPError(404, "Not Found")
    return Reply(200, rebase(content_file_object(repo.name, path, repo.files[path]), ctx.base, ctx.base))


def rate_limit(server: GitHubServer, ctx: Ctx) -> Reply:
    """GET /rate_limit: the caller's bucket."""
    core = server.bucket_of(ctx.actor).snapshot()
    core["resource"] = "core"
    other = {"limit": 30, "remaining": 30, "reset": core["reset"], "used": 0}
    return Reply(200, {"resources": {"core": core, "search": {**other, "resource": "search"},
                                     "graphql": {**other, "limit": 5000, "remaining": 5000, "resource": "graphql"}},
                       "rate": core})


# --- installations: the App on several accounts, each holding some repositories -----------------------------------

@dataclass
class Installation:
    """One installation of the App: on ``owner``'s account, holding ``repositories`` (lower-case full names;
    None: every repository of the server, the default single installation)."""

    id: int
    owner: str
    repositories: set[str] | None = None
    suspended: bool = False

    def holds(self, repo: str) -> bool:
        """Whether the installation's tokens may use ``repo``."""
        return self.repositories is None or repo.lower() in self.repositories


def installation_table(server: GitHubServer) -> dict[int, Installation]:
    """The server's installations (``server.installations``), or the default one: ``server.installation_id``
    on the primary repository's owner, holding every repository."""
    return server.installations or {server.installation_id: Installation(server.installation_id, server.owner)}


def install(server: GitHubServer, installation_id: int, owner: str, repositories: list[str]) -> Installation:
    """Install the App on ``owner``'s account for ``repositories`` (created empty on the server if new); from
    then on only the installations added this way exist."""
    with server._lock:
        for name in repositories:
            add_repository(server, name)
        found = Installation(installation_id, owner, {name.lower() for name in repositories})
        server.installations[installation_id] = found
        return found


def add_repository(server: GitHubServer, name: str) -> Repository:
    """The repository ``name``, created empty on the server if it is not there."""
    with server._lock:
        known = next((r for r in server._repos.values() if r.name.lower() == name.lower()), None)
        if known is not None:
            return known
        repo = Repository(server.world, name, server._new_repo_id(name))
        repo.issue_id_base = 300_000_000 + 1_000_000 * len(server._repos)
        server._repos[repo.id] = repo
        return repo


def open_issue_in(server: GitHubServer, repo: str, title: str, body: str = "",
                  user: str = "new-reporter") -> dict[str, Any]:
    """Open an issue in any repository of the server (``open_issue`` opens in the primary one)."""
    with server._lock:
        return server._render(add_repository(server, repo).open_issue(title, body, user_object(user), (), "NONE"))


def installation_holding(server: GitHubServer, repo: str) -> Installation | None:
    """The installation that holds ``repo``, if any."""
    return next((i for i in installation_table(server).values() if i.holds(repo)), None)


def check_access(server: GitHubServer, ctx: Ctx, repo: Repository) -> None:
    """An installation token reaches only its installation's repositories (GitHub answers 404 for others)."""
    found = credentials(ctx.headers)
    installation_id = server.token_installations.get(found[1]) if found else None
    if installation_id is None:
        return
    holder = installation_table(server).get(installation_id)
    if holder is None or holder.suspended or not holder.holds(repo.name):
        raise HTTPError(404, "Not Found")


def _installation(server: GitHubServer, ctx: Ctx, found: Installation) -> dict[str, object]:
    obj = installation_object(found.id, server.world.app["id"], server.world.app["slug"], found.owner)
    if found.suspended:
        obj.update(suspended_at=iso(START), suspended_by=user_object(found.owner))
    return rebase(obj, ctx.base, ctx.base)


def installation(server: GitHubServer, ctx: Ctx) -> Reply:
    """GET /app/installations/{id} and /repos/{owner}/{repo}/installation."""
    if "installation" in ctx.params:
        found = installation_table(server).get(int(ctx.params["installation"]))
    else:
        found = installation_holding(server, f"{ctx.params['owner']}/{ctx.params['name']}")
    if found is None:
        raise HTTPError(404, "Not Found")
    return Reply(200, _installation(server, ctx, found))


def installations(server: GitHubServer, ctx: Ctx) -> Reply:
    """GET /app/installations."""
    return paginate(ctx, [_installation(server, ctx, i) for i in installation_table(server).values()], lambda item: item)


def app(server: GitHubServer, ctx: Ctx) -> Reply:
    """GET /app."""
    return Reply(200, rebase(server.world.app, ctx.base, ctx.base))


def access_token(server: GitHubServer, ctx: Ctx) -> Reply:
    """POST /app/installations/{id}/access_tokens: a token for that installation (403 while it is suspended)."""
    found = installation_table(server).get(int(ctx.params["installation"]))
    if found is None:
        raise HTTPError(404, "Not Found")
    if found.suspended:
        raise HTTPError(403, "This installation has been suspended")
    token, expires = server.issue_installation_token()
    server.token_installations[token] = found.id
    return Reply(201, {"token": token, "expires_at": iso(expires), "permissions": dict(APP_PERMISSIONS),
                       "repository_selection": "selected"})
