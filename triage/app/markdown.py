"""Outside text (issue titles) inside the Markdown the labeler writes to GitHub, rendered as inert text.

A title can hold anything: link syntax, HTML, backticks, @mentions (which would notify people), issue
references and newlines. In a code span none of it is interpreted; the span's fence is longer than any
run of backticks in the text, so the text cannot close it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BACKTICKS = re.compile("`+")


def code_span(text: str, max_chars: int = 100) -> str:
    """``text`` on one line as a Markdown code span (empty for blank text), cut to ``max_chars`` characters."""
    clean = " ".join(_LINE_BREAKING.sub(" ", text).split())[:max_chars]
    if not clean:
        return ""
    fence = "`" * (1 + max((len(run) for run in _BACKTICKS.findall(clean)), default=0))
    return f"{fence} {clean} {fence}"  # CommonMark strips one space on each side: text starting with ` stays intact


def issue_url(repo: str, number: int) -> str:
    """The GitHub page of issue ``number`` of ``repo`` (``owner/name``)."""
    return f"https://github.com/{repo}/issues/{int(number)}"


def similar_lines(repo: str, label: str, issues: Sequence[tuple[int, str]]) -> list[str]:
    """The comment's lines for the past issues like this one that carry ``label``: one link with its title each."""
    if not issues:
        return []
    return [f"- `{label}` like:"] + [f"  - [#{int(number)}]({issue_url(repo, number)}) {code_span(title)}".rstrip()
                                     for number, title in issues]
