"""Label identity under renames and deletions, as a randomized check: the labeler never re-adds a label a human
removed (whatever it is called now), never applies a deleted label, and never loses the decision behind a label it wrote.

A label keeps its identity across renames, as on GitHub. Per scenario, random operations on one issue: the bot
labels (with a model trained before or after the renames), a human removes labels, labels are renamed (chains,
reused names), deleted, and requests repeat (reopen, edit, retry). The check works on identities at the time of
each event. ``python -m tests.unit.test_label_identity SEED COUNT`` prints the counts of a larger run.
"""

from __future__ import annotations

import itertools
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.fake_github import FakeGitHub
from tests.unit.test_labeling_rules import area_model, services
from triage.app.labeling import label_batch
from triage.domain.repo_config import CONFIG_PATH
from triage.learning.feedback import label_names, record_label_event
from triage.ports.records import PREDICTIONS, LabelRecord

REPO = "octo/widgets"


POOL = ["area-Old", "area-Mid", "area-New", "area-X", "area-Y"]


class Scenario:
    """One issue, its repository's labels by identity (``ids``: name -> id), and GitHub's events tagged with the
    identity of their label at the time."""

    def __init__(self, rng: random.Random, trial: int) -> None:
        self.rng, self.trial = rng, trial
        self.github = FakeGitHub(REPO)
        self.github.files[CONFIG_PATH] = "dry_run: false\n"
        self.s = services(Path(tempfile.mkdtemp()), self.github)
        self.number = self.github.open_issue(f"Socket hangs {trial}")
        self._ids = itertools.count(1)
        self.ids = {name: next(self._ids) for name in ("area-Old", "area-Mid", "area-New", "area-Other")}
        self.deleted: dict[int, int] = {}  # label id -> number of events before its deletion
        self.tagged: list[tuple[dict[str, Any], int]] = []
        self.removals = 0
        self.first = rng.choice(POOL[:3])

    def _likely(self, names: list[str]) -> str:
        """Mostly a name whose label this issue has seen (where the rules bite), else any of ``names``."""
        seen = sorted({name for name in names if self.ids.get(name) in {i for _, i in self.tagged}})
        return self.rng.choice(seen if seen and self.rng.random() < 0.7 else names)

    def tag(self) -> None:
        for event in self.github.events.get(self.number, [])[len(self.tagged):]:
            name = event["label"]["name"]
            self.ids.setdefault(name, next(self._ids))  # GitHub creates a label the bot adds under a new name
            self.tagged.append((event, self.ids[name]))

    def request(self, fresh_model: bool) -> None:
        # a model trained on today's names (mostly those this issue has seen), or one trained before the renames
        pick = self._likely(sorted(self.ids) or POOL) if fresh_model else self.first
        label_batch(self.s, REPO, [self.number], area_model(pick, [pick, "area-Other"],  # type: ignore[arg-type]
                                                            version="v2" if fresh_model else "v1"))

    def remove(self) -> None:
        current = [label["name"] for label in self.github.issues[self.number]["labels"]]
        if current:
            name = self.rng.choice(current)
            self.github.label(self.number, name, "maintainer", action="unlabeled")
            self.removals += 1
            record_label_event(self.s.docs, REPO, self.number, name, "unlabeled", "maintainer", None,
                               f"d{self.trial}-{self.removals}")

    def rename(self) -> None:
        old, new = self._likely(sorted(self.ids)), self.rng.choice(POOL)
        if new in self.ids:
            return  # GitHub refuses a name that exists
        self.ids[new] = self.ids.pop(old)
        for label in self.github.issues[self.number]["labels"]:
            if label["name"] == old:
                label["name"] = new
        self.s.docs.upsert(LabelRecord.container, LabelRecord(id=old, repo=REPO, name=old, renamed_to=new).to_doc())
        self.s.docs.upsert(LabelRecord.container, LabelRecord(id=new, repo=REPO, name=new).to_doc())

    def delete(self) -> None:
        victim = self.rng.choice(sorted(self.ids))
        self.deleted[self.ids.pop(victim)] = len(self.tagged)
        labels = self.github.issues[self.number]["labels"]
        labels[:] = [label for label in labels if label["name"] != victim]
        self.s.docs.upsert(LabelRecord.container, LabelRecord(id=victim, repo=REPO, name=victim, deleted=True).to_doc())

    def counts(self) -> tuple[int, int, int]:
        """(bot label writes, writes that overrode a human or applied a deleted label, writes without an applied
        decision)."""
        writes = overridden = lost = 0
        removed: set[int] = set()
        names = label_names(self.s.docs, REPO)
        applied = {names.current(a["label"]) for p in self.s.docs.query(PREDICTIONS, REPO, number=self.number)
                   if p.get("applied") for a in p.get("add", [])}
        for index, (event, label_id) in enumerate(self.tagged):
            if event["event"] == "unlabeled" and event["actor"]["type"] == "User":
                removed.add(label_id)
            if event["event"] == "labeled" and event["actor"]["type"] == "Bot":
                writes += 1
                if label_id in removed or index >= self.deleted.get(label_id, len(self.tagged) + 1):
                    overridden += 1
                if names.current(event["label"]["name"]) not in applied:
                    lost += 1
        return writes, overridden, lost


def run_scenarios(seed: int, count: int) -> dict[str, int]:
    """``count`` random scenarios; the totals of operations, bot writes, overrides and lost decisions."""
    rng = random.Random(seed)
    totals = {"scenarios": count, "operations": 0, "bot_writes": 0, "overridden": 0, "lost": 0}
    for trial in range(count):
        scenario = Scenario(rng, trial)
        scenario.request(fresh_model=False)
        scenario.tag()
        for _ in range(rng.randint(3, 10)):
            op = rng.choice(["remove", "rename", "request", "request", "delete"])
            if op == "request":
                scenario.request(fresh_model=rng.random() < 0.5)
            elif op in ("rename", "delete") and not scenario.ids:
                continue
            else:
                getattr(scenario, op)()
            scenario.tag()
            totals["operations"] += 1
        writes, overridden, lost = scenario.counts()
        totals["bot_writes"] += writes
        totals["overridden"] += overridden
        totals["lost"] += lost
    return totals


def test_renames_and_deletions_never_defeat_a_human_and_no_decision_is_lost() -> None:
    counts = run_scenarios(seed=1, count=60)
    assert counts["bot_writes"] > 40, counts  # the scenarios do exercise the labeler
    assert counts["overridden"] == 0 and counts["lost"] == 0, counts


if __name__ == "__main__":
    print(run_scenarios(int(sys.argv[1]), int(sys.argv[2])))
