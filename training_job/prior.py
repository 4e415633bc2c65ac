"""A cold-start model's prior: the encoder fine-tuned on other repositories' labeled issues first.

A cold-start dataset may carry a ``prior`` split (:mod:`triage.data.prior`): issues of repositories the
maintainer named, labeled with this repository's label names. When they cover at least two labels, this
job fine-tunes the encoder on them (the same training as any model, on a dataset of those issues alone,
a tenth held out to report how well it learned them); the prototype model is then built on that encoder,
and the prior issues join each prototype (:func:`triage.ml.cold_start.prior_term`). Thresholds still
come only from the repository's own labeled issues.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training_job.train import TrainConfig

MIN_PER_LABEL = 5  # a label with fewer prior issues is not learned from them (its prototype still uses them)


def usable_rows(rows: list[dict[str, Any]], labels: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The prior rows restricted to the labels they can teach (at least :data:`MIN_PER_LABEL` issues each), and
    those labels; fewer than two labels means nothing to fine-tune on."""
    counts = Counter(label for row in rows for label in row["labels"] if label in labels)
    taught = sorted(label for label, n in counts.items() if n >= MIN_PER_LABEL)
    kept = [{**row, "labels": [label for label in row["labels"] if label in taught]} for row in rows]
    return [row for row in kept if row["labels"]], taught


@contextmanager
def prior_encoder(config: TrainConfig, dataset: dict[str, Any],
                  splits: dict[str, list[dict[str, Any]]]) -> Iterator[tuple[str | None, dict[str, Any] | None]]:
    """The folder of an encoder fine-tuned on the prior rows, and the record of how (both None without a usable
    prior); the folder lasts until the block ends."""
    from training_job.train import run

    prior = splits.get("prior") or []
    rows, taught = usable_rows(prior, dataset["labels"])
    repositories = dict(Counter(row.get("repo", "") for row in prior))
    if len(taught) < 2:
        yield None, ({"repositories": repositories, "issues": len(prior), "fine_tuned": False,
                      "note": f"the prior issues teach {len(taught)} label(s) with {MIN_PER_LABEL}+ issues; "
                              "fine-tuning needs two"} if prior else None)
        return
    rows = [{**row, "number": n} for n, row in enumerate(rows)]  # numbers repeat across repositories
    held = {"validation": rows[3::10], "test": rows[7::10]}
    held_numbers = {row["number"] for part in held.values() for row in part}
    parts = {"train": [row for row in rows if row["number"] not in held_numbers], **held}
    mode = "single" if all(len(row["labels"]) == 1 for row in rows) else "multi"
    with tempfile.TemporaryDirectory(prefix="triage-prior-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        for name, part in parts.items():
            (data / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in part))
        (data / "manifest.json").write_text(json.dumps({
            "version": f"{dataset['version']}-prior", "repo": dataset["repo"], "mode": mode, "labels": taught,
            "boilerplate": []}))
        arguments = replace(config.args, distil_layers=0)
        manifest = run(replace(config, data=data, output=Path(tmp) / "model", version=None, args=arguments))
        yield str(Path(tmp) / "model" / "hf"), {
            "repositories": repositories, "issues": len(prior), "fine_tuned": True, "labels": taught,
            "trained_on": len(parts["train"]), "held_out": len(parts["test"]),
            "held_out_macro_f1": round(manifest["metrics"]["test"]["raw"]["macro_f1"], 4),
            "seconds": manifest["training"]["seconds"], "epochs": config.args.epochs}
