"""The lexical half of the classifier: TF-IDF word 1-2-grams and a linear model, in NumPy.

Trained by ``training_job/lexical.py`` with scikit-learn and exported as arrays, so serving
needs neither scikit-learn nor torch. Reproduces ``TfidfVectorizer(lowercase=True,
token_pattern=r"(?u)\\b\\w\\w+\\b", ngram_range=(1, 2), sublinear_tf=True, norm="l2")``
followed by the logistic regression's ``predict_proba``.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

TOKEN = re.compile(r"(?u)\b\w\w+\b")


class LexicalModel:
    """TF-IDF features and a logistic regression (softmax for single-label, one-vs-rest sigmoid otherwise)."""

    def __init__(self, vocabulary: Sequence[str], idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray,
                 labels: Sequence[str], multinomial: bool) -> None:
        self.terms = list(vocabulary)
        self.index = {term: j for j, term in enumerate(vocabulary)}
        self.idf = idf.astype(np.float32)
        self.coef = coef.astype(np.float32)  # (labels, terms)
        self.intercept = intercept.astype(np.float32)
        self.labels = list(labels)
        self.multinomial = multinomial

    @classmethod
    def from_bytes(cls, data: bytes) -> LexicalModel:
        """Load the ``lexical.npz`` written by the training job."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            meta = json.loads(str(arrays["meta"]))
            return cls(meta["vocabulary"], arrays["idf"], arrays["coef"], arrays["intercept"], meta["labels"],
                       meta["multinomial"])

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sparse (indices, values) of the L2-normalised TF-IDF vector of one text."""
        tokens = TOKEN.findall(text.lower())
        grams = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
        counts = Counter(self.index[g] for g in grams if g in self.index)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        idx = np.fromiter(counts.keys(), dtype=np.int64)
        values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32))) * self.idf[idx]
        return idx, values / np.linalg.norm(values)

    def top_terms(self, text: str, label: str, k: int = 3) -> list[str]:
        """The (at most ``k``) terms of ``text`` that weigh most toward ``label``: their TF-IDF value times the
        label's weight (relative to the other labels' for a softmax model), positive contributions only."""
        if label not in self.labels or k <= 0:
            return []
        idx, values = self.features(text)
        if not len(idx):
            return []
        weights = self.coef[self.labels.index(label), idx]
        if self.multinomial:  # what favours this label over the others, not what every label shares
            weights = weights - self.coef[:, idx].mean(axis=0)
        contribution = weights * values
        return [self.terms[idx[o]] for o in np.argsort(-contribution, kind="stable")[:k] if contribution[o] > 0]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities of shape ``(len(texts), len(labels))``."""
        scores = np.empty((len(texts), len(self.labels)), dtype=np.float32)
        for i, text in enumerate(texts):
            idx, values = self.features(text)
            scores[i] = self.coef[:, idx] @ values + self.intercept
        if self.multinomial:
            scores -= scores.max(axis=1, keepdims=True)
            exp = np.exp(scores)
            return exp / exp.sum(axis=1, keepdims=True)
        return 1.0 / (1.0 + np.exp(-scores))
