"""Repository names as every entry point checks them (``check_repo``)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage.domain.errors import InputError
from triage.domain.issues import check_repo

GITHUB = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(?:_[A-Za-z0-9]{1,20})?/[A-Za-z0-9_.-]{1,100}")


@pytest.mark.parametrize("name", ["dotnet/runtime", "Octo-Org/My.Repo_2", "octo_emu/x", "a/-"])
def test_github_names_are_kept_in_lower_case(name: str) -> None:
    assert check_repo(name) == name.lower()


@pytest.mark.parametrize("name", ["a/b\n", "a\n/b", "a/b\r\n", "a/b ", " a/b", "a/b/c", "a", "/b", "a/", "-a/b",
                                  "a--b/c", "a/.", "a/..", "a/b\x00", "аb/c", None, 3, ["a/b"]])
def test_anything_else_is_refused_naming_the_rule(name: object) -> None:
    with pytest.raises(InputError, match="is not a GitHub repository name: use owner/name"):
        check_repo(name)


@given(st.text(max_size=60))
def test_a_name_is_accepted_exactly_when_it_follows_github_rules(text: str) -> None:
    expected = GITHUB.fullmatch(text) is not None and text.split("/", 1)[1] not in (".", "..")
    try:
        assert check_repo(text) == text.lower() and expected
    except InputError:
        assert not expected
