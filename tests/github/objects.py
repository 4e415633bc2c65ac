"""GitHub REST objects as ``api.github.com`` serves them (users, apps, installations, issues, events...).

Every URL is built on the canonical bases :data:`API_BASE` and :data:`HTML_BASE`; the server moves them to
its own URL when it renders an answer (:func:`rebase`).  Each builder fills every field that GitHub's REST
description (npm ``@octokit/openapi``) marks required for that object.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

API_BASE = "https://api.github.com"
HTML_BASE = "https://github.com"
DOCS = "https://docs.github.com/rest"
START = 1514764800  # 2018-01-01T00:00:00Z
HOUR = 3600
MINUTE = 60
APP_PERMISSIONS = {"issues": "write", "contents": "read", "metadata": "read"}
APP_EVENTS = ["issues", "issue_comment", "label"]
# GraphQL type names, which GitHub's node ids encode
EVENT_TYPES = {"labeled": "LabeledEvent", "unlabeled": "UnlabeledEvent", "closed": "ClosedEvent",
               "reopened": "ReopenedEvent", "renamed": "RenamedTitleEvent", "assigned": "AssignedEvent",
               "unassigned": "UnassignedEvent", "mentioned": "MentionedEvent", "subscribed": "SubscribedEvent",
               "referenced": "ReferencedEvent", "transferred": "TransferredEvent"}


def iso(epoch: float) -> str:
    """Epoch seconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def parse_iso(text: str) -> float:
    """ISO 8601 (``Z``, offsets and fractions accepted; naive = UTC) -> epoch seconds; ValueError if not one."""
    text = text.strip()
    if "T" in text:  # a "+hh:mm" offset arrives as " hh:mm" when a client did not percent-encode the "+"
        date, _, rest = text.partition("T")
        text = date + "T" + rest.replace(" ", "+").replace("Z", "+00:00")
    if not text.isascii():  # fromisoformat accepts other scripts' digits; GitHub does not
        raise ValueError(f"not an ISO 8601 time: {text!r}")
    try:
        value = datetime.fromisoformat(text)
    except OverflowError as exc:
        raise ValueError(str(exc)) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def stable_int(*parts: object, digits: int = 8) -> int:
    """A number that depends only on ``parts``."""
    return int(hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:digits], 16)


def node_id(kind: str, ident: int) -> str:
    """A GraphQL node id in GitHub's legacy format."""
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode()


def user_object(login: str, actor_type: str = "User") -> dict[str, Any]:
    """A ``simple-user`` (a person, an organization or an App's ``[bot]`` account)."""
    ident = 10_000_000 + stable_int("user", login, digits=6)
    api = f"{API_BASE}/users/{quote(login, safe='')}"
    html = f"{HTML_BASE}/apps/{quote(login.removesuffix('[bot]'), safe='')}" if actor_type == "Bot" \
        else f"{HTML_BASE}/{quote(login, safe='')}"
    return {"login": login, "id": ident, "node_id": node_id(actor_type, ident),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{ident}?v=4", "gravatar_id": "",
            "url": api, "html_url": html, "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}", "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs", "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events", "type": actor_type, "user_view_type": "public",
            "site_admin": False}


def app_object(slug: str, app_id: int, owner: str) -> dict[str, Any]:
    """An ``integration`` (a GitHub App), as in ``GET /app`` and ``performed_via_github_app``."""
    at = iso(START - 90 * 24 * HOUR)
    return {"id": app_id, "slug": slug, "node_id": node_id("App", app_id), "client_id": f"Iv1.{app_id:016x}",
            "owner": user_object(owner, "Organization"), "name": slug, "description": f"The {slug} GitHub App",
            "external_url": f"{HTML_BASE}/{quote(owner, safe='')}", "html_url": f"{HTML_BASE}/apps/{quote(slug)}",
            "created_at": at, "updated_at": at, "permissions": dict(APP_PERMISSIONS), "events": list(APP_EVENTS)}


