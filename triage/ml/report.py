"""The human-readable model report: plots (PNG) and a Markdown and an HTML page."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def plot_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], path: Path) -> None:
    """Confusion matrix (rows: true label, columns: predicted), row-normalised colours, counts printed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=float)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    size = max(6.0, 0.38 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(j, i, int(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title("Confusion matrix on the test split (colour: share of the true label)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_precision_coverage(curve: dict[str, list[float]], operating: tuple[float, float] | None,
                            target: float, path: Path) -> None:
    """Precision of the top label against coverage, with the chosen operating point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.plot(curve["coverage"], curve["precision"], label="top label, by confidence cut")
    ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target precision {target:.2f}")
    if operating is not None:
        ax.scatter([operating[0]], [operating[1]], color="crimson", zorder=3,
                   label=f"chosen thresholds: coverage {operating[0]:.0%}, precision {operating[1]:.0%}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of issues labeled)")
    ax.set_ylabel("precision")
    ax.set_title("Precision vs coverage on the test split")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


TABLE_HEAD = ["label", "train examples", "threshold", "test support", "labeled at threshold", "precision at threshold",
              "recall at threshold", "F1 without abstaining"]


def per_label_table(evaluation: dict[str, Any], manifest: dict[str, Any]) -> list[list[str]]:
    """One row per label, the most frequent in the test split first: what the bot would do *at the chosen
    thresholds* (issues it would label with it, the share right, the share of the label's issues it finds), which
    decides whether to trust it, beside the F1 of the top label without abstaining."""
    train_counts = manifest.get("label_counts", {}).get("train", {})
    thresholds = manifest.get("thresholds", {}).get("per_label", {})
    raw, at = evaluation["raw"]["per_label"], (evaluation.get("at_thresholds") or {}).get("per_label", {})
    rows = []
    for label, m in sorted(raw.items(), key=lambda kv: (-kv[1]["support"], kv[0])):
        threshold = f"{thresholds[label]:.2f}" if label in thresholds else ""
        mine = at.get(label)
        if mine is None:
            applied = precision = recall = ""
        else:
            applied = str(mine.get("labeled", ""))
            precision = f"{mine['precision']:.2f}" if mine.get("labeled") else "–"
            recall = f"{mine['recall']:.2f}"
        rows.append([label, str(train_counts.get(label, "")), threshold, str(m["support"]), applied, precision, recall,
                     f"{m['f1']:.2f}"])
    return rows


def write_model_card(folder: Path, manifest: dict[str, Any], evaluation: dict[str, Any]) -> dict[str, Path]:
    """The card stored with every model: ``card.md``, ``card.html``, the two plots and ``evaluation.json``."""
    return write_report(folder, manifest, evaluation, title=f"Model card: {manifest['repo']} {manifest['version']}",
                        stem="card")


def write_report(out: Path, manifest: dict[str, Any], evaluation: dict[str, Any],
                 decisions: Sequence[dict[str, Any]] = (), title: str = "Issue labeler report",
                 stem: str = "report") -> dict[str, Path]:
    """Write ``confusion_matrix.png``, ``precision_coverage.png``, ``{stem}.md``, ``{stem}.html`` and ``evaluation.json``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("confusion_matrix.png", "precision_coverage.png", "evaluation.json")}
    paths["report.md"], paths["report.html"] = out / f"{stem}.md", out / f"{stem}.html"
    plot_confusion(evaluation["confusion"], evaluation["labels"], paths["confusion_matrix.png"])
    at = evaluation.get("at_thresholds")
    target = float(manifest["thresholds"].get("target_precision", 0.9))
    operating = (at["coverage"], at["precision_when_labeled"]) if at else None
    plot_precision_coverage(evaluation["curve"], operating, target, paths["precision_coverage.png"])
    raw = evaluation["raw"]
    summary = [
        ("model version", manifest["version"]), ("repository", manifest["repo"]),
        ("base model", manifest["base_model"]), ("dataset version", manifest["dataset_version"]),
        ("labels", str(len(manifest["labels"]))), ("test issues", str(raw["n"])),
        ("accuracy (top label)", f"{raw['accuracy']:.3f}"), ("macro-F1", f"{raw['macro_f1']:.3f}"),
        ("micro-F1", f"{raw['micro_f1']:.3f}"),
    ]
    if at:
        summary += [(f"coverage at thresholds (target precision {target:.2f})", f"{at['coverage']:.1%}"),
                    ("precision when labeling", f"{at['precision_when_labeled']:.3f}")]
    training = manifest.get("training", {})
    if training:
        summary.append(("training", f"{training['examples_seen']} examples in {training['seconds']:.0f} s on "
                                    f"{training['device']} ({training['epochs_run']} epochs)"))
    table = per_label_table(evaluation, manifest)
    md = [f"# {title}", "", "| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in summary], "",
          "## Per label (test split)", "",
          "| " + " | ".join(TABLE_HEAD) + " |", "|---|" + "---:|" * (len(TABLE_HEAD) - 1),
          *["| " + " | ".join(row) + " |" for row in table], "",
          "## Plots", "", "![confusion matrix](confusion_matrix.png)", "",
          "![precision vs coverage](precision_coverage.png)", ""]
    if decisions:
        md += ["## What it would have labeled (dry run)", "", "| issue | decision | top score | human label |",
               "|---:|---|---:|---|"]
        md += [f"| #{d['number']} | {_decision_text(d)} | {d['top'][0]['score']:.2f} | {', '.join(d.get('truth', []))} |"
               for d in decisions]
    paths["report.md"].write_text("\n".join(md) + "\n")
    images = {name: paths[name].read_bytes() for name in ("confusion_matrix.png", "precision_coverage.png")}
    paths["report.html"].write_text(_html(title, summary, table, decisions, images))
    paths["evaluation.json"].write_text(json.dumps(evaluation, indent=1))
    return paths


def _decision_text(d: dict[str, Any]) -> str:
    if d["add"]:
        return "add " + ", ".join(a["label"] for a in d["add"])
    return "abstain: " + (d["reasons"][-1] if d["reasons"] else "")


def _html(title: str, summary: list[tuple[str, str]], table: list[list[str]], decisions: Sequence[dict[str, Any]],
          images: dict[str, bytes]) -> str:
    """One self-contained page: the plots are inlined, so the file can be mailed or attached as it is."""
    e = html.escape
    src = {name: "data:image/png;base64," + base64.b64encode(data).decode() for name, data in images.items()}
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in summary)
    labels = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in table)
    head = "".join(f"<th>{e(h)}</th>" for h in TABLE_HEAD)
    dec = "".join(
        f"<tr><td>#{d['number']}</td><td>{e(_decision_text(d))}</td><td>{d['top'][0]['score']:.2f}</td>"
        f"<td>{e(', '.join(d.get('truth', [])))}</td></tr>" for d in decisions)
    dec_section = (f"<h2>What it would have labeled (dry run)</h2><table><tr><th>issue</th><th>decision</th>"
                   f"<th>top score</th><th>human label</th></tr>{dec}</table>") if decisions else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ddd;padding:4px 8px;text-align:left}}
img{{max-width:100%;border:1px solid #eee}}</style></head><body>
<h1>{e(title)}</h1><table>{rows}</table>
<h2>Per label (test split)</h2>
<table><tr>{head}</tr>{labels}</table>
<h2>Plots</h2><img src="{src["confusion_matrix.png"]}" alt="confusion matrix (confusion_matrix.png)">
<img src="{src["precision_coverage.png"]}" alt="precision vs coverage (precision_coverage.png)">
{dec_section}</body></html>
"""
