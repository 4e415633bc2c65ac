"""The lexical model: NumPy serving reproduces scikit-learn's TF-IDF + logistic regression exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from training_job.lexical import fit_lexical, to_bytes
from triage.app.writers import comment_body
from triage.domain.policy import Decision
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


# --- the words behind a label (issue #15, item 4) -------------------------------------------------------------

FITTED = LexicalModel.from_bytes(to_bytes(fit_lexical(TEXTS, indicator([[t] for t in TARGET], LABELS), LABELS, True)))


def test_the_words_behind_a_label_are_the_issues_own_words_that_favour_it() -> None:
    words = FITTED.top_terms("HttpClient hangs on redirect with a proxy", "area-Net")
    assert words and set(words) <= {"httpclient", "redirect", "proxy", "hangs", "on", "with"}
    assert "httpclient" in words
    assert "httpclient" not in FITTED.top_terms("HttpClient hangs on redirect with a proxy", "area-IO")
    assert FITTED.top_terms("HttpClient", "area-Unknown") == [] and FITTED.top_terms("HttpClient", "area-Net", 0) == []


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.sampled_from(LABELS), st.integers(0, 6))
def test_top_terms_are_at_most_k_terms_of_the_text_each_favouring_the_label(text: str, label: str, k: int) -> None:
    words = FITTED.top_terms(text, label, k)
    assert len(words) <= k and len(set(words)) == len(words)
    idx, values = FITTED.features(text)
    present = {FITTED.terms[i]: v for i, v in zip(idx, values)}
    j = LABELS.index(label)
    for word in words:
        t = FITTED.index[word]
        assert word in present
        assert (FITTED.coef[j, t] - FITTED.coef[:, t].mean()) * present[word] > 0


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_the_comment_shows_the_words_in_code_spans_whatever_the_issue_says(text: str) -> None:
    """The words come from the issue (anyone's text): in the bot's comment they stay inside code spans."""
    words = FITTED.top_terms(text, "area-Net")
    reason = "area-Net: because of " + ", ".join(f"'{w}'" for w in words)
    decision = Decision("o/r", 1, (("area-Net", 0.9),), ("area-Net 0.90 >= threshold 0.50", reason),
                        (("area-Net", 0.9),), "v1")
    body = comment_body(decision)
    if words:
        line = body.splitlines()[-1]
        assert line == "- `area-Net` because of " + ", ".join(f"`{w}`" for w in words)
        assert all("`" not in w and "\n" not in w for w in words)
    else:
        assert "because of" not in body
