"""The maintainer dashboard in headless Chromium, served by the Function app's own handlers.

The registered ``dashboard`` and ``dashboard_review`` functions run behind ``triage.localweb`` on
127.0.0.1 with the emulated stores (Azurite, Cosmos DB emulator) and a tiny model trained and
promoted for real; GitHub is the loopback REST server. Decisions and feedback are seeded through the
product's functions. The browser logs in with the token URL, reads the chart and the tables, confirms a
prediction with JavaScript turned off (the feedback must land in the Cosmos emulator and move live
precision), then asks for a dry-run prediction to be applied on GitHub and rejects another that the bot
wrote: the label must appear on, then disappear from, the loopback GitHub's issues, written by the bot. Owner
routing shows too: who each decision routed the issue to, and live precision per assignee after a maintainer's
unassignment (a correction) and closing (a confirmation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import azure.functions as func
import pytest

from functions import _runtime
from tests.browser.screenshot import dashboard_screenshot
from tests.conftest import ROOT, user_function
from tests.durable_double import FakeDurableClient
from tests.emulators.fixtures import Azurite, Cosmos
from tests.github_server import GitHubServer, build_fixture
from tests.integration.test_e2e_functions import REPO, promote_tiny_model
from triage.adapters.azure.cosmos import CosmosDocumentStore
from triage.adapters.local.stores import LocalBlobStore
from triage.app.bootstrap import Services
from triage.app.decisions import mark_applied
from triage.app.labeling import record_decision
from triage.app.routing import route
from triage.app.writers import DryRunWriter
from triage.cli.main import main as cli_main
from triage.domain.assign_payloads import AssignChange
from triage.domain.assignments import AssignEvent
from triage.domain.issues import Issue
from triage.domain.policy import Decision, Policy, decide
from triage.domain.repo_config import RepoConfig
from triage.domain.routing_config import RoutingConfig
from triage.learning.assignee_feedback import record_assign_change
from triage.learning.feedback import record_review
from triage.learning.live import live_quality
from triage.learning.registry import read_pointer
from triage.ml.model import Classifier
from triage.ports.layout import DATABASE, model_prefix
from triage.ports.records import FEEDBACK, LOCKS, MODELS, PREDICTIONS, RUNS, TUNING
from triage.web.http import WebRequest, WebResponse
from triage.web.local_server import Handler, LocalServer, router

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "browser-test-token-5f1c0a7e"
BOT = "issue-triage[bot]"
CONTAINERS = (PREDICTIONS, FEEDBACK, LOCKS, TUNING, MODELS, RUNS, "poison")


def forget(s: Services, repo: str) -> None:
    """Remove what earlier tests in this session left for ``repo`` in the shared emulators."""
    for container in CONTAINERS:
        for doc in s.docs.query(container, repo):
            s.docs.delete(container, repo, doc["id"])
    for name in s.blobs.list(f"models/{repo}/"):
        s.blobs.delete(name)


@pytest.fixture()
def github() -> Iterator[GitHubServer]:
    with GitHubServer(build_fixture(limit=5)) as server:
        server.add_token("bot-token", BOT, actor_type="Bot")
        yield server


@pytest.fixture()
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, azurite: Azurite, cosmos: Cosmos,
            github: GitHubServer) -> Iterator[Services]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install -y chromium)")
    for key in ("TRIAGE_DASHBOARD_AUTH", "TRIAGE_DASHBOARD_SECRET", "TRIAGE_DASHBOARD_MAINTAINERS", "TRIAGE_AUTO_TUNE",
                "WEBSITE_AUTH_ENABLED"):
        monkeypatch.delenv(key, raising=False)
    settings = {
        "TRIAGE_HOME": str(tmp_path), "TRIAGE_STORAGE": azurite.connection_string,
        "TRIAGE_COSMOS": cosmos.connection_string, "TRIAGE_COSMOS_ENDPOINT_DISCOVERY": "false",
        "TRIAGE_REPOSITORIES": REPO, "TRIAGE_DASHBOARD_TOKEN": TOKEN, "TRIAGE_RETRAIN_AFTER": "3",
        "GITHUB_API_URL": github.url, "GITHUB_TOKEN": "bot-token", "TRIAGE_BOT_LOGIN": BOT, "TRIAGE_DRY_RUN": "false",
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    _runtime.services.cache_clear()
    forget(_runtime.services(), REPO)
    yield _runtime.services()
    forget(_runtime.services(), REPO)
    _runtime.services.cache_clear()


def function_app(client: FakeDurableClient) -> Handler:
    """The registered Functions handlers, as a WebRequest → WebResponse handler."""

    def http_request(request: WebRequest) -> func.HttpRequest:
        url = f"http://{request.header('Host') or '127.0.0.1'}{request.path}"
        return func.HttpRequest(request.method, url, headers=dict(request.headers), params=dict(request.query),
                                body=request.body)

    def web_response(response: func.HttpResponse) -> WebResponse:
        return WebResponse(response.status_code, response.get_body(), dict(response.headers))

    def dashboard(request: WebRequest) -> WebResponse:
        return web_response(user_function("dashboard")(http_request(request)))

    def review(request: WebRequest) -> WebResponse:
        inner = user_function("dashboard_review").__wrapped__  # below the Durable client middleware
        return web_response(asyncio.run(inner(req=http_request(request), client=client)))

    return router({("GET", "/api/dashboard"): dashboard, ("POST", "/api/dashboard/review"): review})


def seed_decisions(s: Services, version: str, issues: list[Issue]) -> list[int]:
    """Decisions of the promoted model on six unlabeled issues (five labeled, one abstention)."""
    model = Classifier.from_store(s.blobs, model_prefix(REPO, version))
    numbers = []
    for k, original in enumerate(issues[-6:]):
        issue = Issue(REPO, original.number, original.title, original.body)
        threshold = 1.01 if k == 0 else 0.01  # the oldest one abstains
        policy = Policy(thresholds={label: threshold for label in model.labels}, single_label=model.single_label)
        record_decision(s.docs, decide(issue, model.scores(issue.title, issue.body), policy, version), True, policy)
        numbers.append(issue.number)
    return numbers


def seed_routes(s: Services, numbers: list[int]) -> tuple[int, int]:
    """Owner routing (dry run) on two labeled decisions, then a maintainer unassigns the first pick and closes the
    second issue with it: one correction and one confirmation of alice."""
    config = RepoConfig(routing=RoutingConfig(owners=(("*", ("alice", "bob")),)))
    batch = SimpleNamespace(repo=REPO, config=config, docs=s.docs, writer=DryRunWriter(), dry_run=True, bot_login=BOT,
                            assignee_model=None)
    routed = [p for p in s.docs.query(PREDICTIONS, REPO) if p["add"] and p["number"] in numbers][:2]
    for p in routed:
        decision = Decision(REPO, p["number"], tuple((a["label"], a["score"]) for a in p["add"]), (), (), p["model_version"])
        route(batch, Issue(REPO, p["number"], "t"), decision)  # type: ignore[arg-type]
    first, second = routed[0]["number"], routed[1]["number"]
    record_assign_change(s.docs, AssignChange(REPO, first, AssignEvent("unassigned", "alice", "carol"), (), "carol"), "d-1")
    record_assign_change(s.docs, AssignChange(REPO, second, None, ("alice",), "carol"), "d-2")
    return first, second


def new_predictions(s: Services, version: str, github: GitHubServer) -> tuple[int, int]:
    """Two new issues on the loopback GitHub: one predicted in dry run, one whose label the bot wrote."""
    model = Classifier.from_store(s.blobs, model_prefix(REPO, version))
    policy = Policy(thresholds={label: 0.01 for label in model.labels}, single_label=model.single_label)
    numbers = []
    for k, title in enumerate(("SslStream handshake fails on Linux", "File.Move throws on a long path")):
        number = github.open_issue(title, "details")["number"]
        issue = Issue(REPO, number, title, "details")
        decision = decide(issue, model.scores(issue.title, issue.body), policy, version)
        record = record_decision(s.docs, decision, dry_run=k == 0, policy=policy)
        if k == 1:
            github.add_label(number, decision.add[0][0], BOT, actor_type="Bot")
            mark_applied(s.docs, REPO, str(record))
        numbers.append(number)
    return numbers[0], numbers[1]


def test_maintainer_confirms_a_prediction_in_the_browser(app_env: Services, tmp_path: Path, cosmos: Cosmos,
                                                         corefx_issues: list[Issue], tiny_encoder: Path,
                                                         github: GitHubServer) -> None:
    from playwright.sync_api import sync_playwright

    s = app_env
    version = promote_tiny_model(tmp_path, corefx_issues, tiny_encoder)
    numbers = seed_decisions(s, version, corefx_issues)
    corrected_route, confirmed_route = seed_routes(s, numbers)
    predicted = {p["number"]: p["add"][0]["label"] for p in s.docs.query(PREDICTIONS, REPO) if p["add"]}
    assert len(predicted) == 5
    first, second = sorted(predicted)[:2]
    record_review(s.docs, REPO, first, predicted[first], "confirm", "alice")
    record_review(s.docs, REPO, second, predicted[second], "reject", "bob")
    emulator = CosmosDocumentStore.from_connection_string(cosmos.connection_string, DATABASE,
                                                          enable_endpoint_discovery=False)
    assert live_quality(emulator, REPO)["precision"] == 0.5
    has_card = bool(s.blobs.list(f"{model_prefix(REPO, version)}/precision_coverage.png"))

    client = FakeDurableClient()
    csp_errors: list[str] = []
    with LocalServer(function_app(client)) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)

            assert page.goto(f"{server.url}/api/dashboard").status == 401
            page.goto(f"{server.url}/api/dashboard?token={TOKEN}&repo={REPO}")
            assert page.url == f"{server.url}/api/dashboard?repo=dotnet%2Fcorefx", "the token leaves the URL"
            (cookie,) = context.cookies()
            assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/api/dashboard")

            assert version in page.locator("#model").inner_text()
            assert page.locator("#live-precision").inner_text() == "50.0%"
            chart = page.locator("#precision-chart")
            assert chart.is_visible() and chart.locator("polyline").count() >= 2  # all labels + judged labels
            rows = page.locator("#decisions tbody tr")
            assert rows.count() == 6
            table = page.locator("#decisions").inner_text()
            assert all(f"#{n}" in table for n in numbers) and "abstained" in table and "pending" in table
            assert "confirmed" in table and "corrected" in table
            routed = page.locator("#decisions tbody tr", has_text=f"#{corrected_route}").inner_text()
            assert "would assign (dry run) alice" in routed and "corrected" in routed
            assert "would assign (dry run) alice" in page.locator("#decisions tbody tr",
                                                                  has_text=f"#{confirmed_route}").inner_text()
            assert page.locator("#routing-precision").inner_text() == "50.0%"
            assert page.locator("#routing tbody tr").count() == 1
            assert page.locator("#routing tbody tr").inner_text().split("\t")[:6] == ["alice", "2", "0", "1", "1", "50.0%"]
            if has_card:
                assert page.locator("#card img").count() == 2
                assert all(w > 0 for w in page.locator("#card img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)"))
            else:
                assert "no model card for this model" in page.locator("#card").inner_text()

            queue = page.locator("#review tbody tr")
            assert queue.count() == 3
            item = queue.first
            number = int(item.locator("td").first.inner_text().lstrip("#"))
            with page.expect_navigation():
                item.get_by_role("button", name="Confirm").click()
            assert page.url.endswith("/api/dashboard?repo=dotnet%2Fcorefx#review"), page.content()[-600:]
            assert page.locator("#review tbody tr").count() == 2
            assert page.locator("#live-precision").inner_text() == "66.7%"

            out = ROOT / "out"
            out.mkdir(exist_ok=True)
            page.screenshot(path=str(out / "dashboard.png"), full_page=True)
            precision_after_confirm, started_after_confirm = live_quality(emulator, REPO)["precision"], list(client.started)

            dry, written = new_predictions(s, version, github)
            page.goto(f"{server.url}/api/dashboard?repo={REPO}")
            row = page.locator("#review tbody tr", has_text=f"#{dry}")
            assert row.get_by_role("button", name="Apply on GitHub").count() == 1
            with page.expect_navigation():
                row.get_by_role("button", name="Apply on GitHub").click()
            assert "was applied on GitHub" in page.locator("#review-notice").inner_text()
            applied = [label["name"] for label in github.issue(dry)["labels"]]
            assert len(applied) == 1 and github.events(dry)[-1]["actor"]["login"] == BOT
            row = page.locator("#review tbody tr", has_text=f"#{written}")
            assert row.get_by_role("button", name="Apply on GitHub").count() == 0, "already on GitHub"
            with page.expect_navigation():
                row.get_by_role("button", name="Reject").click()
            assert "removed from GitHub" in page.locator("#review-notice").inner_text()
            assert github.issue(written)["labels"] == [] and github.events(written)[-1]["event"] == "unlabeled"
        finally:
            browser.close()

    stored = [f for f in emulator.query(FEEDBACK, REPO, number=number) if f["source"] == "review"]
    assert [(f["verdict"], f["judged_label"], f["actor"]) for f in stored] == [("confirmed", predicted[number], "token-holder")]
    assert precision_after_confirm == 0.6667
    assert live_quality(emulator, REPO)["precision"] == 0.6, "then one more confirmed and one more corrected"
    assert started_after_confirm == [("training_orchestrator", f"train:{REPO}",
                                {"repo": REPO, "reason": "review", "poll_seconds": 60.0, "deadline_minutes": 240.0})]
    assert not csp_errors, csp_errors


def test_the_dashboard_after_the_demo_shows_the_demos_own_model_and_decisions(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_encoder: Path) -> None:
    """What the README's picture shows: `make demo`, then the dashboard (tests/browser/screenshot.py takes it)."""
    home = tmp_path / "home"
    for key, value in {"TRIAGE_HOME": str(home), "TRIAGE_BASE_MODEL": str(tiny_encoder), "TRIAGE_EPOCHS": "1",
                       "TRIAGE_MAX_TOKENS": "32", "TRIAGE_BATCH_SIZE": "16", "TRIAGE_MIN_EXAMPLES": "8"}.items():
        monkeypatch.setenv(key, value)
    assert cli_main(["-q", "demo", "--out", str(tmp_path / "out"), "--held-back", "12"]) == 0
    version = read_pointer(LocalBlobStore(home / "blobs"), "dotnet/corefx")[0]["version"]
    shown = dashboard_screenshot(home, "dotnet/corefx", tmp_path / "dashboard.png")
    assert version in shown["model"] and shown["decisions"] == 12, shown
    assert (tmp_path / "dashboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
