"""Per-repository config: defaults, parsing, and clear errors."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    ("abstain_label: 3", "abstain_label must be a label name, or a mapping"),
    ("abstain_label: ''", "abstain_label must be a label name"),
    ("abstain_label: []", "abstain_label must be a label name, or a mapping"),
    ("abstain_label: {}", "abstain_label must be a label name, or a mapping"),
    ("abstain_label: {'area-*': area-needed}", "matches its own group"),
    ("abstain_label: {'area-*': [x]}", "abstain_label.area-* must be a label name"),
    (f"abstain_label: {'x' * 51}", "1 to 50 characters"),
    ("abstain_label: \"a\\tb\"", "no control characters"),
    ("relabel_on_edit: sometimes", "relabel_on_edit must be true or false"),
])
def test_invalid_config_names_the_problem(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_repo_config(text)
    assert needle in str(exc.value) and ".github/issue-triage.yml" in str(exc.value)


# --- abstain_label and relabel_on_edit (issue #15 items 3 and 5) ------------------------------------------------

def test_abstain_label_one_name_or_one_per_group() -> None:
    from triage.domain.repo_config import AbstainLabel

    assert parse_repo_config("abstain_label: needs-area-label\n").abstain_labels == (AbstainLabel("needs-area-label"),)
    config = parse_repo_config("labels: {exclusive: ['area-*', 'type-*']}\n"
                               "abstain_label: {'area-*': needs-area-label, 'type-*': needs-type}\n"
                               "relabel_on_edit: true\n")
    assert config.abstain_labels == (AbstainLabel("needs-area-label", "area-*"), AbstainLabel("needs-type", "type-*"))
    assert config.relabel_on_edit is True and RepoConfig().relabel_on_edit is False
    area = config.abstain_labels[0]
    assert area.covers("area-Net", frozenset()) and not area.covers("type-bug", frozenset({"type-bug"}))
    everything = AbstainLabel("needs-triage")
    assert everything.covers("bug", frozenset({"bug"})) and not everything.covers("docs", frozenset({"bug"}))
    assert not everything.covers("needs-triage", frozenset({"needs-triage"})), "never its own group"


KEY_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                          | st.text(max_size=60), lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=12), inner, max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(abstain=KEY_VALUES, relabel=KEY_VALUES)
def test_any_value_of_the_new_keys_parses_or_is_refused_clearly(abstain: object, relabel: object) -> None:
    """Outside input: whatever YAML a repository holds under the new keys, the result is a valid config or a
    ConfigError naming the key; never another exception."""
    text = yaml.safe_dump({"abstain_label": abstain, "relabel_on_edit": relabel})
    try:
        config = parse_repo_config(text)
    except ConfigError as exc:
        assert "abstain_label" in str(exc) or "relabel_on_edit" in str(exc), str(exc)
        return
    assert isinstance(config.relabel_on_edit, bool) and relabel is config.relabel_on_edit
    for item in config.abstain_labels:
        assert 1 <= len(item.label) <= 50 and item.label.strip()
        assert item.group is None or not item.covers(item.label, frozenset({item.label}))
    if isinstance(abstain, str):
        assert [a.label for a in config.abstain_labels] == [abstain]
    elif abstain is None:
        assert config.abstain_labels == ()
    else:
        assert isinstance(abstain, dict) and len(config.abstain_labels) == len(abstain)
