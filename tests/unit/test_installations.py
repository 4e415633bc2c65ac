"""Installation deliveries read strictly, the installation registry, and the webhook's handling of both."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.adapters.local.queue import SqliteQueue
from triage.adapters.local.stores import SqliteDocumentStore
from triage.app import installations as registry
from triage.app.webhook import handle_delivery
from triage.domain.payloads import InstallationChange, PayloadError, parse_body, read_delivery

SECRET = "installation-secret-0123456789"
BOT = "issue-triage[bot]"

owners = st.from_regex(r"\A[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,20}\Z")
names = st.from_regex(r"\A[A-Za-z0-9._-]{1,30}\Z").filter(lambda n: n not in (".", ".."))
full_names = st.builds(lambda o, n: f"{o}/{n}", owners, names)
ids = st.integers(1, 2**63 - 1)


def repo_objects(repos: list[str]) -> list[dict[str, Any]]:
    return [{"id": 1000 + i, "node_id": f"R_{i}", "name": r.split("/")[1], "full_name": r, "private": False}
            for i, r in enumerate(repos)]


def installation_payload(action: str, ident: int, account: str, repos: list[str]) -> dict[str, Any]:
    return {"action": action, "installation": {"id": ident, "account": {"login": account, "type": "Organization"}},
            "repositories": repo_objects(repos), "sender": {"login": "admin", "type": "User"}}


def repositories_payload(action: str, ident: int, account: str, added: list[str], removed: list[str]) -> dict:
    return {"action": action, "installation": {"id": ident, "account": {"login": account}},
            "repository_selection": "selected", "repositories_added": repo_objects(added),
            "repositories_removed": repo_objects(removed), "sender": {"login": "admin", "type": "User"}}


# --- parsing ---------------------------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(action=st.sampled_from(["created", "deleted", "suspend", "unsuspend"]), ident=ids, account=owners,
       repos=st.lists(full_names, max_size=20))
def test_installation_events_are_read_as_github_sends_them(action: str, ident: int, account: str,
                                                           repos: list[str]) -> None:
    body = json.dumps(installation_payload(action, ident, account, repos)).encode()
    change = read_delivery("installation", parse_body(body))
    expected = tuple(dict.fromkeys(r.lower() for r in repos))
    assert change == InstallationChange(ident, action, account, expected if action == "created" else (),
                                        expected if action == "deleted" else (), "installation")


@settings(max_examples=200, deadline=None)
@given(action=st.sampled_from(["added", "removed"]), ident=ids, added=st.lists(full_names, max_size=10),
       removed=st.lists(full_names, max_size=10))
def test_installation_repositories_events_are_read(action: str, ident: int, added: list[str],
                                                   removed: list[str]) -> None:
    change = read_delivery("installation_repositories", repositories_payload(action, ident, "octo", added, removed))
    assert isinstance(change, InstallationChange) and change.installation == ident
    assert change.added == tuple(dict.fromkeys(r.lower() for r in added))
    assert change.removed == tuple(dict.fromkeys(r.lower() for r in removed))


BAD = {
    "no installation": ({"action": "created"}, "installation.id must be a whole number"),
    "installation not an object": ({"action": "created", "installation": 7}, "installation must be an object"),
    "id zero": ({"action": "created", "installation": {"id": 0}}, "installation.id"),
    "id too big": ({"action": "created", "installation": {"id": 2**63}}, "installation.id"),
    "id a string": ({"action": "created", "installation": {"id": "7"}}, "installation.id"),
    "id a boolean": ({"action": "created", "installation": {"id": True}}, "installation.id"),
    "id a float": ({"action": "created", "installation": {"id": 7.0}}, "installation.id"),
    "repositories not a list": ({"action": "created", "installation": {"id": 7}, "repositories": {"a": 1}},
                                "repositories must be a list"),
    "repository not an object": ({"action": "created", "installation": {"id": 7}, "repositories": ["a/b"]},
                                 "repositories[0] must be a repository object"),
    "repository without name": ({"action": "created", "installation": {"id": 7}, "repositories": [{"id": 1}]},
                                "repositories[0].full_name"),
    "repository name odd": ({"action": "created", "installation": {"id": 7},
                             "repositories": [{"full_name": "../../etc/passwd"}]}, "repositories[0].full_name"),
    "repository name unicode": ({"action": "created", "installation": {"id": 7},
                                 "repositories": [{"full_name": "o\u202e/r\u0000"}]}, "repositories[0].full_name"),
    "account login blank": ({"action": "created", "installation": {"id": 7, "account": {"login": " "}}},
                            "installation.account.login"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_installation_payloads_name_the_field(case: str) -> None:
    payload, needle = BAD[case]
    with pytest.raises(PayloadError) as info:
        read_delivery("installation", payload)
    assert needle in str(info.value)


def test_huge_numbers_and_unused_actions() -> None:
    with pytest.raises(PayloadError, match="digits"):
        parse_body(b'{"action": "created", "installation": {"id": ' + b"9" * 500 + b"}}")
    unused = read_delivery("installation", {"action": "new_permissions_accepted", "installation": {"id": 7}})
    assert not isinstance(unused, InstallationChange) and "not used" in unused.reason
    assert read_delivery("installation_repositories", {"action": "added", "installation": {"id": 7}}) == \
        InstallationChange(7, "added", None, (), (), "installation_repositories")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(event=st.sampled_from(["installation", "installation_repositories"]),
       action=st.sampled_from(["created", "deleted", "suspend", "added", "removed", "x"]),
       installation=json_values, repositories=json_values, added=json_values)
def test_any_payload_is_read_or_refused_with_a_payload_error(event: str, action: str, installation: Any,
                                                             repositories: Any, added: Any) -> None:
    payload = {"action": action, "installation": installation, "repositories": repositories,
               "repositories_added": added}
    try:
        read_delivery(event, payload)
    except PayloadError as exc:
        assert exc.field and str(exc)


# --- the registry ----------------------------------------------------------------------------------------------

@pytest.fixture()
def docs() -> SqliteDocumentStore:
    return SqliteDocumentStore(":memory:")


def test_the_registry_follows_installations(docs: SqliteDocumentStore) -> None:
    registry.apply_change(docs, InstallationChange(11, "created", "dotnet", ("dotnet/corefx", "dotnet/runtime")))
    registry.apply_change(docs, InstallationChange(22, "added", "octo", ("octo/one",), (), "installation_repositories"))
    assert registry.installed_repositories(docs) == ["dotnet/corefx", "dotnet/runtime", "octo/one"]
    assert registry.installation_of(docs, "Octo/One") == 22 and registry.installation_of(docs, "x/y") is None
    registry.apply_change(docs, InstallationChange(11, "removed", "dotnet", (), ("dotnet/runtime",),
                                                   "installation_repositories"))
    registry.apply_change(docs, InstallationChange(22, "suspend", "octo"))
    assert registry.installed_repositories(docs) == ["dotnet/corefx"]
    assert registry.installation_of(docs, "octo/one") is None, "a suspended installation's tokens are refused"
    registry.apply_change(docs, InstallationChange(22, "unsuspend", "octo"))
    assert registry.installed_repositories(docs) == ["dotnet/corefx", "octo/one"]
    message = registry.apply_change(docs, InstallationChange(11, "deleted", "dotnet"))
    assert "removed dotnet/corefx" in message and registry.installed_repositories(docs) == ["octo/one"]


def test_a_repository_moved_to_another_installation_is_not_removed_by_the_old_one(docs: SqliteDocumentStore) -> None:
    registry.apply_change(docs, InstallationChange(1, "created", "a", ("o/r",)))
    registry.apply_change(docs, InstallationChange(2, "created", "a", ("o/r",)))
    registry.apply_change(docs, InstallationChange(1, "deleted", "a", (), ("o/r",)))
    assert registry.installation_of(docs, "o/r") == 2


def test_triage_repositories_restricts_what_is_served(docs: SqliteDocumentStore) -> None:
    registry.apply_change(docs, InstallationChange(5, "created", "octo", ("octo/one", "octo/two")))
    assert registry.served_repositories(docs, ("other/repo",)) == ["other/repo"], "not installed yet: GitHub is asked"
    assert registry.served_repositories(docs, ("octo/two",)) == ["octo/two"]
    assert registry.installed_repositories(docs, ("octo/two", "x/y")) == ["octo/two"]
    registry.apply_change(docs, InstallationChange(5, "removed", "octo", (), ("octo/two",), "installation_repositories"))
    assert registry.served_repositories(docs, ("octo/two",)) == [], "removed from the App: no longer served"


def test_a_late_issue_delivery_does_not_undo_a_removal(docs: SqliteDocumentStore) -> None:
    registry.apply_change(docs, InstallationChange(5, "created", "octo", ("octo/one",)))
    registry.apply_change(docs, InstallationChange(5, "removed", "octo", (), ("octo/one",), "installation_repositories"))
    assert registry.remember(docs, "octo/one", 5, source="delivery", only_new=True) is False
    assert registry.installed_repositories(docs) == []
    assert registry.remember(docs, "octo/new", 5, source="delivery", only_new=True) is True
    assert registry.remember(docs, "octo/new", 5, source="delivery", only_new=True) is False


# --- through the webhook -----------------------------------------------------------------------------------------

def deliver(docs: SqliteDocumentStore, queue: SqliteQueue, event: str, payload: dict[str, Any] | bytes,
            delivery: str) -> tuple[int, str]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    result = handle_delivery({"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature},
                             body, SECRET, docs, queue, BOT)
    return result.status, result.message


def test_installation_deliveries_change_the_registry_and_replays_change_nothing(tmp_path: Path,
                                                                              docs: SqliteDocumentStore) -> None:
    queue = SqliteQueue(tmp_path / "q.db")
    created = installation_payload("created", 957387, "Codertocat", ["Codertocat/Hello-World", "Codertocat/Space"])
    assert deliver(docs, queue, "installation", created, "d-1")[0] == 200
    removed = repositories_payload("removed", 957387, "Codertocat", [], ["Codertocat/Space"])
    status, message = deliver(docs, queue, "installation_repositories", removed, "d-2")
    assert status == 200 and "removed codertocat/space" in message
    before = registry.registry(docs)
    for delivery in ("d-1", "d-1-replayed-under-a-new-id"):  # a captured "created" must not bring Space back
        assert deliver(docs, queue, "installation", created, delivery)[0] == 200
    assert registry.registry(docs) == before and registry.installed_repositories(docs) == ["codertocat/hello-world"]
    assert queue.depth() == 0, "an installation event queues nothing"


def test_concurrent_copies_of_one_delivery_apply_it_once(tmp_path: Path) -> None:
    docs = SqliteDocumentStore(tmp_path / "docs.db")
    queue = SqliteQueue(tmp_path / "q.db")
    payload = installation_payload("created", 42, "octo", [f"octo/r{i}" for i in range(50)])
    statuses: list[int] = []

    def copy(n: int) -> None:
        statuses.append(deliver(docs, queue, "installation", payload, f"copy-{n}")[0])

    threads = [threading.Thread(target=copy, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses).count(200) >= 1 and all(s in (200, 202) for s in statuses)
    assert len(registry.installed_repositories(docs)) == 50
    assert all(d["source"] == "installation.created" for d in registry.registry(docs) if d["kind"] == "repository")


def test_malformed_installation_delivery_is_a_400_naming_the_field(tmp_path: Path, docs: SqliteDocumentStore) -> None:
    queue = SqliteQueue(tmp_path / "q.db")
    status, message = deliver(docs, queue, "installation", {"action": "created", "installation": {"id": -1}}, "bad")
    assert status == 400 and "installation.id must be a whole number" in message
    assert registry.registry(docs) == []


def test_an_issue_delivery_records_its_installation(tmp_path: Path, docs: SqliteDocumentStore) -> None:
    queue = SqliteQueue(tmp_path / "q.db")
    payload = {"action": "opened", "issue": {"number": 3}, "repository": {"full_name": "Octo/Widgets"},
               "installation": {"id": 77, "node_id": "MDIz"}, "sender": {"login": "someone", "type": "User"}}
    assert deliver(docs, queue, "issues", payload, "i-1")[0] == 200
    assert registry.installation_of(docs, "octo/widgets") == 77
    odd = {**payload, "issue": {"number": 4}, "installation": {"id": "not-a-number"}}
    assert deliver(docs, queue, "issues", odd, "i-2")[0] == 200, "a bad installation hint never refuses a delivery"
    assert registry.installation_of(docs, "octo/widgets") == 77


def test_every_method_of_the_github_port_goes_through_the_repositorys_installation() -> None:
    from triage.adapters.github.installations import REPOSITORY_METHODS
    from triage.ports.github import GitHubApi

    assert {name for name in vars(GitHubApi) if not name.startswith("_")} <= set(REPOSITORY_METHODS)
