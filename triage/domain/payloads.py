"""GitHub webhook deliveries, read strictly: the JSON body, then the fields each route of the webhook uses.

:func:`parse_body` accepts UTF-8 JSON objects with finite numbers and at most :data:`MAX_DEPTH` levels of
nesting; :func:`read_delivery` turns one into what the webhook must do (:data:`Parsed`), checking the
type, range and length of every field that route reads and nothing else, so an event the product does
not use is never refused. Each refusal is a :class:`PayloadError` that names the field and what it must
be. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from json import loads
from typing import Any, cast

from triage.domain.assign_payloads import ASSIGN_ACTIONS, AssignChange, read_assign_change
from triage.domain.issues import LabelAction, LabelEvent
from triage.domain.payload_fields import (
    PayloadError,
    absent,
    installation_id,
    issue_number,
    label_name,
    lookup,
    name,
    optional_app,
    optional_flag,
    optional_label,
    optional_name,
    optional_object,
    optional_time,
    read,
    repo_list,
    repo_name,
    shown,
)

MAX_DEPTH = 32  # GitHub's payloads nest 7 levels at most (the @octokit/webhooks-examples corpus)
MAX_INT_DIGITS = 40  # GitHub's numbers are 64-bit; longer ones are refused before Python converts them
LABEL_REQUEST_ACTIONS = ("opened", "reopened", "transferred", "edited")
PULL_REQUEST_ACTIONS = ("opened", "reopened", "ready_for_review", "edited")  # a draft waits for ready_for_review
LABEL_ACTIONS: tuple[LabelAction, ...] = ("labeled", "unlabeled")
TAXONOMY_ACTIONS = ("created", "edited", "deleted")
EVENT_HEADER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DELIVERY_HEADER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
INSTALLATION_ACTIONS = ("created", "deleted", "suspend", "unsuspend")
INSTALLATION_REPOSITORY_ACTIONS = ("added", "removed")
APP_HOME = "(github-app)"  # where App-wide deliveries (installation events) are kept: they have no repository
__all__ = ["PayloadError", "Parsed", "Ignored", "LabelRequest", "LabelChange", "LabelListChange", "InstallationChange",
           "AssignChange",
           "check_headers", "parse_body", "read_delivery", "delivery_installation"]


@dataclass(frozen=True)
class Ignored:
    """Nothing to do: answered ``status`` (202, or 200 for ``ping``) with ``reason``."""

    reason: str
    status: int = 202


@dataclass(frozen=True)
class LabelRequest:
    """Label issue ``repo#number`` (``home``: the repository the delivery came from)."""

    home: str
    repo: str
    number: int
    reason: str


@dataclass(frozen=True)
class LabelChange:
    """Someone added or removed a label of ``home#number``; :meth:`LabelEvent.is_bot` says whether a human did."""

    home: str
    number: int
    event: LabelEvent


@dataclass(frozen=True)
class LabelListChange:
    """A label of ``home`` was created, edited (``old_name``: its name before a rename) or deleted."""

    home: str
    action: str
    name: str
    old_name: str | None = None


@dataclass(frozen=True)
class InstallationChange:
    """The App's installation ``installation`` was created, deleted, suspended or unsuspended, or repositories were
    ``added`` to or ``removed`` from it (lower-cased names); ``home`` is :data:`APP_HOME`."""

    installation: int
    action: str
    account: str | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    event: str = "installation"
    home: str = APP_HOME


Parsed = Ignored | LabelRequest | LabelChange | LabelListChange | InstallationChange | AssignChange


def check_headers(event: str | None, delivery: str | None) -> tuple[str, str]:
    """``(event, delivery)`` if both headers look like GitHub's; else :class:`PayloadError`."""
    if not isinstance(event, str) or not EVENT_HEADER.match(event):
        raise PayloadError(f"X-GitHub-Event header must be an event name such as issues (got {shown(event)})",
                           "X-GitHub-Event")
    if not isinstance(delivery, str) or not DELIVERY_HEADER.match(delivery):
        raise PayloadError("X-GitHub-Delivery header must be GitHub's delivery GUID (1-100 letters, digits, '.', "
                           f"'_', ':' or '-'; got {shown(delivery)})", "X-GitHub-Delivery")
    return event, delivery


