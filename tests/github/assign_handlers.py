"""Assignees on the GitHub test server: ``POST``/``DELETE /repos/{o}/{r}/issues/{n}/assignees`` and the changes
behind them (the issue's ``assignee``/``assignees`` and its ``assigned``/``unassigned`` events, with ``assignee``
and ``assigner`` as GitHub records them).

As on GitHub (docs.github.com/rest/issues/assignees): an issue has at most :data:`MAX_ASSIGNEES` assignees
(more are refused with 422); adding someone already assigned, or removing someone who is not, changes nothing
and records no event; ``POST`` answers 201 with the issue, ``DELETE`` 200 with the issue.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tests.github.objects import rebase, user_object
from tests.github.replies import Ctx, HTTPError, Reply
from tests.github.repository import Invalid, Repository

MAX_ASSIGNEES = 10
LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")


def logins(body: Any) -> list[str]:
    """The logins of ``{"assignees": [...]}``; 422 (``Invalid``) for anything else."""
    found = body.get("assignees") if isinstance(body, dict) else None
    if not isinstance(found, list) or not all(isinstance(login, str) and LOGIN.match(login) for login in found):
        raise Invalid('assignees must be a list of logins, e.g. {"assignees": ["octocat"]}', "assignees")
    return list(dict.fromkeys(found))


def assign(repo: Repository, number: int, names: Sequence[str], actor: dict[str, Any]) -> list[str]:
    """Assign ``names`` the issue lacks (``assigned`` events, one mutation); return who was added."""
    issue = repo.issues[number]
    have = {user["login"].lower() for user in issue["assignees"]}
    new = [name for name in names if name.lower() not in have]
    if len(have) + len(new) > MAX_ASSIGNEES:
        raise Invalid(f"an issue has at most {MAX_ASSIGNEES} assignees", "assignees")
    if new:
        at = repo.world.tick()
        for name in new:
            user = user_object(name)
            issue["assignees"].append(user)
            repo.record(number, "assigned", actor, at, assignee=user, assigner=actor)
        issue["assignee"] = issue["assignees"][0]
        issue["updated_at"] = at
    return new


def unassign(repo: Repository, number: int, names: Sequence[str], actor: dict[str, Any]) -> list[str]:
    """Remove ``names`` from the assignees (``unassigned`` events, one mutation); return who was removed."""
    issue = repo.issues[number]
    gone = {name.lower() for name in names}
    removed = [user for user in issue["assignees"] if user["login"].lower() in gone]
    if removed:
        at = repo.world.tick()
        for user in removed:
            repo.record(number, "unassigned", actor, at, assignee=user, assigner=actor)
        issue["assignees"] = [user for user in issue["assignees"] if user["login"].lower() not in gone]
        issue["assignee"] = issue["assignees"][0] if issue["assignees"] else None
        issue["updated_at"] = at
    return [user["login"] for user in removed]


def _issue(ctx: Ctx) -> tuple[Repository, int]:
    assert ctx.repo is not None and ctx.actor is not None
    number = int(ctx.params["number"])
    if number not in ctx.repo.issues:
        raise HTTPError(404, "Not Found")
    return ctx.repo, number


def add_assignees(ctx: Ctx) -> Reply:
    """POST .../issues/{number}/assignees."""
    repo, number = _issue(ctx)
    assign(repo, number, logins(ctx.body), ctx.actor.as_user())  # type: ignore[union-attr]
    return Reply(201, rebase(repo.issues[number], ctx.base, ctx.base))


def remove_assignees(ctx: Ctx) -> Reply:
    """DELETE .../issues/{number}/assignees."""
    repo, number = _issue(ctx)
    unassign(repo, number, logins(ctx.body), ctx.actor.as_user())  # type: ignore[union-attr]
    return Reply(200, rebase(repo.issues[number], ctx.base, ctx.base))
