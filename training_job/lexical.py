"""Training the lexical model (TF-IDF + logistic regression) and exporting it for NumPy serving."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from triage.ml.lexical import TOKEN, LexicalModel


def fit_lexical(texts: Sequence[str], targets: np.ndarray, labels: Sequence[str], single: bool,
                c: float = 3.0, max_features: int = 50_000) -> LexicalModel:
    """Fit TF-IDF word 1-2-grams and a class-balanced logistic regression on ``targets`` (indicator matrix)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(token_pattern=TOKEN.pattern, ngram_range=(1, 2), sublinear_tf=True, min_df=2,
                                 max_features=max_features, dtype=np.float32)
    features = vectorizer.fit_transform(texts)
    vocabulary = [term for term, _ in sorted(vectorizer.vocabulary_.items(), key=lambda kv: kv[1])]
    coef = np.zeros((len(labels), len(vocabulary)), dtype=np.float32)
    intercept = np.full(len(labels), -30.0, dtype=np.float32)  # a label never seen in training stays at ~0
    if single:
        y = targets.argmax(axis=1)
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(features, y)
        if len(model.classes_) == 2:  # scikit-learn keeps one row for two classes
            coef[model.classes_[1]], intercept[model.classes_[1]] = model.coef_[0], model.intercept_[0]
            coef[model.classes_[0]], intercept[model.classes_[0]] = 0.0, 0.0
        else:
            coef[model.classes_] = model.coef_
            intercept[model.classes_] = model.intercept_
    else:
        for j in range(len(labels)):
            if 0 < targets[:, j].sum() < len(targets):
                one = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(features, targets[:, j])
                coef[j], intercept[j] = one.coef_[0], one.intercept_[0]
    return LexicalModel(vocabulary, vectorizer.idf_, coef, intercept, labels, multinomial=single)


def to_bytes(model: LexicalModel) -> bytes:
    """The ``lexical.npz`` file: arrays plus a JSON header (no pickles)."""
    vocabulary = [term for term, _ in sorted(model.index.items(), key=lambda kv: kv[1])]
    meta: dict[str, Any] = {"vocabulary": vocabulary, "labels": model.labels, "multinomial": model.multinomial}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, meta=np.array(json.dumps(meta)), idf=model.idf, coef=model.coef,
                        intercept=model.intercept)
    return buffer.getvalue()
