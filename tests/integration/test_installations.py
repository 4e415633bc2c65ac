"""Several installations of one GitHub App through the Function app and the loopback GitHub.

The App is installed on three accounts, each holding some repositories. Installation deliveries fill the
registry; issue deliveries are labeled with the token of the installation that holds their repository (the
loopback server answers 404 to any other token), one token per installation; the bot's login comes from
``GET /app``. ``TRIAGE_REPOSITORIES`` still restricts; a repository no delivery named is found with
``GET /repos/{owner}/{repo}/installation`` once and recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from functions import _runtime
from tests.conftest import user_function
from tests.durable_double import FakeDurableClient, call_with_client
from tests.github.app_handlers import add_repository, install, open_issue_in
from tests.github_server import GitHubServer, build_fixture
from tests.integration.test_github_server import rsa_pem
from tests.integration.test_training_job import three_areas, tiny_config, write_dataset
from training_job.train import run
from triage.adapters.github.client import GitHubClient
from triage.adapters.github.installations import AppClient
from triage.adapters.github.settings import GitHubSettings
from triage.app.installations import installation_of, registry, served_repositories
from triage.domain.errors import ConfigError, GitHubError
from triage.domain.issues import Issue
from triage.domain.repo_config import CONFIG_PATH
from triage.learning.registry import upload_model, write_pointer

SECRET = "installations-secret-0123456789"
BOT = "corefx-labeler[bot]"  # the App's slug is corefx-labeler: the product must learn it from GET /app
APP_ID = 4242
ACCOUNTS = {11: ("dotnet", ["dotnet/corefx"]), 22: ("octo", ["octo/one", "octo/two"]), 33: ("acme", ["acme/app"])}
TITLES = ["SslStream handshake fails on Linux", "File.Copy throws IOException on a network share",
          "Build fails on the CI agents"]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory, corefx_issues: list[Issue], tiny_encoder: Path) -> Path:
    root = tmp_path_factory.mktemp("installations-model")
    write_dataset(root / "ds", three_areas(corefx_issues, 20), test_fraction=0.2, validation_fraction=0.2)
    run(tiny_config(root / "ds", root / "model", tiny_encoder))
    return root / "model"


@pytest.fixture(scope="module")
def pem() -> str:
    return rsa_pem()


@pytest.fixture()
def server(pem: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[GitHubServer]:
    """The loopback GitHub with the App on three accounts; the Function app's settings name no installation."""
    with GitHubServer(build_fixture(limit=20, bot_login=BOT), app_id=APP_ID, private_key_pem=pem, token=None) as srv:
        for ident, (owner, repos) in ACCOUNTS.items():
            install(srv, ident, owner, repos)
            for repo in repos:
                add_repository(srv, repo).files[CONFIG_PATH] = "dry_run: false\nthresholds: {default: 0.01}\n"
        for key in ("TRIAGE_REPOSITORIES", "TRIAGE_BOT_LOGIN", "GITHUB_TOKEN", "GITHUB_APP_INSTALLATION_ID"):
            monkeypatch.delenv(key, raising=False)
        for key, value in {"TRIAGE_HOME": str(tmp_path / "home"), "TRIAGE_WEBHOOK_SECRET": SECRET,
                           "TRIAGE_DRY_RUN": "false", "GITHUB_API_URL": srv.url, "GITHUB_APP_ID": str(APP_ID),
                           "GITHUB_APP_PRIVATE_KEY": pem}.items():
            monkeypatch.setenv(key, value)
        _runtime.services.cache_clear()
        _runtime.model_cache.cache_clear()
        yield srv
        _runtime.services.cache_clear()
        _runtime.model_cache.cache_clear()
    assert srv.errors == []


def promote(model_folder: Path, tmp_path: Path, repo: str) -> None:
    """The tiny model, promoted for ``repo``."""
    folder = tmp_path / "models" / repo.replace("/", "_")
    shutil.copytree(model_folder, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "repo": repo}))
    s = _runtime.services()
    upload_model(s.blobs, s.docs, folder)
    write_pointer(s.blobs, repo, manifest["version"], None, None, "test")


