"""Path rules: labels a pull request gets for the files it changes (the repository config's ``paths`` key).

Example::

    paths:
      area-System.Net.Http: ["src/System.Net.Http/**"]
      area-Infrastructure: ["/eng/**", "*.csproj", ".github/workflows/"]

A rule is a glob in the style of CODEOWNERS and ``actions/labeler``, matched against each changed file's path
(case-sensitive, as git paths are):

* ``*`` matches any characters within one path segment (not ``/``), ``?`` one such character;
* ``**`` as a whole segment matches zero or more segments (``src/**/tests/*``, ``docs/**``);
* a pattern with a ``/`` other than a trailing one is anchored at the repository root (a leading ``/`` says so
  explicitly); a pattern without one (``*.md``) matches a file or folder name at any depth;
* a pattern matches a path or any folder the path is in, so ``src/System.Net.Http`` and a trailing ``/``
  (``docs/``) both take everything below.

Character classes, braces, negation (``!``) and backslash escapes are refused with a message saying what to write
instead. Matching is segment by segment, with a loop for ``*`` that never backtracks past the last star and a
table over (pattern segment, path segment) for ``**``, so its time is bounded by the lengths, whatever the pattern.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage.domain.errors import ConfigError

MAX_RULE_LABELS = 200  # labels with path rules
MAX_PATTERNS = 50  # patterns per label
MAX_PATTERN = 200  # characters per pattern
MAX_SEGMENTS = 32  # segments per pattern
MAX_LABEL = 50  # GitHub's limit on a label's name
RULE_SCORE = 1.0
MAX_FILES_LINE = 200  # characters of the files line the model reads (about 60 of the encoder's 128 tokens)
_REFUSED = {"[": "character classes", "]": "character classes", "{": "braces", "}": "braces", "\\": "escapes"}
ANY = "**"


@dataclass(frozen=True)
class PathRule:
    """``label`` applies to a pull request that changes a file matching ``pattern``."""

    label: str
    pattern: str
    segments: tuple[str, ...]  # the pattern split on "/", "**" for any number of segments

    def match(self, path: str) -> bool:
        """Whether ``path`` (a repository-relative file path) or a folder it is in matches."""
        return _match(self.segments, tuple(part for part in path.split("/") if part))


def parse_path_rules(value: Any, source: str, where: str = "paths") -> tuple[PathRule, ...]:
    """The ``paths`` mapping (label -> a glob or a list of globs); :class:`ConfigError` naming the entry and the fix."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {where} must be a mapping of label to file globs, for example "
                          f"{{area-System.Net: ['src/System.Net.*/**']}}, got {value!r:.80}")
    if len(value) > MAX_RULE_LABELS:
        raise ConfigError(f"{source}: {where} has {len(value)} labels; at most {MAX_RULE_LABELS} may have path rules")
    rules: list[PathRule] = []
    for label, patterns in value.items():
        if (not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL
                or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in label)):
            raise ConfigError(f"{source}: {where}: {label!r:.80} is not a label name (1 to {MAX_LABEL} characters, "
                              "no control characters)")
        listed = [patterns] if isinstance(patterns, str) else patterns
        if not isinstance(listed, list) or not listed:
            raise ConfigError(f"{source}: {where}.{label} must be a glob or a non-empty list of globs such as "
                              f"['src/**/*.cs'], got {patterns!r:.80}")
        if len(listed) > MAX_PATTERNS:
            raise ConfigError(f"{source}: {where}.{label} has {len(listed)} patterns; at most {MAX_PATTERNS}")
        for index, pattern in enumerate(listed):
            rules.append(PathRule(label, str(pattern), compile_glob(pattern, f"{source}: {where}.{label}[{index}]")))
    return tuple(rules)


