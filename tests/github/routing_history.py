"""An assignment history for the loopback GitHub server, generated from config-style owner rules.

:func:`tests.github.fixture.build_fixture` gives about a fifth of the issues an ``assigned`` event by a random
maintainer. :func:`apply_owner_rules` rewrites those events as a team with area owners would have made them:
the owner of the issue's first label is assigned (``noise`` of them someone else), and ``bot_share`` of them are
made by a bot (a GitHub App's account, ``Bot``) instead, whose choices training must ignore. The issue objects'
``assignee``/``assignees`` follow, so that the REST answers agree with the events.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from tests.github.fixture import MAINTAINERS, FixtureRepo
from tests.github.objects import user_object

ROUTING_BOT = "routing-bot[bot]"


def owner_rules(labels: Sequence[str], people: int = 6) -> dict[str, str]:
    """Label -> owner: the labels in name order dealt round-robin to ``owner-0`` ... ``owner-{people-1}``."""
    return {label: f"owner-{i % people}" for i, label in enumerate(sorted(labels))}


def apply_owner_rules(fixture: FixtureRepo, owners: dict[str, str], *, seed: int = 0, noise: float = 0.1,
                      bot_share: float = 0.15) -> dict[int, str | None]:
    """Rewrite the fixture's ``assigned`` events by ``owners``; returns issue number -> the human-assigned owner
    (None where the bot assigned)."""
    rng = random.Random(f"owner-rules:{seed}:{fixture.repo}")
    people = sorted(set(owners.values()))
    chosen: dict[int, tuple[dict, dict]] = {}  # number -> (actor, assignee)
    truth: dict[int, str | None] = {}
    for number, events in fixture.events.items():
        if not any(e["event"] == "assigned" for e in events):
            continue
        issue = fixture.issues[number]
        names = [label["name"] for label in issue["labels"]]
        who = owners.get(names[0]) if names else None
        if who is None or rng.random() < noise:
            who = rng.choice(people)
        by_bot = rng.random() < bot_share
        actor = user_object(ROUTING_BOT, "Bot") if by_bot else user_object(rng.choice(MAINTAINERS))
        assignee = user_object(rng.choice(people) if by_bot else who)
        chosen[number] = (actor, assignee)
        truth[number] = None if by_bot else who
        issue["assignee"], issue["assignees"] = assignee, [assignee]
    for number, events in fixture.events.items():
        for event in events:
            if number in chosen and event["event"] == "assigned":
                event["actor"], event["assignee"] = chosen[number]
                event["assigner"] = chosen[number][0]
    for event in fixture.repo_events:
        number = event["issue"]["number"]
        if number in chosen and event["event"] == "assigned":
            event["actor"], event["assignee"] = chosen[number]
            event["assigner"] = chosen[number][0]
    return truth
