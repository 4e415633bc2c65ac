"""``triage dataset --prior OWNER/NAME`` (issue #14): parsing and refusals; the end-to-end path is in the cold-start
integration tests."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.cli.main import build_parser, check_prior, main
from triage.domain.errors import ConfigError, InputError
from triage.domain.prior_repos import prior_repo


def refused(argv: list[str], home: Path) -> str:
    """The one error line of ``triage`` on ``argv`` (exit code 2, no store created)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(["--home", str(home), *argv])
        except SystemExit as exit_info:
            code = exit_info.code  # type: ignore[assignment]
    text = err.getvalue()
    assert code == 2, text
    assert text.startswith("error: ") and text.count("\n") == 1, text
    assert not home.exists(), "nothing is written on bad input"
    return text


def test_prior_is_repeatable_lower_cased_and_absent_by_default() -> None:
    parser = build_parser()
    args = parser.parse_args(["dataset", "--repo", "octo/app", "--prior", "Dotnet/CoreFX", "--prior", "octo/old"])
    assert args.prior == ["dotnet/corefx", "octo/old"]
    assert parser.parse_args(["dataset", "--repo", "octo/app"]).prior is None, "None: the config's training.prior"


def test_the_help_says_what_prior_does() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        build_parser().parse_args(["dataset", "--help"])
    text = " ".join(out.getvalue().split())
    assert "--prior OWNER/NAME" in text
    assert ("learn a cold-start model from this repository's labeled issues too (already scraped); repeatable; "
            "default: the repository config's training.prior") in text


@pytest.mark.parametrize("value", ["dotnet", "-octo/x", "octo/..", "octo/a b", "octo/a/b", "", "octo/x\n",
                                   "a" * 40 + "/x", "octo/" + "x" * 101])
def test_a_bad_prior_exits_2_naming_the_flag(tmp_path: Path, value: str) -> None:
    text = refused(["dataset", "--repo", "octo/app", f"--prior={value}"], tmp_path / "home")
    assert text.startswith("error: triage dataset: argument --prior: ")
    assert "is not a GitHub repository; write owner/name, for example dotnet/corefx" in text


@pytest.mark.parametrize(("prior", "needle"), [
    (["a/b", "c/d", "A/B"], "--prior lists 'a/b' twice"),
    ([f"org/r{i}" for i in range(6)], "--prior lists 6 repositories; at most 5"),
    (["a/b", "Octo/App"], "--prior names octo/app, the repository itself"),
])
def test_the_prior_list_is_checked_before_any_store_is_opened(tmp_path: Path, prior: list[str], needle: str) -> None:
    argv = ["dataset", "--repo", "octo/app"]
    for repo in prior:
        argv += ["--prior", repo]
    assert needle in refused(argv, tmp_path / "home")


def test_only_dataset_takes_prior(tmp_path: Path) -> None:
    text = refused(["train", "--repo", "octo/app", "--prior", "a/b"], tmp_path / "home")
    assert "unrecognized arguments: --prior a/b" in text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.from_regex(r"[A-Za-z0-9_.-]{1,8}/[A-Za-z0-9_./-]{1,8}", fullmatch=True))
def test_the_flag_and_the_config_accept_the_same_names(text: str) -> None:
    """One rule for both: the command line's value is exactly what the config check gives, and it refuses what
    that check refuses (argparse's exit 2, or an InputError naming --prior: exit 2 too)."""
    try:
        expected: str | None = prior_repo(text)
    except ConfigError:
        expected = None
    got: str | None = None
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            args = build_parser().parse_args(["dataset", "--repo", "o/r", f"--prior={text}"])
            check_prior(args)  # argparse turns "--prior=--" into an empty list without calling the type
            got = args.prior[0]
        except SystemExit as exit_info:
            assert exit_info.code == 2
        except InputError as exc:
            assert "--prior" in str(exc)
    assert got == expected
