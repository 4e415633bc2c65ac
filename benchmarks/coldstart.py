"""Cold start on NLBSE'24: macro-F1 of each repository with k of its own labeled issues (``quality coldstart``).

For each repository, its rows are split as in ``quality nlbse`` (stratified 20 % held out, fold 0); k issues are
drawn at random from its training part (the rest unused), ``--draws`` times for k > 0, and the mean test
macro-F1 is reported for three ways of scoring:

* ``with_prior`` (the product without ``training.prior``, :mod:`triage.ml.cold_start`): prototypes of the label text ("bug:
  Something isn't working", GitHub's default descriptions) and the k issues, cosine ranking, no training;
* ``without_prior``: prototypes of the k issues alone (nothing at k = 0);
* ``cross_repo_prior``: a type classifier trained on the training issues of the *other four* repositories (leave
  one repository out; computed here, never shipped) plus the k own issues, weighted so that they count for
  ``OWN_SHARE`` of the training weight: the mean of a logistic regression on the frozen embeddings and the
  product's lexical model (TF-IDF + logistic regression).

With ``--prior-ks``, ``prior_repositories`` measures the product's route for a repository that names others in
``training.prior`` (:mod:`training_job.prior`), leave one repository out: the encoder fine-tuned on the other
four repositories' training issues, then the prototype model with their issues and k own ones.

The comparison lines are the lexical model (TF-IDF + logistic regression, as in the product) and the prototypes,
both on all of the repository's training issues. Embeddings are computed once per run (all-MiniLM-L6-v2, CPU).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from triage.ml import cold_start
from triage.ml.metrics import indicator, predict, report

# GitHub's descriptions of its default labels: what a new repository's labels say about themselves.
NLBSE_DESCRIPTIONS = {"bug": "Something isn't working", "feature": "New feature or request",
                      "question": "Further information is requested"}
OWN_SHARE = 0.2  # the k own issues' share of the cross-repository prior's training weight
Rows = list[dict[str, Any]]


def macro_f1(probs: np.ndarray, truth: np.ndarray, labels: Sequence[str]) -> float:
    """Macro-F1 of the arg-max label (no abstention), over labels present in ``truth``."""
    return float(report(truth, predict(probs, None, True), labels)["macro_f1"])


def sample(rows: Rows, k: int, seed: int) -> Rows:
    """``k`` rows drawn without replacement (all of them when ``k`` is larger)."""
    if k >= len(rows):
        return list(rows)
    picked = np.random.default_rng(seed).choice(len(rows), size=k, replace=False)
    return [rows[i] for i in sorted(picked)]


def prototype_f1(label_vectors: np.ndarray, label_weight: float, train: Rows, test: Rows, labels: Sequence[str],
                 vectors: Callable[[Rows], np.ndarray]) -> float:
    """Test macro-F1 of the prototype classifier built from ``label_vectors`` and ``train``."""
    protos = cold_start.prototypes(label_vectors, vectors(train), indicator([r["labels"] for r in train], labels),
                                   label_weight)
    return macro_f1(cold_start.scores(vectors(test), protos), indicator([r["labels"] for r in test], labels), labels)


def cross_repo_f1(prior: Rows, prior_vectors: np.ndarray, own: Rows, test: Rows, labels: Sequence[str],
                  vectors: Callable[[Rows], np.ndarray]) -> float:
    """Test macro-F1 of the cross-repository prior refined with the ``own`` issues (see the module docstring)."""
    from sklearn.linear_model import LogisticRegression

    from training_job.lexical import fit_lexical

    rows = prior + own
    weights = np.ones(len(rows))
    if own:
        weights[len(prior):] = OWN_SHARE / (1 - OWN_SHARE) * len(prior) / len(own)
    y = indicator([r["labels"] for r in rows], labels).argmax(axis=1)
    features = np.concatenate([prior_vectors, vectors(own)])
    model = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(features, y, sample_weight=weights)
    dense = np.zeros((len(test), len(labels)))
    dense[:, model.classes_] = model.predict_proba(vectors(test))
    repeat = [int(round(w)) for w in weights]  # the lexical model takes whole repetitions
    lexical_rows = [r for r, n in zip(rows, repeat) for _ in range(max(1, n))]
    lexical = fit_lexical([r["lexical"] for r in lexical_rows], indicator([r["labels"] for r in lexical_rows], labels),
                          labels, True)
    probs = (dense + lexical.predict_proba([r["lexical"] for r in test])) / 2
    return macro_f1(probs, indicator([r["labels"] for r in test], labels), labels)


def lexical_f1(train: Rows, test: Rows, labels: Sequence[str]) -> float:
    """Test macro-F1 of the product's lexical model trained on ``train``."""
    from training_job.lexical import fit_lexical

    model = fit_lexical([r["lexical"] for r in train], indicator([r["labels"] for r in train], labels), labels, True)
    return macro_f1(model.predict_proba([r["lexical"] for r in test]), indicator([r["labels"] for r in test], labels),
                    labels)


