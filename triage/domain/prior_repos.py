"""Prior repositories: other repositories whose labeled issues a cold-start model learns from (issue #14).

They come from the repository config (``training.prior``, see :mod:`triage.domain.repo_config`) or from
``triage dataset --prior``; both use the one check here. Names follow GitHub's rules (those of
:func:`triage.domain.issues.check_repo`, matched in full) and are kept in lower case, as the product keys
repositories: GitHub's names ignore case.
"""

from __future__ import annotations

from collections.abc import Sequence

from triage.domain.errors import ConfigError
from triage.domain.issues import NAME_PATTERN, OWNER_PATTERN

MAX_PRIOR = 5  # repositories in training.prior (each one's issues are read and fine-tuned on)
SYNTAX = ("owner/name, for example dotnet/corefx (owner: 1 to 39 letters, digits or single hyphens, not at "
          "either end; name: 1 to 100 letters, digits, '-', '_' or '.', not '.' or '..')")


def prior_repo(value: object) -> str:
    """``value`` as a prior repository, ``owner/name`` in lower case; :class:`ConfigError` saying how to write
    it otherwise."""
    owner, slash, name = value.partition("/") if isinstance(value, str) else ("", "", "")
    if not (slash and OWNER_PATTERN.fullmatch(owner) and NAME_PATTERN.fullmatch(name) and name not in (".", "..")):
        raise ConfigError(f"{_shown(value)} is not a GitHub repository; write {SYNTAX}")
    return str(value).lower()


def prior_repos(values: Sequence[object], where: str) -> tuple[str, ...]:
    """Each of ``values`` checked by :func:`prior_repo`: at most :data:`MAX_PRIOR`, none twice (ignoring case);
    errors name ``where`` (``source: training.prior`` or ``--prior``)."""
    if len(values) > MAX_PRIOR:
        raise ConfigError(f"{where} lists {len(values)} repositories; at most {MAX_PRIOR}: keep those whose labels "
                          "are closest to this repository's")
    found: list[str] = []
    for index, value in enumerate(values):
        try:
            repo = prior_repo(value)
        except ConfigError as exc:
            raise ConfigError(f"{where}[{index}]: {exc}") from None
        if repo in found:
            raise ConfigError(f"{where} lists {_shown(value)} twice (GitHub names ignore case); keep one")
        found.append(repo)
    return tuple(found)


def parse_prior(value: object, source: str) -> tuple[str, ...]:
    """``training.prior`` of the repository config read from ``source``: a list of repositories (absent or null:
    none)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{source}: training.prior must be a list of repositories such as [dotnet/corefx], got "
                          f"{_shown(value)}; write one entry per line or [owner/a, owner/b]")
    return prior_repos(value, f"{source}: training.prior")


def _shown(value: object) -> str:
    if isinstance(value, str):
        return ascii(value) if len(value) <= 150 else f"{ascii(value[:150])}…"
    if value is None or isinstance(value, (bool, int, float)):
        return ascii(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge number"
    return {dict: "a mapping", list: "a list"}.get(type(value), type(value).__name__)
