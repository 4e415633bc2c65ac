"""Stack traces in issue bodies: keep the first :data:`MAX_FRAMES` frames of each trace, without locations.

Frames are recognised in three shapes:

* on a line of their own: ``at Foo.Bar(Int32 x) in C:\\src\\Foo.cs:line 42`` (.NET), ``at foo (/app/a.js:1:2)``
  and ``at /app/a.js:1:2`` (JavaScript), ``at com.foo.Bar.baz(Bar.java:42)`` (Java), or
  ``File "x.py", line 3, in run`` (Python, with the source line Python prints under it);
* flattened into one line by an export that lost the newlines: runs of more than :data:`MAX_FRAMES`
  ``at Name(...)`` frames, each optionally followed by ``in path:line N``;
* their locations (``in path:line N``, ``(file.js:1:2)`` at the end, ``File "x.py", line 3,``) are removed.

Every pattern here runs in time linear in its input, whatever the input: an issue body is
attacker-controlled text of up to 65,536 characters. The means, where the plain pattern would
backtrack, are possessive quantifiers (``*+``, ``++``) and atomic groups where no other split of the
text could match, lookbehind guards that start a match only where the same match could not have started
one character earlier (so a run of spaces or name characters is scanned once, not once per position),
and, for patterns that would scan the same unclosed bracket from many starts, alternatives that match
(and hand back unchanged) the stretch that no match can start in. ``tests/unit/test_cleaning.py`` checks
each pattern against the plain backtracking pattern it replaces, on short inputs where that one is fast.
"""

from __future__ import annotations

import re

MAX_FRAMES = 3

_NAME = r"[\w$.<>`\[\],:/\\@ -]"  # what the name of a frame on its own line may hold (spaces: "at new Foo (...)")
# "at", whitespace, then name characters: the whitespace run and the name run are each taken whole; a name
# of spaces only ("at  (x.js:1)") is a run of two or more whitespace characters that ends with a space.
_AT_NAME = rf"at(?:\s++{_NAME}++|\s++(?<=\s ))"
# A .NET location "in <path>[:line N]" or a bare ":line N"; the path is one non-space run, and it ends
# in ":line" exactly when a line number follows.
_LOCATION = r"(?:in\s++\S++(?:(?<=\S:line)\s++\d++)?|:line\s++\d++)"
_FRAME_LINE = re.compile(
    rf"\s*+(?:{_AT_NAME}(?:\(.*\))?\s*+{_LOCATION}?\s*+$"  # .* backtracks to each ")" once, at most
    r'|File ".*", line \d)'
)
# A paren-less frame whose location holds a character that a name cannot (at Foo in C:\a~b.cs:line 3):
# the location is the end of the line, everything before it the name.
_AT_START = re.compile(r"\s*+at\s")
_LOCATION_TAIL = re.compile(rf"{_LOCATION}\s*+$")
_NAME_BEFORE_LOCATION = re.compile(rf"\s*+{_AT_NAME}\s*+")

_PATH_END = r"[\w./\\-]++:\d++(?::\d++)?+\)?+$"  # a JavaScript or Java location at the end: x.js:1:2)
_FRAME_LOCATION = re.compile(
    rf"(?<!\s)\s++in\s++\S+?:line\s++\d++(?:{_PATH_END})?"
    # The location at the end starts where nothing before it could be part of it: after a non-space
    # before its spaces or its "(", after a character that is not a path character before its path.
    rf"|(?<!\s)\s++\(?+{_PATH_END}|(?<!\s)\({_PATH_END}|(?<![\s(\w./\\-]){_PATH_END}"
    rf'|File "[^"]*+", line \d++,?+(?:{_PATH_END})?'
)

_FRAME_REST = r"\s*+at\s++[\w$.<>`\[\],]++\([^)]*+\)(?>\s++in\s++\S+?:line\s++\d++)?"  # after its first space
# A run of frames is one frame after another, so every frame start inside a run that is too short
# belongs to the same or a shorter run: the second and third alternatives hand such a run back whole,
# and a frame whose "(" is never closed ends the search (no later frame can close either). Each
# frame starts at the first of its spaces: "\s(?<!\s\s)" (the search skips to a space quickly).
_INLINE_FRAMES = re.compile(
    rf"\s(?<!\s\s)(?:(?P<run>{_FRAME_REST}(?:\s{_FRAME_REST}){{{MAX_FRAMES},}})"
    rf"|{_FRAME_REST}(?:\s{_FRAME_REST}){{0,{MAX_FRAMES - 1}}}"
    r"|\s*+at\s++[\w$.<>`\[\],]++\([^)]*+\Z)"
)
_FRAME_SPLIT = re.compile(r"\s(?<!\s\s)\s*+at\s++")


def is_frame_line(line: str) -> bool:
    """Whether ``line`` (one line, without its line break) is a stack frame of one of the shapes above."""
    if _FRAME_LINE.match(line):
        return True
    tail = _LOCATION_TAIL.search(line) if _AT_START.match(line) else None
    return tail is not None and _NAME_BEFORE_LOCATION.fullmatch(line, 0, tail.start()) is not None


def strip_location(frame: str) -> str:
    """``frame`` without its file path and line numbers."""
    return _FRAME_LOCATION.sub("", frame)


def trim_stack_traces(text: str) -> str:
    """Keep the first :data:`MAX_FRAMES` frames of each run of frames in ``text``, without their locations."""
    kept: list[str] = []
    run = 0
    python_frame = False
    for line in text.splitlines():
        if ("at" in line or 'File "' in line) and is_frame_line(line):  # the test first: ten times faster
            run += 1
            python_frame = line.lstrip().startswith("File ")
            if run <= MAX_FRAMES:
                kept.append(strip_location(line).rstrip())
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
    return _INLINE_FRAMES.sub(_trim_inline_run, "\n".join(kept))


def _trim_inline_run(match: re.Match[str]) -> str:
    if match.group("run") is None:
        return match.group(0)  # too short a run, or an unclosed frame: left as it is
    frames = [strip_location("at " + part).strip() for part in _FRAME_SPLIT.split(match.group(0)) if part.strip()]
    return " " + " ".join(frames[:MAX_FRAMES])
