"""Turning an issue's title and body into the text the classifier sees.

The cleaning step removes what carries no signal about the label and would only crowd
the model's short token window. In order:

1. HTML comments (``<!-- ... -->``): issue-template instructions.
2. Fenced code blocks (```` ``` ```` or ``~~~``): replaced by ``[code]``; their contents are
   mostly user code whose identifiers repeat across areas.
3. Stack traces: frames (``at Foo.Bar(...)``, ``File "x.py", line 3``, ``at f (file.js:1:2)``)
   keep only the first :data:`MAX_FRAMES` frames, with file paths and line numbers removed.
4. Template checkboxes (``- [ ] I searched existing issues``).
5. Boilerplate lines: lines that occur in at least ``min_share`` of a repository's issues
   (learned per repository by :func:`learn_boilerplate`), such as template headings.
6. Images and URLs: ``![alt](url)`` is removed; a link keeps its text; bare URLs are removed.
7. Noise tokens: hexadecimal addresses, GUIDs, long digit runs.
8. Whitespace is collapsed and the text cut to ``max_chars``.

The title comes first, separated from the body by a blank line, so truncation never cuts it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

MAX_FRAMES = 3
MAX_CHARS = 4000

_HTML_COMMENT = re.compile(r"<!--.*?(-->|$)", re.S)
_FENCE = re.compile(r"(```|~~~).*?(\1|$)", re.S)
_FRAME_LINE = re.compile(
    r"^\s*(at\s+[\w$.<>`\[\],:/\\@ -]+(\(.*\))?\s*(in\s+\S+)?(:line\s+\d+)?|File \".*\", line \d+.*)\s*$"
)
_INLINE_FRAMES = re.compile(r"(\s+at\s+[\w$.<>`\[\],]+\([^)]*\)(\s+in\s+\S+?:line\s+\d+)?){" + str(MAX_FRAMES + 1) + ",}")
_FRAME_LOCATION = re.compile(r"\s+in\s+\S+?:line\s+\d+|\s*\(?[\w./\\-]+:\d+(:\d+)?\)?$|File \"[^\"]*\", line \d+,?")
_CHECKBOX = re.compile(r"^\s*[-*]\s*\[[ xX]?\]\s.*$", re.M)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\((?:https?://|/)[^)]*\)")
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
    text = _HTML_COMMENT.sub(" ", body or "")
    text = _FENCE.sub(" [code] ", text)
    text = _trim_stack_traces(text)
    text = _CHECKBOX.sub("", text)
    if boilerplate:
        text = "\n".join(line for line in text.splitlines() if line.strip().lower() not in boilerplate)
    text = _IMAGE.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _NOISE.sub(" ", text)
    text = _SPACES.sub(" ", text)
    return _BLANKS.sub("\n", text).strip()


def issue_text(title: str, body: str, boilerplate: frozenset[str] = frozenset(), max_chars: int = MAX_CHARS) -> str:
    """The classifier's input: the cleaned title, a blank line, the cleaned body, cut to ``max_chars``."""
    head = _SPACES.sub(" ", _URL.sub(" ", title or "")).strip()
    rest = clean_body(body, boilerplate)
    return (head + "\n\n" + rest).strip()[:max_chars]


def lexical_text(title: str, body: str, max_chars: int = 20000) -> str:
    """The lexical model's input: title and body with comments, URLs and noise tokens removed.

    Unlike :func:`issue_text` it keeps code and stack traces: their identifiers (``HttpClient``,
    ``System.IO``) are exactly what a bag-of-words model can use.
    """
    text = _HTML_COMMENT.sub(" ", f"{title or ''}\n{body or ''}")
    text = _NOISE.sub(" ", _URL.sub(" ", _IMAGE.sub(" ", text)))
    return _SPACES.sub(" ", text).strip()[:max_chars]


def _trim_stack_traces(text: str) -> str:
    lines = text.splitlines()
    kept: list[str] = []
    run = 0
    python_frame = False
    for line in lines:
        if _FRAME_LINE.match(line):
            run += 1
            python_frame = line.lstrip().startswith("File ")
            if run <= MAX_FRAMES:
                kept.append(_FRAME_LOCATION.sub("", line).rstrip())
            continue
        if python_frame and line.startswith((" ", "\t")) and line.strip():
            python_frame = False  # the source line Python prints under its frame belongs to that frame
            if run <= MAX_FRAMES:
                kept.append(line)
            continue
        run = 0
        python_frame = False
        kept.append(line)
    # Exports that flattened newlines keep frames on one line: cut long runs there too.
    return _INLINE_FRAMES.sub(lambda m: " " + " ".join(_frames(m.group(0))[:MAX_FRAMES]), "\n".join(kept))


def _frames(run: str) -> list[str]:
    return [_FRAME_LOCATION.sub("", "at " + part).strip() for part in re.split(r"\s+at\s+", run) if part.strip()]
