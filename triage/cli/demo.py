"""``triage demo``: the whole pipeline on the bundled corefx issues, on this machine, in dry run."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone
from pathlib import Path

from triage.app.bootstrap import Services
from triage.app.labeling import label_issues
from triage.app.repo_settings import file_config
from triage.app.training import build_training_dataset, train_now
from triage.cli.output import print_table
from triage.data.dataset import load_split
from triage.data.ingest import ingest
from triage.data.sources import read_issues
from triage.domain.errors import InputError
from triage.learning.promotion import promote
from triage.learning.registry import current_version
from triage.ml.evaluation import evaluate_model
from triage.ml.model import Classifier
from triage.ml.report import TABLE_HEAD, per_label_table, write_report
from triage.ports.layout import model_prefix

BUNDLED = Path(__file__).resolve().parents[2] / "data" / "corefx-area" / "issues.jsonl"


def _step(n: int, text: str) -> None:
    print(f"\n[{n}/7] {text}", flush=True)


def run_demo(s: Services, out: Path, held_back: int, progress: bool = True) -> int:
    """Ingest → dataset → train → evaluate → promote → label held-back issues (dry run) → summary."""
    started = time.monotonic()
    if not BUNDLED.is_file():
        raise InputError(f"bundled dataset {BUNDLED} is missing; run the demo from a full checkout")
    issues = sorted(read_issues(BUNDLED), key=lambda i: i.sort_key)
    if not 0 <= held_back < len(issues) // 2:
        raise InputError(f"--held-back must be between 0 and {len(issues) // 2 - 1}")
    history, new = issues[: len(issues) - held_back], issues[len(issues) - held_back:]
    repo = issues[0].repo

    _step(1, f"ingest {len(history)} real {repo} issues (the newest {held_back} are held back as new issues)")
    print(f"      snapshot {ingest(history, s.blobs, s.docs)['snapshot']}")

    _step(2, "build a versioned dataset: human labels, cleaned text, time split")
    manifest = build_training_dataset(s, repo)
    print(f"      dataset {manifest['version']}: {len(manifest['labels'])} labels, {manifest['mode']}-label, "
          f"splits {manifest['sizes']}, dropped {manifest['dropped']}")

    _step(3, "fine-tune the transformer classifier on the CPU")
    trained = train_now(s, repo, manifest["version"], datetime.now(timezone.utc), progress)
    version = trained["version"]
    t = trained["training"]
    print(f"      model {version}: {t['examples_seen']} examples in {t['seconds']:.0f} s "
          f"({t['examples_per_second']} examples/s)")

    _step(4, "evaluate on the frozen test split (ONNX Runtime, the serving path)")
    model = Classifier.from_store(s.blobs, model_prefix(repo, version))
    evaluation = evaluate_model(model, load_split(s.blobs, repo, model.manifest["dataset_version"], "test"), progress)

    _step(5, "promote if not worse than the current model")
    outcome = promote(s.blobs, s.docs, repo, version, s.settings.min_improvement)
    print(f"      {'promoted' if outcome['promoted'] else 'rejected'}: {outcome['reason']}")
    current = current_version(s.blobs, repo)

    _step(6, f"label the {len(new)} held-back new issues with the current model {current} (dry run)")
    serving = model if current == version else Classifier.from_store(s.blobs, model_prefix(repo, current))
    unlabeled = [dataclasses.replace(issue, labels=(), label_events=()) for issue in new]
    labeled, calls = label_issues(s, repo, unlabeled, serving, file_config(s.settings))
    decisions = [d.to_dict() | {"truth": list(issue.labels)} for d, issue in zip(labeled, new)]
    for call in calls[:5]:
        print(f"      would call {call}")
    if len(calls) > 5:
        print(f"      … and {len(calls) - 5} more")

    _step(7, "summary")
    paths = write_report(out, model.manifest, evaluation, decisions, title=f"Issue labeler report: {repo}")
    raw, at = evaluation["raw"], evaluation["at_thresholds"]
    print_table(per_label_table(evaluation, model.manifest), TABLE_HEAD)
    labeled = [d for d in decisions if d["add"]]
    right = sum(1 for d in labeled if d["add"][0]["label"] in d["truth"])
    print(f"\ntest split ({raw['n']} issues): accuracy {raw['accuracy']:.3f}, macro-F1 {raw['macro_f1']:.3f}, "
          f"micro-F1 {raw['micro_f1']:.3f}")
    print(f"at the chosen thresholds (target precision {s.settings.target_precision:.2f}): coverage "
          f"{at['coverage']:.1%}, precision {at['precision_when_labeled']:.3f}")
    print(f"held-back new issues: would label {len(labeled)} of {len(decisions)}, "
          f"{right} of them with the label a human chose ({_share(right, len(labeled))})")
    print(f"report: {paths['report.html']} (also report.md, confusion_matrix.png, precision_coverage.png)")
    print(f"promoted model folder: {s.blobs.local_path(model_prefix(repo, current))}")
    print(f"wall time: {time.monotonic() - started:.0f} s")
    return 0


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "n/a"
