"""Handlers of the issues endpoints (issues, labels on issues, comments, events, timeline).

Each takes the routed :class:`~tests.github.replies.Ctx` (its repository resolved, its caller known) and
returns a :class:`~tests.github.replies.Reply`; bad input raises ``Invalid`` (422) or ``HTTPError``.
"""

from __future__ import annotations

from typing import Any

from tests.github.objects import parse_iso, rebase
from tests.github.replies import Ctx, HTTPError, Reply, choice, paginate, since
from tests.github.repository import Invalid, Repository

MAX_LABELS, MAX_LABEL_NAME, MAX_COMMENT = 100, 50, 65536


def _repo(ctx: Ctx) -> Repository:
    assert ctx.repo is not None
    return ctx.repo


def _render(ctx: Ctx) -> Any:
    return lambda obj: rebase(obj, ctx.base, ctx.base)


def _number(ctx: Ctx) -> int:
    number = int(ctx.params["number"])
    if number not in _repo(ctx).issues:
        raise HTTPError(404, "Not Found")
    return number


def _user(ctx: Ctx) -> dict[str, Any]:
    assert ctx.actor is not None
    return ctx.actor.as_user()


def _object(ctx: Ctx) -> dict[str, Any]:
    if not isinstance(ctx.body, dict):
        raise Invalid("the request body must be a JSON object", "body")
    return ctx.body


def label_names(body: Any, allow_empty: bool) -> list[str]:
    """Label names from ``{"labels": [...]}``, ``[...]`` or a string; items are names or ``{"name": ...}``."""
    if isinstance(body, dict):
        body = body.get("labels")
    if isinstance(body, str):
        body = [body]
    if not isinstance(body, list):
        raise Invalid('labels must be a list of label names, e.g. {"labels": ["bug"]}', "labels", "Label")
    names = []
    for item in body:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_LABEL_NAME:
            raise Invalid(f"each of labels must be a name of 1 to {MAX_LABEL_NAME} characters, not {item!r:.80}",
                          "labels", "Label")
        names.append(name)
    if not names and not allow_empty:
        raise Invalid("labels needs at least 1 label to add; to remove every label, PUT an empty list or DELETE "
                      "the issue's labels", "labels", "Label", "missing_field")
    return names


def _check_room(ctx: Ctx, number: int, names: list[str], replace: bool) -> None:
    have = set() if replace else {label["name"] for label in _repo(ctx).issues[number]["labels"]}
    if len(have | set(names)) > MAX_LABELS:
        raise Invalid(f"an issue can have at most {MAX_LABELS} labels", "labels", "Label", "too_many")


def list_issues(ctx: Ctx) -> Reply:
    """GET /repos/{owner}/{repo}/issues."""
    q, repo = ctx.query, _repo(ctx)
    state = choice(q, "state", ("open", "closed", "all"), "open")
    sort = choice(q, "sort", ("created", "updated", "comments"), "created")
    direction = choice(q, "direction", ("asc", "desc"), "desc")
    after = since(q)
    items = [i for i in repo.issues.values() if state == "all" or i["state"] == state]
    if after is not None:
        items = [i for i in items if parse_iso(i["updated_at"]) >= after]
    if q.get("labels"):
        wanted = {name.strip() for name in q["labels"].split(",") if name.strip()}
        items = [i for i in items if wanted <= {label["name"] for label in i["labels"]}]
    if q.get("creator"):
        items = [i for i in items if i["user"]["login"].lower() == q["creator"].lower()]
    key = {"created": "created_at", "updated": "updated_at", "comments": "comments"}[sort]
    items.sort(key=lambda i: (i[key], i["number"]), reverse=direction == "desc")
    return paginate(ctx, items, _render(ctx))


