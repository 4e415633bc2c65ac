"""Handlers of the App, installation, rate-limit, repository and contents endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.github.objects import (
    APP_PERMISSIONS,
    content_file_object,
    installation_object,
    iso,
    rebase,
    repository_object,
)
from tests.github.replies import Ctx, HTTPError, Reply, paginate

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


def _installation(server: GitHubServer, ctx: Ctx) -> dict[str, object]:
    return rebase(installation_object(server.installation_id, server.world.app["id"], server.world.app["slug"],
                                      server.owner), ctx.base, ctx.base)


def installation(server: GitHubServer, ctx: Ctx) -> Reply:
    """GET /app/installations/{id} and /repos/{owner}/{repo}/installation."""
    if "installation" in ctx.params and int(ctx.params["installation"]) != server.installation_id:
        raise HTTPError(404, "Not Found")
    return Reply(200, _installation(server, ctx))


def installations(server: GitHubServer, ctx: Ctx) -> Reply:
    """GET /app/installations."""
    return paginate(ctx, [_installation(server, ctx)], lambda item: item)


def app(server: GitHubServer, ctx: Ctx) -> Reply:
    """GET /app."""
    return Reply(200, rebase(server.world.app, ctx.base, ctx.base))


def access_token(server: GitHubServer, ctx: Ctx) -> Reply:
    """POST /app/installations/{id}/access_tokens."""
    if int(ctx.params["installation"]) != server.installation_id:
        raise HTTPError(404, "Not Found")
    token, expires = server.issue_installation_token()
    return Reply(201, {"token": token, "expires_at": iso(expires), "permissions": dict(APP_PERMISSIONS),
                       "repository_selection": "selected"})
