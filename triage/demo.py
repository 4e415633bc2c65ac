"""``triage demo``: the whole pipeline on the bundled corefx issues, on this machine, in dry run."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .dataset import build_dataset, frozen_test_numbers, load_split, save_dataset
from .errors import InputError
from .evaluation import evaluate_model
from .ingest import ingest
from .labeler import DryRunWriter, label_issues, policy_for
from .model import Classifier
from .promotion import promote
from .registry import current_version, model_prefix
from .report import TABLE_HEAD, per_label_table, write_report
from .sources import read_issues
from .training import train_local

if TYPE_CHECKING:
    from .cli import Context

BUNDLED = Path(__file__).resolve().parent.parent / "data" / "corefx-area" / "issues.jsonl"

def _step(n: int, text: str) -> None:
    print(f"\n[{n}/7] {text}", flush=True)

def run_demo(ctx: Context, out: Path, held_back: int, progress: bool = True) -> int:
    """Ingest → dataset → train → evaluate → promote → label held-back issues (dry run) → summary."""
    from .cli import print_table

    started = time.monotonic()
    if not BUNDLED.is_file():
        raise InputError(f"bundled dataset {BUNDLED} is missing; run the demo from a full checkout")
    issues = sorted(read_issues(BUNDLED), key=lambda i: i.sort_key)
    if not 0 <= held_back < len(issues) // 2:
        raise InputError(f"--held-back must be between 0 and {len(issues) // 2 - 1}")
    history, new = issues[: len(issues) - held_back], issues[len(issues) - held_back:]
    repo = issues[0].repo

    _step(1, f"ingest {len(history)} real {repo} issues (the newest {held_back} are held back as new issues)")
    print(f"      snapshot {ingest(history, ctx.blobs, ctx.docs)['snapshot']}")

    _step(2, "build a versioned dataset: human labels, cleaned text, time split")
    dataset = build_dataset(history, ctx.spec(), frozen_test_numbers(ctx.blobs, repo))
    manifest = save_dataset(ctx.blobs, dataset)
    print(f"      dataset {manifest['version']}: {len(manifest['labels'])} labels, {manifest['mode']}-label, "
          f"splits {manifest['sizes']}, dropped {manifest['dropped']}")

    _step(3, "fine-tune the transformer classifier on the CPU")
    trained = train_local(ctx.blobs, ctx.docs, repo, manifest["version"], ctx.settings, progress)
    version = trained["version"]
    t = trained["training"]
    print(f"      model {version}: {t['examples_seen']} examples in {t['seconds']:.0f} s "
          f"({t['examples_per_second']} examples/s)")

    _step(4, "evaluate on the frozen test split (ONNX Runtime, the serving path)")
    model = Classifier.from_store(ctx.blobs, model_prefix(repo, version))
    evaluation = evaluate_model(model, load_split(ctx.blobs, repo, model.manifest["dataset_version"], "test"), progress)

    _step(5, "promote if not worse than the current model")
    outcome = promote(ctx.blobs, ctx.docs, repo, version, ctx.settings.min_improvement)
    print(f"      {'promoted' if outcome['promoted'] else 'rejected'}: {outcome['reason']}")
    current = current_version(ctx.blobs, repo)

    _step(6, f"label the {len(new)} held-back new issues with the current model {current} (dry run)")
    serving = model if current == version else Classifier.from_store(ctx.blobs, model_prefix(repo, current))
    policy = policy_for(serving, ctx.settings.max_labels, frozenset(ctx.settings.deny_labels), ctx.settings.bot_login)
    unlabeled = [dataclasses.replace(issue, labels=(), label_events=()) for issue in new]
    writer = DryRunWriter()
    decisions = [d.to_dict() | {"truth": list(issue.labels)}
                 for d, issue in zip(label_issues(unlabeled, serving, policy, writer, ctx.docs), new)]
    for call in writer.calls[:5]:
        print(f"      would call {call}")
    if len(writer.calls) > 5:
        print(f"      … and {len(writer.calls) - 5} more")

    _step(7, "summary")
    paths = write_report(out, model.manifest, evaluation, decisions, title=f"Issue labeler report: {repo}")
    raw, at = evaluation["raw"], evaluation["at_thresholds"]
    print_table(per_label_table(raw, model.manifest), TABLE_HEAD)
    labeled = [d for d in decisions if d["add"]]
    right = sum(1 for d in labeled if d["add"][0]["label"] in d["truth"])
    print(f"\ntest split ({raw['n']} issues): accuracy {raw['accuracy']:.3f}, macro-F1 {raw['macro_f1']:.3f}, "
          f"micro-F1 {raw['micro_f1']:.3f}")
    print(f"at the chosen thresholds (target precision {ctx.settings.target_precision:.2f}): coverage "
          f"{at['coverage']:.1%}, precision {at['precision_when_labeled']:.3f}")
    print(f"held-back new issues: would label {len(labeled)} of {len(decisions)}, "
          f"{right} of them with the label a human chose ({_share(right, len(labeled))})")
    print(f"report: {paths['report.html']} (also report.md, confusion_matrix.png, precision_coverage.png)")
    print(f"promoted model folder: {ctx.blobs.local_path(model_prefix(repo, current))}")
    print(f"wall time: {time.monotonic() - started:.0f} s")
    return 0

def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "n/a"
