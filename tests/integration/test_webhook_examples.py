"""GitHub's own webhook payloads through the Function app: every example of ``@octokit/webhooks-examples`` (github.com
and each GitHub Enterprise Server version), signed by ``@octokit/webhooks-methods`` (GitHub's SDK, run with node),
delivered to the registered ``github_webhook`` function with real ``azure.functions`` objects.

Each delivery must answer 2xx and have the effect docs/github.md documents: a label request on the queue, a
feedback record and a lock for a human's label change (none for a bot's or an App's), a label record, or
nothing. Then every example is replayed, under its own id and under a new one, and nothing changes.
Derived cases: each labeled/unlabeled example again with the App object and the bot sender GitHub sends
elsewhere in the same corpus.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from functions import _runtime
from tests.durable_double import FakeDurableClient, call_with_client
from tests.emulators.run import HERE, WEBHOOK_EXAMPLES, ensure_installed
from triage.app.installations import registry as installation_registry
from triage.ports.records import FEEDBACK, LABELS, LOCKS

SECRET = "octokit-examples-webhook-secret-0123"
SIGNER = HERE / "sign_webhook_examples.mjs"
EFFECT_CONTAINERS = (FEEDBACK, LOCKS, LABELS)


@pytest.fixture()
def app_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for key, value in {"TRIAGE_HOME": str(tmp_path), "TRIAGE_WEBHOOK_SECRET": SECRET,
                       "TRIAGE_REPOSITORIES": "codertocat/hello-world"}.items():
        monkeypatch.setenv(key, value)
    _runtime.services.cache_clear()
    yield tmp_path
    _runtime.services.cache_clear()


def indexes() -> list[Path]:
    """The corpora (api.github.com, ghes-3.x), installed first: on a fresh clone node_modules is not there yet."""
    ensure_installed()
    found = sorted(WEBHOOK_EXAMPLES.parent.parent.glob("*/index.json"))
    assert WEBHOOK_EXAMPLES in found, f"no webhook examples under {WEBHOOK_EXAMPLES.parent.parent}"
    return found


def examples() -> list[tuple[str, dict[str, Any]]]:
    """(event, payload) of every example, in the corpus's order."""
    return [(hook["name"], example) for index in indexes() for hook in json.loads(index.read_text())
            for example in hook["examples"]]


