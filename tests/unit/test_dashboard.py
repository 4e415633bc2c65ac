"""The maintainer dashboard through the registered Function app routes, with the embedded stores.

Authentication (token sessions, App Service Authentication identities), CSRF and field checks,
the review action (feedback, auto-tuning hook, retraining singleton), escaping, the page's
contents, the loopback server and the ``triage dashboard`` command.
"""

from __future__ import annotations

import json
import os
import re
import stat
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import azure.functions as func
import pytest

from functions import _runtime
from tests.conftest import ROOT, app_functions, user_function
from tests.durable_double import FakeDurableClient, call_with_client
from triage.app.bootstrap import Services, build_services
from triage.app.labeling import record_decision
from triage.app.repo_settings import record_config_error
from triage.app.settings import Config
from triage.domain.errors import ConfigError
from triage.domain.policy import Decision
from triage.domain.repo_config import parse_repo_config
from triage.learning.feedback import record_review
from triage.learning.registry import write_pointer
from triage.learning.tuning import auto_tune, remember_config
from triage.ports.layout import model_prefix
from triage.ports.records import FEEDBACK, MODELS, RUNS
from triage.web.auth import COOKIE, SECRETS_FILE, DashboardAuth
from triage.web.handlers import auth_for, handle_dashboard
from triage.web.http import WebRequest, WebResponse
from triage.web.local_server import LocalServer, router
from triage.web.page import precision_chart
from triage.web.throttle import LOGIN_THROTTLE
from triage.web.view import dashboard_view

REPO = "octo/widgets"
TOKEN = "local-dashboard-token-0123456789"
BASE = "http://localhost:7071/api/dashboard"
THRESHOLDS = {"bug": 0.9, "feature": 0.92, "docs": 1.01}
DASHBOARD_SETTINGS = ("TRIAGE_DASHBOARD_AUTH", "TRIAGE_DASHBOARD_TOKEN", "TRIAGE_DASHBOARD_SECRET",
                      "TRIAGE_DASHBOARD_MAINTAINERS", "TRIAGE_STORAGE", "TRIAGE_STORAGE__blobServiceUri",
                      "TRIAGE_COSMOS", "TRIAGE_AUTO_TUNE", "WEBSITE_AUTH_ENABLED")


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for key in DASHBOARD_SETTINGS:
        monkeypatch.delenv(key, raising=False)
    for key, value in {"TRIAGE_HOME": str(tmp_path), "TRIAGE_REPOSITORIES": f"{REPO},octo/gadgets",
                       "TRIAGE_RETRAIN_AFTER": "3", "TRIAGE_DASHBOARD_TOKEN": TOKEN}.items():
        monkeypatch.setenv(key, value)
    _runtime.services.cache_clear()
    LOGIN_THROTTLE.reset()
    yield tmp_path
    _runtime.services.cache_clear()
    LOGIN_THROTTLE.reset()


