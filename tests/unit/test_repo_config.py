"""Per-repository config: defaults, parsing, and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

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


# --- training.prior: other repositories a cold-start model learns from (issue #14) -----------------------------

# GitHub's naming rules restated independently of triage.domain.issues: owner = alphanumeric runs joined by single
# hyphens (39 at most), with a managed user's "_shortcode"; name = 1 to 100 of [A-Za-z0-9._-], not "." or "..".
OWNER_RULE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*(?:_[a-z0-9]{1,20})?")
NAME_RULE = re.compile(r"[a-z0-9._-]{1,100}")


def follows_github_rules(repo: str) -> bool:
    owner, _, name = repo.partition("/")
    return (OWNER_RULE.fullmatch(owner) is not None and len(owner.partition("_")[0]) <= 39
            and NAME_RULE.fullmatch(name) is not None and name not in (".", ".."))


def prior_of(value: object) -> tuple[str, ...]:
    return parse_repo_config(yaml.safe_dump({"training": {"prior": value}})).prior


def test_prior_repositories_are_read_in_lower_case_and_in_order() -> None:
    assert RepoConfig().prior == () and parse_repo_config("training: {min_new_labels: 5}").prior == ()
    assert parse_repo_config("training: {prior: [dotnet/corefx, Octo-Org/My.Repo_2]}").prior == (
        "dotnet/corefx", "octo-org/my.repo_2")
    assert parse_repo_config("training:\n  prior:\n    - dotnet/runtime\n    - a/b\n").prior == ("dotnet/runtime", "a/b")
    assert parse_repo_config("training: {prior: []}").prior == () == parse_repo_config("training: {prior: null}").prior
    assert prior_of(["a" * 39 + "/" + "n" * 100, "octo_emu/x", "a-b-c/.github", "x/..."]) == (
        "a" * 39 + "/" + "n" * 100, "octo_emu/x", "a-b-c/.github", "x/...")
    assert len(prior_of([f"org/repo{i}" for i in range(5)])) == 5


@pytest.mark.parametrize(("value", "needles"), [
    (["-octo/x"], ["training.prior[0]", "'-octo/x'", "is not a GitHub repository", "owner/name"]),
    (["octo-/x"], ["training.prior[0]", "'octo-/x'"]),
    (["oc--to/x"], ["'oc--to/x'"]),
    (["a" * 40 + "/x"], ["1 to 39 letters"]),
    (["o.rg/x"], ["'o.rg/x'"]),
    (["ok/x", "octo/"], ["training.prior[1]", "'octo/'"]),
    (["octo/.."], ["'octo/..'", "not '.' or '..'"]),
    (["octo/."], ["'octo/.'"]),
    (["octo/a b"], ["'octo/a b'"]),
    (["octo/" + "x" * 101], ["1 to 100 letters"]),
    (["octo/a/b"], ["'octo/a/b'"]),
    (["dotnet"], ["'dotnet'", "for example dotnet/corefx"]),
    (["/corefx"], ["'/corefx'"]),
    (["octo/x\n"], ["'octo/x\\n'"]),
    (["\u0430/x"], ["'\\u0430/x'"]),  # a Cyrillic letter that looks Latin
    ([f"org/r{i}" for i in range(6)], ["training.prior lists 6 repositories; at most 5"]),
    (["a/b", "c/d", "A/B"], ["training.prior lists 'A/B' twice", "keep one"]),
    ("dotnet/corefx", ["training.prior must be a list of repositories", "got 'dotnet/corefx'"]),
    (5, ["training.prior must be a list", "got 5"]),
    ({"dotnet": "corefx"}, ["training.prior must be a list", "got a mapping"]),
    (True, ["training.prior must be a list", "got True"]),
    ([["dotnet/corefx"]], ["training.prior[0]", "a list is not a GitHub repository"]),
    ([{"repo": "dotnet/corefx"}], ["training.prior[0]", "a mapping is not"]),
    ([None], ["training.prior[0]", "None is not"]),
    ([42], ["training.prior[0]", "42 is not"]),
])
def test_a_bad_prior_names_the_key_the_entry_and_the_fix(value: object, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as exc:
        prior_of(value)
    message = str(exc.value)
    assert message.startswith(".github/issue-triage.yml: training.prior"), message
    for needle in needles:
        assert needle in message, message


def test_an_unknown_training_key_lists_prior_as_allowed() -> None:
    with pytest.raises(ConfigError, match="allowed: min_new_labels, prior, schedule"):
        parse_repo_config("training: {priors: [a/b]}")


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
OWNERS = st.lists(st.text(_ALNUM, min_size=1, max_size=8), min_size=1, max_size=5).map("-".join).filter(
    lambda owner: len(owner) <= 39)
NAMES = st.text(_ALNUM + "._-", min_size=1, max_size=100).filter(lambda name: name not in (".", ".."))
REPOS = st.builds(lambda owner, name: f"{owner}/{name}", OWNERS, NAMES)


@settings(max_examples=200, deadline=None)
@given(st.lists(REPOS, max_size=5, unique_by=str.lower))
def test_any_list_of_valid_repositories_is_accepted_in_lower_case(repos: list[str]) -> None:
    prior = prior_of(repos)
    assert prior == tuple(repo.lower() for repo in repos)
    assert all(follows_github_rules(repo) for repo in prior)
    assert prior_of(list(prior)) == prior, "the stored form reads back the same"


# Near misses as well as noise: text built from the characters a repository name uses, and any text.
ENTRIES = (st.text(_ALNUM[:3] + "Z9-_./ ", max_size=12) | st.text(max_size=20) | REPOS
           | st.sampled_from(["a/b", "A/b", "a//b", "a/b/", "-a/b", "a/.", "a/..", "a_/b", "_a/b", "a/b\n", ""]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ENTRIES, max_size=7) | KEY_VALUES)
def test_any_prior_value_is_accepted_by_the_rules_or_refused_naming_the_key(value: object) -> None:
    """Outside input: any YAML under training.prior gives repositories that follow GitHub's rules, or a ConfigError
    naming training.prior; never another exception."""
    try:
        prior = prior_of(value)
    except ConfigError as exc:
        assert "training.prior" in str(exc) and "\n" not in str(exc), str(exc)
        return
    assert isinstance(value, list) or value is None
    assert prior == tuple(str(entry).lower() for entry in value or [])
    assert len(prior) <= 5 and len(set(prior)) == len(prior)
    assert all(follows_github_rules(repo) for repo in prior), prior


def test_remember_config_keeps_the_prior_repositories(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from triage.adapters.local.stores import SqliteDocumentStore
    from triage.learning.tuning import CONFIG_ID, known_config, remember_config
    from triage.ports.records import TUNING

    docs = SqliteDocumentStore(tmp_path / "docs.sqlite")
    request.addfinalizer(docs.close)
    remember_config(docs, "octo/app", parse_repo_config("training: {prior: [Dotnet/CoreFX, octo/old]}"))
    assert known_config(docs, "octo/app")["prior"] == ["dotnet/corefx", "octo/old"]
    remember_config(docs, "octo/app", RepoConfig())
    assert known_config(docs, "octo/app")["prior"] == [], "removing the key from the file is a change"
    stored = docs.get(TUNING, "octo/app", CONFIG_ID)
    assert stored is not None
    docs.upsert(TUNING, {k: v for k, v in stored.items() if k != "prior"})  # a copy kept before this key existed
    remember_config(docs, "octo/app", RepoConfig())
    assert known_config(docs, "octo/app")["prior"] == [], "a copy without the key is rewritten"