def run_coldstart(splits: dict[str, tuple[Rows, Rows]], embed: Callable[[list[str]], np.ndarray], ks: Sequence[int],
                  draws: int, seed: int) -> dict[str, Any]:
    """The benchmark over ``splits`` (repository → (train rows, test rows)); ``embed`` maps texts to vectors."""
    started = time.monotonic()
    labels = sorted({label for train, test in splits.values() for r in train + test for label in r["labels"]})
    every = [r for repo in sorted(splits) for part in splits[repo] for r in part]
    keys = [(repo, r["number"]) for repo in sorted(splits) for part in splits[repo] for r in part]
    matrix = embed([r["text"] for r in every])
    label_matrix = embed(cold_start.describe(labels, NLBSE_DESCRIPTIONS))
    index = {key: i for i, key in enumerate(keys)}
    embed_seconds = time.monotonic() - started
    by_k: dict[str, dict[str, dict[str, float | None]]] = {}
    reference: dict[str, dict[str, float]] = {}
    for repo in sorted(splits):
        train, test = splits[repo]

        def vectors(rows: Rows, repo: str = repo) -> np.ndarray:
            return matrix[[index[(repo, r["number"])] for r in rows]] if rows else np.zeros((0, matrix.shape[1]))

        others = [(other, r) for other in sorted(splits) if other != repo for r in splits[other][0]]
        other_vectors = matrix[[index[(o, r["number"])] for o, r in others]]
        rows: dict[str, dict[str, float | None]] = {}
        for k in ks:
            scores: dict[str, list[float]] = {"with_prior": [], "without_prior": [], "cross_repo_prior": []}
            for draw in range(draws if k else 1):
                mine = sample(train, k, seed + 1000 * draw + k)
                scores["with_prior"].append(prototype_f1(label_matrix, cold_start.LABEL_WEIGHT, mine, test, labels,
                                                         vectors))
                scores["cross_repo_prior"].append(cross_repo_f1([r for _, r in others], other_vectors, mine, test,
                                                                labels, vectors))
                if k:
                    scores["without_prior"].append(prototype_f1(label_matrix, 0.0, mine, test, labels, vectors))
            rows[str(k)] = {name: (round(float(np.mean(v)), 4) if v else None) for name, v in scores.items()}
        by_k[repo] = rows
        reference[repo] = {"lexical_all": round(lexical_f1(train, test, labels), 4),
                           "prototypes_all": round(prototype_f1(label_matrix, cold_start.LABEL_WEIGHT, train, test,
                                                                labels, vectors), 4),
                           "train_issues": len(train), "test_issues": len(test)}
        print(f"{repo}: " + ", ".join(f"k={k} {rows[str(k)]['with_prior']:.3f}" for k in ks)
              + f"; lexical on all {len(train)}: {reference[repo]['lexical_all']:.3f}", flush=True)
    repos = sorted(splits)
    mean = {name: {str(k): _mean([by_k[r][str(k)][name] for r in repos]) for k in ks}
            for name in ("with_prior", "without_prior", "cross_repo_prior")}
    return {
        "by_k": by_k,
        "cross_repo_f1": mean,
        "reference": reference,
        "lexical_all_cross_repo_f1": _mean([reference[r]["lexical_all"] for r in repos]),
        "prototypes_all_cross_repo_f1": _mean([reference[r]["prototypes_all"] for r in repos]),
        "prior": {
            "with_prior": "label text: each label's name and GitHub default description "
                          f"({NLBSE_DESCRIPTIONS}), worth {cold_start.LABEL_WEIGHT} issue(s) in its prototype "
                          "(the product without training.prior, triage.ml.cold_start)",
            "cross_repo_prior": "type classifier trained on the other four repositories' training issues (leave "
                                "one repository out) and the k own issues (weighted to "
                                f"{OWN_SHARE:.0%} of the weight): mean of logistic regression on frozen MiniLM "
                                "embeddings and TF-IDF + logistic regression; benchmark only, never shipped",
            "without_prior": "the k issues alone",
        },
        "ks": list(ks), "draws": draws, "labels": labels, "embed_seconds": round(embed_seconds, 1),
        "seconds": round(time.monotonic() - started, 1),
    }