def png(width: int = 2, height: int = 1) -> bytes:
    """A real (tiny, grey) PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def seed(s: Services, card: bool = True, reason: str = "above threshold") -> None:
    """A promoted model v1 (manifest, pointer, promotion record, optional card) and four decisions."""
    manifest = {"repo": REPO, "version": "v1", "dataset_version": "ds-abc", "created_at": "2025-01-02T03:04:05+00:00",
                "training": {"train_size": 321}, "thresholds": {"per_label": THRESHOLDS},
                "metrics": {"test": {"raw": {"accuracy": 0.8125, "macro_f1": 0.7071, "micro_f1": 0.8},
                                     "at_thresholds": {"coverage": 0.55, "precision_when_labeled": 0.9333}}}}
    s.blobs.put(f"{model_prefix(REPO, 'v1')}/manifest.json", json.dumps(manifest).encode())
    if card:
        s.blobs.put(f"{model_prefix(REPO, 'v1')}/precision_coverage.png", png(3))
        s.blobs.put(f"{model_prefix(REPO, 'v1')}/confusion_matrix.png", png(4))
    write_pointer(s.blobs, REPO, "v1", None, None, "first model")
    s.docs.upsert(MODELS, {"id": "v1", "repo": REPO, "status": "promoted", "reason": "no champion yet",
                           "gate_scores": {"candidate": {"accuracy": 0.8125, "macro_f1": 0.7071}, "champion": None}})
    for number, label, score in ((11, "bug", 0.97), (12, "feature", 0.93), (13, "bug", 0.95)):
        record_decision(s.docs, Decision(REPO, number, ((label, score),), (reason,), ((label, score),), "v1"), dry_run=False)
    record_decision(s.docs, Decision(REPO, 14, (), ("no label reached its threshold",),
                                     (("bug", 0.41), ("docs", 0.3)), "v1"))


def get(params: dict[str, str] | None = None, headers: dict[str, str] | None = None, url: str = BASE) -> func.HttpResponse:
    return user_function("dashboard")(func.HttpRequest("GET", url, params=params or {}, headers=headers or {}, body=b""))


def login() -> dict[str, str]:
    response = get({"token": TOKEN})
    assert response.status_code == 303, response.get_body()
    return {"Cookie": response.headers["Set-Cookie"].split(";")[0]}


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the page has no review form"
    return match.group(1)


def post(fields: dict[str, str], headers: dict[str, str], client: FakeDurableClient | None = None) -> func.HttpResponse:
    request = func.HttpRequest("POST", f"{BASE}/review", body=urlencode(fields).encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Host": "localhost:7071", **headers})
    return call_with_client("dashboard_review", client or FakeDurableClient(), req=request)


def review_fields(page: str, number: int = 11, label: str = "bug", verdict: str = "confirm") -> dict[str, str]:
    return {"repo": REPO, "number": str(number), "label": label, "verdict": verdict, "csrf": csrf_of(page)}


# --- authentication --------------------------------------------------------------------------------------------

def test_the_routes_are_anonymous_at_the_functions_level_and_checked_in_code() -> None:
    for name, route, method in (("dashboard", "dashboard", "GET"), ("dashboard_review", "dashboard/review", "POST")):
        trigger = next(b for b in json.loads(app_functions()[name].get_function_json())["bindings"]
                       if b["type"] == "httpTrigger")
        assert (trigger["route"], trigger["methods"], trigger["authLevel"]) == (route, [method], "ANONYMOUS")


def test_token_login_sets_a_signed_session_cookie_and_drops_the_token_from_the_url(env: Path) -> None:
    seed(_runtime.services())
    response = get({"token": TOKEN, "repo": REPO})
    assert response.status_code == 303
    assert response.headers["Location"] == "/api/dashboard?repo=octo%2Fwidgets"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and TOKEN not in cookie
    attributes = {part.strip().split("=")[0] for part in cookie.split(";")[1:]}
    assert {"Path", "HttpOnly", "SameSite", "Max-Age"} <= attributes and "Secure" not in attributes
    assert "SameSite=Strict" in cookie and "Path=/api/dashboard" in cookie
    assert "Secure" in get({"token": TOKEN}, url=BASE.replace("http:", "https:")).headers["Set-Cookie"]

    page = get({"repo": REPO}, {"Cookie": cookie.split(";")[0]})
    assert page.status_code == 200 and "signed in as token-holder" in page.get_body().decode()
    assert TOKEN not in page.get_body().decode()

    wrong = get({"token": TOKEN[:-1] + "x"})
    assert wrong.status_code == 401 and "Set-Cookie" not in wrong.headers
    assert "token in the URL is wrong" in wrong.get_body().decode()


def auth_from(variables: dict[str, str], home: Path) -> DashboardAuth:
    """The dashboard's authentication for these settings (read like the app reads them)."""
    config = Config.from_env({**variables, "TRIAGE_HOME": str(home)})
    return DashboardAuth.from_settings(config.dashboard, home, embedded=config.storage.embedded)


