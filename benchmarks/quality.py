"""Model quality on real data, with the same training path as the product (``training_job``).

    python -m benchmarks.quality nlbse --train PATH [--test PATH | --folds N] [--json out/bench.json]
    python -m benchmarks.quality area  --train PATH [--test PATH] [--json out/bench.json]
    python -m benchmarks.quality coldstart --train PATH [--ks 0,10,25,50,100] [--json] [--plot out/coldstart.png]

``nlbse``: the NLBSE'24 issue report classification task (bug/feature/question), one model per
repository trained on that repository's rows only; macro-F1 per repository and their mean
("cross-repo F1"). Without ``--test``, each repository's rows are split deterministically
(stratified, 20 % held out: fold 0 of 5, or the mean over the first ``--folds N`` of the 5) for
development; such numbers are not comparable with results on the official test split.

``area``: many-label area labeling on JSON Lines issues (the corefx format); a time split
(newest 15 % as test) unless ``--test`` is given. Reports accuracy, macro-F1, and the coverage
reached at the thresholds picked for the target precision on validation data, with the
precision actually reached on the test issues.

``coldstart``: NLBSE'24 repositories with k of their own labeled issues, with and without a prior
(:mod:`benchmarks.coldstart`), as a table, JSON (``by_k`` per repository, ``prior``) and a plot.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.common import machine, table, write_json
from training_job.train import TrainConfig, run
from triage.data.dataset import DatasetSpec, build_dataset
from triage.data.sources import read_issues
from triage.domain.cleaning import issue_text, learn_boilerplate, lexical_text
from triage.domain.errors import ConfigError
from triage.domain.issues import Issue
from triage.ports.training import TrainingArguments


def _rank(seed: int, number: int) -> str:
    return hashlib.sha256(f"{seed}:{number}".encode()).hexdigest()


def stratified_holdout(rows: list[dict[str, Any]], fraction: float, seed: int, fold: int = 0) -> tuple[list, list]:
    """Hold out ``fraction`` of each label's rows, chosen by a seeded hash (deterministic).

    ``fold`` k holds out the k-th such slice of the hash order, so folds 0 … 1/fraction − 1 are
    the folds of a stratified cross-validation.
    """
    by_label: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_label[row["labels"][0]].append(row)
    held: set[int] = set()
    for group in by_label.values():
        ranked = sorted(group, key=lambda r: _rank(seed, r["number"]))
        start, end = round(len(group) * fraction * fold), round(len(group) * fraction * (fold + 1))
        held.update(r["number"] for r in ranked[start:end])
    return [r for r in rows if r["number"] not in held], [r for r in rows if r["number"] in held]


def _rows(issues: Sequence[Issue]) -> tuple[list[dict[str, Any]], list[str]]:
    boilerplate = learn_boilerplate(i.body for i in issues)
    # The same inputs as the product's datasets (triage.dataset): cleaned text for the encoder, code kept for TF-IDF.
    return [{"number": i.number, "text": issue_text(i.title, i.body, boilerplate),
             "lexical": lexical_text(i.title, i.body), "labels": list(i.labels), "created_at": i.created_at}
            for i in issues if i.labels], sorted(boilerplate)


def train_and_score(train: list[dict[str, Any]], test: list[dict[str, Any]], repo: str, config: TrainConfig,
                    boilerplate: list[str], seed: int, keep: Path | None = None) -> dict[str, Any]:
    """Train on ``train`` (15 % of it held out for thresholds) and evaluate on ``test``.

    With ``keep``, the model folder is written to ``keep/OWNER_NAME`` (for ``benchmarks.serving``).
    """
    fit, validation = stratified_holdout(train, 0.15, seed + 1)
    labels = sorted({label for r in train for label in r["labels"]})
    mode = "single" if all(len(r["labels"]) == 1 for r in train + test) else "multi"
    test = [{**r, "labels": [label for label in r["labels"] if label in labels]} for r in test]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        for name, rows in (("train", fit), ("validation", validation), ("test", test)):
            (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (data / "manifest.json").write_text(json.dumps({"version": "bench", "repo": repo, "mode": mode, "labels": labels,
                                                        "boilerplate": boilerplate}))
        started = time.monotonic()
        output = keep / repo.replace("/", "_") if keep else Path(tmp) / "model"
        manifest = run(replace(config, data=data, output=output))
        seconds = time.monotonic() - started
    metrics = manifest["metrics"]["test"]
    return {"raw": metrics["raw"], "at_thresholds": metrics["at_thresholds"], "seconds": seconds,
            "train_seconds": manifest["training"]["seconds"], "served_file": manifest["serving"]["file"],
            "int8_f1_delta": manifest["serving"]["int8_macro_f1_delta"]["test"],
            "candidates": manifest["serving"].get("candidates", {}), "distillation": manifest.get("distillation")}


def nlbse(args: argparse.Namespace, config: TrainConfig) -> dict[str, Any]:
    """Per-repository models on the NLBSE'24 task."""
    train_issues = read_issues(args.train, "nlbse")
    test_issues = read_issues(args.test, "nlbse") if args.test else None
    per_class: dict[str, list[float]] = defaultdict(list)
    seconds = 0.0
    details = {}
    folds = 1 if test_issues else args.folds
    pretrained: dict[str, Any] = {}
    scores: dict[str, list[float]] = defaultdict(list)
    rows_of = {repo: _rows([i for i in train_issues if i.repo == repo]) for repo in sorted({i.repo for i in train_issues})}
    for fold in range(folds):
        fold_config = config
        if args.pretrain_all:  # per fold: the shared model must not see that fold's test issues
            fold_config, pretrained[f"fold{fold}"] = pretrain_on_all(train_issues, test_issues, config, args, fold)
        for repo, (rows, boilerplate) in rows_of.items():
            if test_issues is None:
                train, test = stratified_holdout(rows, 0.2, args.seed, fold)
            else:
                train, (test, _) = rows, _rows([i for i in test_issues if i.repo == repo])
            keep = args.keep_model / f"fold{fold}" if args.keep_model and folds > 1 else args.keep_model
            result = train_and_score(train, test, repo, fold_config, boilerplate, args.seed, keep)
            scores[repo].append(result["raw"]["macro_f1"])
            for label, m in result["raw"]["per_label"].items():
                per_class[label].append(m["f1"])
            seconds += result["train_seconds"]
            details.setdefault(repo, []).append({
                "fold": fold, "macro_f1": scores[repo][-1], "train_seconds": result["train_seconds"],
                "total_seconds": result["seconds"], "test_issues": result["raw"]["n"]})
            print(f"{repo}{f' fold {fold}' if folds > 1 else ''}: macro-F1 {scores[repo][-1]:.3f} "
                  f"({result['raw']['n']} test issues, {result['train_seconds']:.0f} s training)", flush=True)
        if args.pretrain_all:  # the fold's shared model is no longer needed
            shutil.rmtree(Path(fold_config.args.base_model).parents[1], ignore_errors=True)
    per_repo = {repo: sum(v) / len(v) for repo, v in scores.items()}
    folds_text = "fold 0 of 5" if folds == 1 else f"mean over folds 0-{folds - 1} of 5"
    return {
        "split": "official test" if test_issues else f"development (stratified 20% per repository, {folds_text})",
        "cross_repo_f1": sum(per_repo.values()) / len(per_repo),
        "per_repo": per_repo,
        "per_class_f1": {label: sum(v) / len(v) for label, v in sorted(per_class.items())},
        "train_seconds": seconds + sum(p["train_seconds"] for p in pretrained.values()),
        "details": details,
    } | ({"pretrained_on_all": pretrained} if pretrained else {})


