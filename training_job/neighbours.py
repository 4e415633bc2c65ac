"""The similar-issues file of a model: its labeled training issues embedded by the model that is served.

The vectors come from the served ONNX file's ``embedding`` output, the same run serving uses for a new
issue, so stored and new issues are compared in one space (int8 and fp32 embeddings differ slightly).
The format is :mod:`triage.ml.neighbours`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from triage.ml.model import Classifier
from triage.ml.neighbours import MAX_ROWS, NEIGHBOURS_FILE, pack


def row_title(row: Mapping[str, Any]) -> str:
    """An example's title: its ``title`` or, in datasets that have none, the first line of its cleaned text (the
    cleaned title, see :func:`triage.domain.cleaning.issue_text`)."""
    return str(row.get("title") or str(row.get("text") or "").split("\n", 1)[0])


def write_neighbours(folder: Path, manifest: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
                     max_rows: int = MAX_ROWS) -> dict[str, Any] | None:
    """Write ``neighbours.npz`` into the model ``folder`` for the labeled ``rows`` (the newest ``max_rows``), embedded
    by the manifest's served ONNX file; returns the manifest's ``neighbours`` record, or None without a labeled row.

    Args:
        folder: the model folder being written, with the ONNX files and ``tokenizer.json``.
        manifest: the model manifest so far (labels, mode, serving file, tokenizer settings).
        rows: dataset examples (``number``, ``text``, ``labels``, ``created_at``), usually train and validation.
        max_rows: how many issues are kept at most, newest first.
    """
    labeled = [row for row in rows if row.get("labels")]
    if not labeled:
        return None
    kept = sorted(labeled, key=lambda r: (r.get("created_at") or "", int(r["number"])))[-max_rows:]
    started = time.monotonic()
    served = str(manifest.get("serving", {}).get("file", "model.onnx"))
    model = Classifier(str(folder / served), (folder / "tokenizer.json").read_text(), manifest)
    vectors = model.embed([str(row["text"]) for row in kept])
    data = pack(vectors, [int(row["number"]) for row in kept], [row["labels"] for row in kept], manifest["labels"],
                [row_title(row) for row in kept])
    (folder / NEIGHBOURS_FILE).write_bytes(data)
    return {"file": NEIGHBOURS_FILE, "issues": len(kept), "of": len(labeled), "max_issues": max_rows,
            "dimensions": int(vectors.shape[1]), "bytes": len(data), "embedded_by": served,
            "seconds": round(time.monotonic() - started, 2)}
