"""Tests of triage.dataset: filtering, time split, frozen test set, versions and storage."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from triage.adapters.local.stores import LocalBlobStore
from triage.data.dataset import (
    Dataset,
    DatasetSpec,
    build_dataset,
    frozen_test_numbers,
    latest_version,
    load_manifest,
    load_split,
    save_dataset,
)
from triage.domain.errors import (
    EmptyDatasetError,
    InputError,
    NotFoundError,
    UnknownLabelError,
)
from triage.domain.issues import Issue

from .helpers import BOT, REPO, corpus, labeled_by, make_issue

LABELS3 = {"area-Net": 20, "area-IO": 20, "area-Xml": 20}


def numbers(rows: list[dict]) -> set[int]:
    """Issue numbers of a split."""
    return {row["number"] for row in rows}


def all_rows(dataset: Dataset) -> list[dict]:
    """Every example of every split."""
    return [row for rows in dataset.splits.values() for row in rows]


def base_issues() -> list[Issue]:
    """60 single-label issues (numbers 1..60, one day apart), three labels interleaved."""
    return corpus(LABELS3)


# --- splits --------------------------------------------------------------------------


def test_time_split_puts_newest_issues_in_test() -> None:
    ds = build_dataset(base_issues(), DatasetSpec())
    assert numbers(ds.splits["test"]) == set(range(52, 61))  # ceil(60 * 0.15) = 9 newest
    older = ds.splits["train"] + ds.splits["validation"]
    assert max(row["created_at"] for row in older) < min(row["created_at"] for row in ds.splits["test"])
    assert numbers(older) == set(range(1, 52))
    assert not numbers(ds.splits["train"]) & numbers(ds.splits["validation"])


def test_time_split_uses_created_at_not_input_order_or_number() -> None:
    issues = base_issues()
    # issue 1 is actually the newest
    issues[0] = replace(issues[0], created_at="2021-06-01T00:00:00Z")
    random.Random(3).shuffle(issues)
    ds = build_dataset(issues, DatasetSpec())
    assert 1 in numbers(ds.splits["test"])
    assert 52 not in numbers(ds.splits["test"])


def test_validation_is_stratified_and_deterministic() -> None:
    ds = build_dataset(base_issues(), DatasetSpec())
    val = ds.splits["validation"]
    # 17 training-pool issues per label -> int(17 * 0.15 + 0.5) = 3 held out of each
    assert {label: sum(row["labels"] == [label] for row in val) for label in LABELS3} == {
        "area-Net": 3, "area-IO": 3, "area-Xml": 3}
    again = build_dataset(list(reversed(base_issues())), DatasetSpec())
    assert again.splits == ds.splits
    other_seed = build_dataset(base_issues(), DatasetSpec(seed=7))
    assert numbers(other_seed.splits["validation"]) != numbers(val)
    assert numbers(other_seed.splits["test"]) == numbers(ds.splits["test"])


def test_frozen_test_numbers_fix_the_test_set() -> None:
    frozen = frozenset({3, 10, 20, 30, 40})
    ds = build_dataset(base_issues(), DatasetSpec(), frozen_test=frozen)
    assert numbers(ds.splits["test"]) == set(frozen)
    assert not (numbers(ds.splits["train"]) | numbers(ds.splits["validation"])) & frozen
    assert {55, 60} <= numbers(ds.splits["train"]) | numbers(ds.splits["validation"])


def test_examples_have_cleaned_text_and_metadata() -> None:
    issue = make_issue(1, ["area-Net"], title="HttpClient hangs", body="It hangs <!-- template --> forever")
    ds = build_dataset([issue] + corpus(LABELS3, start=2), DatasetSpec())
    row = next(r for r in all_rows(ds) if r["number"] == 1)
    assert row == {"number": 1, "text": "HttpClient hangs\n\nIt hangs forever", "labels": ["area-Net"],
                   "lexical": "HttpClient hangs\nIt hangs forever", "created_at": issue.created_at}
    assert ds.repo == REPO and ds.mode == "single"


# --- label selection -----------------------------------------------------------------


def test_min_examples_default_allow_list() -> None:
    issues = base_issues() + [make_issue(100 + i, ["area-Rare"], day=i) for i in range(4)]  # old: in the pool
    ds = build_dataset(issues, DatasetSpec(min_examples=5))
    assert ds.labels == ["area-IO", "area-Net", "area-Xml"]
    assert ds.dropped["label_not_allowed"] == 4
    assert "area-Rare" in build_dataset(issues, DatasetSpec(min_examples=4)).labels


def test_min_examples_counts_only_non_test_issues() -> None:
    # 6 "area-New" issues, all among the newest: none is in the training pool
    issues = base_issues() + [make_issue(200 + i, ["area-New"], day=500 + i) for i in range(6)]
    ds = build_dataset(issues, DatasetSpec(min_examples=5))
    assert "area-New" not in ds.labels
    assert all("area-New" not in row["labels"] for row in all_rows(ds))


def test_explicit_allow_labels() -> None:
    ds = build_dataset(base_issues(), DatasetSpec(allow_labels=("area-Net", "area-IO")))
    assert ds.labels == ["area-IO", "area-Net"]
    assert {label for row in all_rows(ds) for label in row["labels"]} == {"area-IO", "area-Net"}
    assert ds.dropped["label_not_allowed"] == 20


def test_allow_labels_keeps_rare_label_below_min_examples() -> None:
    issues = base_issues() + [make_issue(100 + i, ["area-Rare"], day=i) for i in range(2)]
    ds = build_dataset(issues, DatasetSpec(allow_labels=("area-Net", "area-Rare"), min_examples=5))
    assert ds.labels == ["area-Net", "area-Rare"]


def test_unknown_allowed_label_raises() -> None:
    with pytest.raises(UnknownLabelError, match="area-Nope"):
        build_dataset(base_issues(), DatasetSpec(allow_labels=("area-Net", "area-Nope")))


def test_deny_labels_are_removed() -> None:
    issues = base_issues() + [make_issue(100, ["area-Net", "area-Xml"], day=0)]
    ds = build_dataset(issues, DatasetSpec(deny_labels=("area-Xml",)))
    assert ds.labels == ["area-IO", "area-Net"]
    assert all("area-Xml" not in row["labels"] for row in all_rows(ds))
    assert ds.dropped["no_human_label"] == 20
    assert next(r for r in all_rows(ds) if r["number"] == 100)["labels"] == ["area-Net"]


def test_multi_label_mode() -> None:
    issues = base_issues() + [make_issue(100, ["area-Net", "area-IO"], day=0)]
    ds = build_dataset(issues, DatasetSpec())
    assert ds.mode == "multi"
    assert next(r for r in all_rows(ds) if r["number"] == 100)["labels"] == ["area-IO", "area-Net"]
    assert build_dataset(base_issues(), DatasetSpec()).mode == "single"


# --- dropped issues -----------------------------------------------------------------


def test_duplicates_and_empty_texts_are_dropped_and_counted() -> None:
    issues = base_issues()
    first = issues[0]
    dup = make_issue(101, ["area-IO"], title=first.title.upper(), body="  " + first.body + "  ", day=200)
    empty = make_issue(102, ["area-IO"], title="", body="<!-- only a template comment -->", day=201)
    tiny = make_issue(103, ["area-IO"], title="ab", body="", day=202)
    ds = build_dataset(issues + [dup, empty, tiny], DatasetSpec())
    assert ds.dropped["duplicate"] == 1
    assert ds.dropped["empty_text"] == 2
    kept = numbers(all_rows(ds))
    assert first.number in kept and not {101, 102, 103} & kept


def test_bot_applied_labels_are_ignored() -> None:
    bot_only = make_issue(100, ["area-Net"], day=0, events=[labeled_by("area-Net", "some-app", "Bot")])
    mixed = make_issue(101, ["area-Net", "area-IO"], day=1,
                       events=[labeled_by("area-Net", "alice"), labeled_by("area-IO", BOT, "User")])
    ds = build_dataset(base_issues() + [bot_only, mixed], DatasetSpec(bot_login=BOT))
    assert 100 not in numbers(all_rows(ds))
    assert ds.dropped["no_human_label"] == 1
    assert next(r for r in all_rows(ds) if r["number"] == 101)["labels"] == ["area-Net"]
    assert ds.mode == "single"


def test_pull_requests_are_dropped_unless_included() -> None:
    pr = make_issue(100, ["area-Net"], day=0, is_pull_request=True)
    ds = build_dataset(base_issues() + [pr], DatasetSpec())
    assert ds.dropped["pull_request"] == 1 and 100 not in numbers(all_rows(ds))
    with_prs = build_dataset(base_issues() + [pr], DatasetSpec(include_pull_requests=True))
    assert 100 in numbers(all_rows(with_prs)) and "pull_request" not in with_prs.dropped


def test_too_few_labels_raise_empty_dataset() -> None:
    with pytest.raises(EmptyDatasetError):
        build_dataset(corpus({"area-Net": 30}), DatasetSpec())
    with pytest.raises(EmptyDatasetError):
        build_dataset(base_issues(), DatasetSpec(min_examples=1000))
    with pytest.raises(EmptyDatasetError):
        build_dataset([make_issue(1, [])], DatasetSpec())


def test_issues_from_two_repos_raise_input_error() -> None:
    issues = base_issues() + [make_issue(500, ["area-Net"], repo="octo/other")]
    with pytest.raises(InputError, match="one repository"):
        build_dataset(issues, DatasetSpec())
    with pytest.raises(InputError):
        build_dataset([], DatasetSpec())


# --- version -------------------------------------------------------------------------


def test_version_is_deterministic_content_hash() -> None:
    a = build_dataset(base_issues(), DatasetSpec())
    shuffled = base_issues()
    random.Random(1).shuffle(shuffled)
    b = build_dataset(shuffled, DatasetSpec())
    assert a.version == b.version
    assert len(a.version) == 12 and all(ch in "0123456789abcdef" for ch in a.version)

    changed = base_issues()
    changed[5] = replace(changed[5], body=changed[5].body + " Also on Linux.")
    assert build_dataset(changed, DatasetSpec()).version != a.version
    assert build_dataset(base_issues(), DatasetSpec(seed=7)).version != a.version


# --- storage -------------------------------------------------------------------------


def test_save_dataset_writes_splits_manifest_and_frozen_test(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    ds = build_dataset(base_issues(), DatasetSpec())
    manifest = save_dataset(store, ds)
    base = f"datasets/{REPO}/{ds.version}"
    assert store.list("datasets/") == sorted([
        f"{base}/manifest.json", f"{base}/test.jsonl", f"{base}/train.jsonl", f"{base}/validation.jsonl",
        f"datasets/{REPO}/frozen-test.json", f"datasets/{REPO}/latest.json",
    ])
    assert manifest["version"] == ds.version and manifest["repo"] == REPO
    assert manifest["sizes"] == {name: len(rows) for name, rows in ds.splits.items()}
    assert manifest["labels"] == ds.labels
    assert manifest["label_counts"]["test"] == {"area-Net": 3, "area-IO": 3, "area-Xml": 3}
    assert load_manifest(store, REPO, ds.version) == manifest
    frozen = json.loads(store.get(f"datasets/{REPO}/frozen-test.json"))
    assert frozen == {"dataset": ds.version, "numbers": sorted(numbers(ds.splits["test"]))}


def test_save_dataset_is_idempotent(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    ds = build_dataset(base_issues(), DatasetSpec())
    first = save_dataset(store, ds)
    blobs = {name: store.get(name) for name in store.list()}
    second = save_dataset(store, build_dataset(base_issues(), DatasetSpec()))
    assert second == first
    assert {name: store.get(name) for name in store.list()} == blobs


def test_frozen_test_is_written_once_and_fixes_later_datasets(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    first = build_dataset(base_issues(), DatasetSpec())
    save_dataset(store, first)
    frozen = frozen_test_numbers(store, REPO)
    assert frozen == numbers(first.splits["test"])

    newer = base_issues() + [make_issue(60 + i, ["area-Net", "area-IO", "area-Xml"][i % 3]) for i in range(1, 13)]
    second = build_dataset(newer, DatasetSpec(), frozen_test=frozen)
    assert numbers(second.splits["test"]) == frozen
    # Issues after the frozen test set: a stable share is held out as the recent split, the rest is learned.
    recent = numbers(second.splits["recent"])
    assert recent and recent < set(range(61, 73))
    assert set(range(61, 73)) - recent <= numbers(second.splits["train"]) | numbers(second.splits["validation"])
    assert not recent & (numbers(second.splits["train"]) | numbers(second.splits["validation"]))
    more = newer + [make_issue(80 + i, ["area-Net", "area-IO", "area-Xml"][i % 3]) for i in range(1, 13)]
    third = build_dataset(more, DatasetSpec(), frozen_test=frozen)
    assert numbers(third.splits["recent"]) & set(range(61, 73)) == recent  # the same issues in every version
    everything = build_dataset(newer, DatasetSpec(recent_fraction=0.0), frozen_test=frozen)
    assert "recent" not in everything.splits
    assert set(range(61, 73)) <= numbers(everything.splits["train"]) | numbers(everything.splits["validation"])
    assert second.version != first.version
    save_dataset(store, second)
    assert frozen_test_numbers(store, REPO) == frozen
    assert json.loads(store.get(f"datasets/{REPO}/frozen-test.json"))["dataset"] == first.version
    assert latest_version(store, REPO) == second.version


def test_load_split_and_latest_version_round_trip(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    assert frozen_test_numbers(store, REPO) is None
    with pytest.raises(NotFoundError):
        latest_version(store, REPO)
    ds = build_dataset(base_issues() + [make_issue(100, ["area-Net", "area-IO"], day=0)], DatasetSpec())
    save_dataset(store, ds)
    version = latest_version(store, REPO)
    assert version == ds.version
    for split in ("train", "validation", "test"):
        assert load_split(store, REPO, version, split) == ds.splits[split]
    with pytest.raises(NotFoundError):
        load_manifest(store, REPO, "000000000000")
    with pytest.raises(NotFoundError):
        load_split(store, REPO, "000000000000", "train")


def test_renamed_label_keeps_its_training_data() -> None:
    issues = corpus({"area-Net": 10, "area-Networking": 10, "area-IO": 20})
    renamed = build_dataset(issues, DatasetSpec(aliases=(("area-Networking", "area-Net"),)))
    assert "area-Networking" not in renamed.labels and "area-Net" in renamed.labels
    plain = build_dataset(issues, DatasetSpec())
    net = sum(row["labels"] == ["area-Net"] for row in all_rows(renamed))
    assert net == sum(row["labels"] in (["area-Net"], ["area-Networking"]) for row in all_rows(plain))


# --- human feedback ----------------------------------------------------------------------


def feedback(number: int, label: str, action: str, verdict: str, at: str = "2026-01-01T00:00:00+00:00") -> dict:
    return {"number": number, "label": label, "action": action, "verdict": verdict, "at": at, "recorded_at": at}


def test_confirmed_labels_are_learned_and_removed_ones_are_not() -> None:
    issues = base_issues() + [make_issue(100, [], day=10), make_issue(101, [], day=11)]
    records = [feedback(100, "area-IO", "labeled", "confirmed"),  # confirmed from the review queue
               feedback(3, "area-Xml", "unlabeled", "unrelated"),  # a human took their own label away ...
               feedback(101, "area-Net", "labeled", "confirmed", "2026-01-01T00:00:00+00:00"),
               feedback(101, "area-Net", "unlabeled", "corrected", "2026-01-02T00:00:00+00:00")]  # ... changed mind
    ds = build_dataset(issues, DatasetSpec(), feedback=records)
    rows = {r["number"]: r for split in ds.splits.values() for r in split}
    assert rows[100]["labels"] == ["area-IO"]
    assert 3 not in rows and 101 not in rows  # no label left; single-label mode keeps no negative-only row
    assert ds.dropped["negative_only_single_label"] == 1
    assert build_dataset(issues, DatasetSpec()).version != ds.version


def test_removed_predictions_become_hard_negatives_in_multi_label_mode() -> None:
    issues = [make_issue(n, ["area-Net", "perf"] if n % 4 == 0 else [["area-Net", "area-IO", "perf"][n % 3]])
              for n in range(1, 61)] + [make_issue(61, [], day=5), make_issue(62, ["area-IO"], day=6)]
    records = [feedback(61, "perf", "unlabeled", "corrected"),  # the labeler's perf was removed; nothing else
               feedback(62, "area-Net", "unlabeled", "corrected")]
    ds = build_dataset(issues, DatasetSpec(), feedback=records)
    assert ds.mode == "multi"
    train = {r["number"]: r for r in ds.splits["train"]}
    assert train[61]["labels"] == [] and train[61]["negatives"] == ["perf"]
    row62 = next(r for split in ds.splits.values() for r in split if r["number"] == 62)
    assert row62["labels"] == ["area-IO"] and row62["negatives"] == ["area-Net"]
    assert all(r["labels"] for name in ("validation", "test") for r in ds.splits[name])