def pretrain_on_all(train_issues: Sequence[Issue], test_issues: Sequence[Issue] | None, config: TrainConfig,
                    args: argparse.Namespace, fold: int = 0) -> tuple[TrainConfig, dict[str, Any]]:
    """Fine-tune one model on the training issues of every repository (those of ``fold``, or all with ``--test``);
    returns the config whose base model is that fine-tuned encoder, and how the shared model itself scored."""
    train: list[dict[str, Any]] = []
    test: list[dict[str, Any]] = []
    for n, repo in enumerate(sorted({i.repo for i in train_issues})):
        rows, _ = _rows([i for i in train_issues if i.repo == repo])
        mine, held = (rows, _rows([i for i in test_issues if i.repo == repo])[0]) if test_issues else \
            stratified_holdout(rows, 0.2, args.seed, fold)
        train += [{**r, "number": 100_000 * n + r["number"]} for r in mine]  # numbers are per repository
        test += [{**r, "number": 100_000 * n + r["number"]} for r in held]
    folder = Path(tempfile.mkdtemp(prefix="bench-shared-"))
    result = train_and_score(train, test, "all/repositories", config, [], args.seed, folder)
    print(f"shared model on all repositories (fold {fold}): macro-F1 {result['raw']['macro_f1']:.3f} on their pooled test issues "
          f"({result['train_seconds']:.0f} s training)", flush=True)
    arguments = replace(config.args, base_model=str(folder / "all_repositories" / "hf"))
    return replace(config, args=arguments), {"pooled_test_macro_f1": result["raw"]["macro_f1"],
                                             "train_seconds": result["train_seconds"], "train_issues": len(train)}


