"""The scale benchmark's shape: exact GitHub request counts, flat memory, bounded status and dashboard reads.

``python -m benchmarks.scale --quick`` serves synthetic repositories of 1,000 and 3,000 issues from the loopback
GitHub server and measures the app's own paths; these tests check what must hold at any size (counts, ratios),
never how long anything took.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.scale import (
    LATENCY,
    QUICK_SIZES,
    RATE_PER_HOUR,
    CountingStore,
    fill_views,
    main,
    parse_sizes,
    simulated_seconds,
)
from tests.github.synthetic import bot_labeled, build_synthetic, synthetic_rows
from tests.unit.test_orchestrators import Context, names, run
from triage.adapters.local.stores import SqliteDocumentStore
from triage.app.scraping import (
    MAX_SPREAD,
    first_wait,
    scrape_request,
    start_delays,
    timer_interval,
    timer_payload,
)
from triage.data.dataset import DatasetSpec, build_dataset
from triage.domain.errors import InputError
from triage.domain.issues import Issue
from triage.ports.records import PREDICTIONS

KEYS = {"machine", "simulation", "first_scrape", "incremental_poll", "dataset_build", "status_api", "dashboard",
        "many_repos"}


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("scale") / "scale.json"
    assert main(["--quick", "--json", str(out)]) == 0
    return dict(json.loads(out.read_text())["scale"])


def by_size(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {row["issues"]: row for row in rows}


def test_the_json_has_a_key_per_bullet_of_the_issue(quick: dict[str, Any]) -> None:
    assert set(quick) >= KEYS
    assert sorted(by_size(quick["first_scrape"])) == list(QUICK_SIZES)


def test_a_first_scrape_reads_each_page_once_and_nothing_else(quick: dict[str, Any]) -> None:
    for n, row in by_size(quick["first_scrape"]).items():
        assert row["complete"] and row["items_listed"] == n
        # each listing page starts at the last updated_at stored, so consecutive pages share one issue
        assert row["issue_pages"] == 1 + math.ceil((n - 100) / 99)
        assert row["issue_pages"] <= row["issue_pages_target"] + math.ceil(n / 9900)
        # event pages overlap where the list moved under the walk: at most 1 in 6 more than ceil(E/100)
        assert row["event_pages_target"] <= row["event_pages"] <= math.ceil(row["events"] / 85) + 1
        assert row["other_requests"] == 0, "no issue or event fetched alone on a first scrape"
        assert row["longest_call_requests"] <= 50, "an activity call stays within its page budget"


def test_scrape_memory_is_flat_in_the_number_of_issues(quick: dict[str, Any]) -> None:
    small, large = (by_size(quick["first_scrape"])[n]["rss_mib"] for n in QUICK_SIZES)
    assert large <= 1.25 * small, (small, large)


def test_incremental_polls_cost_one_request_when_nothing_changed_and_one_per_changed_issue(
        quick: dict[str, Any]) -> None:
    for row in quick["incremental_poll"]:
        assert row["first_after_full"]["requests"] == 1, "one page with the last issue seen: no ETag yet"
        assert row["changed_0"]["requests"] == 1, "answered 304 from the ETag"
        assert row["changed_0"]["documents_read"] <= 5, "an unchanged poll reads the cursor, not the repository"
        changed = row["changed_1000"]
        assert changed["issue_pages"] == 1 + math.ceil((changed["changed_items"] - 100) / 99)
        assert changed["issue_requests"] == changed["changed_issues"], "the events of each changed issue, once"
        assert changed["requests"] == changed["issue_pages"] + changed["issue_requests"]


def test_the_dataset_keeps_human_labels_only(quick: dict[str, Any]) -> None:
    for row in quick["dataset_build"]:
        assert row["dropped"]["no_human_label"] > 0, "the bot-labeled issues are dropped"
        assert sum(row["sizes"].values()) < row["issues"]


def test_status_and_dashboard_read_the_same_documents_at_three_times_the_size(quick: dict[str, Any]) -> None:
    for key in ("status_api", "dashboard"):
        small, large = (by_size(quick[key])[n] for n in QUICK_SIZES)
        assert large["reads"] == small["reads"]
        assert large["documents_read"] <= 1.1 * small["documents_read"], key
        assert large["documents_read"] < large["decisions"] / 4, "a bounded window, not the whole partition"
        assert large["before_reads_only"]["documents_read"] > 2 * large["decisions"], "what it read before"


def test_many_repositories_start_spread_over_the_timer_interval(quick: dict[str, Any]) -> None:
    many = quick["many_repos"]
    assert many["orchestrations_started_per_tick"] == many["repositories"] == 20
    # the default schedule fires every 15 minutes: 20 starts spread over 7.5 minutes, 3 a minute at most
    assert many["start_spread_s"] == 0.5 * 15 * 60 * 19 / 20
    assert many["max_starts_in_one_minute"] == 3
    assert many["poll_requests_unchanged"] == 1
    assert many["repos_fresh_per_installation"] == RATE_PER_HOUR // 4


def test_the_counting_store_counts_what_each_read_returns(tmp_path: Path) -> None:
    store = CountingStore(SqliteDocumentStore(tmp_path / "db.sqlite"))
    fill_views(store.inner, "o/r", 30, 40)
    found, _ = store.newest(PREDICTIONS, "o/r", "decided_at", limit=7)
    assert len(found) == store.returned == 7 and store.reads == 1
    store.get(PREDICTIONS, "o/r", "missing")
    assert store.returned == 7 and store.reads == 2
    assert store.count(PREDICTIONS, "o/r") == 40 and store.reads == 2, "a count returns no document"


def test_synthetic_repositories_resample_real_issues_with_unique_texts() -> None:
    rows = list(synthetic_rows(3000, "o/r", seed=1))
    assert [r["number"] for r in rows] == list(range(1, 3001))
    assert len({(r["title"], r["body"]) for r in rows}) == 3000
    assert rows == list(synthetic_rows(3000, "o/r", seed=1)), "deterministic"
    fixture = build_synthetic(400, "o/r", bot_share=0.5)
    bots = bot_labeled(fixture)
    assert 120 < len(bots) < 280
    assert any("pull_request" in issue for issue in fixture.issues.values())
    with pytest.raises(ValueError, match="bot_share"):
        build_synthetic(10, bot_share=1.5)
    with pytest.raises(ValueError, match=">= 0"):
        list(synthetic_rows(-1, "o/r"))


@given(st.lists(st.integers(1, 10_000_000), min_size=1, max_size=6))
def test_sizes_parse_back(sizes: list[int]) -> None:
    assert parse_sizes(",".join(map(str, sizes))) == sorted(set(sizes))


@pytest.mark.parametrize("text", ["", ",", "1,,2", "-5", "0", "2.5", "1e5", "abc", "٣", "10000001", "1;2"])
def test_bad_sizes_are_refused_with_the_fix(text: str) -> None:
    with pytest.raises(ValueError, match="whole numbers from 1"):
        parse_sizes(text)


@given(st.text(max_size=20))
def test_any_text_parses_or_is_refused_clearly(text: str) -> None:
    try:
        sizes = parse_sizes(text)
    except ValueError as exc:
        assert "--issues" in str(exc)
    else:
        assert sizes == sorted(set(sizes)) and all(1 <= n <= 10_000_000 for n in sizes)


@given(st.integers(0, 100_000), st.integers(0, 100_000))
def test_simulated_time_grows_with_requests_and_respects_the_hourly_limit(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert simulated_seconds(low) <= simulated_seconds(high)
    assert simulated_seconds(high) >= high * LATENCY
    assert simulated_seconds(high) >= 3600 * ((high - 1) // RATE_PER_HOUR) if high else simulated_seconds(0) == 0


@given(st.integers(1, 3000), st.integers(1, 24 * 60))
def test_scrape_starts_are_spread_evenly_and_the_first_starts_at_once(count: int, minutes: int) -> None:
    repos = [f"o/r{k}" for k in range(count)]
    delays = list(start_delays(repos, timedelta(minutes=minutes)).values())
    window = min(timedelta(minutes=minutes) / 2, MAX_SPREAD).total_seconds()
    assert delays[0] == 0 and delays == sorted(delays) and delays[-1] < window or count == 1
    per_minute = [sum(1 for d in delays if m * 60 <= d < (m + 1) * 60) for m in range(int(window // 60) + 1)]
    assert max(per_minute) <= math.ceil(count * 60 / window) + 1


def test_the_timer_interval_comes_from_the_schedule() -> None:
    now = datetime(2026, 11, 24, 3, 7, tzinfo=timezone.utc)
    assert timer_interval("0 */15 * * * *", now) == timedelta(minutes=15)
    assert timer_interval("0 0 3 * * 0", now) == timedelta(days=7)


def test_a_delayed_scrape_waits_once_on_a_durable_timer_then_scrapes() -> None:
    done = {"repo": "octo/widgets", "complete": True, "status": "ok", "issue_pages": 1, "requests": 1}
    context = Context(timer_payload("octo/widgets", 90.0), {"scrape_activity*": [done]})
    start = context.current_utc_datetime
    assert run("scrape_orchestrator", context)["complete"]
    assert names(context) == ["timer", "scrape_activity"]
    assert context.calls[0].payload == start + timedelta(seconds=90)
    assert timer_payload("octo/widgets", 0) == "octo/widgets", "no delay: the plain name, as before"
    assert first_wait(scrape_request({"repo": "o/r", "delay_seconds": 5, "calls": 3}), start) is None


@pytest.mark.parametrize("delay", [-1, "5", True, None, float("nan"), float("inf"), 1e9, [1]])
def test_a_bad_delay_is_refused_with_the_allowed_range(delay: object) -> None:
    with pytest.raises(InputError, match="delay_seconds must be a number of seconds from 0"):
        scrape_request({"repo": "o/r", "delay_seconds": delay})


@pytest.fixture(scope="module")
def resampled() -> list[Issue]:
    rows = list(synthetic_rows(600, "o/r", seed=3))
    return [Issue.from_dict({**row, "created_at": f"2020-01-01T00:{n // 60:02d}:{n % 60:02d}Z"})
            for n, row in enumerate(rows)]


@given(st.randoms(use_true_random=False))
@settings(max_examples=5, deadline=None)
def test_a_dataset_built_from_a_stream_equals_the_one_built_from_a_list(resampled: list[Issue], rng: Any) -> None:
    shuffled = list(resampled)
    rng.shuffle(shuffled)
    streamed = build_dataset(lambda: iter(shuffled), DatasetSpec(min_examples=3))
    listed = build_dataset(resampled, DatasetSpec(min_examples=3))
    assert streamed.version == listed.version and streamed.dropped == listed.dropped
    assert streamed.splits == listed.splits


def test_a_stream_of_two_repositories_is_refused(resampled: list[Issue]) -> None:
    other = Issue.from_dict({**resampled[0].to_dict(), "repo": "o/other"})
    with pytest.raises(InputError, match="one repository's issues, got 2"):
        build_dataset(lambda: iter([*resampled[:30], other]), DatasetSpec())