def parse_body(body: bytes) -> dict[str, Any]:
    """The delivery's JSON object; :class:`PayloadError` for anything else (never RecursionError)."""
    if body.startswith(b"payload="):
        raise PayloadError("the body is form-encoded: set the webhook's content type to application/json")
    try:
        value = loads(body.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite, parse_int=_short_int)
    except UnicodeDecodeError as exc:
        raise PayloadError(f"the body is not UTF-8 (byte {exc.start}): GitHub sends UTF-8 JSON") from None
    except RecursionError:
        raise PayloadError(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except PayloadError:
        raise
    except ValueError as exc:
        raise PayloadError(f"the body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise PayloadError(f"the body must be a JSON object (got {type(value).__name__})")
    _check_depth(value)
    return value


def read_delivery(event: str, payload: Mapping[str, Any]) -> Parsed:
    """What a delivery of ``event`` asks of the webhook; :class:`PayloadError` names the first bad field."""
    if event == "ping":
        return Ignored("pong", 200)
    if event == "issues":
        return _issues(payload, _action(payload))
    if event == "pull_request":
        return _pull_request(payload, _action(payload))
    if event == "label":
        return _label(payload, _action(payload))
    if event in ("installation", "installation_repositories"):
        return _installation(payload, event, _action(payload))
    return Ignored(f"{event} events are not used")


def _installation(p: Mapping[str, Any], event: str, action: str) -> Parsed:
    """``installation`` (created, deleted, suspend, unsuspend) and ``installation_repositories`` (added, removed)."""
    if action not in (INSTALLATION_ACTIONS if event == "installation" else INSTALLATION_REPOSITORY_ACTIONS):
        return Ignored(f"{event}.{action} is not used")
    ident = read(p, "installation.id", installation_id)
    account = read(p, "installation.account.login", optional_name) if isinstance(
        lookup(p, "installation.account"), dict) else None
    if event == "installation_repositories":
        return InstallationChange(ident, action, account, read(p, "repositories_added", repo_list),
                                  read(p, "repositories_removed", repo_list), event)
    listed = read(p, "repositories", repo_list)
    return InstallationChange(ident, action, account, listed if action == "created" else (),
                              listed if action == "deleted" else ())


def delivery_installation(payload: Mapping[str, Any]) -> tuple[str, int] | None:
    """(repository, installation id) a delivery names (``repository.full_name``, ``installation.id``), when it
    names both well; else None (this is a hint for the installation registry, never a reason to refuse)."""
    try:
        if absent(lookup(payload, "installation.id")) or absent(lookup(payload, "repository.full_name")):
            return None
        return read(payload, "repository.full_name", repo_name), read(payload, "installation.id", installation_id)
    except PayloadError:
        return None


def _issues(p: Mapping[str, Any], action: str) -> Parsed:
    if action in LABEL_REQUEST_ACTIONS:
        home = read(p, "repository.full_name", repo_name)
        if action == "transferred":
            return LabelRequest(home, read(p, "changes.new_repository.full_name", repo_name),
                                read(p, "changes.new_issue.number", issue_number), action)
        number = read(p, "issue.number", issue_number)
        if action == "edited" and not {"title", "body"} & set(read(p, "changes", optional_object)):
            return Ignored("issues.edited ignored: the edit did not change the title or body")
        return LabelRequest(home, home, number, action)
    if action in LABEL_ACTIONS:
        if absent(lookup(p, "label")):
            return Ignored(f"issues.{action} without a label ignored")
        home = read(p, "repository.full_name", repo_name)
        event = LabelEvent(label=read(p, "label.name", label_name), action=cast(LabelAction, action),
                           actor=read(p, "sender.login", name), actor_type=read(p, "sender.type", name),
                           at=read(p, "issue.updated_at", optional_time),
                           via_app=read(p, "issue.performed_via_github_app", optional_app))
        return LabelChange(home, read(p, "issue.number", issue_number), event)
    if action in (*ASSIGN_ACTIONS, "closed"):  # judge the bot's assignment (triage.app.routing_feedback)
        change = read_assign_change(p, action)
        return change if change is not None else Ignored(f"issues.{action} ignored: no assignee to judge")
    return Ignored(f"issues.{action} is not used")


def _pull_request(p: Mapping[str, Any], action: str) -> Parsed:
    """``pull_request`` deliveries: a label request when a pull request is opened, reopened, marked ready for
    review or its title or body edited (drafts wait for ready_for_review); label changes as for issues."""
    if action in PULL_REQUEST_ACTIONS:
        home, number = read(p, "repository.full_name", repo_name), read(p, "pull_request.number", issue_number)
        if action == "edited" and not {"title", "body"} & set(read(p, "changes", optional_object)):
            return Ignored("pull_request.edited ignored: the edit did not change the title or body")
        if action != "ready_for_review" and read(p, "pull_request.draft", optional_flag):
            return Ignored(f"pull_request.{action} ignored: a draft is labeled when it is marked ready for review")
        return LabelRequest(home, home, number, action)
    if action in LABEL_ACTIONS:
        if absent(lookup(p, "label")):
            return Ignored(f"pull_request.{action} without a label ignored")
        event = LabelEvent(label=read(p, "label.name", label_name), action=cast(LabelAction, action),
                           actor=read(p, "sender.login", name), actor_type=read(p, "sender.type", name),
                           at=read(p, "pull_request.updated_at", optional_time),
                           via_app=read(p, "pull_request.performed_via_github_app", optional_app))
        return LabelChange(read(p, "repository.full_name", repo_name), read(p, "pull_request.number", issue_number),
                           event)
    return Ignored(f"pull_request.{action} is not used")


def _label(p: Mapping[str, Any], action: str) -> Parsed:
    if action not in TAXONOMY_ACTIONS:
        return Ignored(f"label.{action} is not used")
    home, label = read(p, "repository.full_name", repo_name), read(p, "label.name", label_name)
    old = read(p, "changes.name.from", optional_label) if action == "edited" else None
    return LabelListChange(home, action, label, old if old != label else None)


def _action(p: Mapping[str, Any]) -> str:
    return read(p, "action", name)


def _no_constant(constant: str) -> Any:
    raise PayloadError(f"the body has the number {constant}: JSON numbers must be finite")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise PayloadError(f"the body has the number {literal[:40]}, beyond the range of a double")
    return value


def _short_int(literal: str) -> int:
    digits = len(literal) - literal.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise PayloadError(f"the body has a number of {digits} digits (at most {MAX_INT_DIGITS})")
    return int(literal)


def _check_depth(root: dict[str, Any]) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH`, walking with a stack (no recursion)."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError(f"the body nests deeper than {MAX_DEPTH} levels")
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
