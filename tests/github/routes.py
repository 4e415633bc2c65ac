"""The route table, and which repository a path names: served, moved (301), gone (410) or unknown (404)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import unquote

from tests.github import app_handlers as apps
from tests.github import assign_handlers as assignees
from tests.github import issue_handlers as issues
from tests.github import pull_handlers as pulls
from tests.github.replies import Ctx, HTTPError, Reply
from tests.github.repository import Repository

if TYPE_CHECKING:
    from tests.github.server import GitHubServer

ID = "[0-9]{1,18}"  # ASCII digits only (no other scripts' digits), short enough for int()
REPO = rf"(?:/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)|/repositories/(?P<repo_id>{ID}))"
ISSUE = rf"/issues/(?P<number>{ID})"
REDIRECT_DOCS = "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects"
ISSUES_DOCS = "https://docs.github.com/rest/issues"


@dataclass(frozen=True)
class Route:
    """``auth``: ``jwt`` (an App JWT), ``free`` (any caller, not counted) or ``token`` (counted)."""

    method: str
    pattern: re.Pattern[str]
    auth: str
    handler: Callable[[Ctx], Reply]
    repo_scoped: bool


def build_routes(server: GitHubServer) -> list[Route]:
    """Every endpoint the server answers."""
    def bound(handler: Callable[[GitHubServer, Ctx], Reply]) -> Callable[[Ctx], Reply]:
        """A handler that also gets the server."""
        return partial(handler, server)

    global_routes: list[tuple[str, str, str, Callable[[Ctx], Reply]]] = [
        ("POST", rf"/app/installations/(?P<installation>{ID})/access_tokens", "jwt", bound(apps.access_token)),
        ("GET", rf"/app/installations/(?P<installation>{ID})", "jwt", bound(apps.installation)),
        ("GET", r"/app/installations", "jwt", bound(apps.installations)),
        ("GET", r"/app", "jwt", bound(apps.app)),
        ("GET", r"/rate_limit", "free", bound(apps.rate_limit)),
    ]
    repo_routes: list[tuple[str, str, str, Callable[[Ctx], Reply]]] = [
        ("GET", r"/installation", "jwt", bound(apps.installation)),
        ("GET", r"", "token", bound(apps.repository)),
        ("GET", r"/issues", "token", issues.list_issues),
        ("POST", r"/issues", "token", issues.create_issue),
        ("GET", r"/issues/events", "token", issues.repo_events),
        ("GET", rf"/issues/events/(?P<event>{ID})", "token", issues.get_event),
        ("GET", r"/issues/comments", "token", issues.repo_comments),
        ("GET", rf"/issues/comments/(?P<comment>{ID})", "token", issues.get_comment),
        ("PATCH", rf"/issues/comments/(?P<comment>{ID})", "token", issues.edit_comment),
        ("DELETE", rf"/issues/comments/(?P<comment>{ID})", "token", issues.delete_comment),
        ("GET", ISSUE, "token", issues.get_issue),
        ("PATCH", ISSUE, "token", issues.edit_issue),
        ("GET", ISSUE + r"/events", "token", issues.issue_events),
        ("GET", ISSUE + r"/timeline", "token", issues.timeline),
        ("GET", ISSUE + r"/labels", "token", issues.issue_labels),
        ("POST", ISSUE + r"/labels", "token", issues.add_labels),
        ("PUT", ISSUE + r"/labels", "token", issues.set_labels),
        ("DELETE", ISSUE + r"/labels", "token", issues.clear_labels),
        ("DELETE", ISSUE + r"/labels/(?P<label>.+)", "token", issues.remove_label),
        ("GET", ISSUE + r"/comments", "token", issues.list_comments),
        ("POST", ISSUE + r"/comments", "token", issues.create_comment),
        ("POST", ISSUE + r"/assignees", "token", assignees.add_assignees),
        ("DELETE", ISSUE + r"/assignees", "token", assignees.remove_assignees),
        ("GET", rf"/pulls/(?P<number>{ID})/files", "token", pulls.pull_files),
        ("GET", r"/labels", "token", issues.labels),
        ("GET", r"/labels/(?P<label>.+)", "token", issues.get_label),
        ("GET", r"/contents/?(?P<path>.*)", "token", bound(apps.contents)),
    ]
    return ([Route(m, re.compile(p), a, h, False) for m, p, a, h in global_routes]
            + [Route(m, re.compile(REPO + p), a, h, True) for m, p, a, h in repo_routes])


def match(routes: Iterable[Route], ctx: Ctx) -> Route | None:
    """The route of ``ctx`` (setting its params and tail), or None."""
    for route in routes:
        found = route.pattern.fullmatch(ctx.path)
        if found and route.method == ctx.method:
            ctx.params = {k: unquote(v) for k, v in found.groupdict().items() if v is not None}
            if route.repo_scoped:
                ctx.tail = ctx.path[found.end("name") if found.group("name") is not None else found.end("repo_id"):]
            return route
    return None


def moved(ctx: Ctx, path: str, raw_query: str) -> HTTPError:
    """301 to ``path`` on this server, keeping the query string."""
    url = ctx.base + path + (f"?{raw_query}" if raw_query else "")
    return HTTPError(301, "Moved Permanently", {"Location": url}, url=url, documentation_url=REDIRECT_DOCS)


def resolve(repos: Iterable[Repository], ctx: Ctx, raw_query: str) -> Repository:
    """The repository ``ctx`` names, as GitHub resolves it; raises the 404, 301 or 410 to answer instead."""
    known = list(repos)
    if "repo_id" in ctx.params:
        repo = next((r for r in known if r.id == int(ctx.params["repo_id"])), None)
    else:
        full = f"{ctx.params['owner']}/{ctx.params['name']}".lower()
        repo = next((r for r in known if r.name.lower() == full), None)
        if repo is None:
            renamed = next((r for r in known if full in (n.lower() for n in r.old_names)), None)
            if renamed is not None:
                raise moved(ctx, f"/repositories/{renamed.id}{ctx.tail}", raw_query)
    if repo is None or repo.private and (ctx.actor is None or ctx.actor.anonymous):
        raise HTTPError(404, "Not Found")
    if ctx.tail.startswith("/issues") and not repo.issues_enabled:
        raise HTTPError(410, "Issues are disabled for this repo", documentation_url=ISSUES_DOCS)
    number = int(ctx.params["number"]) if "number" in ctx.params else None
    if number is not None and number in repo.gone and ctx.tail.startswith("/issues"):  # a pull request never moves
        gone = repo.gone[number]
        if gone == "deleted":
            raise HTTPError(410, "This issue was deleted", documentation_url=ISSUES_DOCS)
        target, new_number = gone
        rest = ctx.tail.split(f"/issues/{ctx.params['number']}", 1)[1]
        raise moved(ctx, f"/repositories/{target}/issues/{new_number}{rest}", raw_query)
    return repo
