"""The relabel fan-out after a promotion, on the embedded stores and the loopback GitHub server, with a real (tiny)
ONNX model: which issues it takes, chunks scored in one model run as each issue alone would be, the GitHub
requests per issue, and one failing issue that does not stop the others."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.github_server import Fault, GitHubServer, build_fixture
from triage.adapters.github.client import GitHubClient
from triage.adapters.github.settings import GitHubSettings
from triage.app.bootstrap import Services, build_services
from triage.app.relabel import SCORE_CHUNK, open_unlabeled_issues, relabel_batch
from triage.app.serving import ModelCache
from triage.app.settings import Config, Settings
from triage.data.ingest import ingest
from triage.domain.issues import Issue
from triage.learning.registry import upload_model, write_pointer
from triage.ml.model import Classifier
from triage.ports.records import PREDICTIONS

REPO = "dotnet/corefx"
BOT = "issue-triage[bot]"


@pytest.fixture()
def server() -> Iterator[GitHubServer]:
    with GitHubServer(build_fixture(limit=80)) as srv:
        srv.add_token("bot-token", BOT, actor_type="Bot")
        yield srv


def services(tmp_path: Path, server: GitHubServer, model_dir: Path) -> Services:
    api = GitHubClient(GitHubSettings(base_url=server.url, token="bot-token"), sleep=lambda _s: None)
    s = build_services(Config(settings=Settings(home=tmp_path, dry_run=False, bot_login=BOT)), github=lambda: api)
    manifest = upload_model(s.blobs, s.docs, model_dir)
    write_pointer(s.blobs, REPO, manifest["version"], None, None, "test")
    return s


def test_a_chunk_scored_at_once_scores_each_issue_as_alone(tiny_area_model: Path, corefx_issues: list[Issue]) -> None:
    model = Classifier.from_dir(tiny_area_model)
    pairs = [(i.title, i.body) for i in corefx_issues[:SCORE_CHUNK + 5]] + [("", ""), ("x" * 5000, "🐛" * 300)]
    together = model.scores_many(pairs)
    worst = 0.0
    for pair, scores in zip(pairs, together):
        alone = model.scores(*pair)
        assert set(alone) == set(scores)
        worst = max(worst, *(abs(alone[label] - scores[label]) for label in alone))
    # Not bit-equal: padding changes the kernels' summation order, and an int8 model's dynamic quantisation scales
    # activations over the whole batch. Below the thresholds' resolution (they are picked to 0.01).
    assert worst < 5e-3, worst
    assert model.scores_many([]) == []


def test_relabel_takes_the_open_issues_no_human_labeled_and_counts_a_failure(
        tmp_path: Path, server: GitHubServer, tiny_area_model: Path) -> None:
    s = services(tmp_path, server, tiny_area_model)
    numbers = sorted(server.fixture.numbers)
    issues = [Issue(REPO, n, server.issue(n)["title"], server.issue(n)["body"] or "") for n in numbers]
    closed, labeled = numbers[0], numbers[1]
    issues[0] = Issue(REPO, closed, issues[0].title, issues[0].body, state="closed")
    model = Classifier.from_dir(tiny_area_model)
    issues[1] = Issue(REPO, labeled, issues[1].title, issues[1].body, labels=(model.labels[0],))
    ingest(issues, s.blobs, s.docs)
    # Every label but one applied whenever it is the top one: some issues labeled, some not.
    server.set_file(".github/issue-triage.yml", "dry_run: false\nthresholds: {default: 0.01, per_label: {"
                    f"{model.labels[0]}: 0.99}}}}\n")

    cache = ModelCache()
    todo = open_unlabeled_issues(s, REPO, cache)
    assert closed not in todo and labeled not in todo and len(todo) == len(numbers) - 2

    broken = todo[SCORE_CHUNK + 1]  # in the second chunk
    server.inject("GET", rf"/issues/{broken}$", Fault.status(404))
    server.reset_log()
    counts = relabel_batch(s, REPO, todo, cache)
    assert counts["failed"] == 1 and counts["labeled"] + counts["abstained"] == len(todo) - 1
    decided = {p["number"]: p for p in s.docs.query(PREDICTIONS, REPO)}
    assert set(decided) == set(todo) - {broken}
    for prediction in decided.values():  # each applied label says which of the issue's words weighed most for it
        for added in prediction["add"]:
            why = [r for r in prediction["reasons"] if r.startswith(f"{added['label']}: because of '")]
            assert len(why) == 1, prediction["reasons"]
    reads = [r for r in server.requests if r.method == "GET"]
    writes = [r for r in server.requests if r.method != "GET"]
    assert counts["labeled"] and counts["abstained"], counts
    assert len(writes) == counts["labeled"]  # one POST per labeled issue, nothing for an abstention
    per_issue = len(server.requests) / len(todo)
    assert len(reads) <= 3 * len(todo) + 1 and per_issue < 4, per_issue
    print(f"relabel of {len(todo)} issues: {len(server.requests)} GitHub requests ({per_issue:.2f} per issue), "
          f"{counts}")
