"""The cold-start model: the pretrained encoder with label prototypes as its head, no fine-tuning.

Used by ``training_job.train`` for a dataset that ``triage dataset`` built in cold-start mode (too few
labeled issues to fine-tune; manifest key ``cold_start``). The model folder has the same files and
manifest keys as a fine-tuned one, so serving, evaluation and promotion do not change; the manifest's
``cold_start`` record says how it was made and whether it abstains (see :mod:`triage.ml.cold_start`).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training_job.train import TrainConfig

ABSTAIN_NOTE = ("no labeled issue to estimate precision on: the model ranks labels by the similarity of the issue to "
                "each label's name and description, and every threshold is above 1, so the labeler applies nothing "
                "until a maintainer sets thresholds or labels issues and trains again")


def train_cold(config: TrainConfig, dataset: dict[str, Any], splits: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Build, export and describe the prototype model for ``dataset``; returns the manifest (written last).

    With a usable ``prior`` split, the encoder is first fine-tuned on those issues (:mod:`training_job.prior`).
    """
    from training_job.prior import prior_encoder

    with prior_encoder(config, dataset, splits) as (encoder_folder, prior):
        return prototype_model(config, dataset, splits, encoder_folder, prior)


def prototype_model(config: TrainConfig, dataset: dict[str, Any], splits: dict[str, list[dict[str, Any]]],
                    encoder_folder: str | None, prior: dict[str, Any] | None) -> dict[str, Any]:
    """The prototype model on the encoder in ``encoder_folder`` (None: the base model), with ``prior``, the record
    of how that encoder was fine-tuned; the prior rows of ``splits`` join the prototypes either way."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from training_job.modeling import PrototypeClassifier, embed, export_onnx
    from training_job.neighbours import write_neighbours
    from training_job.train import _sha256, code_version, default_base_model, model_folder
    from triage.ml import cold_start
    from triage.ml.metrics import confusion, evaluate, indicator
    from triage.ml.model import Classifier
    from triage.ml.neighbours import NEIGHBOURS_FILE
    from triage.ml.report import write_model_card

    labels: list[str] = dataset["labels"]
    descriptions: dict[str, str] = dict(dataset.get("label_descriptions") or {})
    base_model = encoder_folder or config.args.base_model or default_base_model()
    max_tokens = config.args.max_tokens
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.args.seed)
    started = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(base_model)
    encoder = AutoModel.from_pretrained(base_model)
    texts = cold_start.describe(labels, descriptions)
    label_vectors = embed(encoder, tokenizer, texts, max_tokens).numpy()
    train = splits["train"]
    examples = embed(encoder, tokenizer, [r["text"] for r in train], max_tokens).numpy()
    targets = indicator([r["labels"] for r in train], labels)
    prior_rows = [r for r in splits.get("prior") or [] if set(r["labels"]) & set(labels)]
    extra = None
    if prior_rows:
        extra = cold_start.prior_term(embed(encoder, tokenizer, [r["text"] for r in prior_rows], max_tokens).numpy(),
                                      indicator([r["labels"] for r in prior_rows], labels))
    protos = cold_start.prototypes(label_vectors, examples, targets, prior=extra)
    loo = cold_start.leave_one_out(label_vectors, examples, targets, prior=extra)
    thresholds = cold_start.cold_thresholds(loo, targets, labels, config.args.target_precision)
    model = PrototypeClassifier(base_model, torch.from_numpy(protos), cold_start.TEMPERATURE)
    seconds = time.monotonic() - started + (prior or {}).get("seconds", 0.0)

    with model_folder(config.output) as partial:
        export_onnx(model, partial / "model.onnx", max_tokens)
        tokenizer.backend_tokenizer.save(str(partial / "tokenizer.json"))
        version = config.version or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + dataset["version"][:6]
        abstains = not len(train)
        manifest: dict[str, Any] = {
            "format": 1, "version": version, "repo": dataset["repo"], "labels": labels, "mode": "single",
            "max_tokens": max_tokens, "pad_token": tokenizer.pad_token or "[PAD]",
            "base_model": config.args.base_model or "sentence-transformers/all-MiniLM-L6-v2 (bundled)",
            "encoder_layers": getattr(encoder.config, "num_hidden_layers", None),
            "dataset_version": dataset["version"], "label_counts": dataset.get("label_counts", {}),
            "boilerplate": dataset.get("boilerplate", []), "thresholds": thresholds,
            "serving": {"file": "model.onnx", "int8_macro_f1_delta": {}, "max_int8_loss": None},
            "ensemble": None,
            "cold_start": {
                "route": ("prior repositories, " if prior_rows else "") + (
                    "few-shot prototypes" if len(train) else "zero-shot label text"),
                "prior": prior, "prior_weight": cold_start.PRIOR_WEIGHT if prior_rows else None,
                "labeled_issues": len(train), "label_texts": dict(zip(labels, texts)),
                "temperature": cold_start.TEMPERATURE, "label_weight": cold_start.LABEL_WEIGHT,
                "abstains": abstains,
                "note": ABSTAIN_NOTE if abstains else "thresholds picked on leave-one-out scores of the labeled "
                                                      "issues for the target precision",
            },
        }
        served = Classifier(str(partial / "model.onnx"), (partial / "tokenizer.json").read_text(), manifest)
        probs = {"validation": loo, "test": served.encoder_proba([r["text"] for r in splits["test"]])}
        truth = {"validation": targets, "test": indicator([r["labels"] for r in splits["test"]], labels)}
        metrics = {name: evaluate(probs[name], truth[name], labels, thresholds["per_label"], True)
                   for name in ("validation", "test")}
        card = {**metrics["test"], "confusion": confusion(truth["test"], probs["test"]).tolist(), "labels": labels}
        for result in metrics.values():
            result.pop("curve")
        neighbours = write_neighbours(partial, manifest, train + splits.get("validation", []))
        manifest.update({
            "metrics": metrics,
            "neighbours": neighbours,
            "training": {"arguments": {"base_model": config.args.base_model, "max_tokens": max_tokens,
                                       "target_precision": config.args.target_precision},
                         "device": "cpu", "precision": "fp32", "steps": 0, "planned_steps": 0, "examples_seen": 0,
                         "epochs_run": 0, "seconds": round(seconds, 2), "examples_per_second": None,
                         "stopped_by_budget": False, "train_size": len(train)},
            "files": {name: _sha256(partial / name)
                      for name in ("model.onnx", "tokenizer.json", *([NEIGHBOURS_FILE] if neighbours else []))},
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "code_version": code_version(),
        })
        write_model_card(partial, manifest, card)
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest

