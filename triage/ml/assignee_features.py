"""Sparse features for the assignee model: TF-IDF word 1-2-grams of the issue text plus its labels, in NumPy.

A feature matrix is kept in compressed-row form (``indptr``, ``indices``, ``data``) so that a repository's
history fits in memory on the Function app; :func:`spmm` multiplies it by a dense matrix in row chunks.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from triage.domain.cleaning import lexical_text
from triage.ml.lexical import TOKEN

MAX_TEXT = 4000  # characters of title and body read: an issue's first screen says what it is about
MAX_TERMS = 20000
CHUNK_NNZ = 1 << 20  # non-zeros multiplied at once: bounds the temporary (CHUNK_NNZ x assignees) array


@dataclass(frozen=True)
class Sparse:
    """A compressed-row float32 matrix with ``n_cols`` columns."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n_cols: int

    @property
    def n_rows(self) -> int:
        """The number of rows."""
        return len(self.indptr) - 1

    def transpose(self) -> Sparse:
        """The same matrix in compressed-row form of its transpose."""
        rows = np.repeat(np.arange(self.n_rows), np.diff(self.indptr))
        order = np.argsort(self.indices, kind="stable")
        indptr = np.searchsorted(self.indices[order], np.arange(self.n_cols + 1))
        return Sparse(indptr.astype(np.int64), rows[order], self.data[order], self.n_rows)


def spmm(matrix: Sparse, dense: np.ndarray) -> np.ndarray:
    """``matrix @ dense`` for a dense ``(n_cols, k)`` array, in chunks of rows."""
    out = np.zeros((matrix.n_rows, dense.shape[1]), dtype=np.float32)
    start = 0
    while start < matrix.n_rows:
        stop = int(np.searchsorted(matrix.indptr, matrix.indptr[start] + CHUNK_NNZ, side="right")) - 1
        stop = min(max(stop, start + 1), matrix.n_rows)
        lo, hi = matrix.indptr[start], matrix.indptr[stop]
        if hi > lo:
            gathered = dense[matrix.indices[lo:hi]] * matrix.data[lo:hi, None]
            local = matrix.indptr[start:stop + 1] - lo
            filled = np.flatnonzero(np.diff(local) > 0)
            out[start + filled] = np.add.reduceat(gathered, local[filled], axis=0)
        start = stop
    return out


def grams(title: str, body: str) -> list[str]:
    """Lower-cased word unigrams and bigrams of the issue's text (comments, URLs and noise removed)."""
    tokens = TOKEN.findall(lexical_text(title, body, MAX_TEXT).lower())
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


class Featurizer:
    """Maps an issue (title, body, labels) to one sparse row: L2-normalised TF-IDF terms, then its labels,
    each label weighing ``label_weight / sqrt(number of labels)`` (labels show who owns an area)."""

    def __init__(self, terms: Sequence[str], idf: np.ndarray, labels: Sequence[str], label_weight: float) -> None:
        self.terms = list(terms)
        self.index = {term: j for j, term in enumerate(self.terms)}
        self.idf = np.asarray(idf, dtype=np.float32)
        self.labels = list(labels)
        self.label_index = {label: j for j, label in enumerate(self.labels)}
        self.label_weight = float(label_weight)

    @property
    def width(self) -> int:
        """The number of feature columns."""
        return len(self.terms) + len(self.labels)

    @classmethod
    def learn(cls, docs: Sequence[list[str]], label_sets: Sequence[Sequence[str]], label_weight: float,
              min_df: int = 2) -> Featurizer:
        """Vocabulary (the :data:`MAX_TERMS` terms in most documents, at least ``min_df``), smoothed IDF, and the
        labels seen in ``label_sets``."""
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(set(doc))
        kept = sorted((t for t, n in df.items() if n >= min_df), key=lambda t: (-df[t], t))[:MAX_TERMS]
        n = len(docs)
        idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in kept], dtype=np.float32)
        labels = sorted({label for labels in label_sets for label in labels})
        return cls(kept, idf, labels if label_weight > 0 else [], label_weight)

    def row(self, doc: list[str], labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and values of one issue."""
        counts = Counter(self.index[g] for g in doc if g in self.index)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))) * self.idf[idx]
        if len(values):
            values = values / np.linalg.norm(values)
        own = sorted({self.label_index[label] for label in labels if label in self.label_index})
        if own:
            idx = np.concatenate([idx, len(self.terms) + np.array(own, dtype=np.int64)])
            values = np.concatenate([values, np.full(len(own), self.label_weight / math.sqrt(len(own)),
                                                     dtype=np.float32)])
        return idx, values.astype(np.float32)

    def matrix(self, docs: Sequence[list[str]], label_sets: Sequence[Sequence[str]]) -> Sparse:
        """The sparse feature matrix of many issues."""
        rows = [self.row(doc, labels) for doc, labels in zip(docs, label_sets)]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(idx) for idx, _ in rows])
        indices = np.concatenate([idx for idx, _ in rows]) if rows else np.zeros(0, dtype=np.int64)
        data = np.concatenate([v for _, v in rows]) if rows else np.zeros(0, dtype=np.float32)
        return Sparse(indptr, indices, data.astype(np.float32), self.width)
