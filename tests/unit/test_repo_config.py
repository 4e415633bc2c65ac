"""Per-repository config: defaults, parsing, and clear errors."""

from __future__ import annotations

import pytest

from triage.domain.errors import ConfigError
from triage.domain.repo_config import RepoConfig, parse_repo_config


def test_missing_or_empty_file_gives_safe_defaults() -> None:
    for text in (None, "", "   \n", "# only a comment\n"):
        config = parse_repo_config(text)
        assert config == RepoConfig() and config.dry_run is True and config.comment is False


def test_full_config() -> None:
    config = parse_repo_config("""
labels:
  allow: [area-Net, area-IO]
  exclude: []
  aliases: {area-Networking: area-Net}
  exclusive: ["area-*"]
thresholds:
  default: 0.8
  per_label: {area-IO: 0.95}
max_labels: 2
dry_run: false
comment: true
pull_requests: true
training: {schedule: "30 2 * * 1-5", min_new_labels: 20}
""")
    assert config.allow == ("area-Net", "area-IO") and config.aliases == {"area-Networking": "area-Net"}
    assert config.default_threshold == 0.8 and config.thresholds == {"area-IO": 0.95}
    assert (config.max_labels, config.dry_run, config.comment, config.pull_requests) == (2, False, True, True)
    assert config.schedule == "30 2 * * 1-5" and config.min_new_labels == 20
    assert config.group_of("area-IO") == "area-*" and config.group_of("bug") is None
    assert config.canonical("area-Networking") == "area-Net"


@pytest.mark.parametrize(("text", "needle"), [
    ("labels: [a]", "labels must be a mapping"),
    ("lables: {}", "unknown key(s) ['lables']"),
    ("labels: {allow: area-Net}", "labels.allow must be a list"),
    ("labels: {allow: [a], exclude: [a]}", "both allowed and excluded"),
    ("thresholds: {default: 1.5}", "thresholds.default must be a number in (0, 1]"),
    ("thresholds: {per_label: {bug: high}}", "thresholds.per_label.bug"),
    ("max_labels: 0", "max_labels must be a whole number"),
    ("dry_run: maybe", "dry_run must be true or false"),
    ("training: {schedule: weekly}", "must have 5 fields"),
    ("labels: {allow: [a, ", "not valid YAML at line 1"),
    ("- just\n- a list", "the file must be a mapping"),
])
def test_invalid_config_names_the_problem(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_repo_config(text)
    assert needle in str(exc.value) and ".github/issue-triage.yml" in str(exc.value)
