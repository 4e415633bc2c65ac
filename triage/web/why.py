"""The dashboard's "why" of a decision: its reasons, with the similar past issues as links to GitHub."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from triage.web.markup import e


def why_cell(reasons: Sequence[str], similar: Sequence[Mapping[str, Any]], repo: str) -> str:
    """The reasons as escaped HTML joined by ``; ``; a ``LABEL: like #1, #2`` reason shows each issue as a link to it on
    GitHub, its title (outside text: escaped, in an attribute) as the tooltip."""
    if not reasons:
        return "—"
    parts = []
    for reason in reasons:
        label, _, rest = reason.partition(": like #")
        mine = [s for s in similar if s.get("label") == label]
        if not rest or not mine:
            parts.append(e(reason))
            continue
        links = ", ".join(f"<a href=\"https://github.com/{e(repo)}/issues/{int(s['number'])}\" rel=\"noreferrer\" "
                          f"title=\"{e(s.get('title') or '')}\">#{int(s['number'])}</a>" for s in mine)
        parts.append(f"{e(label)}: like {links}")
    return "; ".join(parts)
