"""The lexical model: NumPy serving reproduces scikit-learn's TF-IDF + logistic regression exactly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from training_job.lexical import fit_lexical, to_bytes
from triage.ml.lexical import LexicalModel
from triage.ml.metrics import indicator

TEXTS = [
    "HttpClient throws on redirect to https", "Socket connect hangs on Linux", "HttpClient proxy auth fails",
    "File.Move fails across volumes", "Directory.Delete throws IOException", "File stream flush loses data",
    "Build broken on arm64 CI", "CI leg times out in restore", "Update build tools version",
] * 3
LABELS = ["area-Infra", "area-IO", "area-Net"]
TARGET = ["area-Net", "area-Net", "area-Net", "area-IO", "area-IO", "area-IO", "area-Infra", "area-Infra", "area-Infra"] * 3


def test_single_label_matches_scikit_learn() -> None:
    model = LexicalModel.from_bytes(to_bytes(fit_lexical(TEXTS, indicator([[t] for t in TARGET], LABELS), LABELS, True)))
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=50_000, dtype=np.float32)
    features = vectorizer.fit_transform(TEXTS)
    reference = LogisticRegression(C=3.0, max_iter=3000, class_weight="balanced").fit(
        features, [LABELS.index(t) for t in TARGET])
    probe = ["HttpClient hangs on redirect", "File.Move loses data", "never seen words"]
    np.testing.assert_allclose(model.predict_proba(probe), reference.predict_proba(vectorizer.transform(probe)), atol=1e-5)
    expected = [2, 1, int(reference.predict(vectorizer.transform(probe[2:]))[0])]
    assert model.predict_proba(probe).argmax(axis=1).tolist() == expected


def test_multi_label_and_unseen_labels() -> None:
    targets = indicator([[t, "needs-triage"] if i % 2 else [t] for i, t in enumerate(TARGET)], LABELS + ["needs-triage", "never"])
    model = fit_lexical(TEXTS, targets, LABELS + ["needs-triage", "never"], single=False)
    probs = model.predict_proba(["HttpClient proxy auth fails"])
    assert probs.shape == (1, 5) and probs[0, 2] > 0.5 and probs[0, 4] < 1e-6
    assert not np.isclose(probs.sum(), 1.0)


def test_two_classes() -> None:
    labels = ["bug", "feature"]
    model = fit_lexical(TEXTS[:6], indicator([["bug"], ["bug"], ["bug"], ["feature"], ["feature"], ["feature"]] , labels),
                        labels, True)
    probs = model.predict_proba(TEXTS[:6])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert probs.argmax(axis=1).tolist() == [0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize("text", ["", "a", "!!!"])
def test_texts_without_known_terms(text: str) -> None:
    model = fit_lexical(TEXTS, indicator([[t] for t in TARGET], LABELS), LABELS, True)
    probs = model.predict_proba([text])
    assert np.isfinite(probs).all() and np.isclose(probs.sum(), 1.0)
