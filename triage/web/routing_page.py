"""The dashboard's owner-routing parts: live precision per assignee, and the assignment cell of a decision row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from triage.web.markup import e, pct
from triage.web.markup import table as _table


def routing_section(view: Mapping[str, Any]) -> str:
    """Per assignee: issues routed, confirmed, corrected and live precision (from humans' assignment changes)."""
    routing = view.get("routing") or {}
    people = routing.get("per_assignee") or {}
    rows = [[e(login), e(r["routed"]), e(r["applied"]), e(r["confirmed"]), e(r["corrected"]), pct(r["precision"])]
            for login, r in sorted(people.items())]
    table = _table(["assignee", "routed", "assigned on GitHub", "confirmed", "corrected", "live precision"], rows,
                   frozenset({1, 2, 3, 4, 5})) if rows else \
        "<p class=\"muted\">Nobody routed yet (the repository config's <code>routing</code> section turns it on).</p>"
    return (f"<section id=\"routing\" class=\"wide\"><h2>Owner routing (last {e(routing.get('window_days', 30))} days)"
            f"</h2><p class=\"muted\">live precision <span id=\"routing-precision\">{pct(routing.get('precision'))}"
            f"</span> over {e(routing.get('judged', 0))} judged: a human unassigning or reassigning the bot's pick "
            f"corrects it; assigning it or closing the issue with it confirms.</p>{table}</section>")


def assign_cell(assign: Mapping[str, Any] | None) -> str:
    """Who the decision routed the issue to (or why nobody), applied or dry run, and the human verdict."""
    if not assign:
        return "—"
    if not assign.get("login"):
        return f"<span class=\"muted\" title=\"{e(assign.get('reason'))}\">nobody</span>"
    mode = "assigned" if assign.get("applied") else "would assign (dry run)"
    verdict = assign.get("verdict")
    judged = f" <span class=\"tag {e(verdict)}\">{e(verdict)}</span>" if verdict else ""
    return (f"<span class=\"tag {'applied' if assign.get('applied') else 'dry'}\" title=\"{e(assign.get('reason'))}\">"
            f"{e(mode)} {e(assign['login'])}</span>{judged}")
