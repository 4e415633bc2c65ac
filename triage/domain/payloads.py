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

from triage.domain.issues import LabelAction, LabelEvent
from triage.domain.payload_fields import (
    PayloadError,
    absent,
    issue_number,
    label_name,
    lookup,
    name,
    optional_app,
    optional_label,
    optional_object,
    optional_time,
    read,
    repo_name,
    shown,
)

MAX_DEPTH = 32  # GitHub's payloads nest 7 levels at most (the @octokit/webhooks-examples corpus)
MAX_INT_DIGITS = 40  # GitHub's numbers are 64-bit; longer ones are refused before Python converts them
LABEL_REQUEST_ACTIONS = ("opened", "reopened", "transferred", "edited")
LABEL_ACTIONS: tuple[LabelAction, ...] = ("labeled", "unlabeled")
TAXONOMY_ACTIONS = ("created", "edited", "deleted")
EVENT_HEADER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DELIVERY_HEADER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
__all__ = ["PayloadError", "Parsed", "Ignored", "LabelRequest", "LabelChange", "LabelListChange", "check_headers",
           "parse_body", "read_delivery"]


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


Parsed = Ignored | LabelRequest | LabelChange | LabelListChange


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
    if event == "label":
        return _label(payload, _action(payload))
    return Ignored(f"{event} events are not used")


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
    return Ignored(f"issues.{action} is not used")


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
