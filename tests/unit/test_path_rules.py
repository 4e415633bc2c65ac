"""Path rules (the repository config's ``paths``): the glob semantics against an independent oracle, strict
validation with errors naming the entry, bounded time on catastrophic patterns, the model's files line, and the
rules passing through the never-fight-humans policy."""

from __future__ import annotations

import dataclasses
import time
from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.app.pulls import explained, model_input, with_rules
from triage.domain.errors import ConfigError
from triage.domain.issues import Issue, LabelEvent
from triage.domain.path_rules import (
    MAX_FILES_LINE,
    MAX_PATTERN,
    MAX_PATTERNS,
    compile_glob,
    model_body,
    parse_path_rules,
    rule_scores,
)
from triage.domain.policy import Policy, decide
from triage.domain.repo_config import parse_repo_config

SRC = ".github/issue-triage.yml"


def oracle(pattern: str, path: str) -> bool:
    """The documented semantics, written independently: fnmatch per segment, '**' by plain recursion, a pattern
    without an inner '/' at any depth, and a match of the path or of a folder it is in."""
    def segments(pat: list[str], segs: list[str]) -> bool:
        if not pat:
            return not segs
        if pat[0] == "**":
            return any(segments(pat[1:], segs[i:]) for i in range(len(segs) + 1))
        return bool(segs) and fnmatchcase(segs[0], pat[0]) and segments(pat[1:], segs[1:])

    pat = pattern.strip("/").split("/")
    if "/" not in pattern.rstrip("/"):
        pat = ["**", *pat]
    segs = [s for s in path.split("/") if s]
    return any(segments(pat, segs[:k]) for k in range(1, len(segs) + 1))


def match(pattern: str, path: str) -> bool:
    (rule,) = parse_path_rules({"x": [pattern]}, SRC)
    return rule.match(path)


@pytest.mark.parametrize("pattern, path, expected", [
    ("src/System.Net.*/**", "src/System.Net.Http/src/HttpClient.cs", True),
    ("src/System.Net.*/**", "src/System.IO/src/File.cs", False),
    ("src/System.Net.*/**", "lib/src/System.Net.Http/a.cs", False),  # anchored: an inner '/'
    ("/eng/**", "eng/common/build.sh", True),
    ("/eng/**", "src/eng/x", False),
    ("*.md", "docs/deep/README.md", True),  # no inner '/': any depth
    ("*.md", "README.mdx", False),
    ("docs/", "docs/a/b.txt", True),
    ("docs/", "src/docs/a.txt", True),  # a trailing '/' alone does not anchor (as in CODEOWNERS)
    ("src/System.Net.Http", "src/System.Net.Http/tests/T.cs", True),  # a folder takes everything below
    ("src/System.Net.Http", "src/System.Net.HttpListener/a.cs", False),
    ("src/**/tests/*.cs", "src/tests/a.cs", True),  # ** is zero or more segments
    ("src/**/tests/*.cs", "src/a/b/c/tests/a.cs", True),
    ("src/*/tests", "src/a/b/tests/x", False),  # * stays within a segment
    ("src/?.cs", "src/a.cs", True),
    ("src/?.cs", "src/ab.cs", False),
    ("SRC/**", "src/a.cs", False),  # case-sensitive, as git paths are
])
def test_listed_glob_semantics(pattern: str, path: str, expected: bool) -> None:
    assert match(pattern, path) is expected
    assert oracle(pattern, path) is expected


segment = st.text(alphabet="ab.", min_size=1, max_size=4).filter(lambda s: s not in (".", ".."))
glob_segment = st.text(alphabet="ab.*?", min_size=1, max_size=4).filter(
    lambda s: "**" not in s and s not in (".", "..")) | st.just("**")
paths = st.lists(segment, min_size=1, max_size=5).map("/".join)
globs = st.builds(lambda lead, parts, trail: lead + "/".join(parts) + trail, st.sampled_from(["", "/"]),
                  st.lists(glob_segment, min_size=1, max_size=4), st.sampled_from(["", "/"]))


@settings(max_examples=400, deadline=None, database=None)
@given(pattern=globs, path=paths)
def test_matching_agrees_with_the_documented_semantics(pattern: str, path: str) -> None:
    assert match(pattern, path) == oracle(pattern, path), (pattern, path)


