"""Knowledge distillation: a shallower student encoder that learns the fine-tuned teacher's probabilities.

The student is the teacher with fewer transformer layers (chosen evenly over its depth, or its first N),
starting from the teacher's weights and head. It is trained on the teacher's temperature-softened
probabilities over the training issues and the repository's unlabeled issues (``unlabeled.jsonl`` in the
dataset folder, when the dataset has one), plus the human labels where they exist. Serving time falls in
proportion to depth; :mod:`training_job.serving_choice` decides on validation whether it is served.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from training_job.modeling import IssueClassifier
from training_job.train import TrainConfig, length_batches

TEMPERATURE = 2.0  # softens the teacher's probabilities so the student also learns which wrong labels are close
HARD_WEIGHT = 0.5  # share of the human-label loss on labeled issues; the teacher's soft targets have the rest
MAX_UNLABELED = 5000  # unlabeled issues used at most (the newest of the file's order are kept)
UNLABELED_FILE = "unlabeled.jsonl"
STUDENT_FILE, STUDENT_INT8_FILE = "student.onnx", "student.int8.onnx"


@dataclass(frozen=True)
class DistilSettings:
    """How the student is made and trained.

    Attributes:
        layers: transformer layers the student keeps (fewer than the teacher's).
        spread: take layers spread evenly over the teacher's depth, first and last included (else its first N).
        epochs: passes over the distillation texts.
        temperature: softmax (or sigmoid) temperature of the soft targets.
        hard_weight: weight of the human-label loss on labeled issues (0 … 1).
    """

    layers: int
    spread: bool = True
    epochs: float = 4.0
    temperature: float = TEMPERATURE
    hard_weight: float = HARD_WEIGHT

    def __post_init__(self) -> None:
        if self.layers < 1:
            raise ValueError(f"--distil-layers {self.layers}: a student needs at least 1 layer (0 turns distillation off)")
        if not 0 <= self.hard_weight <= 1 or self.temperature <= 0 or self.epochs <= 0:
            raise ValueError("distillation needs 0 <= hard_weight <= 1, temperature > 0 and epochs > 0")


@dataclass
class Distilled:
    """The trained student and what happened (``record`` goes into the model manifest)."""

    student: IssueClassifier
    record: dict[str, Any] = field(default_factory=dict)


def layer_stack(encoder: nn.Module) -> nn.ModuleList:
    """The transformer layers of a BERT-style (``encoder.layer``) or DistilBERT-style (``transformer.layer``) model."""
    for holder in ("encoder", "transformer"):
        stack = getattr(getattr(encoder, holder, None), "layer", None)
        if isinstance(stack, nn.ModuleList):
            return stack
    raise SystemExit(f"error: --distil-layers is not supported for {type(encoder).__name__} (no layer stack found); "
                     "use --distil-layers 0")


def layer_indices(total: int, keep: int, spread: bool = True) -> list[int]:
    """Which of ``total`` teacher layers a ``keep``-layer student starts from: spread evenly, first and last
    included (``spread``), or the first ``keep``."""
    if not 1 <= keep < total:
        raise ValueError(f"a student keeps 1 to {total - 1} of the teacher's {total} layers, not {keep}")
    if not spread or keep == 1:
        return list(range(keep))
    return sorted({round(i * (total - 1) / (keep - 1)) for i in range(keep)})


def make_student(teacher: IssueClassifier, layers: int, spread: bool = True) -> tuple[IssueClassifier, list[int]]:
    """A copy of ``teacher`` with only ``layers`` of its transformer layers (and the same head)."""
    student = copy.deepcopy(teacher)
    stack = layer_stack(student.encoder)
    picked = layer_indices(len(stack), layers, spread)
    kept = nn.ModuleList([stack[i] for i in picked])
    holder = student.encoder.encoder if hasattr(student.encoder, "encoder") else student.encoder.transformer
    holder.layer = kept
    for name in ("num_hidden_layers", "n_layers"):
        if hasattr(student.encoder.config, name):
            setattr(student.encoder.config, name, layers)
    return student, picked


def read_unlabeled(folder: Path, limit: int = MAX_UNLABELED) -> list[str]:
    """Cleaned texts of the dataset's unlabeled issues (``unlabeled.jsonl``, rows with ``text``); none if absent."""
    path = folder / UNLABELED_FILE
    if not path.is_file():
        return []
    texts = []
    for n, line in enumerate(path.read_text().split("\n"), 1):  # not splitlines: JSON may hold U+2028
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise SystemExit(f"error: {path} line {n} is not JSON; rebuild the dataset with `triage dataset`") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise SystemExit(f"error: {path} line {n} has no text; rebuild the dataset with `triage dataset`")
        texts.append(row["text"])
    return texts[-limit:] if limit else []


@torch.no_grad()
def teacher_logits(teacher: IssueClassifier, tokenizer: Any, texts: list[str], max_tokens: int, device: torch.device,
                   batch_size: int = 32) -> torch.Tensor:
    """The teacher's logits for ``texts`` (eval mode, longest first so batches pad little), shape (n, labels)."""
    teacher.eval()
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = torch.zeros((len(texts), teacher.head.out_features))
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        enc = tokenizer([texts[i] for i in batch], truncation=True, max_length=max_tokens, padding=True,
                        return_tensors="pt").to(device)
        out[batch] = teacher(enc["input_ids"], enc["attention_mask"]).float().cpu()
    return out


def distil_loss(student: torch.Tensor, teacher: torch.Tensor, target: torch.Tensor, labeled: torch.Tensor,
                single: bool, temperature: float = TEMPERATURE, hard_weight: float = HARD_WEIGHT,
                weights: torch.Tensor | None = None) -> torch.Tensor:
    """Soft-target loss (KL for single-label, BCE for multi-label, scaled by T²) plus ``hard_weight`` × the
    human-label loss on the ``labeled`` rows (a boolean mask); rows without labels learn from the teacher only."""
    t = temperature
    if single:
        soft = nn.functional.kl_div(nn.functional.log_softmax(student / t, dim=1),
                                    nn.functional.softmax(teacher / t, dim=1), reduction="batchmean") * t * t
    else:
        soft = nn.functional.binary_cross_entropy_with_logits(student / t, torch.sigmoid(teacher / t)) * t * t
    if not bool(labeled.any()) or hard_weight == 0:
        return soft
    if single:
        hard = nn.functional.cross_entropy(student[labeled], target[labeled].argmax(dim=1), weight=weights)
    else:
        hard = nn.functional.binary_cross_entropy_with_logits(student[labeled], target[labeled])
    return (1 - hard_weight) * soft + hard_weight * hard


def distil(teacher: IssueClassifier, tokenizer: Any, train_texts: list[str], targets: torch.Tensor,
           unlabeled: list[str], settings: DistilSettings, *, single: bool, max_tokens: int, batch_size: int,
           learning_rate: float, weight_decay: float, device: torch.device, seed: int, deadline: float,
           weights: torch.Tensor | None = None) -> Distilled:
    """Train a ``settings.layers``-layer student of ``teacher`` on the training texts (with their ``targets``,
    an indicator matrix) and the ``unlabeled`` texts, until ``settings.epochs`` or the ``deadline``
    (``time.monotonic()``) is reached."""
    started = time.monotonic()
    student, picked = make_student(teacher, settings.layers, settings.spread)
    student.to(device)
    texts = train_texts + unlabeled
    soft = teacher_logits(teacher, tokenizer, texts, max_tokens, device)
    hard = torch.cat([targets, torch.zeros((len(unlabeled), targets.shape[1]))])
    labeled = torch.tensor([True] * len(train_texts) + [False] * len(unlabeled))
    total_steps = max(1, math.ceil(math.ceil(len(texts) / batch_size) * settings.epochs))
    optimizer = torch.optim.AdamW(student.parameters(), lr=learning_rate, weight_decay=weight_decay)
    warmup = max(1, total_steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup))))
    rng = np.random.default_rng(seed + 1)
    step, seen, stopped_by_budget, loss_sum = 0, 0, False, 0.0
    student.train()
    while step < total_steps and not stopped_by_budget:
        for batch in length_batches(texts, batch_size, rng):
            if step >= total_steps:
                break
            if time.monotonic() > deadline:
                stopped_by_budget = True
                break
            enc = tokenizer([texts[i] for i in batch], truncation=True, max_length=max_tokens, padding=True,
                            return_tensors="pt").to(device)
            logits = student(enc["input_ids"], enc["attention_mask"]).float()
            loss = distil_loss(logits, soft[batch].to(device), hard[batch].to(device), labeled[batch].to(device),
                               single, settings.temperature, settings.hard_weight, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            seen += len(batch)
            loss_sum += float(loss.item())
    student.eval()
    seconds = time.monotonic() - started
    return Distilled(student, {
        "layers": settings.layers, "teacher_layers_kept": picked, "init": "spread" if settings.spread else "first",
        "temperature": settings.temperature, "hard_weight": settings.hard_weight, "epochs": settings.epochs,
        "train_texts": len(train_texts), "unlabeled_texts": len(unlabeled), "steps": step, "planned_steps": total_steps,
        "examples_seen": seen, "mean_loss": round(loss_sum / step, 4) if step else None,
        "seconds": round(seconds, 2), "stopped_by_budget": stopped_by_budget,
    })


def distil_for_job(config: TrainConfig, teacher: IssueClassifier, tokenizer: Any, texts: list[str],
                   targets: torch.Tensor, weights: torch.Tensor | None, single: bool, device: torch.device,
                   deadline: float) -> Distilled | None:
    """The training job's distillation step (``config.args.distil_layers`` > 0): a student trained on the training
    ``texts`` (``targets``: their label indicators) and the dataset's unlabeled issues until the job's
    budget ``deadline``, or None with the reason logged when there is nothing to gain (a student as deep as the
    teacher) or no budget left."""
    layers = len(layer_stack(teacher.encoder))
    if config.args.distil_layers >= layers or time.monotonic() >= deadline:
        reason = "no budget left" if config.args.distil_layers < layers else f"the teacher has only {layers} layers"
        logging.getLogger(__name__).warning("distillation to %d layers skipped: %s", config.args.distil_layers, reason)
        return None
    settings = DistilSettings(layers=config.args.distil_layers, epochs=config.args.epochs)
    return distil(teacher, tokenizer, list(texts), targets, read_unlabeled(config.data), settings,
                  single=single, max_tokens=config.args.max_tokens, batch_size=config.args.batch_size,
                  learning_rate=config.args.learning_rate, weight_decay=config.args.weight_decay, device=device,
                  seed=config.args.seed, deadline=deadline, weights=weights)


def write_student(distilled: Distilled, folder: Path, max_tokens: int) -> dict[str, float]:
    """Export the student as ``student.onnx`` and ``student.int8.onnx`` in ``folder``; returns their serving costs."""
    from training_job.modeling import export_onnx, quantize_int8
    from training_job.serving_choice import relative_cost

    export_onnx(distilled.student, folder / STUDENT_FILE, max_tokens)
    quantize_int8(folder / STUDENT_FILE, folder / STUDENT_INT8_FILE)
    layers = int(distilled.record["layers"])
    return {STUDENT_FILE: relative_cost(layers, False), STUDENT_INT8_FILE: relative_cost(layers, True)}
