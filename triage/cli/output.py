"""How the command line prints: JSON results, aligned tables, headline metrics."""

from __future__ import annotations

import json
import re
from typing import Any

from triage.app.markdown import issue_url
from triage.domain.policy import Decision, Policy


def print_table(rows: list[list[str]], header: list[str]) -> None:
    """Print an aligned text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))))


def headline(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The few numbers of an evaluation a person reads first."""
    raw, at = evaluation["raw"], evaluation["at_thresholds"]
    return {"accuracy": round(raw["accuracy"], 4), "macro_f1": round(raw["macro_f1"], 4),
            "micro_f1": round(raw["micro_f1"], 4), "coverage_at_thresholds": round(at["coverage"], 4),
            "precision_at_thresholds": round(at["precision_when_labeled"], 4)}


# --- `triage label`: one record per issue, as JSON lines or a table ---------------------------------------------

_CALL = re.compile(r"(?P<method>[A-Z]+) (?P<path>\S+)(?: (?P<body>.*))?\Z", re.DOTALL)
_ISSUE_PATH = re.compile(r"/issues/(\d+)(?:/|\Z)")
# Characters that would move the cursor, recolour or reorder a terminal line: C0/C1 controls and bidi overrides.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def parse_call(call: str) -> dict[str, Any]:
    """A dry-run call (``"POST /repos/o/r/issues/1/labels {...}"``) as ``{method, path, body}``; body parsed."""
    match = _CALL.match(call)
    if match is None:
        return {"method": None, "path": None, "body": call}
    body: Any = match["body"]
    if body is not None:
        try:
            body = json.loads(body)
        except ValueError:
            pass  # a body that is not JSON stays text
    return {"method": match["method"], "path": match["path"], "body": body}


def call_issue(call: dict[str, Any]) -> int | None:
    """The issue number a parsed call writes to, if its path names one."""
    match = _ISSUE_PATH.search(call.get("path") or "")
    return int(match[1]) if match else None


def decision_record(decision: Decision, policy: Policy, calls: list[str], title: str = "") -> dict[str, Any]:
    """What a maintainer reads about one issue before turning dry run off: the decision, its confidence against the
    threshold in force, the reasons, why it abstained, and the exact GitHub calls it would make."""
    def scored(pairs: tuple[tuple[str, float], ...], key: str) -> list[dict[str, Any]]:
        return [{"label": label, key: round(score, 4), "threshold": round(policy.threshold(label), 4)}
                for label, score in pairs]

    why = None
    if decision.abstained:
        why = "; ".join(decision.reasons) if decision.reasons else "no label reached its threshold"
    return {"kind": "decision", "repo": decision.repo, "number": decision.number, "title": title,
            "decision": "abstain" if decision.abstained else "label",
            "labels": scored(decision.add, "confidence"),
            "confidence": round(max(score for _, score in decision.add), 4) if decision.add else None,
            "reasons": list(decision.reasons), "abstained_because": why, "top": scored(decision.top, "score"),
            "similar": [{"label": label, "number": number, "title": title, "url": issue_url(decision.repo, number)}
                        for label, number, title in decision.similar],
            "calls": [parse_call(call) for call in calls], "model": decision.model_version}


def label_summary(records: list[dict[str, Any]], model: str | None, config: str) -> dict[str, Any]:
    """The last line of ``triage label``: counts over the records."""
    labeled = sum(1 for r in records if r["decision"] == "label")
    return {"kind": "summary", "model": model, "config": config, "dry_run": True, "issues": len(records),
            "would_label": labeled, "abstained": len(records) - labeled,
            "calls": sum(len(r["calls"]) for r in records)}


def safe_text(text: str, width: int) -> str:
    """``text`` on one terminal line: controls and bidi overrides shown as ``?``, cut to ``width`` characters."""
    clean = _UNSAFE.sub("?", text)
    return clean if len(clean) <= width else clean[: max(width - 1, 0)] + "…"


def label_table(records: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """The records as an aligned table for people: one row per issue, the reasons last, then the summary."""
    rows: list[list[str]] = []
    for r in records:
        shown = r["labels"][0] if r["labels"] else (r["top"][0] if r["top"] else None)
        rows.append([f"#{r['number']}", "label" if r["decision"] == "label" else "abstain",
                     safe_text(", ".join(x["label"] for x in r["labels"]) or (shown["label"] if shown else "-"), 40),
                     f"{shown.get('confidence', shown.get('score')):.2f}" if shown else "-",
                     f"{shown['threshold']:.2f}" if shown else "-",
                     safe_text(r["title"], 50),
                     safe_text(r["abstained_because"] or "; ".join(r["reasons"]), 200)])
    header = ["issue", "decision", "label", "confidence", "threshold", "title", "why"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in [header, ["-" * w for w in widths], *rows]]
    lines.append(f"{summary['issues']} issues: would label {summary['would_label']}, abstain on "
                 f"{summary['abstained']} (model {summary['model']}, config {safe_text(summary['config'], 120)}, "
                 "dry run)")
    return "\n".join(lines)


def label_output(result: dict[str, Any], fmt: str) -> str:
    """``triage label``'s stdout: JSON objects one per line (each issue, then the summary), or a table."""
    records, summary = result["issues"], result["summary"]
    if fmt == "table":
        return label_table(records, summary)
    return "\n".join(json.dumps(record) for record in [*records, summary])