def create_issue(ctx: Ctx) -> Reply:
    """POST /repos/{owner}/{repo}/issues."""
    body, repo = _object(ctx), _repo(ctx)
    title = body.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 256:
        raise Invalid("title is required: a non-empty string of at most 256 characters", "title", code="missing_field")
    text = body.get("body") or ""
    if not isinstance(text, str) or len(text) > MAX_COMMENT:
        raise Invalid(f"body must be a string of at most {MAX_COMMENT} characters", "body")
    names = label_names(body.get("labels") or [], allow_empty=True)
    if len(set(names)) > MAX_LABELS:
        raise Invalid(f"an issue can have at most {MAX_LABELS} labels", "labels", "Label", "too_many")
    issue = repo.open_issue(title, text, _user(ctx), names, "MEMBER")
    location = f"{ctx.base}/repos/{repo.name}/issues/{issue['number']}"
    return Reply(201, rebase(issue, ctx.base, ctx.base), {"Location": location})


def get_issue(ctx: Ctx) -> Reply:
    """GET /repos/{owner}/{repo}/issues/{number}."""
    return Reply(200, rebase(_repo(ctx).issues[_number(ctx)], ctx.base, ctx.base))


def edit_issue(ctx: Ctx) -> Reply:
    """PATCH /repos/{owner}/{repo}/issues/{number}."""
    number, body, repo = _number(ctx), _object(ctx), _repo(ctx)
    names = label_names(body["labels"], allow_empty=True) if "labels" in body else None
    if names is not None:
        _check_room(ctx, number, names, replace=True)
    issue = repo.edit(number, _user(ctx), title=body.get("title"), body=body.get("body"), state=body.get("state"),
                      reason=body.get("state_reason"))
    if names is not None:
        repo.replace_labels(number, names, _user(ctx))
    return Reply(200, rebase(issue, ctx.base, ctx.base))


def issue_events(ctx: Ctx) -> Reply:
    """GET .../issues/{number}/events: oldest first."""
    return paginate(ctx, _repo(ctx).events.get(_number(ctx), []), _render(ctx))


def timeline(ctx: Ctx) -> Reply:
    """GET .../issues/{number}/timeline: events and comments."""
    return paginate(ctx, _repo(ctx).timeline(_number(ctx)), _render(ctx))


def repo_events(ctx: Ctx) -> Reply:
    """GET .../issues/events: the repository's events, newest first, each with its issue."""
    repo = _repo(ctx)
    newest_first = sorted(repo.repo_events, key=lambda item: item[1]["id"], reverse=True)
    return paginate(ctx, newest_first, lambda item: rebase({**item[1], "issue": repo.issues[item[0]]},
                                                           ctx.base, ctx.base))


def get_event(ctx: Ctx) -> Reply:
    """GET .../issues/events/{id}."""
    repo, ident = _repo(ctx), int(ctx.params["event"])
    for number, event in repo.repo_events:
        if event["id"] == ident:
            return Reply(200, rebase({**event, "issue": repo.issues[number]}, ctx.base, ctx.base))
    raise HTTPError(404, "Not Found")


def issue_labels(ctx: Ctx) -> Reply:
    """GET .../issues/{number}/labels."""
    return paginate(ctx, _repo(ctx).issues[_number(ctx)]["labels"], _render(ctx))


def add_labels(ctx: Ctx) -> Reply:
    """POST .../issues/{number}/labels: at least one label."""
    number, names = _number(ctx), label_names(ctx.body, allow_empty=False)
    _check_room(ctx, number, names, replace=False)
    _repo(ctx).add_labels(number, names, _user(ctx))
    return Reply(200, rebase(_repo(ctx).issues[number]["labels"], ctx.base, ctx.base))


def set_labels(ctx: Ctx) -> Reply:
    """PUT .../issues/{number}/labels: the labels, exactly."""
    number, names = _number(ctx), label_names(ctx.body if ctx.body is not None else [], allow_empty=True)
    _check_room(ctx, number, names, replace=True)
    _repo(ctx).replace_labels(number, names, _user(ctx))
    return Reply(200, rebase(_repo(ctx).issues[number]["labels"], ctx.base, ctx.base))


def clear_labels(ctx: Ctx) -> Reply:
    """DELETE .../issues/{number}/labels."""
    _repo(ctx).replace_labels(_number(ctx), [], _user(ctx))
    return Reply(204)


