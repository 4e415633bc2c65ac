"""How the command line prints: JSON results, aligned tables, headline metrics."""

from __future__ import annotations

from typing import Any


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
