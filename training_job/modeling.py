"""The classifier network and its ONNX export."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModel


class IssueClassifier(nn.Module):
    """A transformer encoder, mean pooling over tokens, dropout and a linear head.

    Mean pooling matches how sentence encoders such as all-MiniLM-L6-v2 were pretrained.
    The forward pass returns logits; activation (softmax or sigmoid) happens at serving.
    """

    def __init__(self, base_model: str, num_labels: int, dropout: float = 0.1, layers: int = 0) -> None:
        super().__init__()
        self.encoder = AutoModel.from_pretrained(base_model)
        if layers:
            keep_layers(self.encoder, layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.config.hidden_size, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, num_labels)."""
        return self.classify(self.pool(input_ids, attention_mask))

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Logits from the pooled encoder output."""
        return self.head(self.dropout(pooled))

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The mean-pooled encoder output, shape (batch, hidden)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(hidden, attention_mask)



class PrototypeClassifier(IssueClassifier):
    """The encoder with a cosine head: logits are ``temperature × cosine(pooled issue, prototype)``.

    The head's weight rows are the unit-length label prototypes times the temperature (see
    :mod:`triage.ml.cold_start`); pooled embeddings are normalised first, as sentence encoders are used.
    """

    def __init__(self, base_model: str, prototypes: torch.Tensor, temperature: float) -> None:
        super().__init__(base_model, prototypes.shape[0], dropout=0.0)
        with torch.no_grad():
            self.head.weight.copy_(prototypes * temperature)
            self.head.bias.zero_()

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Logits from the pooled encoder output: scaled cosines to the prototypes."""
        return self.head(nn.functional.normalize(pooled, dim=-1))


class WithEmbedding(nn.Module):
    """What is exported: a classifier's logits and the unit-length pooled embedding they came from (one run gives
    both; serving finds similar past issues with the second)."""

    def __init__(self, model: IssueClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (batch, num_labels), embedding (batch, hidden))."""
        pooled = self.model.pool(input_ids, attention_mask)
        return self.model.classify(pooled), nn.functional.normalize(pooled, dim=-1)


@torch.no_grad()
def embed(encoder: nn.Module, tokenizer: object, texts: Sequence[str], max_tokens: int,
          batch_size: int = 32) -> torch.Tensor:
    """Mean-pooled, unit-length embeddings of ``texts`` (longest first, so batches pad little), shape (n, hidden)."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    hidden = int(getattr(getattr(encoder, "config", None), "hidden_size", 0))
    out = torch.zeros((len(texts), hidden))
    encoder.eval()
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        enc = tokenizer([texts[i] for i in batch], truncation=True, max_length=max_tokens,  # type: ignore[operator]
                        padding=True, return_tensors="pt")
        states = encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        out[batch] = nn.functional.normalize(mean_pool(states, enc["attention_mask"]), dim=-1)
    return out


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states over the real (unpadded) tokens."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

def keep_layers(encoder: nn.Module, layers: int) -> None:
    """Keep only the first ``layers`` transformer layers of ``encoder`` (a shallower, faster encoder).

    Serving cost grows linearly with depth; the lower layers of a pretrained encoder are a
    good start for fine-tuning a shallow one. Supports BERT-style (``encoder.layer``, as in
    MiniLM, BERT, RoBERTa, MPNet) and DistilBERT-style (``transformer.layer``) models.
    """
    stack = getattr(getattr(encoder, "encoder", None), "layer", None)
    if stack is None:
        stack = getattr(getattr(encoder, "transformer", None), "layer", None)
    if not isinstance(stack, nn.ModuleList):
        raise SystemExit(f"error: --encoder-layers is not supported for {type(encoder).__name__}; "
                         "leave it at 0 (all layers)")
    if not 1 <= layers <= len(stack):
        raise SystemExit(f"error: --encoder-layers {layers} is out of range: the encoder has {len(stack)} layers")
    del stack[layers:]
    for name in ("num_hidden_layers", "n_layers"):
        if hasattr(encoder.config, name):
            setattr(encoder.config, name, layers)


def export_onnx(model: IssueClassifier, path: Path, max_tokens: int) -> None:
    """Export ``model`` (on the CPU, in eval mode) to ONNX with dynamic batch and sequence axes; outputs ``logits``
    and ``embedding`` (:class:`WithEmbedding`)."""
    model = model.to("cpu").eval()
    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    batch = torch.export.Dim("batch", max=4096)
    seq = torch.export.Dim("seq", max=max(max_tokens, 16))
    with warnings.catch_warnings():
        # The exporter's internals emit deprecation and naming notices that are not ours to fix.
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            WithEmbedding(model), (ids, mask), input_names=["input_ids", "attention_mask"],
            output_names=["logits", "embedding"],
            dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}), dynamo=True, verbose=False,
        )
        graph = program.model.graph
        for node in graph.all_nodes():  # the exporter names the token-embedding lookup "embedding" too
            for value in node.outputs:
                if value.name == "embedding" and value is not graph.outputs[1]:
                    value.name = "token_embedding"
        program.save(str(path))


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the linear layers' weights (activations stay float).

    Per-channel scales with the reduced 7-bit range: on the corefx demo model, per-tensor int8 lost
    2.5 points of blended macro-F1 on the test split, this loses 0.5 (and nothing on validation).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser's notices about pre-processing are advisory; it gives them as warnings and as root-logger lines.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
        finally:
            logging.disable(logging.NOTSET)
