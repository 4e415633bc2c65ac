"""Serving speed and footprint of a trained model on the labeler's path (ONNX Runtime + tokenizers).

    python -m benchmarks.serving --model DIR [--onnx-file model.int8.onnx] [--issues PATH] [--json out/bench.json]

Measures single-issue latency on 1 thread (p50/p95/p99) over real issue texts, batch throughput
on all cores, cold start in a fresh process (import, load, first prediction), peak RSS of that
process, and the macro-F1 difference between the fp32 and int8 ONNX models on the model's
test split (when the model folder sits in a store beside its dataset) or on the issues file, and of the
distilled student's files where the model has them (``--distil-layers``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import machine, table, write_json
from triage.data.sources import read_issues
from triage.ml.metrics import indicator, predict, report
from triage.ml.model import Classifier, serving_file

ONNX_FILES = ("model.onnx", "model.int8.onnx", "student.onnx", "student.int8.onnx")  # teacher and distilled student

# VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec and would report the parent's peak.
COLD = """
import json, sys, time
started = time.perf_counter()
from triage.ml.model import Classifier
model = Classifier.from_dir(sys.argv[1], threads=1, onnx_file=sys.argv[2])
model.scores("HttpClient throws on redirect", "Repro: call GetAsync on a URL that redirects to https.")
elapsed = time.perf_counter() - started
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"cold_start_s": elapsed, "peak_rss_mb": int(hwm.split()[1]) / 1024}))
"""


def _test_rows(model_dir: Path, issues_path: Path, model: Classifier) -> list[dict[str, Any]]:
    """The model's frozen test split if the store is beside it, else the newest 200 issues of the file."""
    store_root = model_dir.parents[3] if len(model_dir.parents) > 3 else None
    version = model.manifest.get("dataset_version")
    if store_root is not None:
        split = store_root / "datasets" / model.manifest["repo"] / str(version) / "test.jsonl"
        if split.is_file():
            return [json.loads(line) for line in split.read_text().splitlines() if line]
    issues = sorted(read_issues(issues_path), key=lambda i: i.sort_key)[-200:]
    return [{**model.encode(i.title, i.body), "labels": list(i.labels), "number": i.number} for i in issues]


def measure(model_dir: Path, issues_path: Path, repeats: int = 300, onnx_file: str = "") -> dict[str, Any]:
    """All serving measurements for one model folder (``onnx_file``: time this file, not the served one)."""
    one = Classifier.from_dir(model_dir, threads=1, onnx_file=onnx_file)
    issues = read_issues(issues_path)
    pairs = [(i.title, i.body) for i in issues]
    lengths = [len(one._tokenizer.encode(one.encode(*p)["text"]).ids) for p in pairs[:500]]
    one.scores(*pairs[0])  # warm up
    latencies, neighbour_ms = [], []
    for title, body in (pairs * (repeats // len(pairs) + 1))[:repeats]:
        started = time.perf_counter()
        scores = one.scores(title, body)  # cleaning, tokenising, encoder, lexical model, blend: the labeler's path
        latencies.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        one.similar(title, body, next(iter(scores)))  # the similar past issues of the top label: no second run
        neighbour_ms.append((time.perf_counter() - started) * 1000)
    batch = Classifier.from_dir(model_dir, threads=0, onnx_file=onnx_file)
    sample = [batch.encode(*p) for p in pairs[:512]]
    started = time.perf_counter()
    batch.predict_rows(sample, batch_size=32)
    throughput = len(sample) / (time.perf_counter() - started)
    cold = json.loads(subprocess.run([sys.executable, "-c", COLD, str(model_dir), onnx_file], capture_output=True,
                                     text=True, check=True).stdout)
    rows = _test_rows(model_dir, issues_path, one)
    f1 = {}
    for file in ONNX_FILES:
        if (model_dir / file).is_file():
            lexical = model_dir / "lexical.npz"
            served = Classifier(str(model_dir / file), (model_dir / "tokenizer.json").read_text(), one.manifest, 0,
                                lexical.read_bytes() if lexical.is_file() else None)
            probs = served.predict_rows(rows)
            truth = indicator([r["labels"] for r in rows], served.labels)
            f1[file] = report(truth, predict(probs, None, served.single_label), served.labels)["macro_f1"]
    return {
        "model": str(model_dir), "served_file": onnx_file or serving_file(one.manifest),
        "max_tokens": one.manifest["max_tokens"], "median_tokens": float(np.median(lengths)),
        "p50_ms": float(np.percentile(latencies, 50)), "p95_ms": float(np.percentile(latencies, 95)),
        "p99_ms": float(np.percentile(latencies, 99)), "throughput_per_s": throughput,
        "cold_start_s": cold["cold_start_s"], "peak_rss_mb": cold["peak_rss_mb"],
        "fp32_macro_f1": f1.get("model.onnx"), "int8_macro_f1": f1.get("model.int8.onnx"),
        "int8_f1_delta": (f1["model.onnx"] - f1["model.int8.onnx"]) if {"model.onnx", "model.int8.onnx"} <= set(f1)
        else None, "student_macro_f1": f1.get("student.onnx"), "student_int8_macro_f1": f1.get("student.int8.onnx"),
        "test_issues": len(rows), "machine": machine(),
        "neighbours_p50_ms": float(np.percentile(neighbour_ms, 50)) if one.neighbours else None,
        "neighbours_p95_ms": float(np.percentile(neighbour_ms, 95)) if one.neighbours else None,
    } | neighbour_quality(one, rows)


def neighbour_quality(model: Classifier, rows: list[dict[str, Any]], k: int = 3) -> dict[str, Any]:
    """How often the ``k`` stored issues most like a test issue (any label, the issue itself left out) carry one of
    its true labels, against chance (the share of stored issues with that label, averaged the same way); the size of
    the stored file per 1,000 issues."""
    stored = model.neighbours
    if stored is None or not rows:
        return dict.fromkeys(("neighbours_share_true_label", "neighbours_chance", "neighbours_stored",
                              "neighbours_kb_per_1000"))
    vectors = model.embed([r["text"] for r in rows])
    members = {label: set(stored.rows(label).tolist()) for label in model.labels}
    hits = chance = 0.0
    for row, vector in zip(rows, vectors):
        similarity = stored.vectors @ vector
        similarity[stored.numbers == row.get("number", -1)] = -np.inf
        top = np.argsort(-similarity)[:k]
        mine = set().union(*(members.get(label, set()) for label in row["labels"]))
        hits += sum(int(i) in mine for i in top) / k
        chance += len(mine) / len(stored)
    size = (model.manifest.get("neighbours") or {}).get("bytes")
    return {"neighbours_share_true_label": hits / len(rows), "neighbours_chance": chance / len(rows),
            "neighbours_stored": len(stored),
            "neighbours_kb_per_1000": size / len(stored) if size else None}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a model folder (the demo prints its path)")
    parser.add_argument("--issues", type=Path, default=Path("data/corefx-area/issues.jsonl"))
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--onnx-file", default="", choices=("", *ONNX_FILES),
                        help="time this ONNX file instead of the one the model's manifest serves")
    parser.add_argument("--json", help="merge the results into this JSON file under the key 'serving'")
    args = parser.parse_args(argv)
    result = measure(args.model, args.issues, args.repeats, args.onnx_file)
    keys = ["served_file", "median_tokens", "p50_ms", "p95_ms", "p99_ms", "throughput_per_s", "cold_start_s",
            "peak_rss_mb", "fp32_macro_f1", "int8_macro_f1", "int8_f1_delta", "student_macro_f1",
            "student_int8_macro_f1", "neighbours_p50_ms", "neighbours_p95_ms",
            "neighbours_share_true_label", "neighbours_chance", "neighbours_stored", "neighbours_kb_per_1000"]
    print(table([[k, result[k]] for k in keys], ["measure", "value"]))
    print(f"machine: {result['machine']}")
    write_json(args.json, "serving", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
