"""A synthetic repository of any size for the GitHub test server, resampled from the bundled real issues.

Issue ``k`` (numbers 1..N) takes the title, body and labels of a bundled corefx issue drawn by a seeded
generator, plus a line naming ``k`` so that no two texts are equal (the dataset builder drops duplicates).
:func:`tests.github.fixture.build_fixture` then gives it the history real issues have (label events by
maintainers, comments, ~5 % pull requests, closes, renames...); a share of the issues
(``bot_share``) have their ``labeled`` events performed by a bot instead, as GitHub Actions or a triage
bot would, so that "human labels only" has something to drop.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.github.fixture import DEFAULT_ISSUES, ROOT, FixtureRepo, build_fixture
from tests.github.objects import user_object

BOT_LABELER = "label-bot[bot]"


def bundled_rows(path: str | Path = DEFAULT_ISSUES) -> list[dict[str, Any]]:
    """The bundled issues (title, body, labels), in file order."""
    source = Path(path) if Path(path).is_absolute() else ROOT / path
    return [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]


def synthetic_rows(n: int, repo: str, seed: int = 0, source: list[dict[str, Any]] | None = None
                   ) -> Iterator[dict[str, Any]]:
    """``n`` issue rows numbered 1..n, each a resampled bundled issue with a line that makes its text unique."""
    if n < 0:
        raise ValueError(f"a synthetic repository needs a number of issues >= 0, got {n}")
    rows = source if source is not None else bundled_rows()
    if not rows:
        raise ValueError("no bundled issues to resample: data/corefx-area/issues.jsonl is empty")
    rng = random.Random(f"synthetic:{seed}:{repo}")
    for number in range(1, n + 1):
        row = rows[rng.randrange(len(rows))]
        body = f"{row.get('body') or ''}\n\nSeen in build {number} of {repo}."
        yield {"repo": repo, "number": number, "title": row.get("title") or "", "body": body,
               "labels": list(row.get("labels") or ())}


def build_synthetic(n: int, repo: str = "bench/large", *, seed: int = 0, bot_share: float = 0.10,
                    bot_login: str = "issue-triage[bot]") -> FixtureRepo:
    """A fixture of ``n`` resampled issues of ``repo`` (see the module docstring); deterministic for a seed."""
    if not 0.0 <= bot_share <= 1.0:
        raise ValueError(f"bot_share is a fraction between 0 and 1, got {bot_share}")
    with tempfile.TemporaryDirectory(prefix="synthetic-") as folder:
        path = Path(folder) / "issues.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for row in synthetic_rows(n, repo, seed):
                out.write(json.dumps(row) + "\n")
        fixture = build_fixture(path, repo=repo, bot_login=bot_login, seed=seed)
    bot = user_object(BOT_LABELER, "Bot")
    rng = random.Random(f"synthetic-bots:{seed}:{repo}")
    by_bot = {number for number in fixture.issues if rng.random() < bot_share}
    for number in by_bot:
        for event in fixture.events[number]:
            if event["event"] == "labeled":
                event["actor"] = bot
    for event in fixture.repo_events:
        if event["event"] == "labeled" and event["issue"]["number"] in by_bot:
            event["actor"] = bot
    return fixture


def bot_labeled(fixture: FixtureRepo) -> set[int]:
    """Numbers of the issues whose labels a bot applied."""
    return {number for number, events in fixture.events.items()
            if any(e["event"] == "labeled" and e["actor"]["login"] == BOT_LABELER for e in events)}
