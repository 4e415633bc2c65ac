"""The unlabeled split: issues no human labeled, kept for a distilled student (TRIAGE_DISTIL_LAYERS)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from training_job.distil import read_unlabeled
from triage.adapters.local.stores import LocalBlobStore
from triage.adapters.local.training import download_dataset
from triage.app.settings import Settings
from triage.app.training import dataset_spec
from triage.data.dataset import DatasetSpec, build_dataset, save_dataset
from triage.domain.issues import Issue
from triage.ports.training import TrainingArguments

from .helpers import BOT, REPO, corpus, labeled_by, make_issue


def issues_with_unlabeled() -> list[Issue]:
    labeled = corpus({"bug": 30, "docs": 30})
    unlabeled = [make_issue(n) for n in range(100, 140)]
    by_bot = [make_issue(n, ["bug"], events=[labeled_by("bug", BOT, "Bot")]) for n in range(200, 205)]
    return labeled + unlabeled + by_bot


def test_the_newest_unlabeled_issues_are_kept_without_changing_the_labeled_splits() -> None:
    issues = issues_with_unlabeled()
    plain = build_dataset(issues, DatasetSpec(bot_login=BOT))
    with_unlabeled = build_dataset(issues, DatasetSpec(bot_login=BOT, unlabeled=20))
    for name in ("train", "validation", "test"):
        assert with_unlabeled.splits[name] == plain.splits[name]
    assert "unlabeled" not in plain.splits
    rows = with_unlabeled.splits["unlabeled"]
    assert [r["number"] for r in rows] == list(range(125, 140)) + list(range(200, 205))  # a bot's label is no label
    assert all(set(r) == {"number", "text", "created_at"} for r in rows)  # no label, not even an empty one
    assert with_unlabeled.version != plain.version and with_unlabeled.manifest()["sizes"]["unlabeled"] == 20


def test_a_text_that_is_also_labeled_is_not_unlabeled_whichever_came_first() -> None:
    labeled = corpus({"bug": 20, "docs": 20})
    twin_before = make_issue(1000, title=labeled[5].title, body=labeled[5].body)
    twin_after = make_issue(1001, title=labeled[6].title, body=labeled[6].body)
    twin_before = replace(twin_before, created_at="2000-01-01T00:00:00Z")  # filed before its labeled copy
    dataset = build_dataset([twin_before, *labeled, twin_after], DatasetSpec(unlabeled=100))
    plain = build_dataset(labeled, DatasetSpec())
    assert "unlabeled" not in dataset.splits
    assert dataset.splits["train"] == plain.splits["train"]  # the labeled copy is still learned from


def test_the_split_travels_to_the_training_job(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    dataset = build_dataset(issues_with_unlabeled(), DatasetSpec(bot_login=BOT, unlabeled=10))
    manifest = save_dataset(store, dataset)
    folder = download_dataset(store, REPO, manifest["version"], tmp_path / "job")
    texts = read_unlabeled(folder)
    assert texts == [r["text"] for r in dataset.splits["unlabeled"]] and len(texts) == 10


def test_the_settings_keep_unlabeled_issues_only_while_distillation_is_on() -> None:
    assert dataset_spec(Settings()).unlabeled == 0
    assert dataset_spec(Settings(training=TrainingArguments(distil_layers=3))).unlabeled == 5000


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "bug", "docs", "bug,docs"]), st.integers(0, 30)), min_size=12,
                max_size=60), st.integers(1, 50))
def test_keeping_unlabeled_issues_never_changes_what_is_learned(shape: list[tuple[str, int]], keep: int) -> None:
    issues = [make_issue(n + 1, [x for x in labels.split(",") if x], title=f"Issue {text}", body=f"text {text}")
              for n, (labels, text) in enumerate(shape)]  # repeated texts: duplicates across labeled and not
    try:
        plain = build_dataset(issues, DatasetSpec(min_examples=2))
    except Exception as exc:  # nothing to learn: the same refusal either way
        try:
            build_dataset(issues, DatasetSpec(min_examples=2, unlabeled=keep))
        except type(exc) as again:
            assert str(again).split("(dropped")[0] == str(exc).split("(dropped")[0]
            return
        raise AssertionError("keeping unlabeled issues made an empty dataset trainable") from exc
    kept = build_dataset(issues, DatasetSpec(min_examples=2, unlabeled=keep))
    assert {k: kept.splits[k] for k in plain.splits} == plain.splits
    labeled_texts = {r["text"] for rows in plain.splits.values() for r in rows}
    rows = kept.splits.get("unlabeled", [])
    assert len(rows) <= keep and not {r["text"] for r in rows} & labeled_texts
    assert len({r["text"] for r in rows}) == len(rows)