def derived(corpus: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each labeled/unlabeled example made through an App for a user, and made by a bot (objects from the corpus)."""
    app = next(p["deployment"]["performed_via_github_app"] for e, p in corpus
               if isinstance((p.get("deployment") or {}).get("performed_via_github_app"), dict))
    bot = next(p["sender"] for _, p in corpus if isinstance(p.get("sender"), dict) and p["sender"]["type"] == "Bot")
    changes = [p for e, p in corpus if e == "issues" and p.get("action") in ("labeled", "unlabeled")]
    via_app = [{**p, "issue": {**p["issue"], "performed_via_github_app": app}} for p in changes]
    by_bot = [{**p, "sender": bot} for p in changes]
    return [{"name": "issues", "examples": via_app + by_bot}]


def sign_all(tmp_path: Path, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The signer's output for every index and the ``extra`` hooks (same format as the index files)."""
    ensure_installed()
    node = shutil.which("node")
    assert node is not None, "node (20+) is needed to run GitHub's signing code"
    extra_path = tmp_path / "derived.json"
    extra_path.write_text(json.dumps(extra))
    done = subprocess.run([node, str(SIGNER), *map(str, indexes()), str(extra_path)], capture_output=True,
                          env={**os.environ, "WEBHOOK_SECRET": SECRET}, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return json.loads(done.stdout)


def post(client: FakeDurableClient, event: str, body: str, signature: str, delivery: str) -> func.HttpResponse:
    request = func.HttpRequest("POST", "/api/github/webhook", body=body.encode("utf-8"), headers={
        "X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature,
        "Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/044aadd"})
    return call_with_client("github_webhook", client, req=request)


def documented(event: str, p: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """(status, effect kind, effect) as docs/github.md describes the routing, for a first delivery."""
    action = p.get("action")
    if event == "ping":
        return 200, "none", {}
    if event == "issues" and action in ("opened", "reopened", "edited", "transferred"):
        if action == "edited" and not {"title", "body"} & set(p.get("changes") or {}):
            return 202, "none", {}
        if action == "transferred":
            target = p["changes"]
            return 200, "queue", {"repo": target["new_repository"]["full_name"].lower(),
                                  "number": target["new_issue"]["number"], "reason": action}
        return 200, "queue", {"repo": p["repository"]["full_name"].lower(), "number": p["issue"]["number"],
                              "reason": action}
    if event == "pull_request" and action in ("opened", "reopened", "ready_for_review", "edited"):
        if action == "edited" and not {"title", "body"} & set(p.get("changes") or {}):
            return 202, "none", {}
        if action != "ready_for_review" and p["pull_request"].get("draft"):
            return 202, "none", {}
        return 200, "queue", {"repo": p["repository"]["full_name"].lower(), "number": p["pull_request"]["number"],
                              "reason": action}
    if event in ("issues", "pull_request") and action in ("labeled", "unlabeled"):
        sender, item = p["sender"], p["issue" if event == "issues" else "pull_request"]
        if not p.get("label") or sender["type"] == "Bot" or sender["login"].endswith("[bot]") \
                or item.get("performed_via_github_app"):
            return 202, "none", {}
        return 200, "feedback", {"number": item["number"], "label": p["label"]["name"], "action": action,
                                 "actor": sender["login"]}
    if event == "issues" and action in ("assigned", "unassigned", "closed"):  # judges the bot's owner routing
        sender, judged = p["sender"], p.get("assignee") if action != "closed" else p["issue"].get("assignees")
        if not judged or sender["type"] == "Bot" or sender["login"].endswith("[bot]") \
                or p["issue"].get("performed_via_github_app"):
            return 202, "none", {}
        return 200, "assignment", {}  # nothing routed in this corpus: no record changes
    if event == "label" and action in ("created", "edited", "deleted"):
        old = ((p.get("changes") or {}).get("name") or {}).get("from")
        return 200, "label", {"name": p["label"]["name"], "deleted": action == "deleted", "old": old}
    if (event, action) in {("installation", a) for a in ("created", "deleted", "suspend", "unsuspend")} | {
            ("installation_repositories", "added"), ("installation_repositories", "removed")}:
        listed = [r["full_name"].lower() for r in p.get("repositories") or []]
        return 200, "installation", {
            "id": p["installation"]["id"], "state": {"deleted": "deleted", "suspend": "suspended"}.get(action, "active"),
            "added": [r["full_name"].lower() for r in p.get("repositories_added") or []] + (
                listed if action == "created" else []),
            "removed": [r["full_name"].lower() for r in p.get("repositories_removed") or []] + (
                listed if action == "deleted" else [])}
    return 202, "none", {}


def snapshot(repos: set[str]) -> dict[str, Any]:
    s = _runtime.services()
    return {"queue": s.queue.peek(), **{f"{c}:{r}": s.docs.query(c, r) for c in EFFECT_CONTAINERS for r in sorted(repos)}}


def check_effect(kind: str, effect: dict[str, Any], repo: str | None, delivery: str, before: dict[str, Any],
                 after: dict[str, Any]) -> None:
    """The difference between two snapshots is exactly the documented effect."""
    new_messages = after["queue"][len(before["queue"]):]
    assert after["queue"][: len(before["queue"])] == before["queue"]
    assert new_messages == ([{**effect, "delivery": delivery}] if kind == "queue" else [])
    changed = {key for key in after if key != "queue" and after[key] != before[key]}
    if kind == "feedback":
        assert changed <= {f"{FEEDBACK}:{repo}", f"{LOCKS}:{repo}"} and f"{FEEDBACK}:{repo}" in changed
        (record,) = [f for f in after[f"{FEEDBACK}:{repo}"] if f["id"] == delivery]
        assert {k: record[k] for k in effect} == effect and len(after[f"{FEEDBACK}:{repo}"]) == \
            len(before[f"{FEEDBACK}:{repo}"]) + 1
        (lock,) = [lock for lock in after[f"{LOCKS}:{repo}"] if lock["id"] == f"{effect['number']}:{effect['label']}"]
        assert lock["state"] == ("added" if effect["action"] == "labeled" else "removed") and lock["by"] == effect["actor"]
    elif kind == "installation":  # the App's registry of installations and repositories (docs/github.md)
        assert changed == set()
        held = {d["id"]: d for d in installation_registry(_runtime.services().docs)}
        assert held[f"installation:{effect['id']}"]["state"] == effect["state"]
        assert all(held[f"repo:{r}"]["installation"] == effect["id"] and held[f"repo:{r}"]["state"] == "active"
                   for r in effect["added"])
        assert all(held.get(f"repo:{r}", {}).get("installation") != effect["id"]
                   or held[f"repo:{r}"]["state"] == "removed" for r in effect["removed"])
    elif kind == "label":
        assert changed <= {f"{LABELS}:{repo}"}
        labels = {d["id"]: d for d in after[f"{LABELS}:{repo}"]}
        assert labels[effect["name"]]["deleted"] is effect["deleted"]
        if effect["old"] and effect["old"] != effect["name"]:
            assert labels[effect["old"]]["renamed_to"] == effect["name"]
    else:
        assert changed == set()


def test_every_official_example_is_handled_as_documented_and_replays_change_nothing(app_home: Path) -> None:
    corpus = examples()
    signed = sign_all(app_home, derived(corpus))
    assert len(signed) == len(corpus) + 2 * sum(1 for e, p in corpus if e == "issues" and p.get("action") in (
        "labeled", "unlabeled")) and len(corpus) >= 700
    repos = {p["repository"]["full_name"].lower() for s in signed for p in [json.loads(s["body"])]
             if isinstance(p.get("repository"), dict)}
    repos |= {json.loads(s["body"])["changes"]["new_repository"]["full_name"].lower() for s in signed
              if '"new_repository"' in s["body"]}
    client = FakeDurableClient()
    seen: set[str] = set()
    tally = {"as documented": 0}
    for n, item in enumerate(signed):
        event, body, payload = item["event"], item["body"], json.loads(item["body"])
        status, kind, effect = documented(event, payload)
        if kind != "none" and body in seen:  # GitHub's redelivery of an identical body: handled once already
            status, kind, effect = 200, "none", {}
        seen.add(body)
        repo = payload["repository"]["full_name"].lower() if isinstance(payload.get("repository"), dict) else None
        before = snapshot({repo} if repo else set())
        response = post(client, event, body, item["signature"], f"delivery-{n}")
        where = (n, item["source"].split("/")[-2], event, payload.get("action"), response.get_body()[:300])
        assert response.status_code == status, where
        check_effect(kind, effect, repo, f"delivery-{n}", before, snapshot({repo} if repo else set()))
        tally["as documented"] += 1
    assert tally["as documented"] == len(signed)
    assert any(f for r in repos for f in _runtime.services().docs.query(FEEDBACK, r)), "human label changes are feedback"

    everything, started = snapshot(repos), list(client.started)
    installed = installation_registry(_runtime.services().docs)
    for n, item in enumerate(signed):
        for delivery in (f"delivery-{n}", f"replayed-{n}"):
            response = post(client, item["event"], item["body"], item["signature"], delivery)
            assert 200 <= response.status_code < 300, (n, item["event"], response.get_body()[:300])
    assert snapshot(repos) == everything and client.started == started
    assert installation_registry(_runtime.services().docs) == installed, "replayed installation events change nothing"
    print(f"official webhook examples handled as documented: {tally['as documented']} of {len(signed)}"
          f" ({len(corpus)} from {len(indexes())} corpora, {len(signed) - len(corpus)} derived); replays changed nothing")