def prior_repositories_f1(splits: dict[str, tuple[Rows, Rows]], config: Any, ks: Sequence[int],
                          seed: int) -> dict[str, Any]:
    """The product's prior route (``training.prior``; :mod:`training_job.prior`) for each repository: its encoder
    fine-tuned on the *other* repositories' training issues, then the cold-start prototype model from that encoder
    with those issues, its labels' texts and k of its own issues (one draw); macro-F1 of the top label on its test
    issues. The fine-tuned encoder is shared by the ks of one repository, as it does not depend on k."""
    from dataclasses import replace

    from training_job.cold_start import prototype_model
    from training_job.prior import prior_encoder

    labels = sorted({label for train, test in splits.values() for r in train + test for label in r["labels"]})
    by_k: dict[str, dict[str, float]] = {}
    records: dict[str, Any] = {}
    started = time.monotonic()
    for repo, (train, test) in sorted(splits.items()):
        prior = [{**r, "repo": other} for other in sorted(splits) if other != repo for r in splits[other][0]]
        dataset = {"version": "bench", "repo": repo, "labels": labels, "mode": "single", "cold_start": True,
                   "label_descriptions": NLBSE_DESCRIPTIONS}
        parts = {"train": [], "validation": [], "test": test, "prior": prior}
        with tempfile.TemporaryDirectory(prefix="bench-prior-") as tmp, \
                prior_encoder(replace(config, output=Path(tmp) / "unused"), dataset, parts) as (folder, record):
            records[repo] = record
            by_k[repo] = {}
            for k in ks:
                manifest = prototype_model(replace(config, output=Path(tmp) / f"k{k}"), dataset,
                                           {**parts, "train": sample(train, k, seed + k)}, folder, record)
                by_k[repo][str(k)] = round(manifest["metrics"]["test"]["raw"]["macro_f1"], 4)
        print(f"{repo}: prior repositories (the product's route): "
              + ", ".join(f"k={k} {by_k[repo][str(k)]:.3f}" for k in ks), flush=True)
    return {"by_k": by_k, "cross_repo_f1": {str(k): _mean([by_k[r][str(k)] for r in by_k]) for k in ks},
            "fine_tuned": records, "seconds": round(time.monotonic() - started, 1),
            "epochs": config.args.epochs, "max_tokens": config.args.max_tokens,
            "what": "training.prior: encoder fine-tuned on the other four repositories' training issues, then label "
                    "prototypes of their issues, the label texts and k own issues (one draw)"}


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(np.mean(present)), 4) if len(present) == len(values) and present else None


