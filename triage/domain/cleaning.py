"""Turning an issue's title and body into the text the classifier sees.

The cleaning step removes what carries no signal about the label and would only crowd
the model's short token window. In order:

0. Lone UTF-16 surrogates, code points that are not characters: a JSON string can carry them
   (``"\\ud800"``), the tokenizer and UTF-8 cannot.
1. HTML comments (``<!-- ... -->``): issue-template instructions.
2. Fenced code blocks (```` ``` ```` or ``~~~``): replaced by ``[code]``; their contents are
   mostly user code whose identifiers repeat across areas.
3. Stack traces: frames (``at Foo.Bar(...)``, ``File "x.py", line 3``, ``at f (file.js:1:2)``)
   keep only the first :data:`MAX_FRAMES` frames, with file paths and line numbers removed
   (:mod:`triage.domain.stack_traces`).
4. Template checkboxes (``- [ ] I searched existing issues``): the whole line, and only that line.
5. Boilerplate lines: lines that occur in at least ``min_share`` of a repository's issues
   (learned per repository by :func:`learn_boilerplate`), such as template headings.
6. Images and URLs: ``![alt](url)`` is removed; a link keeps its text; bare URLs are removed.
7. Noise tokens: hexadecimal addresses, GUIDs, long digit runs.
8. Whitespace is collapsed and the text cut to ``max_chars``.

The title comes first, separated from the body by a blank line, so truncation never cuts it.

Bodies are untrusted text of up to 65,536 characters, cleaned in every dataset build and on every
labeling request: each step takes time linear in its input (``python -m benchmarks.cleaning``
measures the worst case). Where a plain pattern would scan the same stretch again from each later
start (``[[[[...`` with no closing bracket), the pattern here matches that stretch, and the
replacement hands it back unchanged.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from triage.domain.stack_traces import MAX_FRAMES, trim_stack_traces

__all__ = ["MAX_CHARS", "MAX_FRAMES", "clean_body", "issue_text", "learn_boilerplate", "lexical_text"]

MAX_CHARS = 4000

_SURROGATES = re.compile(r"[\ud800-\udfff]+")
_HTML_COMMENT = re.compile(r"<!--.*?(-->|$)", re.S)
_FENCE = re.compile(r"(```|~~~).*?(\1|$)", re.S)
_CHECKBOX = re.compile(r"^[^\S\n]*+[-*][^\S\n]*+\[[ xX]?\](?:[^\S\n].*)?$", re.M)
# An image or link whose "]" or ")" never comes still matches, up to its "]" or to the end, and is kept.
_IMAGE = re.compile(r"!\[[^\]]*+(?:\]\([^)]*+(?P<end>\))?)?")
_LINK = re.compile(r"\[(?P<text>[^\]]*+)(?:\]\((?:https?://|/)[^)]*+(?P<end>\))?)?")
_URL = re.compile(r"(https?://|www\.)\S+")
_NOISE = re.compile(
    r"\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b|\b[0-9a-f]{12,}\b|\b\d{6,}\b"
)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANKS = re.compile(r"\n\s*\n+")


def learn_boilerplate(bodies: Iterable[str], min_share: float = 0.2, min_issues: int = 20) -> frozenset[str]:
    """Lines (stripped, lower-cased) that appear in at least ``min_share`` of the bodies.

    Returns an empty set below ``min_issues`` bodies, where a share is not meaningful.
    """
    counts: Counter[str] = Counter()
    total = 0
    for body in bodies:
        total += 1
        counts.update({line.strip().lower() for line in (body or "").splitlines() if line.strip()})
    if total < min_issues:
        return frozenset()
    return frozenset(line for line, n in counts.items() if n / total >= min_share and len(line) > 2)


def clean_body(body: str, boilerplate: frozenset[str] = frozenset()) -> str:
    """Apply the documented cleaning steps to an issue body."""
    text = _HTML_COMMENT.sub(" ", _SURROGATES.sub("", body or ""))
    text = _FENCE.sub(" [code] ", text)
    text = trim_stack_traces(text)
    text = _CHECKBOX.sub("", text)
    if boilerplate:
        text = "\n".join(line for line in text.splitlines() if line.strip().lower() not in boilerplate)
    text = _drop_images(text)
    text = _LINK.sub(_link_text, text)
    text = _URL.sub(" ", text)
    text = _NOISE.sub(" ", text)
    text = _SPACES.sub(" ", text)
    return _BLANKS.sub("\n", text).strip()


def issue_text(title: str, body: str, boilerplate: frozenset[str] = frozenset(), max_chars: int = MAX_CHARS) -> str:
    """The classifier's input: the cleaned title, a blank line, the cleaned body, cut to ``max_chars``."""
    head = _SPACES.sub(" ", _URL.sub(" ", _SURROGATES.sub("", title or ""))).strip()
    rest = clean_body(body, boilerplate)
    return (head + "\n\n" + rest).strip()[:max_chars]


def lexical_text(title: str, body: str, max_chars: int = 20000) -> str:
    """The lexical model's input: title and body with comments, URLs and noise tokens removed.

    Unlike :func:`issue_text` it keeps code and stack traces: their identifiers (``HttpClient``,
    ``System.IO``) are exactly what a bag-of-words model can use.
    """
    text = _HTML_COMMENT.sub(" ", _SURROGATES.sub("", f"{title or ''}\n{body or ''}"))
    text = _NOISE.sub(" ", _URL.sub(" ", _drop_images(text)))
    return _SPACES.sub(" ", text).strip()[:max_chars]


def _drop_images(text: str) -> str:
    return _IMAGE.sub(lambda m: " " if m.group("end") else m.group(0), text)


def _link_text(match: re.Match[str]) -> str:
    return match.group("text") if match.group("end") else match.group(0)