def test_without_a_valid_session_the_page_explains_how_to_log_in(env: Path) -> None:
    response = get()
    assert response.status_code == 401 and "triage dashboard" in response.get_body().decode()
    assert response.headers["Cache-Control"] == "no-store"
    value = login()["Cookie"]
    payload, mac = value.split("=", 1)[1].split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    assert get(headers={"Cookie": f"{COOKIE}={forged}.{mac}"}).status_code == 401
    assert get(headers={"Cookie": f"{COOKIE}={payload}.{'0' * 64}"}).status_code == 401
    # A session signed with another token's key is refused.
    other = auth_from({"TRIAGE_DASHBOARD_TOKEN": "another-token-0123456789"}, env)
    foreign = other.login("another-token-0123456789", WebRequest("GET", "/api/dashboard"))
    assert foreign and get(headers={"Cookie": foreign.split(";")[0]}).status_code == 401


def test_sessions_expire(env: Path) -> None:
    s = _runtime.services()
    auth = auth_for(s)
    cookie = auth.login(TOKEN, WebRequest("GET", "/api/dashboard"), now=time.time() - auth.session_seconds - 5)
    assert cookie is not None
    response = handle_dashboard(s, WebRequest("GET", "/api/dashboard", headers={"cookie": cookie.split(";")[0]}), auth)
    assert response.status == 401 and "expired" in response.text


