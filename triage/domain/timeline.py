"""What label and assignment events of an issue's timeline share: who counts as a bot, and strict reading."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def made_by_bot(actor: str | None, actor_type: str | None, via_app: str | None, bot_login: str | None) -> bool:
    """True if a bot made the change: a bot account, the product's own login, or a GitHub App acting for a user
    (``performed_via_github_app``): an automation's change is not a maintainer's judgement."""
    if actor_type == "Bot" or via_app or (actor and actor.endswith("[bot]")):
        return True
    return bool(bot_login) and actor == bot_login


def unknown_fields(data: Mapping[Any, Any], known: Mapping[str, Any]) -> str:
    """The keys of a stored event that are not among ``known`` (a dataclass's fields), shortened for a message;
    empty when there are none."""
    return ", ".join(sorted(str(key)[:40] for key in data if key not in known)[:5])