def compile_glob(pattern: Any, where: str) -> tuple[str, ...]:
    """The segments of a valid ``pattern`` (anchoring and trailing folders resolved); :class:`ConfigError` else."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise ConfigError(f"{where} must be a file glob such as 'src/**/*.cs', got {pattern!r:.80}")
    if len(pattern) > MAX_PATTERN:
        raise ConfigError(f"{where}: the glob has {len(pattern)} characters; at most {MAX_PATTERN}")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in pattern):
        raise ConfigError(f"{where}: the glob {pattern!r:.80} has a control character")
    bad = next((c for c in pattern if c in _REFUSED), None)
    if bad is not None:
        raise ConfigError(f"{where}: {_REFUSED[bad]} ({bad!r}) are not supported in {pattern!r:.80}; write one glob per "
                          "alternative, with * and ?")
    if pattern.startswith("!"):
        raise ConfigError(f"{where}: negation ('!') is not supported in {pattern!r:.80}; list only what matches")
    anchored = "/" in pattern.rstrip("/")
    parts = pattern.strip("/").split("/")
    if not pattern.strip("/") or any(part in ("", ".", "..") for part in parts):
        raise ConfigError(f"{where}: {pattern!r:.80} has an empty, '.' or '..' segment; write paths such as "
                          "'src/lib/*.cs'")
    for part in parts:
        if "**" in part and part != ANY:
            raise ConfigError(f"{where}: '**' must be a whole path segment (as in 'src/**/test/*'), not part of "
                              f"{part!r:.60}; use '*' within a segment")
    if len(parts) > MAX_SEGMENTS:
        raise ConfigError(f"{where}: the glob has {len(parts)} segments; at most {MAX_SEGMENTS}")
    collapsed = [part for i, part in enumerate(parts) if not (part == ANY and i and parts[i - 1] == ANY)]
    prefix = () if anchored else (ANY,)
    return (*prefix, *collapsed, ANY)  # the trailing ** : a folder matches everything below it


def rule_scores(rules: Sequence[PathRule], paths: Iterable[str]) -> tuple[dict[str, float], list[str]]:
    """Score :data:`RULE_SCORE` for each label whose rule matches a changed file, with the reason
    ``"LABEL: path rule 'glob' matches 'file'"`` (its first match, in the rules' order and the files' order)."""
    files = list(dict.fromkeys(paths))
    scores: dict[str, float] = {}
    reasons: list[str] = []
    for rule in rules:
        if rule.label in scores:
            continue
        found = next((path for path in files if rule.match(path)), None)
        if found is not None:
            scores[rule.label] = RULE_SCORE
            reasons.append(f"{rule.label}: path rule '{rule.pattern}' matches '{found}'")
    return scores, reasons


def rule_labels(rules: Sequence[PathRule]) -> tuple[str, ...]:
    """The labels the rules can give, in order."""
    return tuple(dict.fromkeys(rule.label for rule in rules))


def merge_scores(model: Mapping[str, float], rules: Mapping[str, float]) -> dict[str, float]:
    """The model's scores with each rule's label raised to the rule's score."""
    return {**model, **{label: max(score, model.get(label, 0.0)) for label, score in rules.items()}}


def model_body(body: str, paths: Sequence[str]) -> str:
    """A pull request's body as the model reads it: a first line ``files:`` with the distinct segments of the
    changed paths, in order, at most :data:`MAX_FILES_LINE` characters, then the body (the body unchanged
    without paths). First, because the encoder reads only its first 128 tokens; segments rather than whole
    paths, because folder and file names are what tells areas apart and repeated prefixes would fill them.
    Training (the dataset) and serving (the labeler) both call this, so the model sees one format."""
    if not paths:
        return body
    segments = dict.fromkeys(part for path in paths for part in path.split("/") if part)
    line = "files:"
    for part in segments:
        if len(line) + 1 + len(part) > MAX_FILES_LINE:
            break
        line += " " + part
    return f"{line}\n\n{body or ''}"


def _match(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    """Segment-wise match; ``**`` segments by a table over (pattern index, path index): O(len(pattern) * len(path))
    segment comparisons."""
    if not path:
        return False
    width = len(path) + 1
    reach = [False] * width  # reach[j]: the pattern so far matches the first j path segments
    reach[0] = True
    for part in pattern:
        if part == ANY:
            first = next((j for j in range(width) if reach[j]), None)
            if first is None:
                return False
            reach = [j >= first for j in range(width)]
        else:
            reach = [False] + [reach[j] and _segment(part, path[j]) for j in range(len(path))]
    return reach[-1]


def _segment(pattern: str, text: str) -> bool:
    """``*`` and ``?`` within one segment: the classic loop that backtracks only to the last star, O(len * len)."""
    if "*" not in pattern and "?" not in pattern:
        return pattern == text
    p = t = 0
    star, mark = -1, 0
    while t < len(text):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == text[t]):
            p, t = p + 1, t + 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif star >= 0:
            p, mark = star + 1, mark + 1
            t = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)
