"""The ``routing`` section of the repository config: who gets an issue once it is labeled.

Example (every key optional; no ``routing`` section: the labeler assigns nobody)::

    routing:
      owners:                        # label, or glob over labels -> logins; the first entry that matches wins
        area-System.Net: [alice, bob]
        "area-System.IO*": [carol]
      away: [carol]                  # never assigned (holidays, left the team)
      rule: least_assigned           # among a label's owners: least_assigned (fewest open issues) or round_robin
      learned: false                 # where no owner entry matches: the learned assignee model, if it is sure
      inactive_months: 6             # the learned model drops people who assigned nobody for this long
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from triage.domain.errors import ConfigError

Rule = Literal["least_assigned", "round_robin"]
RULES: tuple[str, ...] = ("least_assigned", "round_robin")
KEYS = {"owners", "away", "rule", "learned", "inactive_months"}
# GitHub's login rule: 1-39 letters or digits, single hyphens inside, none at either end.
LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
MAX_PATTERNS = 500  # owner entries
MAX_OWNERS = 100  # logins for one label
MAX_AWAY = 1000
MAX_PATTERN = 100  # characters of a label name or glob (GitHub's labels have at most 50)


@dataclass(frozen=True)
class RoutingConfig:
    """Validated routing settings. ``owners`` keeps the file's order: the first matching entry wins."""

    owners: tuple[tuple[str, tuple[str, ...]], ...] = ()
    away: frozenset[str] = field(default_factory=frozenset)  # lower-case: GitHub logins ignore case
    rule: Rule = "least_assigned"
    learned: bool = False
    inactive_months: int = 6

    def owners_for(self, labels: Iterable[str]) -> tuple[str, str, tuple[str, ...]] | None:
        """``(pattern, label, available owners)`` of the first owner entry matching one of ``labels`` that has
        someone not away; None if no entry applies."""
        labels = tuple(labels)
        for pattern, logins in self.owners:
            label = next((name for name in labels if fnmatch.fnmatchcase(name, pattern)), None)
            if label is None:
                continue
            present = tuple(login for login in logins if not self.is_away(login))
            if present:
                return pattern, label, present
        return None

    def is_away(self, login: str) -> bool:
        """Whether ``login`` is on the away list (case-insensitive, as GitHub logins are)."""
        return login.lower() in self.away


def parse_routing(value: Any, source: str) -> RoutingConfig | None:
    """The ``routing`` section (None: absent, routing off); :class:`ConfigError` naming the key and the fix."""
    if value is None:
        return None
    section = _mapping(value, "routing", source)
    unknown = sorted(str(key)[:40] for key in section if key not in KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown} in routing; allowed: {', '.join(sorted(KEYS))}")
    owners = _mapping(section.get("owners") or {}, "routing.owners", source)
    if len(owners) > MAX_PATTERNS:
        raise ConfigError(f"{source}: routing.owners has {len(owners)} entries; at most {MAX_PATTERNS} (use globs "
                          "such as 'area-*')")
    entries = []
    for pattern, logins in owners.items():
        where = f"routing.owners.{_shown(pattern)}"
        if not isinstance(pattern, str) or not pattern.strip() or len(pattern) > MAX_PATTERN or \
                not pattern.isprintable():
            raise ConfigError(f"{source}: {where}: the key must be a label name or a glob over labels "
                              f"(1 to {MAX_PATTERN} printable characters; quote numbers: '\"1\": [alice]')")
        entries.append((pattern, _logins(logins, where, source, MAX_OWNERS, empty=False)))
    away = _logins(section.get("away") or [], "routing.away", source, MAX_AWAY, empty=True)
    rule = section.get("rule", "least_assigned")
    if rule not in RULES or not isinstance(rule, str):
        raise ConfigError(f"{source}: routing.rule must be one of {', '.join(RULES)}, got {_shown(rule)}")
    learned = section.get("learned", False)
    if not isinstance(learned, bool):
        raise ConfigError(f"{source}: routing.learned must be true or false, got {_shown(learned)}")
    months = section.get("inactive_months", 6)
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
        raise ConfigError(f"{source}: routing.inactive_months must be a whole number from 1 to 120, got "
                          f"{_shown(months)}")
    return RoutingConfig(owners=tuple(entries), away=frozenset(login.lower() for login in away), rule=rule,  # type: ignore[arg-type]
                         learned=learned, inactive_months=months)


def _mapping(value: Any, where: str, source: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {where} must be a mapping, got {_shown(value)}")
    return value


def _logins(value: Any, where: str, source: str, limit: int, *, empty: bool) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]  # "owners: {bug: alice}" means one owner
    if not isinstance(value, list) or (not value and not empty):
        raise ConfigError(f"{source}: {where} must be a {'' if empty else 'non-empty '}list of GitHub logins such as "
                          f"[alice, bob], got {_shown(value)}")
    if len(value) > limit:
        raise ConfigError(f"{source}: {where} lists {len(value)} logins; at most {limit}")
    seen: set[str] = set()
    for i, login in enumerate(value):
        if not isinstance(login, str) or not LOGIN.match(login):
            raise ConfigError(f"{source}: {where}[{i}] is {_shown(login)}, which is not a GitHub login (1 to 39 "
                              "letters, digits or single hyphens, not starting or ending with a hyphen; no '@')")
        if login.lower() in seen:
            raise ConfigError(f"{source}: {where} lists {login!r} twice; keep one")
        seen.add(login.lower())
    return tuple(value)


def _shown(value: Any) -> str:
    if isinstance(value, (bool, float)) or (isinstance(value, int) and abs(value) < 10**30) or \
            (isinstance(value, str) and len(value) <= 60):
        return ascii(value)
    return {dict: "a mapping", list: "a list", str: "a long text", int: "a huge number"}.get(type(value), type(value).__name__)