def area(args: argparse.Namespace, config: TrainConfig) -> dict[str, Any]:
    """Many-label area labeling with a time split."""
    issues = read_issues(args.train)
    if args.test:
        rows, boilerplate = _rows(issues)
        test, _ = _rows(read_issues(args.test))
        train = rows
        repo = issues[0].repo
    else:
        dataset = build_dataset(issues, DatasetSpec(seed=args.seed))
        train = dataset.splits["train"] + dataset.splits["validation"]
        test, boilerplate, repo = dataset.splits["test"], dataset.boilerplate, dataset.repo
    result = train_and_score(train, test, repo, config, boilerplate, args.seed, args.keep_model)
    at = result["at_thresholds"]
    return {
        "split": "given test file" if args.test else "time split (newest 15% as test)",
        "accuracy": result["raw"]["accuracy"], "macro_f1": result["raw"]["macro_f1"],
        "coverage_at_target": at["coverage"], "precision_at_target": at["precision_when_labeled"],
        "target_precision": config.args.target_precision, "train_seconds": result["train_seconds"],
        "test_issues": result["raw"]["n"], "served_file": result["served_file"],
        "int8_f1_delta": result["int8_f1_delta"], "candidates": result["candidates"],
        "distillation": result["distillation"],
    }


def coldstart(args: argparse.Namespace, config: TrainConfig) -> dict[str, Any]:
    """Few-shot and zero-shot F1 per NLBSE repository (see :mod:`benchmarks.coldstart`)."""
    from benchmarks.coldstart import encoder, plot, run_coldstart
    from training_job.train import default_base_model

    issues = read_issues(args.train, "nlbse")
    splits = {}
    for repo in sorted({i.repo for i in issues}):
        rows, _ = _rows([i for i in issues if i.repo == repo])
        splits[repo] = stratified_holdout(rows, 0.2, args.seed, 0)
    split = "development (stratified 20% per repository, fold 0 of 5); k drawn from the other 80%"
    if args.prior_only:  # the product's routes with a prior or fine-tuned, without the label-text benchmark
        return prior_and_own(splits, config, args) | {"split": split}
    embed = encoder(config.args.base_model or default_base_model(), config.args.max_tokens)
    result = run_coldstart(splits, embed, args.ks, args.draws, args.seed)
    result["split"] = split
    if args.area:
        from benchmarks.coldstart import run_area_coldstart

        dataset = build_dataset(read_issues(args.area), DatasetSpec(seed=args.seed))
        result["area"] = run_area_coldstart(dataset.splits["train"] + dataset.splits["validation"],
                                            dataset.splits["test"], embed, args.area_ks, args.draws, args.seed)
        result["area"]["split"] = "time split (newest 15% as test)"
    result |= prior_and_own(splits, config, args)
    result["plot"] = str(plot(result, args.plot))
    print(table([[k, *(result["cross_repo_f1"][name][str(k)] for name in ("without_prior", "with_prior",
                                                                         "cross_repo_prior"))] for k in args.ks],
                ["k", "without prior", "label-text prior", "cross-repo prior"]))
    print(f"lexical on all training issues: {result['lexical_all_cross_repo_f1']}; "
          f"prototypes on all: {result['prototypes_all_cross_repo_f1']}")
    return result


def prior_and_own(splits: dict[str, tuple[list, list]], config: TrainConfig, args: argparse.Namespace) -> dict[str, Any]:
    """``--prior-ks``: the prior-repositories route; ``--own-ks``: the product's model fine-tuned on k own issues
    alone (one draw each; 15 % of them held out for thresholds, as always)."""
    from benchmarks.coldstart import prior_repositories_f1, sample

    result: dict[str, Any] = {}
    if args.prior_ks:
        result["prior_repositories"] = prior_repositories_f1(splits, config, args.prior_ks, args.seed)
        print(f"prior repositories (the product's route): {result['prior_repositories']['cross_repo_f1']}")
    if args.own_ks:
        by_k = {repo: {str(k): round(train_and_score(sample(train, k, args.seed + k), test, repo, config, [],
                                                      args.seed)["raw"]["macro_f1"], 4) for k in args.own_ks}
                for repo, (train, test) in sorted(splits.items())}
        means = {str(k): round(sum(b[str(k)] for b in by_k.values()) / len(by_k), 4) for k in args.own_ks}
        result["fine_tuned_own"] = {"by_k": by_k, "cross_repo_f1": means, "epochs": config.args.epochs}
        print(f"fine-tuned on k own issues alone: {means}")
    return result