def deliver(event: str, payload: dict[str, Any], delivery: str) -> func.HttpResponse:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    request = func.HttpRequest("POST", "/api/github/webhook", body=body, headers={
        "X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature})
    return call_with_client("github_webhook", FakeDurableClient(), req=request)


def installation_created(ident: int) -> dict[str, Any]:
    owner, repos = ACCOUNTS[ident]
    return {"action": "created", "installation": {"id": ident, "account": {"login": owner, "type": "Organization"}},
            "repositories": [{"id": n, "name": r.split("/")[1], "full_name": r, "private": False}
                             for n, r in enumerate(repos)], "sender": {"login": f"{owner}-admin", "type": "User"}}


def issue_opened(server: GitHubServer, repo: str, number: int, ident: int | None) -> dict[str, Any]:
    issue = server.issue(number, repo)
    payload: dict[str, Any] = {"action": "opened", "issue": issue, "repository": {"full_name": repo},
                               "sender": {"login": "reporter", "type": "User"}}
    if ident is not None:
        payload["installation"] = {"id": ident, "node_id": f"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{ident}"}
    return payload


def drain() -> int:
    """Run the labeler function on every queued request; returns how many it handled."""
    s, done = _runtime.services(), 0
    while True:
        messages = s.queue.receive(max_messages=10)
        if not messages:
            return done
        for message in messages:
            user_function("label_issue")(func.QueueMessage(id=message.id, body=json.dumps(message.body).encode()))
            s.queue.delete(message.id)
            done += 1


def test_each_repository_is_labeled_with_its_installations_token(server: GitHubServer, model_folder: Path,
                                                                 tmp_path: Path) -> None:
    for ident in ACCOUNTS:
        assert deliver("installation", installation_created(ident), f"install-{ident}").status_code == 200
    s = _runtime.services()
    assert served_repositories(s.docs) == ["acme/app", "dotnet/corefx", "octo/one", "octo/two"]
    targets = [("dotnet/corefx", 11), ("dotnet/corefx", 11), ("octo/two", 22), ("octo/one", 22), ("acme/app", 33)]
    for repo in {r for r, _ in targets}:
        promote(model_folder, tmp_path, repo)
    opened = [(repo, open_issue_in(server, repo, TITLES[n % 3], "details")["number"], ident)
              for n, (repo, ident) in enumerate(targets)]
    before = len(server.requests)
    for n, (repo, number, ident) in enumerate(opened):
        assert deliver("issues", issue_opened(server, repo, number, ident), f"opened-{n}").status_code == 200
    assert drain() == len(opened)

    labeled = [(repo, number) for repo, number, _ in opened if server.issue(number, repo)["labels"]]
    assert len(labeled) == len(opened), "every issue labeled (threshold 0.01)"
    for repo, number in labeled:
        event = server.events(number, repo)[-1]
        assert event["event"] == "labeled" and event["actor"]["login"] == BOT, event
    assert _runtime.services().settings.bot_login == BOT, "the bot's login comes from GET /app"
    assert server.tokens_issued == 3, "one installation token per installation, reused across requests"
    assert server.count("GET", r"/installation$") == 0, "every installation came from the deliveries"
    assert server.count("GET", r"^/app$") == 1
    calls = server.requests[before:]
    per_issue = len(calls) / len(labeled)
    print(f"several installations: {len(calls)} GitHub requests for {len(labeled)} labeled issues in "
          f"{len(ACCOUNTS)} installations = {per_issue:.1f} per labeled issue "
          f"({server.tokens_issued} installation tokens, {server.count('GET', '^/app$')} GET /app)")
    assert per_issue < 8


def test_a_repository_no_delivery_named_is_looked_up_once(server: GitHubServer, model_folder: Path,
                                                          tmp_path: Path) -> None:
    promote(model_folder, tmp_path, "acme/app")
    numbers = [open_issue_in(server, "acme/app", title)["number"] for title in TITLES[:2]]
    s = _runtime.services()
    for number in numbers:  # a queued request without an installation hint (e.g. the relabel after a promotion)
        s.queue.send({"repo": "acme/app", "number": number, "reason": "relabel", "delivery": f"r-{number}"})
    assert drain() == 2
    assert all(server.issue(number, "acme/app")["labels"] for number in numbers)
    assert server.count("GET", r"^/repos/acme/app/installation$") == 1
    assert installation_of(s.docs, "acme/app") == 33
    (doc,) = [d for d in registry(s.docs) if d["id"] == "repo:acme/app"]
    assert doc["source"] == "lookup" and doc["account"] == "acme"


def test_triage_repositories_still_restricts(server: GitHubServer, model_folder: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_REPOSITORIES", "dotnet/corefx")
    _runtime.services.cache_clear()
    for ident in ACCOUNTS:
        response = deliver("installation", installation_created(ident), f"install-{ident}")
        assert response.status_code == 200
    s = _runtime.services()
    assert served_repositories(s.docs, s.app.repositories) == ["dotnet/corefx"]
    number = open_issue_in(server, "octo/one", TITLES[0])["number"]
    assert deliver("issues", issue_opened(server, "octo/one", number, 22), "outside").status_code == 200
    drain()
    assert server.issue(number, "octo/one")["labels"] == [], "a repository outside TRIAGE_REPOSITORIES is ignored"
    assert server.count("POST", r"/labels$") == 0


def test_removed_and_suspended_installations_are_no_longer_served(server: GitHubServer) -> None:
    for ident in ACCOUNTS:
        deliver("installation", installation_created(ident), f"install-{ident}")
    removed = {"action": "removed", "installation": {"id": 22, "account": {"login": "octo"}},
               "repository_selection": "selected", "repositories_added": [],
               "repositories_removed": [{"id": 1, "name": "two", "full_name": "octo/two", "private": False}],
               "sender": {"login": "octo-admin", "type": "User"}}
    assert deliver("installation_repositories", removed, "removed-two").status_code == 200
    suspend = {"action": "suspend", "installation": {"id": 33, "account": {"login": "acme"}},
               "sender": {"login": "acme-admin", "type": "User"}}
    assert deliver("installation", suspend, "suspend-33").status_code == 200
    s = _runtime.services()
    assert served_repositories(s.docs) == ["dotnet/corefx", "octo/one"]
    for delivery in ("removed-two", "replayed-removal"):  # replays change nothing
        assert deliver("installation_repositories", removed, delivery).status_code == 200
    assert served_repositories(s.docs) == ["dotnet/corefx", "octo/one"]
    unsuspend = {**suspend, "action": "unsuspend"}
    assert deliver("installation", unsuspend, "unsuspend-33").status_code == 200
    deleted = {**installation_created(11), "action": "deleted"}
    assert deliver("installation", deleted, "deleted-11").status_code == 200
    assert served_repositories(s.docs) == ["acme/app", "octo/one"]


# --- the App client on its own ----------------------------------------------------------------------------------

def app_client(server: GitHubServer, pem: str, recorded: dict[str, int] | None = None) -> AppClient:
    found: dict[str, int] = {}
    return AppClient(GitHubSettings(base_url=server.url, app_id=str(APP_ID), private_key=pem),
                     lookup=(recorded or {}).get, remember=lambda repo, ident, _account: found.update({repo: ident}),
                     sleep=lambda _s: None)


def test_a_stale_installation_is_looked_up_again_once(server: GitHubServer, pem: str) -> None:
    number = open_issue_in(server, "octo/one", TITLES[0])["number"]
    api = app_client(server, pem, recorded={"octo/one": 11})  # the registry is wrong: 22 holds octo/one
    assert api.get_issue("octo/one", number)["number"] == number
    assert [r.status for r in server.find("GET", r"^/repos/octo/one/issues/\d+$")] == [404, 200]
    assert server.count("GET", r"^/repos/octo/one/installation$") == 1 and api.installation_of("octo/one") == 22
    with pytest.raises(GitHubError) as info:
        api.get_issue("nobody/here", 1)
    assert info.value.status == 404 and "not installed on nobody/here" in str(info.value)


def test_tokens_are_cached_per_installation_until_shortly_before_they_expire(server: GitHubServer, pem: str) -> None:
    numbers = {repo: open_issue_in(server, repo, TITLES[0])["number"] for repo in ("octo/one", "octo/two", "acme/app")}
    api = app_client(server, pem)
    for _ in range(3):
        for repo, number in numbers.items():
            api.get_issue(repo, number)
    assert server.tokens_issued == 2, "octo/one and octo/two share installation 22's token; acme/app has 33's"
    assert api.requests_made + server.tokens_issued == len(server.requests), "PyGithub fetches the tokens"
    server.token_ttl_seconds = 10  # under PyGithub's 20 s margin: every request needs a fresh token
    short = app_client(server, pem)
    short.get_issue("acme/app", numbers["acme/app"])
    short.get_issue("acme/app", numbers["acme/app"])
    assert server.tokens_issued == 4


def test_a_suspended_installation_is_a_clear_error(server: GitHubServer, pem: str) -> None:
    server.installations[33].suspended = True
    with pytest.raises(GitHubError) as info:
        app_client(server, pem).get_issue("acme/app", 1)
    assert info.value.status == 403 and "suspended" in str(info.value)


def test_app_settings_need_no_installation_id() -> None:
    GitHubSettings(app_id="1", private_key="pem").check()
    for partial in (GitHubSettings(app_id="1"), GitHubSettings(installation_id=5, token="t")):
        with pytest.raises(ConfigError, match="GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY"):
            partial.check()
    with pytest.raises(ConfigError, match="needs an installation"):
        GitHubClient(GitHubSettings(app_id="1", private_key=rsa_pem()))