def test_embedded_app_without_a_token_generates_one_kept_private(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIAGE_DASHBOARD_TOKEN")
    first = auth_from(dict(os.environ), env)
    secrets_file = env / SECRETS_FILE
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert len(first.token) >= 24 and auth_from(dict(os.environ), env).token == first.token
    _runtime.services.cache_clear()
    response = get({"token": first.token})
    cookie = response.headers["Set-Cookie"].split(";")[0]
    assert response.status_code == 303 and get(headers={"Cookie": cookie}).status_code == 200


def test_a_cloud_app_without_a_token_or_easyauth_is_disabled(env: Path) -> None:
    auth = auth_from({"TRIAGE_STORAGE__blobServiceUri": "https://acct.blob.core.windows.net/",
                      "TRIAGE_STORAGE__queueServiceUri": "https://acct.queue.core.windows.net/"}, env)
    response = handle_dashboard(_runtime.services(), WebRequest("GET", "/api/dashboard", {"token": "x"}), auth)
    assert response.status == 503
    assert "dashboard disabled: set TRIAGE_DASHBOARD_TOKEN or TRIAGE_DASHBOARD_AUTH=easyauth" in response.text
    assert not (env / SECRETS_FILE).exists()
    bad = auth_from({"TRIAGE_DASHBOARD_AUTH": "keys"}, env)
    assert handle_dashboard(_runtime.services(), WebRequest("GET", "/api/dashboard"), bad).status == 503


def test_an_unresolved_key_vault_reference_is_never_used_as_a_key(env: Path) -> None:
    reference = "@Microsoft.KeyVault(SecretUri=https://kv-abc.vault.azure.net/secrets/triage-dashboard-secret)"
    for settings in ({"TRIAGE_DASHBOARD_AUTH": "easyauth", "WEBSITE_AUTH_ENABLED": "True",
                      "TRIAGE_DASHBOARD_SECRET": reference},
                     {"TRIAGE_DASHBOARD_TOKEN": reference}):
        auth = auth_from(settings, env)
        response = handle_dashboard(_runtime.services(), WebRequest("GET", "/api/dashboard", {"token": reference}), auth)
        assert response.status == 503 and "unresolved Key Vault reference" in response.text
    hook = build_services({"TRIAGE_HOME": str(env), "TRIAGE_WEBHOOK_SECRET": reference.replace("dashboard", "webhook")})
    assert hook.app.webhook_secret == ""  # the webhook then answers 500 "not configured" instead of trusting the text


def test_easyauth_admits_only_listed_maintainers(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(_runtime.services())
    monkeypatch.setenv("TRIAGE_DASHBOARD_AUTH", "easyauth")
    monkeypatch.setenv("TRIAGE_DASHBOARD_MAINTAINERS", "Alice@Example.com, 0000-oid-bob")
    monkeypatch.setenv("TRIAGE_DASHBOARD_SECRET", "a-long-random-signing-secret")
    _runtime.services.cache_clear()
    alice = {"X-MS-CLIENT-PRINCIPAL-NAME": "alice@example.com", "X-MS-CLIENT-PRINCIPAL-ID": "oid-a"}
    spoofed = get({"repo": REPO}, alice)
    assert spoofed.status_code == 503 and "App Service Authentication is not enabled" in spoofed.get_body().decode()
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")  # what App Service sets when the feature is on
    _runtime.services.cache_clear()
    anonymous = get({"token": TOKEN})
    assert anonymous.status_code == 401 and "App Service Authentication" in anonymous.get_body().decode()
    assert 'href="/.auth/login/aad?post_login_redirect_uri=/api/dashboard"' in anonymous.get_body().decode()
    assert "Set-Cookie" not in anonymous.headers, "no token login in easyauth mode"
    stranger = get(headers={"X-MS-CLIENT-PRINCIPAL-NAME": "mallory@example.com", "X-MS-CLIENT-PRINCIPAL-ID": "x"})
    assert stranger.status_code == 403 and "TRIAGE_DASHBOARD_MAINTAINERS" in stranger.get_body().decode()
    page = get({"repo": REPO}, alice)
    assert page.status_code == 200 and "signed in as alice@example.com" in page.get_body().decode()
    assert get(headers={"x-ms-client-principal-id": "0000-OID-BOB"}).status_code == 200

    # Confirm as alice: the feedback names her; a CSRF token of hers does not work for bob.
    fields = review_fields(page.get_body().decode())
    bob = {"X-MS-CLIENT-PRINCIPAL-ID": "0000-oid-bob"}
    assert post(fields, bob).status_code == 403
    assert post(fields, alice).status_code == 303
    (record,) = _runtime.services().docs.query(FEEDBACK, REPO)
    assert (record["actor"], record["verdict"], record["source"]) == ("alice@example.com", "confirmed", "review")
    monkeypatch.delenv("TRIAGE_DASHBOARD_SECRET")
    _runtime.services.cache_clear()
    disabled = get(headers=alice)
    assert disabled.status_code == 503 and "TRIAGE_DASHBOARD_SECRET" in disabled.get_body().decode()


# --- the review action -----------------------------------------------------------------------------------------

def test_review_refuses_posts_without_auth_or_csrf(env: Path) -> None:
    seed(_runtime.services())
    cookie = login()
    page = get({"repo": REPO}, cookie).get_body().decode()
    fields = review_fields(page)
    assert post(fields, {}).status_code == 401
    assert post({**fields, "csrf": ""}, cookie).status_code == 403
    tampered = fields["csrf"][:-1] + ("1" if fields["csrf"].endswith("0") else "0")
    assert post({**fields, "csrf": tampered}, cookie).status_code == 403
    other_session = login()
    assert post(fields, other_session).status_code == 403, "a CSRF token belongs to its session"
    assert post(fields, {**cookie, "Origin": "https://evil.example"}).status_code == 403
    assert post(fields, {**cookie, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert post(fields, {**cookie, "Origin": "null"}).status_code == 403
    assert post(fields, {**cookie, "Origin": "null", "Sec-Fetch-Site": "same-site"}).status_code == 403
    assert _runtime.services().docs.query(FEEDBACK, REPO) == []
    ok = post(fields, {**cookie, "Origin": "http://localhost:7071", "Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 303 and ok.headers["Location"] == "/api/dashboard?repo=octo%2Fwidgets#review"
    # What Chromium sends for a form on a page with Referrer-Policy: no-referrer.
    again = post(fields | {"number": "13"}, {**cookie, "Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert again.status_code == 303 and len(_runtime.services().docs.query(FEEDBACK, REPO)) == 2


@pytest.mark.parametrize(("change", "status", "message"), [
    ({"repo": "someone/else"}, 400, "not a repository of this app"),
    ({"repo": ""}, 400, "lacks repo"),
    ({"number": "12abc"}, 400, "not a positive integer"),
    ({"number": "-3"}, 400, "not a positive integer"),
    ({"verdict": "maybe"}, 400, "must be one of confirm, reject"),
    ({"label": "bug\nx"}, 400, "not a label name"),
    ({"label": "feature"}, 404, "no prediction of &#x27;feature&#x27;"),
    ({"number": "99"}, 404, "has no prediction"),
])
def test_review_validates_every_field(env: Path, change: dict[str, str], status: int, message: str) -> None:
    seed(_runtime.services())
    cookie = login()
    fields = review_fields(get({"repo": REPO}, cookie).get_body().decode()) | change
    response = post(fields, cookie)
    assert response.status_code == status and message in response.get_body().decode()
    assert _runtime.services().docs.query(FEEDBACK, REPO) == []


def test_confirm_and_reject_record_feedback_and_start_training_once_when_due(env: Path) -> None:
    s = _runtime.services()
    seed(s)
    cookie = login()
    client = FakeDurableClient()
    for number, label, verdict in ((11, "bug", "confirm"), (12, "feature", "reject")):
        page = get({"repo": REPO}, cookie).get_body().decode()
        assert post(review_fields(page, number, label, verdict), cookie, client).status_code == 303
    verdicts = {(f["number"], f["verdict"], f["actor"]) for f in s.docs.query(FEEDBACK, REPO)}
    assert verdicts == {(11, "confirmed", "token-holder"), (12, "corrected", "token-holder")}
    assert client.started == [], "TRIAGE_RETRAIN_AFTER=3 not reached"
    page = get({"repo": REPO}, cookie).get_body().decode()
    assert ">#11<" not in page.split('id="review"')[1].split("</section>")[0], "judged items leave the queue"
    assert post(review_fields(page, 13, "bug"), cookie, client).status_code == 303
    assert client.started == [("training_orchestrator", "train:octo/widgets",
                                {"repo": REPO, "reason": "review", "poll_seconds": 60.0, "deadline_minutes": 240.0})]
    client.running.add("train:octo/widgets")
    record_review(s.docs, REPO, 11, "bug", "reject", "someone")  # change of mind: still a fresh review
    assert post(review_fields(page, 13, "bug", "reject"), cookie, client).status_code == 303
    assert len(client.started) == 1, "the training orchestration is a singleton"


def test_review_runs_auto_tuning(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_AUTO_TUNE", "true")
    monkeypatch.setenv("TRIAGE_AUTO_TUNE_MIN_DECISIONS", "1")
    _runtime.services.cache_clear()
    s = _runtime.services()
    seed(s)
    cookie = login()
    page = get({"repo": REPO}, cookie).get_body().decode()
    assert post(review_fields(page, 12, "feature", "reject"), cookie).status_code == 303
    page = get({"repo": REPO}, cookie).get_body().decode()
    labels = page.split('id="labels"')[1].split("</section>")[0]
    assert re.search(r"<td>feature</td>.*?0\.97.*?auto-tuned", labels), "threshold 0.92 raised by one step"
    assert "threshold 0.92 -&gt; 0.97" in page.split('id="tuning"')[1]


# --- what the page shows ---------------------------------------------------------------------------------------

def test_page_shows_model_card_live_precision_decisions_runs_and_queues(env: Path) -> None:
    s = _runtime.services()
    seed(s)
    record_review(s.docs, REPO, 11, "bug", "confirm", "alice")
    record_review(s.docs, REPO, 12, "feature", "reject", "bob")
    s.docs.upsert(RUNS, {"id": "v2", "repo": REPO, "state": "running", "dataset_version": "ds-new",
                         "started_at": "2025-02-01T00:00:00+00:00"})
    s.queue.send({"repo": REPO, "number": 20, "reason": "opened"})
    cookie = login()
    response = get({"repo": REPO}, cookie)
    page = response.get_body().decode()
    nonce = re.search(r"style-src 'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    assert f'<style nonce="{nonce}">' in page and "<script" not in page
    for header, value in (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                          ("Cache-Control", "no-store")):
        assert response.headers[header] == value
    csp = response.headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "img-src data:", "form-action 'self'", "frame-ancestors 'none'"):
        assert directive in csp

    model = page.split('id="model"')[1].split("</section>")[0]
    for text in ("v1", "2025-01-02 03:04 UTC", "321", "ds-abc", "0.812", "0.707", "55.0%", "93.3%",
                 "promoted", "no champion yet"):
        assert text in model, text
    assert page.count("data:image/png;base64,") == 2
    assert 'id="precision-chart"' in page and 'data-label="__all__"' in page and 'data-label="feature"' in page
    assert re.search(r'id="live-precision">50\.0%<', page)
    decisions = page.split('id="decisions"')[1].split("</section>")[0]
    assert re.search(r"#11<.*?applied.*?confirmed bug", decisions)
    assert re.search(r"#12<.*?corrected feature", decisions)
    assert re.search(r"#14<.*?top:.*?bug 0\.41.*?abstained.*?no label reached its threshold.*?pending", decisions)
    runs = page.split('id="runs"')[1].split("</section>")[0]
    assert "ds-new" in runs and re.search(r'id="queue-depth">1<', runs)
    labels = page.split('id="labels"')[1].split("</section>")[0]
    assert re.search(r"<td>docs</td>.*?never", labels)
    review = page.split('id="review"')[1].split("</section>")[0]
    assert "Review queue (1)" in review and ">#13<" in review


def test_a_model_without_card_and_several_repositories(env: Path) -> None:
    s = _runtime.services()
    seed(s, card=False)
    cookie = login()
    page = get({"repo": REPO}, cookie).get_body().decode()
    assert "no model card for this model" in page and "data:image/png" not in page
    assert '<option value="octo/gadgets">' in page and '<option value="octo/widgets" selected>' in page
    first = get(headers=cookie).get_body().decode()
    assert "Issue labeler · octo/gadgets" in first and "No model has been promoted yet." in first
    unknown = get({"repo": "<b>x</b>"}, cookie)
    assert unknown.status_code == 404 and "&lt;b&gt;x&lt;/b&gt;" in unknown.get_body().decode()


def test_everything_stored_is_escaped(env: Path) -> None:
    s = _runtime.services()
    seed(s, reason='<script>alert("reason")</script>')
    evil = '"><img src=x onerror=alert(1)>'
    record_decision(s.docs, Decision(REPO, 15, ((evil, 0.99),), ("ok",), ((evil, 0.99),), "v1"))
    page = get({"repo": REPO}, login()).get_body().decode()
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;reason&quot;)&lt;/script&gt;" in page
    assert 'value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"' in page


def test_an_invalid_repository_config_shows_on_the_page_escaped(env: Path) -> None:
    s = _runtime.services()
    seed(s)
    assert "config-error" not in get({"repo": REPO}, login()).get_body().decode()
    record_config_error(s.docs, REPO, ConfigError(f"{REPO}:.github/issue-triage.yml: max_labels must be a whole "
                                                  "number, got '<b>many</b>'"))
    page = get({"repo": REPO}, login()).get_body().decode()
    assert 'id="config-error"' in page and "max_labels must be a whole number" in page and "<b>many" not in page
    record_config_error(s.docs, REPO, None)
    assert "config-error" not in get({"repo": REPO}, login()).get_body().decode()


def test_dashboard_view_is_plain_data(env: Path) -> None:
    s = _runtime.services()
    seed(s)
    record_review(s.docs, REPO, 12, "feature", "reject", "bob")
    changes = auto_tune(s.docs, REPO, "v1", THRESHOLDS, target=0.9, min_decisions=1, step=0.05)
    view = dashboard_view(s, REPO)
    json.dumps(view)  # serialisable: nothing but data
    assert view["model"]["train_size"] == 321 and view["live"]["per_label"]["feature"]["corrected"] == 1
    assert view["tuning"][0]["label"] == "feature" == changes[0]["label"]
    feature = next(r for r in view["labels"] if r["label"] == "feature")
    assert (feature["threshold"], feature["state"]) == (0.97, "auto-tuned")
    assert [d["number"] for d in view["decisions"]][:1] and {r["number"] for r in view["review"]} == {11, 13}
    remember_config(s.docs, REPO, parse_repo_config("thresholds: {default: 0.5, per_label: {bug: 0.8}}"))
    rows = {r["label"]: r for r in dashboard_view(s, REPO)["labels"]}
    assert (rows["bug"]["threshold"], rows["bug"]["state"]) == (0.8, "pinned")
    assert rows["feature"]["state"] == "auto-tuned"
    assert {(r["threshold"], r["state"]) for name, r in rows.items() if name not in ("bug", "feature")} <= {
        (0.5, "repository default")}


def test_the_chart_is_server_rendered_svg() -> None:
    series = {"__all__": [{"day": "2025-03-01", "precision": 1.0, "judged": 2},
                          {"day": "2025-03-04", "precision": 0.5, "judged": 4}],
              "bug": [{"day": "2025-03-04", "precision": 0.5, "judged": 4}]}
    svg = precision_chart(series, 0.9)
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and svg.count("<circle") == 3
    assert "target 90%" in svg and "2025-03-01" in svg and "bug 2025-03-04: 50.0% of 4 judged" in svg
    assert "No judged decisions" in precision_chart({}, 0.9)


# --- the loopback server and the command line -------------------------------------------------------------------

def test_localweb_serves_a_handler_on_loopback() -> None:
    seen: list[WebRequest] = []

    def echo(request: WebRequest) -> WebResponse:
        seen.append(request)
        return WebResponse(201, json.dumps(request.form()).encode(), {"Set-Cookie": "a=b; Path=/x"})

    with LocalServer(router({("POST", "/x"): echo})) as server:
        assert server.url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(f"{server.url}/x?q=1", data=b"k=v&k=w&e=%3Cb%3E", method="POST",
                                         headers={"X-Test": "yes"})
        with urllib.request.urlopen(request) as response:
            assert response.status == 201 and json.loads(response.read()) == {"k": "v", "e": "<b>"}
            assert response.headers["Set-Cookie"] == "a=b; Path=/x"
        assert seen[0].query == {"q": "1"} and seen[0].header("x-test") == "yes"
        for path, method, status in (("/x", "GET", 405), ("/nope", "GET", 404)):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(urllib.request.Request(server.url + path, method=method))
            assert info.value.code == status
            info.value.close()


def test_triage_dashboard_serves_the_embedded_stores(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in DASHBOARD_SETTINGS and not k.startswith("TRIAGE_")}
    process = subprocess.Popen([sys.executable, "-m", "triage.cli", "--home", str(tmp_path), "dashboard", "--port", "0"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not any("token=" in line for line in lines):
            line = process.stdout.readline()
            assert line, f"triage dashboard exited: {''.join(lines)}"
            lines.append(line)
        login_url = re.search(r"(http://127\.0\.0\.1:\d+/api/dashboard\?token=\S+)", "".join(lines)).group(1)
        token = json.loads((tmp_path / SECRETS_FILE).read_text())["token"]
        assert login_url.endswith(f"token={token}")
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        with opener.open(login_url) as response:
            page = response.read().decode()
            assert response.url == login_url.split("?")[0] and "No repository yet" in page
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()
