"""Reading one field of a JSON payload: a dotted path and a check that names the field when it fails.

Each check takes ``(field, value)``, where ``value`` is :data:`MISSING` when the payload lacks the
field, and returns the value as the product uses it or raises :class:`PayloadError` saying what the
field must be and what it was (shown short and ASCII-only, so messages are safe to log and return).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar, cast

from triage.domain.errors import InputError
from triage.domain.issues import check_repo

MAX_NUMBER = 2**31 - 1  # issue numbers are 32-bit on GitHub
MAX_ID = 2**63 - 1  # installation ids are 64-bit
MAX_REPOSITORIES = 100_000  # an installation on every repository of a very large organization
MAX_LABEL = 100
MAX_NAME = 100  # logins (39 characters; bots add "[bot]"), account types, App slugs, actions
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class PayloadError(InputError):
    """A signed delivery the webhook cannot use as it is (answered 400); ``field`` names what is wrong."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


class _Missing:
    def __repr__(self) -> str:
        return "missing"


MISSING: Final = _Missing()
T = TypeVar("T")


def absent(value: Any) -> bool:
    """Whether a field is missing or null (GitHub writes optional fields either way)."""
    return value is MISSING or value is None


def lookup(payload: Mapping[str, Any], path: str) -> Any:
    """The value at the dotted ``path``, or :data:`MISSING`; :class:`PayloadError` when a parent is not an object."""
    node: Any = payload
    parts = path.split(".")
    for depth, part in enumerate(parts):
        if not isinstance(node, dict):
            raise _wrong(".".join(parts[:depth]), "an object", node)
        node = node.get(part, MISSING)
        if node is MISSING:
            return MISSING
    return node


def read(payload: Mapping[str, Any], path: str, check: Callable[[str, Any], T]) -> T:
    """The value at ``path`` as ``check`` accepts it (``check(path, value)`` raises :class:`PayloadError`)."""
    return check(path, lookup(payload, path))


def repo_name(field: str, value: Any) -> str:
    """A repository name by GitHub's rules, lower-cased (as the product keys repositories)."""
    try:
        return check_repo(value)
    except InputError:
        raise _wrong(field, "a repository name owner/name by GitHub's rules, for example octo-org/octo-repo",
                     value) from None


def installation_id(field: str, value: Any) -> int:
    """A GitHub App installation id: a JSON integer from 1 to 2^63 - 1 (GitHub's ids are 64-bit)."""
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise _wrong(field, f"a whole number from 1 to {MAX_ID}", value)
    return value


def optional_name(field: str, value: Any) -> str | None:
    """A short name, or None when absent or null."""
    return None if absent(value) else name(field, value)


def repo_list(field: str, value: Any) -> tuple[str, ...]:
    """A list of repository objects (``full_name`` each) as lower-cased names, () when absent or null."""
    if absent(value):
        return ()
    if not isinstance(value, list):
        raise _wrong(field, "a list of repository objects or null", value)
    if len(value) > MAX_REPOSITORIES:
        raise _wrong(field, f"a list of at most {MAX_REPOSITORIES} repositories", f"{len(value)} of them")
    names: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _wrong(f"{field}[{index}]", "a repository object", item)
        names.append(repo_name(f"{field}[{index}].full_name", item.get("full_name", MISSING)))
    return tuple(dict.fromkeys(names))


def issue_number(field: str, value: Any) -> int:
    """An issue number: a JSON integer from 1 to 2^31 - 1 (not a boolean, a float or a string)."""
    if type(value) is not int or not 1 <= value <= MAX_NUMBER:
        raise _wrong(field, f"a whole number from 1 to {MAX_NUMBER}", value)
    return value


def label_name(field: str, value: Any) -> str:
    """A label name: text of 1 to 100 characters, not blank, without control characters."""
    if not _text(value, MAX_LABEL):
        raise _wrong(field, f"a label name (1 to {MAX_LABEL} characters of text, not blank)", value)
    return cast(str, value)


def optional_label(field: str, value: Any) -> str | None:
    """A label name, or None when absent or null."""
    return None if absent(value) else label_name(field, value)


def name(field: str, value: Any) -> str:
    """A short name (login, account type, action): 1 to 100 characters of text, not blank."""
    if not _text(value, MAX_NAME):
        raise _wrong(field, f"a name (1 to {MAX_NAME} characters of text, not blank)", value)
    return cast(str, value)


def optional_time(field: str, value: Any) -> str | None:
    """An ISO 8601 time such as 2026-01-01T00:00:00Z, or None when absent or null."""
    if absent(value):
        return None
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError(value)
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _wrong(field, "an ISO 8601 time such as 2026-01-01T00:00:00Z, or null", value) from None
    return value


def optional_flag(field: str, value: Any) -> bool:
    """A JSON boolean (False when absent or null)."""
    if absent(value):
        return False
    if not isinstance(value, bool):
        raise _wrong(field, "true, false or null", value)
    return value


def optional_object(field: str, value: Any) -> dict[str, Any]:
    """An object ({} when absent or null)."""
    if absent(value):
        return {}
    if not isinstance(value, dict):
        raise _wrong(field, "an object or null", value)
    return value


def optional_app(field: str, value: Any) -> str | None:
    """The slug of a GitHub App object (its name or id without one), or None when absent or null."""
    app = optional_object(field, value)
    if absent(value):
        return None
    for key in ("slug", "name"):
        if app.get(key) is not None:
            return name(f"{field}.{key}", app[key])
    return f"app {app['id']}" if type(app.get("id")) is int else "an unnamed app"


# --- helpers ------------------------------------------------------------------------------------------------------

def _text(value: Any, longest: int) -> bool:
    """Whether ``value`` is a string of 1 to ``longest`` characters, not blank, valid Unicode (no lone surrogate),
    without control characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= longest or not value.strip() or _CONTROL.search(value):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800"
        return False
    return True


def _wrong(field: str, expected: str, value: Any) -> PayloadError:
    got = "it is missing" if value is MISSING else f"got {shown(value)}"
    return PayloadError(f"{field} must be {expected} ({got})", field)


def shown(value: Any) -> str:
    """A short, ASCII-only rendering of a value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return f"an {'object' if isinstance(value, dict) else 'array'}"
    text = ascii(value[:60] if isinstance(value, str) else value)
    return text if len(text) <= 60 else text[:57] + "..."