def bot_app(login: str, app_id: int | None = None) -> dict[str, Any]:
    """The App behind a ``[bot]`` login (its id derived from the slug unless given)."""
    slug = login.removesuffix("[bot]")
    return app_object(slug, app_id if app_id is not None else 100_000 + stable_int("app", slug, digits=4), slug)


def installation_object(installation_id: int, app_id: int, app_slug: str, owner: str) -> dict[str, Any]:
    """An ``installation`` of the App on the owner's account."""
    account = user_object(owner, "Organization")
    at = iso(START - 60 * 24 * HOUR)
    return {"id": installation_id, "account": account, "repository_selection": "selected",
            "access_tokens_url": f"{API_BASE}/app/installations/{installation_id}/access_tokens",
            "repositories_url": f"{API_BASE}/installation/repositories",
            "html_url": f"{HTML_BASE}/organizations/{quote(owner, safe='')}/settings/installations/{installation_id}",
            "app_id": app_id, "app_slug": app_slug, "target_id": account["id"], "target_type": "Organization",
            "permissions": dict(APP_PERMISSIONS), "events": list(APP_EVENTS), "created_at": at, "updated_at": at,
            "single_file_name": None, "has_multiple_single_files": False, "single_file_paths": [],
            "suspended_by": None, "suspended_at": None}


def label_object(repo: str, name: str, color: str | None = None, description: str | None = None) -> dict[str, Any]:
    """A ``label`` with a stable id (a hash of the name) and color."""
    digest = hashlib.sha1(name.encode()).hexdigest()
    ident = 1_000_000_000 + int(digest[:7], 16)
    return {"id": ident, "node_id": node_id("Label", ident),
            "url": f"{API_BASE}/repos/{repo}/labels/{quote(name)}", "name": name,
            "color": color or digest[8:14], "default": False, "description": description}


def issue_urls(repo: str, number: int) -> dict[str, str]:
    """The URL fields of an issue."""
    url = f"{API_BASE}/repos/{repo}/issues/{number}"
    return {"url": url, "repository_url": f"{API_BASE}/repos/{repo}", "labels_url": url + "/labels{/name}",
            "comments_url": url + "/comments", "events_url": url + "/events", "timeline_url": url + "/timeline",
            "html_url": f"{HTML_BASE}/{repo}/issues/{number}"}


def event_object(repo: str, ident: int, kind: str, actor: dict[str, Any], at: str,
                 app: dict[str, Any] | None = None, **details: Any) -> dict[str, Any]:
    """An issue event (no ``issue`` key); ``details`` are the kind's own fields (``label``, ``rename``...)."""
    return {"id": ident, "node_id": node_id(EVENT_TYPES.get(kind, "IssueEvent"), ident),
            "url": f"{API_BASE}/repos/{repo}/issues/events/{ident}", "actor": actor, "event": kind,
            "commit_id": None, "commit_url": None, "created_at": at, "performed_via_github_app": app, **details}


def event_label(label: Mapping[str, Any]) -> dict[str, Any]:
    """The ``label`` of a labeled/unlabeled event: name and color only."""
    return {"name": label["name"], "color": label["color"]}


def comment_object(repo: str, number: int, ident: int, body: str, user: dict[str, Any], at: str,
                   association: str, app: dict[str, Any] | None = None) -> dict[str, Any]:
    """An ``issue-comment``."""
    return {"id": ident, "node_id": node_id("IssueComment", ident),
            "url": f"{API_BASE}/repos/{repo}/issues/comments/{ident}",
            "html_url": f"{HTML_BASE}/{repo}/issues/{number}#issuecomment-{ident}",
            "issue_url": f"{API_BASE}/repos/{repo}/issues/{number}", "body": body, "user": user,
            "created_at": at, "updated_at": at, "author_association": association, "performed_via_github_app": app}


_REPO_URLS = {  # full-repository's *_url fields: name -> path under /repos/{repo} (API) or a template
    "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}", "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}", "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}", "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}", "contributors_url": "/contributors", "deployments_url": "/deployments",
    "downloads_url": "/downloads", "events_url": "/events", "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}", "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks", "issue_comment_url": "/issues/comments{/number}", "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}", "labels_url": "/labels{/name}",
    "languages_url": "/languages", "merges_url": "/merges", "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}", "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
    "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
}