def _ks(text: str) -> list[int]:
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ks {text!r} must be comma-separated whole numbers, e.g. 0,10,25") from None
    if not ks or ks[0] < 0:
        raise argparse.ArgumentTypeError(f"--ks {text!r} must list at least one number, none negative")
    return ks


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["routing"]:  # the assignee model: its own options (python -m benchmarks.routing --help)
        from benchmarks.routing import main as routing

        return routing(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=("nlbse", "area", "coldstart"))
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path)
    parser.add_argument("--json", nargs="?", const="out/bench.json",
                        help="merge the results into this JSON file under the task's key (alone: out/bench.json)")
    parser.add_argument("--ks", type=_ks, default=[0, 10, 25, 50, 100],
                        help="coldstart: numbers of own labeled issues to try (default 0,10,25,50,100)")
    parser.add_argument("--draws", type=int, default=5, choices=range(1, 101), metavar="N",
                        help="coldstart: random draws of the k issues averaged for each k > 0 (default 5)")
    parser.add_argument("--plot", type=Path, default=Path("out/coldstart.png"), help="coldstart: the plot to write")
    parser.add_argument("--area", type=Path, metavar="JSONL",
                        help="coldstart: also area labels of these issues (e.g. data/corefx-area/issues.jsonl)")
    parser.add_argument("--area-ks", type=_ks, default=[0, 1, 3, 5, 10],
                        help="coldstart --area: issues per label to try (default 0,1,3,5,10)")
    parser.add_argument("--prior-ks", type=_ks, metavar="KS",
                        help="coldstart: also the product's prior-repositories route (training.prior) at these k, "
                             "e.g. 0,25 (slow: one fine-tuning per repository)")
    parser.add_argument("--own-ks", type=_ks, metavar="KS",
                        help="coldstart: also the product's model fine-tuned on k own issues alone, e.g. 25,100")
    parser.add_argument("--prior-only", action="store_true",
                        help="coldstart: only the --prior-ks and --own-ks routes (no label-text benchmark, no plot)")
    parser.add_argument("--folds", type=int, default=1, choices=range(1, 6),
                        help="nlbse without --test: average over this many of the 5 development folds (default 1)")
    parser.add_argument("--pretrain-all", action="store_true",
                        help="nlbse: first fine-tune one model on every repository's training issues, then each "
                             "repository's model from its encoder (again for each fold)")
    parser.add_argument("--keep-model", type=Path, metavar="DIR",
                        help="keep each trained model in DIR/OWNER_NAME (not existing yet), e.g. for benchmarks.serving")
    parser.add_argument("--base-model", default="", help="default: the bundled all-MiniLM-L6-v2")
    parser.add_argument("--epochs", type=float, default=4.0)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--encoder-layers", type=int, default=0, help="encoder layers to keep (default 0: all)")
    parser.add_argument("--distil-layers", type=int, default=0, metavar="N",
                        help="also distil an N-layer student, served if it holds up on validation (default 0: off)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    for path in (args.train, args.test, args.area):
        if path is not None and not path.is_file():
            parser.error(f"{path} does not exist")
    try:
        arguments = TrainingArguments(base_model=args.base_model, epochs=args.epochs, max_tokens=args.max_tokens,
                                      encoder_layers=args.encoder_layers, batch_size=args.batch_size,
                                      learning_rate=args.learning_rate, seed=args.seed,
                                      distil_layers=args.distil_layers)
    except ConfigError as exc:
        parser.error(str(exc))
    config = TrainConfig(data=Path("."), output=Path("."), args=arguments, device=args.device, progress=False,
                         version="bench")
    result = {"nlbse": nlbse, "area": area, "coldstart": coldstart}[args.task](args, config)
    result["machine"] = machine()
    result["config"] = {"base_model": args.base_model or "all-MiniLM-L6-v2 (bundled)", "epochs": args.epochs,
                        "max_tokens": args.max_tokens, "encoder_layers": args.encoder_layers,
                        "distil_layers": args.distil_layers,
                        "batch_size": args.batch_size, "learning_rate": args.learning_rate}
    keys = [k for k, v in result.items() if isinstance(v, (int, float))]
    print(table([[k, result[k]] for k in keys], ["measure", "value"]))
    if args.task == "nlbse":
        print(table([[k, v] for k, v in result["per_class_f1"].items()], ["class", "F1 (mean over repositories)"]))
    write_json(args.json, args.task, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
