"""The export readers and ``triage ingest`` against hostile files (issue #13, item 18).

Property-based: JSON Lines files with arbitrary values in every field, NLBSE CSVs of arbitrary text and
files of arbitrary bytes either read as valid :class:`Issue` records or raise :class:`InputError` (never
another exception); ``triage ingest`` on them exits 0, or 2 with one ``error:`` line and the stores untouched.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import gzip
import hashlib
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.cli.main import main
from triage.data.sources import MAX_DEPTH, read_issues
from triage.domain.errors import DataFormatError, InputError
from triage.domain.issues import MAX_ISSUE_NUMBER, Issue

PROPERTY = settings(max_examples=80, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ANY_CHAR = st.characters(codec=None, exclude_categories=())  # every code point, lone surrogates included
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(ANY_CHAR, max_size=12),
                    st.sampled_from(["", " ", "o/r", "bug", "2021-03-04T05:06:07Z", "open", "closed", "labeled",
                                     "\u00b2", "\u0663", "1", "1.5", "['a']", "deleted"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["name", "login", "type", "slug", "event", "label", "action", "actor", "x"]) | st.text(max_size=4),
    inner, max_size=3), max_leaves=8)
FIELDS = {
    "repo": st.sampled_from(["octo/widgets", "Octo/Widgets", "a/b/c", "", "o/.."]),
    "number": st.one_of(st.integers(1, 10**6), st.sampled_from([0, -1, 1.5, 1.0, "7", True, MAX_ISSUE_NUMBER + 1])),
    "title": st.one_of(st.text(max_size=20), st.just(["a"])),
    "body": st.one_of(st.none(), st.text(ANY_CHAR, max_size=20)),
    "labels": st.one_of(st.lists(st.sampled_from(["bug", "area-Net", "", " ", 5, None, {"name": "bug"}, {"x": 1},
                                                  "a\nb", "x" * 300]), max_size=3), st.just("bug")),
    "state": st.sampled_from(["open", "closed", "merged", 1]),
    "created_at": st.sampled_from(["2021-03-04T05:06:07Z", "2021-03-04 05:06:07", "yesterday", 1614834367, "",
                                   "\uff12\uff10\uff12\uff11-01-01"]),
    "is_pull_request": st.sampled_from([True, False, "false", 0]),
    "label_events": st.lists(st.fixed_dictionaries({"label": st.sampled_from(["bug", 5, ""]),
                                                    "action": st.sampled_from(["labeled", "unlabeled", "x"])}),
                             max_size=2),
    "events": st.one_of(st.just("abc"), st.lists(st.fixed_dictionaries({
        "event": st.sampled_from(["labeled", "unlabeled", "commented"]),
        "label": st.sampled_from([{"name": "bug"}, "bug", {"name": 5}, None]),
        "actor": st.sampled_from([{"login": "bob", "type": "User"}, None, "bob"]),
        "performed_via_github_app": st.sampled_from([None, {"slug": "renovate"}, "app"]),
        "created_at": st.sampled_from(["2021-03-04T06:00:00Z", None, 5])}), max_size=2)),
    "user": st.sampled_from([{"login": "alice"}, None, "alice", {"login": 5}]),
    "repository_url": st.sampled_from(["https://api.github.com/repos/octo/widgets", 5, "nope"]),
    "html_url": st.just("https://github.com/octo/widgets/issues/1"),
    "gone": st.sampled_from([None, "deleted", "moved"]),
}


TEXT = st.characters(codec="utf-8", exclude_characters="\x00")  # any valid text
label_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp", "Cf", "Co", "Cn",
                                                                        "Zs")), min_size=1, max_size=12)
valid_events = st.lists(st.fixed_dictionaries({
    "event": st.sampled_from(["labeled", "unlabeled", "commented"]), "label": st.fixed_dictionaries({"name": label_names}),
    "actor": st.one_of(st.none(), st.fixed_dictionaries({"login": st.text(TEXT, max_size=8), "type": st.just("User")})),
    "performed_via_github_app": st.one_of(st.none(), st.fixed_dictionaries({"slug": st.text(TEXT, max_size=8)})),
    "created_at": st.sampled_from(["2021-03-04T06:00:00Z", None])}), max_size=2)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """A valid bundled or GitHub record, then none, one or two fields made odd (a wrong type, an odd value, or any
    JSON value at all)."""
    number = draw(st.integers(1, MAX_ISSUE_NUMBER))
    title, body = draw(st.text(TEXT, max_size=30)), draw(st.one_of(st.none(), st.text(TEXT, max_size=30)))
    if draw(st.booleans()):
        record: dict[str, Any] = {"repo": "octo/widgets", "number": number, "title": title, "body": body or "",
                                  "labels": draw(st.lists(label_names, max_size=3)),
                                  "created_at": draw(st.sampled_from([None, "2021-03-04T05:06:07Z", "2021-03-04"]))}
    else:
        record = {"number": number, "title": title, "body": body, "user": {"login": "alice"},
                  "repository_url": "https://api.github.com/repos/octo/widgets",
                  "labels": [{"name": name} for name in draw(st.lists(label_names, max_size=3))],
                  "events": draw(valid_events), "state": draw(st.sampled_from(["open", "closed"]))}
    for name in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=2, unique=True)):
        record[name] = draw(FIELDS[name] | json_values)
    return record


tricky_lines = st.sampled_from([
    "[" * 100_000, "{\"a\":" * 5000 + "1" + "}" * 5000, '{"number": 1, "number": 2, "title": "t", "labels": []}',
    '{"repo": "o/r", "number": 1' + "0" * 5000 + ', "title": "t", "labels": []}', '{"number": NaN}',
    '{"number": 1e999}', '{"repo": "o/r", "number": 1, "title": "\\ud800", "labels": []}', "null", "[]", "1",
    '{"repo": "o/r", "number": 1, "title": "t\\u0000", "labels": []}', "\ufeff{}", "{", '"\\', ""])


@st.composite
def json_lines_files(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.one_of(records().map(lambda r: json.dumps(r, allow_nan=True)), tricky_lines),
                          min_size=0, max_size=3))
    return "".join(line + "\n" for line in lines)


def check_issue(issue: Issue) -> None:
    """What every issue a reader returns satisfies."""
    assert isinstance(issue.number, int) and not isinstance(issue.number, bool) and 1 <= issue.number <= MAX_ISSUE_NUMBER
    assert isinstance(issue.title, str) and isinstance(issue.body, str)
    assert all(isinstance(label, str) and label.strip() for label in issue.labels)
    assert issue.state in ("open", "closed") and isinstance(issue.is_pull_request, bool)
    json.dumps(issue.to_dict(), allow_nan=False).encode("utf-8")  # storable as it is
    assert Issue.from_dict(issue.to_dict()) == issue


@PROPERTY
@given(text=json_lines_files(), fmt=st.sampled_from(["auto", "github", "bundled"]))
def test_json_lines_read_as_valid_issues_or_an_input_error(tmp_path: Path, text: str, fmt: Any) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        issues = read_issues(path, fmt)
    except InputError as exc:
        assert "\n" not in str(exc) and (str(path) in str(exc) or "repository" in str(exc))
        return
    assert issues
    for issue in issues:
        check_issue(issue)


@PROPERTY
@given(rows=st.lists(st.lists(st.text(ANY_CHAR.filter(lambda c: c not in "\x00\ud800"), max_size=12), min_size=0,
                              max_size=6), max_size=4), header=st.booleans())
def test_nlbse_csv_reads_as_valid_issues_or_an_input_error(tmp_path: Path, rows: list[list[str]], header: bool) -> None:
    path = tmp_path / "issues.csv"
    with open(path, "w", newline="", encoding="utf-8", errors="surrogatepass") as handle:
        writer = csv.writer(handle, escapechar="\\", doublequote=False)
        if header:
            writer.writerow(["repo", "created_at", "label", "title", "body"])
        writer.writerows(rows)
    try:
        issues = read_issues(path)
    except InputError as exc:
        assert str(path) in str(exc)
        return
    for issue in issues:
        check_issue(issue)


@PROPERTY
@given(data=st.binary(max_size=200), name=st.sampled_from(["x.jsonl", "x.csv", "x.jsonl.gz", "x.txt"]),
       compress=st.booleans())
def test_any_bytes_read_as_issues_or_an_input_error(tmp_path: Path, data: bytes, name: str, compress: bool) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if compress else data)
    try:
        issues = read_issues(path)
    except InputError:
        return
    for issue in issues:
        check_issue(issue)


# --- the listed cases -------------------------------------------------------------------------------------------

def write(path: Path, *lines: Any) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


GOOD = {"repo": "o/r", "number": 1, "title": "t", "labels": ["bug"]}


@pytest.mark.parametrize(("line", "needle"), [
    ("[" * 100_000 + "]" * 100_000, "nested deeper than"),
    ('{"repo": "o/r", "number": Infinity, "title": "t", "labels": []}', "Infinity is not a finite number"),
    ({**GOOD, "number": 1.5}, "'number' must be a whole number"),
    ({**GOOD, "number": "1"}, "'number' must be a whole number"),
    ({**GOOD, "number": True}, "'number' must be a whole number"),
    ({**GOOD, "number": 0}, "'number' must be a whole number"),
    ({**GOOD, "number": 2**40}, "'number' must be a whole number"),
    ({**GOOD, "title": ["a"]}, "'title' must be text, got a list"),
    ({**GOOD, "title": None}, "'title' must be text"),
    ({**GOOD, "body": 5}, "'body' must be text"),
    ({**GOOD, "labels": [5]}, "'labels' must be text"),
    ({**GOOD, "labels": [""]}, "not a label name"),
    ({**GOOD, "is_pull_request": "false"}, "'is_pull_request' must be true or false"),
    ({**GOOD, "state": "merged"}, "'state' must be one of open, closed"),
    ({**GOOD, "created_at": 1614834367}, "'created_at' must be an ISO 8601 timestamp"),
    ({**GOOD, "title": "t\u0000"}, "NUL"),
    ('{"repo": "o/r", "number": 1, "title": "\\udc80", "labels": []}', "lone surrogate"),
    ('{"repo": "o/r", "number": 1, "number": 2, "title": "t", "labels": []}', "appear twice"),
    ({**GOOD, "label_events": [{"label": "bug", "action": "labeled", "sneaky": 1}]}, "unknown field"),
])
def test_bad_bundled_lines_name_the_line_and_field(tmp_path: Path, line: Any, needle: str) -> None:
    path = write(tmp_path / "x.jsonl", GOOD | {"number": 2}, line)
    with pytest.raises(DataFormatError, match=r"x\.jsonl:2: ") as info:
        read_issues(path, "bundled")
    assert needle in str(info.value)


GITHUB = {"number": 1, "title": "t", "labels": [{"name": "bug"}], "repository_url": "https://api.github.com/repos/o/r",
          "user": {"login": "alice"}}


@pytest.mark.parametrize(("change", "needle"), [
    ({"events": "abc"}, "'events' must be a list"),
    ({"events": [{"event": "labeled", "label": "bug"}]}, "'label' must be an object"),
    ({"events": [{"event": "labeled", "label": {"name": 5}}]}, "label"),
    ({"events": [{"event": "labeled"}]}, "label"),
    ({"events": ["labeled"]}, "an issue event must be an object"),
    ({"labels": [{"name": None}]}, "has no name"),
    ({"labels": [3]}, "list of label objects or names"),
    ({"user": "alice"}, "'user' must be an object"),
    ({"repository_url": 5}, "'repository_url'"),
    ({"body": ["x"]}, "'body' must be text"),
])
def test_bad_github_lines_name_the_line_and_field(tmp_path: Path, change: dict[str, Any], needle: str) -> None:
    path = write(tmp_path / "g.jsonl", GITHUB | change)
    with pytest.raises(DataFormatError, match=r"g\.jsonl:1: ") as info:
        read_issues(path, "github")
    assert needle in str(info.value)


def test_the_app_that_made_a_label_change_is_kept(tmp_path: Path) -> None:
    events = [{"event": "labeled", "label": {"name": "bug"}, "actor": {"login": "alice", "type": "User"},
               "performed_via_github_app": {"id": 1, "slug": "renovate"}, "created_at": "2021-03-04T06:00:00Z"},
              {"event": "labeled", "label": {"name": "docs"}, "actor": {"login": "bob", "type": "User"},
               "performed_via_github_app": None, "created_at": "2021-03-04T07:00:00Z"}]
    (issue,) = read_issues(write(tmp_path / "g.jsonl", GITHUB | {"labels": ["bug", "docs"], "events": events}))
    assert [(e.label, e.via_app) for e in issue.label_events] == [("bug", "renovate"), ("docs", None)]
    assert issue.human_labels() == ("docs",), "a label an App applied for alice is not her judgement"


@pytest.mark.parametrize("content", ["", "\n\n", "repo,created_at,label,title,body\n", "\ufeff"])
def test_empty_files_are_a_clear_error(tmp_path: Path, content: str) -> None:
    for name, fmt in (("e.jsonl", "auto"), ("e.jsonl", "github"), ("e.jsonl", "bundled"), ("e.csv", "auto")):
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        with pytest.raises(DataFormatError, match="empty|no issues"):
            read_issues(path, fmt)  # type: ignore[arg-type]


def test_a_bom_and_windows_line_ends_are_read(tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\r\n")
    assert read_issues(path)[0].labels == ("bug",)
    csv_path = tmp_path / "b.csv"
    csv_path.write_bytes(b"\xef\xbb\xbfrepo,created_at,label,title,body\r\no/r,,bug,T,B\r\n")
    assert read_issues(csv_path)[0].repo == "o/r"


def test_nesting_at_the_limit_is_read_and_beyond_it_refused(tmp_path: Path) -> None:
    nested: Any = "x"
    for _ in range(MAX_DEPTH - 1):
        nested = [nested]
    assert read_issues(write(tmp_path / "ok.jsonl", GOOD | {"extra": nested}))[0].number == 1
    with pytest.raises(DataFormatError, match="nested deeper"):
        read_issues(write(tmp_path / "deep.jsonl", GOOD | {"extra": [nested]}))
    brackets_in_text = GOOD | {"title": "[" * 1000 + "{" * 1000}
    assert read_issues(write(tmp_path / "text.jsonl", brackets_in_text))[0].title.startswith("[[[")


def test_unreadable_paths_are_input_errors(tmp_path: Path) -> None:
    for path, needle in ((tmp_path, "not a regular file"), (tmp_path / "nope.jsonl", "does not exist"),
                         (tmp_path / ("x" * 5000), "cannot be read")):
        with pytest.raises(InputError, match=needle):
            read_issues(path)


# --- triage ingest in process -----------------------------------------------------------------------------------

def store_state(home: Path) -> dict[str, str]:
    """What the stores hold: a hash of every blob and of each SQLite database's rows (its files change as its
    write-ahead log is folded in, its contents do not)."""
    gc.collect()  # close connections the finished command left to the garbage collector
    state = {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted((home / "blobs").rglob("*")) if p.is_file() and not p.name.startswith(".")}
    for db in sorted(home.glob("*.db")):
        with contextlib.closing(sqlite3.connect(db)) as connection:
            state[db.name] = hashlib.sha256("\n".join(connection.iterdump()).encode()).hexdigest()
    return state


def ingest(home: Path, source: Path, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--home", str(home), "-q", "ingest", "--source", str(source), *extra])
    return code, out.getvalue(), err.getvalue()


def assert_refused_cleanly(code: int, err: str) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err


@settings(PROPERTY, max_examples=40)
@given(text=json_lines_files(), fmt=st.sampled_from(["auto", "github", "bundled"]))
def test_ingest_exits_0_or_2_with_one_error_line_and_writes_nothing_on_error(tmp_path: Path, text: str,
                                                                              fmt: str) -> None:
    home, source = tmp_path / "home", tmp_path / "in.jsonl"
    source.write_text(text, encoding="utf-8", errors="surrogatepass")
    before = store_state(home)
    code, out, err = ingest(home, source, "--format", fmt)
    if code == 0:
        assert json.loads(out)["count"] >= 1 and err == ""
    else:
        assert_refused_cleanly(code, err)
        assert store_state(home) == before, "nothing may be written from a file that failed"


def test_ingest_of_the_listed_bad_inputs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert ingest(home, write(tmp_path / "good.jsonl", GOOD))[0] == 0
    before = store_state(home)
    assert before and any(name.endswith("triage.db") for name in before)
    cases = {"deep.jsonl": "[" * 50_000, "inf.jsonl": '{"repo": "o/r", "number": Infinity, "title": "t", "labels": []}',
             "events.jsonl": json.dumps(GITHUB | {"events": [{"event": "labeled", "label": "bug"}]}),
             "float.jsonl": json.dumps(GOOD | {"number": 1.5}), "list.jsonl": json.dumps(GOOD | {"title": ["a"]}),
             "empty.csv": "", "empty.jsonl": ""}
    for name, text in cases.items():
        (tmp_path / name).write_text(text + "\n" if text else "")
        code, _, err = ingest(home, tmp_path / name)
        assert_refused_cleanly(code, err)
        assert name in err
        assert store_state(home) == before, name


def test_triage_home_pointing_at_a_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    source = write(tmp_path / "good.jsonl", GOOD)
    monkeypatch.setenv("TRIAGE_HOME", str(afile))
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["ingest", "--source", str(source)])
    assert_refused_cleanly(code, err.getvalue())
    assert "TRIAGE_HOME" in err.getvalue() and afile.read_text() == "keep me"
    monkeypatch.delenv("TRIAGE_HOME")
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stderr(err := io.StringIO()):
        main(["--home", str(afile / "inside"), "ingest", "--source", str(source)])
    assert exit_info.value.code == 2 and err.getvalue().startswith("error: triage: argument --home")


@pytest.mark.parametrize("argv", [["predict", "--repo", "o/r", "--top", "-1", "x"], ["dashboard", "--port", "99999"],
                                  ["ingest", "--repo", "not a repo", "--source", "x"], ["demo", "--held-back", "1.5"],
                                  ["ingest", "--source", ""], ["nope"], ["predict", "--top", "\u0665", "x"]])
def test_bad_arguments_are_one_error_line_and_exit_2(tmp_path: Path, argv: list[str]) -> None:
    err = io.StringIO()
    with pytest.raises(SystemExit) as info, contextlib.redirect_stderr(err):
        main(["--home", str(tmp_path / "home"), *argv])
    assert info.value.code == 2
    assert_refused_cleanly(2, err.getvalue())
    assert not (tmp_path / "home").exists()


def test_a_damaged_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("model.onnx", "tokenizer.json", "manifest.json"):
        (folder / name).write_text("{not what it should be")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["--home", str(tmp_path / "home"), "predict", "--model-dir", str(folder), "title"])
    assert_refused_cleanly(code, err.getvalue())
    assert "is damaged" in err.getvalue() and not (tmp_path / "home").exists()


def test_a_title_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["--home", str(tmp_path / "home"), "predict", "--repo", "o/r", "caf\udce9"])  # argv of latin-1 bytes
    assert_refused_cleanly(code, err.getvalue())
    assert "not UTF-8" in err.getvalue() and not (tmp_path / "home").exists()