def remove_label(ctx: Ctx) -> Reply:
    """DELETE .../issues/{number}/labels/{name}."""
    number = _number(ctx)
    if not _repo(ctx).remove_label(number, ctx.params["label"], _user(ctx)):
        raise HTTPError(404, "Label does not exist")
    return Reply(200, rebase(_repo(ctx).issues[number]["labels"], ctx.base, ctx.base))


def _comment_text(ctx: Ctx) -> str:
    text = _object(ctx).get("body")
    if not isinstance(text, str) or not text.strip():
        raise Invalid("body is required: the comment's text, a non-empty string", "body", "IssueComment",
                      "missing_field")
    if len(text) > MAX_COMMENT:
        raise Invalid(f"body is too long (maximum is {MAX_COMMENT} characters)", "body", "IssueComment")
    return text


def list_comments(ctx: Ctx) -> Reply:
    """GET .../issues/{number}/comments (``since``)."""
    after, repo = since(ctx.query), _repo(ctx)
    items = repo.issue_comment_list(_number(ctx))
    if after is not None:
        items = [c for c in items if parse_iso(c["updated_at"]) >= after]
    return paginate(ctx, items, _render(ctx))


def repo_comments(ctx: Ctx) -> Reply:
    """GET .../issues/comments (``sort``, ``direction``, ``since``)."""
    q, after = ctx.query, since(ctx.query)
    sort = choice(q, "sort", ("created", "updated"), "created")
    direction = choice(q, "direction", ("asc", "desc"), "desc" if "sort" in q else "asc")
    items = list(_repo(ctx).comments.values())
    if after is not None:
        items = [c for c in items if parse_iso(c["updated_at"]) >= after]
    key = "created_at" if sort == "created" else "updated_at"
    items.sort(key=lambda c: (c[key], c["id"]), reverse=direction == "desc")
    return paginate(ctx, items, _render(ctx))


def create_comment(ctx: Ctx) -> Reply:
    """POST .../issues/{number}/comments."""
    number, text, repo = _number(ctx), _comment_text(ctx), _repo(ctx)
    comment = repo.add_comment(number, text, _user(ctx))
    location = f"{ctx.base}/repos/{repo.name}/issues/comments/{comment['id']}"
    return Reply(201, rebase(comment, ctx.base, ctx.base), {"Location": location})


def _comment(ctx: Ctx) -> dict[str, Any]:
    comment = _repo(ctx).comments.get(int(ctx.params["comment"]))
    if comment is None:
        raise HTTPError(404, "Not Found")
    return comment


def get_comment(ctx: Ctx) -> Reply:
    """GET .../issues/comments/{id}."""
    return Reply(200, rebase(_comment(ctx), ctx.base, ctx.base))


def edit_comment(ctx: Ctx) -> Reply:
    """PATCH .../issues/comments/{id}."""
    comment, text = _comment(ctx), _comment_text(ctx)
    comment["body"] = text
    comment["updated_at"] = _repo(ctx).world.tick()
    return Reply(200, rebase(comment, ctx.base, ctx.base))


def delete_comment(ctx: Ctx) -> Reply:
    """DELETE .../issues/comments/{id}."""
    comment, repo = _comment(ctx), _repo(ctx)
    for number, ids in repo.issue_comments.items():
        if comment["id"] in ids:
            ids.remove(comment["id"])
            repo.issues[number]["comments"] -= 1
    del repo.comments[comment["id"]]
    return Reply(204)


def labels(ctx: Ctx) -> Reply:
    """GET /repos/{owner}/{repo}/labels."""
    return paginate(ctx, list(_repo(ctx).labels.values()), _render(ctx))


def get_label(ctx: Ctx) -> Reply:
    """GET /repos/{owner}/{repo}/labels/{name}."""
    label = _repo(ctx).labels.get(ctx.params["label"])
    if label is None:
        raise HTTPError(404, "Not Found")
    return Reply(200, rebase(label, ctx.base, ctx.base))