@settings(max_examples=200, deadline=None, database=None)
@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=4), max_leaves=12))
def test_any_yaml_value_is_parsed_or_refused_with_a_config_error(value: object) -> None:
    try:
        rules = parse_path_rules(value, SRC)
    except ConfigError as exc:
        assert str(exc).startswith(SRC) and len(str(exc)) < 600
        return
    for rule in rules:
        assert isinstance(rule.label, str) and isinstance(rule.pattern, str)
        rule.match("src/a.cs")


@pytest.mark.parametrize("value, named", [
    (["src/**"], "mapping of label to file globs"),
    ({"area-x": []}, "paths.area-x must be a glob or a non-empty list"),
    ({"area-x": {"a": 1}}, "paths.area-x must be a glob"),
    ({"area-x": [7]}, "paths.area-x[0] must be a file glob"),
    ({"area-x": ["ok/**", ""]}, "paths.area-x[1] must be a file glob"),
    ({"area-x": ["src/[ab]/*"]}, "character classes"),
    ({"area-x": ["src/{a,b}/*"]}, "braces"),
    ({"area-x": ["!src/**"]}, "negation"),
    ({"area-x": ["src\\a"]}, "escapes"),
    ({"area-x": ["src/a**b"]}, "'**' must be a whole path segment"),
    ({"area-x": ["src//a"]}, "empty, '.' or '..' segment"),
    ({"area-x": ["../etc/*"]}, "empty, '.' or '..' segment"),
    ({"area-x": ["a\x00b"]}, "control character"),
    ({"area-x": ["x" * (MAX_PATTERN + 1)]}, f"at most {MAX_PATTERN}"),
    ({"area-x": ["a/*"] * (MAX_PATTERNS + 1)}, f"at most {MAX_PATTERNS}"),
    ({"": ["a/*"]}, "is not a label name"),
    ({"x" * 51: ["a/*"]}, "is not a label name"),
    ({"area-x": ["/".join(["a"] * 40)]}, "segments; at most"),
])
def test_bad_rules_are_refused_naming_the_entry_and_the_fix(value: object, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_path_rules(value, SRC)
    assert named in str(caught.value) and str(caught.value).startswith(SRC)


def test_the_config_file_key_reaches_the_rules_and_errors_name_the_file() -> None:
    config = parse_repo_config("pull_requests: true\npaths:\n  area-System.Net: ['src/System.Net.*/**', '*.sln']\n")
    assert [(r.label, r.pattern) for r in config.path_rules] == [("area-System.Net", "src/System.Net.*/**"),
                                                                 ("area-System.Net", "*.sln")]
    assert parse_repo_config("dry_run: true\n").path_rules == ()
    with pytest.raises(ConfigError, match=r"issue-triage.yml: paths.area-x\[0\]"):
        parse_repo_config("paths:\n  area-x: ['src/a**']\n")


@pytest.mark.parametrize("pattern, path", [
    ("*a" * 99 + "*b", "a" * 4000),  # exponential for a backtracking regex
    ("/".join(["**"] * 31) + "/b", "/".join(["a"] * 2000)),
    ("/".join(["*a*a*a*a*a*a*a*a*b"] * 10), "/".join(["a" * 400] * 10)),
])
def test_catastrophic_patterns_finish_quickly(pattern: str, path: str) -> None:
    rules = parse_path_rules({"x": [pattern]}, SRC)
    started = time.perf_counter()
    assert rules[0].match(path) is False
    assert time.perf_counter() - started < 3.0


def test_rule_scores_give_the_first_match_and_its_reason() -> None:
    rules = parse_path_rules({"area-Net": ["src/System.Net.*/**"], "area-IO": ["src/System.IO*/**"],
                              "docs": ["*.md"]}, SRC)
    scores, reasons = rule_scores(rules, ["README.md", "src/System.Net.Http/a.cs", "src/System.Net.Http/a.cs"])
    assert scores == {"area-Net": 1.0, "docs": 1.0}
    assert reasons == ["area-Net: path rule 'src/System.Net.*/**' matches 'src/System.Net.Http/a.cs'",
                       "docs: path rule '*.md' matches 'README.md'"]


@given(body=st.text(max_size=50), files=st.lists(paths, max_size=30))
def test_the_files_line_is_bounded_and_the_body_kept(body: str, files: list[str]) -> None:
    out = model_body(body, files)
    if not files:
        assert out == body
        return
    line, rest = out.split("\n\n", 1)
    assert line.startswith("files:") and len(line) <= MAX_FILES_LINE and rest == body
    words = line.split()[1:]
    assert len(words) == len(set(words)) and all(any(w in f.split("/") for f in files) for w in words)


def test_the_model_reads_a_pull_request_s_files_first() -> None:
    pr = Issue("o/r", 3, "Fix it", "body", is_pull_request=True, paths=("src/System.Net.Http/a.cs",))
    assert model_input(pr) == ("Fix it", "files: src System.Net.Http a.cs\n\nbody")
    assert Issue.from_dict(pr.to_dict()) == pr


def test_rules_score_only_pull_requests_and_respect_the_config_and_the_humans() -> None:
    config = parse_repo_config("pull_requests: true\nlabels: {exclude: [docs]}\npaths:\n"
                               "  area-Net: ['src/System.Net.*/**']\n  docs: ['*.md']\n")
    files = ("src/System.Net.Http/a.cs", "README.md")
    issue = Issue("o/r", 3, "t", is_pull_request=True, paths=files)
    policy = Policy(thresholds={"area-IO": 0.5, "area-Net": 1.01})  # the model never reaches area-Net alone
    scores, ruled, reasons = with_rules(config, issue, {"area-IO": 0.6}, policy)
    assert scores == {"area-IO": 0.6, "area-Net": 1.0} and len(reasons) == 1  # docs is excluded
    assert ruled.threshold("area-Net") == 1.0 and ruled.threshold("area-IO") == 0.5 and policy.threshold("area-Net") > 1
    assert with_rules(config, Issue("o/r", 4, "t", paths=files), {"area-IO": 0.6}, policy)[:2] == ({"area-IO": 0.6},
                                                                                                  policy)
    decision = explained(decide(issue, scores, ruled), reasons)
    assert decision.add == (("area-Net", 1.0),)
    assert "area-Net: path rule 'src/System.Net.*/**' matches 'src/System.Net.Http/a.cs'" in decision.reasons
    removed = Issue("o/r", 3, "t", is_pull_request=True, paths=files, label_events=(
        LabelEvent("area-Net", "labeled", "bot[bot]", "Bot"), LabelEvent("area-Net", "unlabeled", "alice", "User")))
    again = decide(removed, scores, ruled)
    assert ("area-Net", 1.0) not in again.add and any("removed by a human" in r for r in again.reasons)
    human = Issue("o/r", 3, "t", labels=("area-IO",), is_pull_request=True, paths=files)
    scored, ruled, _ = with_rules(config, human, {"area-IO": 0.6}, policy)
    assert decide(human, scored, ruled).add == ()
    paused = dataclasses.replace(policy, paused=frozenset({"area-Net"}))
    assert decide(issue, *with_rules(config, issue, {"area-IO": 0.6}, paused)[:2]).add == ()


def test_compile_glob_anchors_and_collapses() -> None:
    assert compile_glob("*.md", "w") == ("**", "*.md", "**")
    assert compile_glob("/eng/**/**/x", "w") == ("eng", "**", "x", "**")


@pytest.mark.parametrize("paths, problem", [("src/a.cs", "must be a list"), (["a"] * 6001, "at most 6000"),
                                            ([7], "must be text"), (["a\x00b"], "NUL"), ([""], "not a file path"),
                                            (["x" * 4097], "not a file path"), (["\ud800"], "not valid Unicode")])
def test_stored_paths_are_read_strictly(paths: object, problem: str) -> None:
    from triage.domain.errors import DataFormatError

    record = {**Issue("o/r", 3, "t", is_pull_request=True).to_dict(), "paths": paths}
    with pytest.raises(DataFormatError, match="issue 3") as caught:
        Issue.from_dict(record)
    assert problem in str(caught.value)
    assert Issue.from_dict({**record, "paths": None}).paths == ()