def repository_object(ident: int, full_name: str, *, private: bool, has_issues: bool,
                      open_issues: int) -> dict[str, Any]:
    """A ``full-repository``."""
    owner, name = full_name.split("/", 1)
    api, html = f"{API_BASE}/repos/{full_name}", f"{HTML_BASE}/{full_name}"
    at = iso(START - 365 * 24 * HOUR)
    return {"id": ident, "node_id": node_id("Repository", ident), "name": name, "full_name": full_name,
            "owner": user_object(owner, "Organization"), "private": private, "html_url": html,
            "description": f"{name} issues", "fork": False, "url": api,
            **{key: api + tail for key, tail in _REPO_URLS.items()},
            "clone_url": html + ".git", "git_url": f"git://github.com/{full_name}.git",
            "ssh_url": f"git@github.com:{full_name}.git", "svn_url": html, "mirror_url": None, "homepage": None,
            "language": "C#", "forks": 0, "forks_count": 0, "stargazers_count": 0, "watchers": 0,
            "watchers_count": 0, "size": 1024, "default_branch": "main", "open_issues": open_issues,
            "open_issues_count": open_issues, "has_issues": has_issues, "has_projects": False, "has_wiki": False,
            "has_pages": False, "has_discussions": False, "archived": False, "disabled": False,
            "visibility": "private" if private else "public", "license": None, "pushed_at": at, "created_at": at,
            "updated_at": at, "network_count": 0, "subscribers_count": 0}


def content_file_object(repo: str, path: str, text: str) -> dict[str, Any]:
    """A ``content-file`` (base64 in 60-character lines, as GitHub sends it)."""
    data = text.encode("utf-8")
    encoded = base64.b64encode(data).decode()
    content = "\n".join(encoded[i:i + 60] for i in range(0, len(encoded), 60)) + "\n"
    sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    url = f"{API_BASE}/repos/{repo}/contents/{quote(path)}?ref=main"
    html = f"{HTML_BASE}/{repo}/blob/main/{quote(path)}"
    git = f"{API_BASE}/repos/{repo}/git/blobs/{sha}"
    return {"type": "file", "encoding": "base64", "size": len(data), "name": path.rsplit("/", 1)[-1], "path": path,
            "content": content, "sha": sha, "url": url, "html_url": html, "git_url": git,
            "download_url": f"https://raw.githubusercontent.com/{repo}/main/{quote(path)}",
            "_links": {"self": url, "git": git, "html": html}}


def _is_url_key(key: str) -> bool:
    return key in ("url", "href", "self", "git", "html") or key.endswith("_url")


def rebase(obj: Any, api: str, html: str, key: str = "") -> Any:
    """Deep copy of ``obj`` with URL values moved from the canonical bases to ``api`` and ``html``."""
    if isinstance(obj, dict):
        return {k: rebase(v, api, html, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rebase(v, api, html, key) for v in obj]
    if isinstance(obj, str) and _is_url_key(key):
        if obj.startswith(API_BASE):
            return api + obj[len(API_BASE):]
        if obj.startswith(HTML_BASE):
            return html + obj[len(HTML_BASE):]
    return obj


def move_urls(obj: Any, old: str, new: str, key: str = "") -> Any:
    """Deep copy of ``obj`` with URLs of repository ``old`` pointing at ``new`` instead (a rename, a transfer)."""
    if isinstance(obj, dict):
        return {k: move_urls(v, old, new, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [move_urls(v, old, new, key) for v in obj]
    if isinstance(obj, str) and _is_url_key(key):
        for before, after in ((f"{API_BASE}/repos/{old}", f"{API_BASE}/repos/{new}"),
                              (f"{HTML_BASE}/{old}", f"{HTML_BASE}/{new}")):
            if obj == before or obj.startswith(before) and obj[len(before)] in "/#?":
                return after + obj[len(before):]
    return obj
