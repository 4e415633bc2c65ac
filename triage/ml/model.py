"""Loading a trained model and predicting label probabilities.

The serving path uses ONNX Runtime, ``tokenizers`` and NumPy only (no torch). A model is a
folder (or blob prefix) written by ``training_job``: ``model.onnx`` (and ``model.int8.onnx``),
``tokenizer.json``, ``manifest.json``, ``lexical.npz`` when the model is an ensemble of
the fine-tuned encoder and a lexical (TF-IDF) model, blended with the manifest's weight, and
``neighbours.npz`` (models trained since it exists) for the similar past issues of a label.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from triage.domain.cleaning import issue_text, lexical_text
from triage.domain.errors import InputError, NotFoundError, TrainingError, TriageError
from triage.ml.lexical import LexicalModel
from triage.ml.neighbours import NEIGHBOURS_FILE, Neighbours
from triage.ports.stores import BlobStore

MODEL_FILES = ("model.onnx", "tokenizer.json", "manifest.json")
LEXICAL_FILE = "lexical.npz"
RECENT_EMBEDDINGS = 512  # the embeddings of the issues scored last, kept so finding neighbours needs no second run


class Classifier:
    """A trained issue classifier: text in, one probability per label out."""

    def __init__(self, onnx_model: bytes | str, tokenizer_json: str, manifest: Mapping[str, Any], threads: int = 0,
                 lexical: bytes | None = None, neighbours: bytes | None = None) -> None:
        self.manifest = dict(manifest)
        self.labels: list[str] = list(manifest["labels"])
        self.single_label = manifest["mode"] == "single"
        self.thresholds: dict[str, float] = dict(manifest["thresholds"]["per_label"])
        self.boilerplate = frozenset(manifest.get("boilerplate", ()))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(onnx_model, options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self._tokenizer.enable_truncation(max_length=int(manifest["max_tokens"]))
        pad = manifest.get("pad_token", "[PAD]")
        self._tokenizer.enable_padding(pad_id=self._tokenizer.token_to_id(pad) or 0, pad_token=pad)
        ensemble = manifest.get("ensemble") or {}
        self.encoder_weight = float(ensemble.get("encoder_weight", 1.0))
        self._lexical = LexicalModel.from_bytes(lexical) if lexical is not None and self.encoder_weight < 1 else None
        embeds = "embedding" in {output.name for output in self._session.get_outputs()}
        self._outputs = ["logits", "embedding"] if embeds else ["logits"]
        self._neighbours = Neighbours(neighbours, self.labels) if neighbours is not None and embeds else None
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_dir(cls, path: str | Path, threads: int = 0, onnx_file: str = "") -> Classifier:
        """Load a model folder written by the training job (``onnx_file``: serve this file, not the manifest's)."""
        path = Path(path)
        missing = [name for name in (*MODEL_FILES, onnx_file) if name and not (path / name).is_file()]
        if missing:
            raise NotFoundError(f"{path} is not a model folder: missing {', '.join(missing)}")
        with _damaged(str(path)):
            manifest = json.loads((path / "manifest.json").read_text())
            lexical, neighbours = path / LEXICAL_FILE, path / NEIGHBOURS_FILE
            if NEIGHBOURS_FILE in manifest.get("files", {}) and not neighbours.is_file():
                raise NotFoundError(f"{path} is not a complete model folder: missing {NEIGHBOURS_FILE}")
            return cls(str(path / (onnx_file or serving_file(manifest))), (path / "tokenizer.json").read_text(),
                       manifest, threads, lexical.read_bytes() if manifest.get("ensemble") and lexical.is_file() else None,
                       neighbours.read_bytes() if neighbours.is_file() else None)

    @classmethod
    def from_store(cls, store: BlobStore, prefix: str, threads: int = 0) -> Classifier:
        """Load a model stored under ``prefix`` (for example ``models/owner/repo/VERSION``)."""
        local = store.local_path(prefix)
        if local is not None and local.is_dir():
            return cls.from_dir(local, threads)
        try:
            with _damaged(prefix):
                manifest = json.loads(store.get(f"{prefix}/manifest.json"))
                lexical = store.get(f"{prefix}/{LEXICAL_FILE}") if manifest.get("ensemble") else None
                neighbours = store.get(f"{prefix}/{NEIGHBOURS_FILE}") if NEIGHBOURS_FILE in manifest.get("files", {}) \
                    else None  # models trained before neighbours existed have none
                return cls(store.get(f"{prefix}/{serving_file(manifest)}"),
                           store.get(f"{prefix}/tokenizer.json").decode(), manifest, threads, lexical, neighbours)
        except NotFoundError as exc:
            raise NotFoundError(f"model {prefix} is incomplete or missing: {exc}") from exc

    @property
    def neighbours(self) -> Neighbours | None:
        """The stored past issues (None for a model trained without them)."""
        return self._neighbours

    @property
    def version(self) -> str:
        """The model version from its manifest."""
        return str(self.manifest.get("version", "unknown"))

    def encode(self, title: str, body: str) -> dict[str, str]:
        """The model's inputs for an issue, cleaned as in training: ``text`` (encoder) and ``lexical``."""
        return {"text": issue_text(title, body, self.boilerplate), "lexical": lexical_text(title, body)}

    def predict_rows(self, rows: Sequence[Mapping[str, Any]], batch_size: int = 32) -> np.ndarray:
        """Probabilities of shape ``(len(rows), len(labels))`` for rows with ``text`` (and ``lexical``)."""
        probs = self.encoder_proba([row["text"] for row in rows], batch_size)
        if self._lexical is None:
            return probs
        lexical = self._lexical.predict_proba([row.get("lexical") or row["text"] for row in rows])
        return self.encoder_weight * probs + (1 - self.encoder_weight) * lexical

    def encoder_proba(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """The fine-tuned encoder's probabilities alone, for already-cleaned texts."""
        return self._run(texts, batch_size)[0]

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length embeddings of already-cleaned texts, shape ``(len(texts), hidden)`` (models with that output)."""
        if len(self._outputs) < 2:
            raise InputError(f"model {self.version} has no embedding output; train it again to find similar issues")
        return self._run(texts, batch_size, keep=True)[1]

    def _run(self, texts: Sequence[str], batch_size: int, keep: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and (``keep``, for a model with that output; else empty) embeddings of ``texts``."""
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        vectors: list[np.ndarray] = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start:start + batch_size])
            encodings = self._tokenizer.encode_batch(batch)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            results = self._session.run(self._outputs, {"input_ids": ids, "attention_mask": mask})
            out[start:start + len(encodings)] = _activate(results[0], self.single_label)
            if len(results) > 1:
                if keep:
                    vectors.append(results[1].astype(np.float32))
                if self._neighbours is not None:
                    self._remember(batch, results[1])
        if not np.isfinite(out).all():
            raise TrainingError(f"model {self.version} produced non-finite scores; retrain it")
        return out, np.concatenate(vectors) if vectors else np.zeros((len(texts), 0), dtype=np.float32)

    def _remember(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        with self._lock:
            for text, vector in zip(texts, vectors):
                self._recent[text] = vector
                self._recent.move_to_end(text)
            while len(self._recent) > RECENT_EMBEDDINGS:
                self._recent.popitem(last=False)

    def similar(self, title: str, body: str, label: str, number: int | None = None, k: int = 3) -> list[tuple[int, str]]:
        """The ``k`` past issues labeled ``label`` most like this one, as (number, title), most similar first; none
        for a model without stored issues. ``number``: the issue's own, never among them. An issue scored lately
        (:meth:`scores`, :meth:`scores_many`) is not run through the model again."""
        if self._neighbours is None:
            return []
        text = self.encode(title, body)["text"]
        with self._lock:
            vector = self._recent.get(text)
        if vector is None:
            vector = self.embed([text])[0]
        return self._neighbours.nearest(vector, label, k, exclude=number)

    def scores(self, title: str, body: str) -> dict[str, float]:
        """Label → probability for one issue, highest first."""
        return self.scores_many([(title, body)])[0]

    def evidence(self, title: str, body: str, label: str, k: int = 3) -> list[str]:
        """The words of the issue that weighed most toward ``label`` in the lexical half (none without one)."""
        if self._lexical is None:
            return []
        return self._lexical.top_terms(lexical_text(title, body), label, k)

    def scores_many(self, issues: Sequence[tuple[str, str]]) -> list[dict[str, float]]:
        """:meth:`scores` of several (title, body) pairs in one batched run of the model."""
        probs = self.predict_rows([self.encode(title, body) for title, body in issues]) if issues else []
        return [{self.labels[j]: float(row[j]) for j in np.argsort(-row)} for row in probs]


@contextmanager
def _damaged(where: str) -> Iterator[None]:
    """Report a model that does not load (a damaged manifest, tokenizer, ONNX or lexical file) as bad input
    naming it, whatever the library raised."""
    try:
        yield
    except TriageError:
        raise
    except Exception as exc:  # noqa: BLE001 - json, tokenizers, onnxruntime and numpy each raise their own types
        raise InputError(f"model {where} is damaged and cannot be loaded ({exc.__class__.__name__}: {str(exc)[:200]}); "
                         "train it again or restore the folder") from exc


def serving_file(manifest: Mapping[str, Any]) -> str:
    """The ONNX file to serve: int8 when training found it as good as fp32, else fp32."""
    return str(manifest.get("serving", {}).get("file", "model.onnx"))


def _activate(logits: np.ndarray, single_label: bool) -> np.ndarray:
    if single_label:
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=1, keepdims=True)
    return 1.0 / (1.0 + np.exp(-logits))
