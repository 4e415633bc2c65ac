"""Per-repository behaviour, read from ``.github/issue-triage.yml`` in the labeled repository.

``.github/issue-labeler.yml`` is the file of the widely used ``github/issue-labeler`` action (label
names as top-level keys, with regular expressions); it is read only when it is one of ours (every
top-level key is one of this file's keys, as earlier versions of this product wrote it), so a
repository that uses that action is not broken by it. The file is outside input: it is limited in
size and nesting, and YAML aliases (which can expand exponentially) are refused.

Example (every key optional; a missing file means these defaults)::

    labels:
      allow: []                 # learn and apply only these (empty: all with enough examples)
      exclude: [question]       # never learn nor apply
      aliases: {bug: type-bug}  # old name -> new name; a renamed label keeps its training data
      exclusive: ["area-*"]     # at most one label matching each pattern per issue
    thresholds:
      default: 0.9              # minimum confidence for every label (overrides the model's)
      per_label: {area-Meta: 0.97}
    max_labels: 1
    dry_run: true               # log what would be written instead of writing
    comment: false              # post one comment with the top-3 labels and confidences
    pull_requests: false        # label pull requests too (their changed files join the model's input)
    paths:                      # pull requests only: a label for the files changed (glob rules: path_rules)
      area-System.Net.Http: ["src/System.Net.Http/**"]
    abstain_label: needs-area-label   # applied when the labeler abstains; or per exclusive group:
                                      #   {"area-*": needs-area-label, "type-*": needs-type-label}
    relabel_on_edit: false      # re-predict after a title/body edit or a transfer; swap the bot's untouched label
    training:
      schedule: "0 3 * * 0"     # cron, UTC: this repository's own retraining (default: TRIAGE_TRAIN_SCHEDULE)
      min_new_labels: 50        # retrain after this many new human labels (default: TRIAGE_RETRAIN_AFTER)
      prior: [dotnet/corefx]    # cold start: learn from these repositories' labeled issues too (at most 5; scraped)
    routing:                    # assign an owner once labeled (absent: nobody is assigned); see routing_config
      owners: {area-System.Net: [alice, bob]}   # label or glob -> logins
      away: [carol]             # never assigned
      rule: least_assigned      # or round_robin, among a label's owners
      learned: false            # the learned assignee model where no owner entry matches
      inactive_months: 6
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from triage.domain.errors import ConfigError
from triage.domain.path_rules import PathRule, parse_path_rules
from triage.domain.prior_repos import parse_prior
from triage.domain.routing_config import RoutingConfig, parse_routing
from triage.domain.schedule import Cron

CONFIG_PATH = ".github/issue-triage.yml"
LEGACY_CONFIG_PATH = ".github/issue-labeler.yml"  # read only when it is ours (see the module docstring)
MAX_BYTES = 64 * 1024
MAX_DEPTH = 20
MAX_LABEL = 50  # GitHub's limit on a label's name
_TOP = {"labels", "thresholds", "max_labels", "dry_run", "comment", "pull_requests", "training", "abstain_label",
        "relabel_on_edit", "routing", "paths"}
_LABELS = {"allow", "exclude", "aliases", "exclusive"}
_THRESHOLDS = {"default", "per_label"}
_TRAINING = {"schedule", "min_new_labels", "prior"}


@dataclass(frozen=True)
class AbstainLabel:
    """A label the bot applies when it abstains on a group of labels, and removes once a human labels the group.

    ``group`` is a glob pattern over label names (one of ``labels.exclusive``, typically); None stands for every
    label the model may apply.
    """

    label: str
    group: str | None = None

    def covers(self, label: str, model_labels: frozenset[str]) -> bool:
        """Whether ``label`` belongs to this group (the abstain label itself never does)."""
        if label == self.label:
            return False
        return label in model_labels if self.group is None else fnmatch.fnmatchcase(label, self.group)


@dataclass(frozen=True)
class RepoConfig:
    """Validated per-repository settings."""

    allow: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    exclusive: tuple[str, ...] = ()
    default_threshold: float | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    max_labels: int = 1
    dry_run: bool = True
    comment: bool = False
    pull_requests: bool = False
    schedule: str | None = None  # None: the app's TRIAGE_TRAIN_SCHEDULE
    min_new_labels: int | None = None  # None: the app's TRIAGE_RETRAIN_AFTER
    prior: tuple[str, ...] = ()  # ``training.prior``: owner/name (lower case) whose labeled issues a cold start uses
    abstain_labels: tuple[AbstainLabel, ...] = ()
    relabel_on_edit: bool = False
    routing: RoutingConfig | None = None  # None: no routing section, nobody is assigned
    path_rules: tuple[PathRule, ...] = ()  # ``paths``: labels for a pull request's changed files

    def group_of(self, label: str) -> str | None:
        """The exclusive-group pattern ``label`` belongs to, if any."""
        return next((pattern for pattern in self.exclusive if fnmatch.fnmatchcase(label, pattern)), None)

    def canonical(self, label: str) -> str:
        """Follow aliases (renames) to the current name of ``label``."""
        seen = {label}
        while label in self.aliases:
            label = self.aliases[label]
            if label in seen:
                break
            seen.add(label)
        return label


class _Loader(yaml.SafeLoader):
    """YAML's safe subset without aliases and with bounded nesting."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(f"aliases (*{event.anchor}) are not allowed")
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.YAMLError(f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)  # type: ignore[arg-type]
        finally:
            self._depth -= 1


def load_yaml(text: str, source: str) -> Any:
    """The YAML document in ``text`` (size, nesting and aliases bounded); :class:`ConfigError` naming ``source``."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ConfigError(f"{source}: the file is larger than {MAX_BYTES // 1024} KB; keep only the settings")
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: nesting too deep") from None


def is_own_config(text: str) -> bool:
    """Whether a file found at :data:`LEGACY_CONFIG_PATH` is this product's (every top-level key is ours)."""
    try:
        data = load_yaml(text, LEGACY_CONFIG_PATH)
    except ConfigError:
        return False
    return data is None or (isinstance(data, dict) and set(map(str, data)) <= _TOP)


def parse_repo_config(text: str | None, source: str = CONFIG_PATH) -> RepoConfig:
    """Parse and validate the YAML config; ``None`` or an empty file gives the defaults."""
    if text is None or not text.strip():
        return RepoConfig()
    data = load_yaml(text, source)
    if data is None:
        return RepoConfig()
    v = _Validator(source)
    root = v.mapping(data, "", _TOP)
    labels = v.mapping(root.get("labels", {}), "labels", _LABELS)
    thresholds = v.mapping(root.get("thresholds", {}), "thresholds", _THRESHOLDS)
    training = v.mapping(root.get("training", {}), "training", _TRAINING)
    per_label = v.mapping(thresholds.get("per_label", {}), "thresholds.per_label", None)
    aliases = v.mapping(labels.get("aliases", {}), "labels.aliases", None)
    config = RepoConfig(
        allow=v.strings(labels.get("allow", []), "labels.allow"),
        exclude=v.strings(labels.get("exclude", []), "labels.exclude"),
        aliases={str(k): v.string(val, f"labels.aliases.{k}") for k, val in aliases.items()},
        exclusive=v.strings(labels.get("exclusive", []), "labels.exclusive"),
        default_threshold=v.probability(thresholds["default"], "thresholds.default") if "default" in thresholds else None,
        thresholds={str(k): v.probability(val, f"thresholds.per_label.{k}") for k, val in per_label.items()},
        max_labels=v.integer(root.get("max_labels", 1), "max_labels", 1, 10),
        dry_run=v.boolean(root.get("dry_run", True), "dry_run"),
        comment=v.boolean(root.get("comment", False), "comment"),
        pull_requests=v.boolean(root.get("pull_requests", False), "pull_requests"),
        schedule=v.cron(training["schedule"], "training.schedule") if training.get("schedule") is not None else None,
        min_new_labels=(v.integer(training["min_new_labels"], "training.min_new_labels", 1, 100000)
                        if training.get("min_new_labels") is not None else None),
        prior=parse_prior(training.get("prior"), source),
        abstain_labels=v.abstain_labels(root.get("abstain_label")),
        relabel_on_edit=v.boolean(root.get("relabel_on_edit", False), "relabel_on_edit"),
        routing=parse_routing(root.get("routing"), source),
        path_rules=parse_path_rules(root.get("paths"), source),
    )
    overlap = set(config.allow) & set(config.exclude)
    if overlap:
        raise ConfigError(f"{source}: labels {sorted(overlap)} are both allowed and excluded; keep them in one list")
    return config


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(f"{self.source}: {where or 'the file'} must be {expected}, got {value!r:.80}")

    def mapping(self, value: Any, where: str, allowed: set[str] | None) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(where, "a mapping", value)
        if allowed is not None:
            unknown = sorted(set(map(str, value)) - allowed)
            if unknown:
                raise ConfigError(f"{self.source}: unknown key(s) {unknown} in {where or 'the top level'}; "
                                  f"allowed: {', '.join(sorted(allowed))}")
        return value

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "a non-empty string", value)
        return value

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(where, "a list of label names", value)
        return tuple(self.string(item, f"{where}[{i}]") for i, item in enumerate(value))

    def abstain_labels(self, value: Any) -> tuple[AbstainLabel, ...]:
        """``abstain_label``: one label name, or a mapping of group pattern -> label name (null: none)."""
        if value is None:
            return ()
        if isinstance(value, str):
            return (AbstainLabel(self.label(value, "abstain_label")),)
        if not isinstance(value, dict) or not value:
            raise self.fail("abstain_label", "a label name, or a mapping of group pattern to label name such as "
                            "{'area-*': needs-area-label}", value)
        found = []
        for pattern, label in value.items():
            where = f"abstain_label.{pattern}"
            group = self.label(pattern, f"abstain_label (the group pattern {pattern!r:.40})")
            name = self.label(label, where)
            if fnmatch.fnmatchcase(name, group):
                raise ConfigError(f"{self.source}: {where}: the abstain label {name!r} matches its own group "
                                  f"{group!r}, so it would count as the group's label; pick a name outside it")
            found.append(AbstainLabel(name, group))
        return tuple(found)

    def label(self, value: Any, where: str) -> str:
        """A label name as GitHub allows it: 1 to 50 characters, not blank, no control characters."""
        if (not isinstance(value, str) or not value.strip() or len(value) > MAX_LABEL
                or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value)):
            raise self.fail(where, f"a label name (1 to {MAX_LABEL} characters, no control characters)", value)
        return value

    def probability(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise self.fail(where, "a number in (0, 1]", value)
        return float(value)

    def integer(self, value: Any, where: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(where, f"a whole number from {low} to {high}", value)
        return value

    def boolean(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, "true or false", value)
        return value

    def cron(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, "a cron expression such as '0 3 * * SUN' or '@weekly'", value)
        try:
            Cron(value)
        except ConfigError as exc:
            raise ConfigError(f"{self.source}: {where}: {exc}") from None
        return value