def plot(result: dict[str, Any], path: Path) -> Path:
    """Cross-repository macro-F1 against k for each route, with the lexical model on all training issues."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = result["ks"]
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    for name, style, text in (("with_prior", "o-", "label text (the product, no training.prior)"),
                              ("cross_repo_prior", "s-", "cross-repo prior (benchmark only)"),
                              ("without_prior", "^--", "no prior")):
        points = [(k, result["cross_repo_f1"][name][str(k)]) for k in ks if result["cross_repo_f1"][name][str(k)]
                  is not None]
        axes.plot([p[0] for p in points], [p[1] for p in points], style, label=text)
    if result.get("prior_repositories"):
        means = result["prior_repositories"]["cross_repo_f1"]
        axes.plot([int(k) for k in means], list(means.values()), "*-", markersize=10,
                  label="prior repositories (the product with training.prior)")
    if result["lexical_all_cross_repo_f1"] is not None:
        axes.axhline(result["lexical_all_cross_repo_f1"], color="grey", linestyle=":",
                     label="lexical, all training issues")
    axes.set_xlabel("own labeled issues (k)")
    axes.set_ylabel("cross-repo macro-F1")
    axes.set_title("Cold start on NLBSE'24 (development split)")
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def encoder(base_model: str, max_tokens: int) -> Callable[[list[str]], np.ndarray]:
    """A function embedding texts with ``base_model`` (mean pooled, unit length), as the cold-start model does."""
    from transformers import AutoModel, AutoTokenizer

    from training_job.modeling import embed

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    model = AutoModel.from_pretrained(base_model)

    def run(texts: list[str]) -> np.ndarray:
        return embed(model, tokenizer, texts, max_tokens).numpy()

    return run


def run_area_coldstart(train: Rows, test: Rows, embed: Callable[[list[str]], np.ndarray], ks: Sequence[int],
                       draws: int, seed: int) -> dict[str, Any]:
    """Area labels (many, named like ``area-System.Net``, no descriptions): k issues *per label* from ``train``,
    prototypes with and without the label-name prior, tested on ``test``; the lexical model on all of ``train``."""
    labels = sorted({label for r in train for label in r["labels"]})
    test = [{**r, "labels": [x for x in r["labels"] if x in labels]} for r in test]
    test = [r for r in test if r["labels"]]
    matrix = embed([r["text"] for r in train + test])
    position = {id(r): i for i, r in enumerate(train + test)}
    label_matrix = embed(cold_start.describe(labels, {}))

    def vectors(rows: Rows) -> np.ndarray:
        return matrix[[position[id(r)] for r in rows]] if rows else np.zeros((0, matrix.shape[1]))

    by_label = {label: [r for r in train if r["labels"][0] == label] for label in labels}
    by_k: dict[str, dict[str, float | None]] = {}
    for k in ks:
        scores: dict[str, list[float]] = {"with_prior": [], "without_prior": []}
        for draw in range(draws if k else 1):
            mine = [r for j, label in enumerate(labels) for r in sample(by_label[label], k, seed + 1000 * draw + j)]
            scores["with_prior"].append(prototype_f1(label_matrix, cold_start.LABEL_WEIGHT, mine, test, labels,
                                                     vectors))
            if k:
                scores["without_prior"].append(prototype_f1(label_matrix, 0.0, mine, test, labels, vectors))
        by_k[str(k)] = {name: (round(float(np.mean(v)), 4) if v else None) for name, v in scores.items()}
        print(f"areas, k={k} per label: {by_k[str(k)]}", flush=True)
    return {"by_k": by_k, "labels": len(labels), "train_issues": len(train), "test_issues": len(test),
            "lexical_all": round(lexical_f1(train, test, labels), 4),
            "prototypes_all": round(prototype_f1(label_matrix, cold_start.LABEL_WEIGHT, train, test, labels,
                                                 vectors), 4),
            "prior": "label name as words (no descriptions in the export), worth one issue; k issues per label"}
