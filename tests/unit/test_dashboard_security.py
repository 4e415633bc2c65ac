"""The dashboard against hostile requests, through the registered Function app (issue #13, item 16-17).

CSRF tokens of any text, origins vouched for by forwarding headers, redirects built from hostile paths,
and repeated wrong sign-in tokens (throttled per client address and for everyone, answered 429).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import azure.functions as func
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions import _runtime
from tests.conftest import user_function
from tests.durable_double import FakeDurableClient, call_with_client
from tests.unit import test_dashboard
from tests.unit.test_dashboard import BASE, REPO, TOKEN, get, login, post, review_fields, seed
from triage.domain.errors import ConfigError
from triage.ports.records import FEEDBACK, MODELS
from triage.web.auth import SECRETS_FILE, local_secrets
from triage.web.http import redirect, safe_location
from triage.web.throttle import FREE_FAILURES, GLOBAL_BURST, LoginThrottle, client_address

env = test_dashboard.env  # the same fixture: embedded stores under tmp_path, a token, two repositories

PROPERTY = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)


def page_and_cookie() -> tuple[str, dict[str, str]]:
    if _runtime.services().docs.get(MODELS, REPO, "v1") is None:
        seed(_runtime.services())
    cookie = login()
    return get({"repo": REPO}, cookie).get_body().decode(), cookie


# --- CSRF tokens ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("csrf", ["\u00b2\u00b3.", "\u00b2\u00b3.abc", "\u0663" * 10 + ".x", "\uff11\uff12\uff13.x",
                                  "9" * 5000 + ".x", "-1.x", "+99999999999.x", " 1.x", ".", "..", "1e9.x", "0x10.x",
                                  "\x00.x", "99999999999999999999.", "\U0001d7ff.x"])
def test_a_csrf_token_of_odd_digits_is_refused_with_403_not_500(env: Path, csrf: str) -> None:
    page, cookie = page_and_cookie()
    response = post(review_fields(page) | {"csrf": csrf}, cookie)
    assert response.status_code == 403 and "CSRF token" in response.get_body().decode()
    assert _runtime.services().docs.query(FEEDBACK, REPO) == []


@PROPERTY
@given(csrf=ANY_TEXT, body_extra=st.binary(max_size=64))
def test_any_review_post_is_answered_without_an_exception(env: Path, csrf: str, body_extra: bytes) -> None:
    page, cookie = page_and_cookie()
    fields = review_fields(page) | {"csrf": csrf}
    assert post(fields, cookie).status_code in (303, 403)
    raw = func.HttpRequest("POST", f"{BASE}/review", body=body_extra, headers={**cookie, "Host": "localhost:7071"})
    assert call_with_client("dashboard_review", FakeDurableClient(), req=raw).status_code in (400, 403)


@pytest.mark.parametrize("number", ["0" * 5000 + "1", "\u0661", "1" * 10, "+1", " 1"])
def test_an_odd_issue_number_in_a_review_is_a_400(env: Path, number: str) -> None:
    page, cookie = page_and_cookie()
    response = post(review_fields(page) | {"number": number}, cookie)
    assert response.status_code == 400 and "not a positive integer" in response.get_body().decode()


# --- the origin check -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", ["X-Forwarded-Host", "X-Original-Host", "Disguised-Host", "Forwarded"])
def test_forwarding_headers_sent_by_the_client_do_not_vouch_for_an_origin(env: Path, header: str) -> None:
    page, cookie = page_and_cookie()
    vouched = {**cookie, "Origin": "https://evil.example", header: "evil.example"}
    response = post(review_fields(page), vouched)
    assert response.status_code == 403 and "another origin" in response.get_body().decode()
    assert _runtime.services().docs.query(FEEDBACK, REPO) == []


@pytest.mark.parametrize(("origin", "host", "status"), [
    ("http://localhost:7071", "localhost:7071", 303),
    ("http://LOCALHOST:7071", "localhost:7071", 303),
    ("http://localhost", "localhost:80", 303),
    ("http://localhost:80", "localhost", 303),
    ("https://localhost:7071", "localhost:7071", 403),  # another scheme is another origin
    ("http://localhost:7072", "localhost:7071", 403),
    ("http://localhost:7071.evil.example", "localhost:7071", 403),
    ("http://evil.example@localhost:7071", "localhost:7071", 403),
    ("http://localhost:99999", "localhost:7071", 403),
    ("http://[::1", "localhost:7071", 403),
    ("javascript:alert(1)", "localhost:7071", 403),
    ("http://localhost:7071", "", 403),
])
def test_the_origin_must_be_this_host(env: Path, origin: str, host: str, status: int) -> None:
    page, cookie = page_and_cookie()
    response = post(review_fields(page), {**cookie, "Origin": origin, "Host": host})
    assert response.status_code == status, response.get_body()[:300]


# --- redirects --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["//evil.example/api/dashboard", "/\\evil.example/api/dashboard",
                                  "/%2F%2Fevil.example/api/dashboard", "//evil.example", "/api/dashboard/../..//x"])
def test_the_sign_in_redirect_is_the_fixed_dashboard_path(env: Path, path: str) -> None:
    response = get({"token": TOKEN, "repo": "//evil.example"}, url=f"http://localhost:7071{path}")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location == "/api/dashboard?repo=%2F%2Fevil.example" and safe_location(location)
    assert "Path=/api/dashboard;" in response.headers["Set-Cookie"]


def test_review_redirect_and_forms_use_the_fixed_path(env: Path) -> None:
    page, cookie = page_and_cookie()
    request = func.HttpRequest("POST", "http://localhost:7071//evil.example/review",
                               body=b"&".join(f"{k}={v}".encode() for k, v in review_fields(page).items()),
                               headers={**cookie, "Host": "localhost:7071"})
    response = call_with_client("dashboard_review", FakeDurableClient(), req=request)
    assert response.status_code == 303 and response.headers["Location"].startswith("/api/dashboard?repo=")
    hostile = get({"repo": REPO}, cookie, url="http://localhost:7071//evil.example/x").get_body().decode()
    assert 'action="/api/dashboard/review"' in hostile and "evil.example" not in hostile


@PROPERTY
@given(path=ANY_TEXT, repo=ANY_TEXT)
def test_every_login_redirect_is_a_same_site_path(env: Path, path: str, repo: str) -> None:
    url = "http://localhost:7071/" + quote(path, safe="/\\@:%;,")
    response = user_function("dashboard")(func.HttpRequest("GET", url, params={"token": TOKEN, "repo": repo}, body=b""))
    location = response.headers["Location"]
    assert response.status_code == 303 and safe_location(location)
    assert location == "/api/dashboard" + (f"?{urlencode({'repo': repo})}" if repo else "")


@pytest.mark.parametrize("location", ["//x", "/\\x", "/%2F/x", "/%5Cx", "/a\\b", "/a\r\nLocation: x", "/\u00e9",
                                      "https://evil.example/", "x", "", "/a b", "/%0d%0a"])
def test_an_unsafe_location_is_never_sent(location: str) -> None:
    assert not safe_location(location)
    with pytest.raises(ValueError):
        redirect(location)


# --- sign-in throttling -----------------------------------------------------------------------------------------

def wrong(client: str = "203.0.113.7:50123") -> func.HttpResponse:
    return get({"token": TOKEN[:-1] + "!"}, {"Client-IP": client})


def test_wrong_tokens_are_throttled_per_client_with_retry_after(env: Path) -> None:
    for _ in range(FREE_FAILURES):
        assert wrong().status_code == 401
    assert wrong().status_code == 401  # the sixth wrong token locks the address for a second...
    locked = wrong()
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 1
    assert "too many wrong sign-in tokens" in locked.get_body().decode()
    right = get({"token": TOKEN}, {"Client-IP": "203.0.113.7:50999"})  # same address, another port
    assert right.status_code == 429 and "Set-Cookie" not in right.headers, "a locked-out guess tells nothing"
    assert wrong("198.51.100.1:1").status_code == 401, "another address is not locked out"
    time.sleep(int(locked.headers["Retry-After"]) + 0.1)
    assert get({"token": TOKEN}, {"Client-IP": "203.0.113.7:1"}).status_code == 303
    assert wrong().status_code == 401, "a right token clears the address's record"


def test_wrong_tokens_from_many_addresses_are_throttled_together(env: Path) -> None:
    statuses = [wrong(f"198.51.100.{n}").status_code for n in range(GLOBAL_BURST + 1)]
    assert statuses[:GLOBAL_BURST] == [401] * GLOBAL_BURST and statuses[-1] == 429
    assert int(wrong("192.0.2.200").headers["Retry-After"]) >= 1


def test_the_throttle_backs_off_exponentially_and_forgets_on_success() -> None:
    throttle = LoginThrottle(free_failures=2, base_lockout=1, max_lockout=60, burst=1000, per_minute=60)
    waits = [throttle.failed("a", now=0.0) for _ in range(10)]
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert throttle.retry_after("a", now=30.0) == 30 and throttle.retry_after("a", now=61.0) == 0
    throttle.succeeded("a")
    assert throttle.failed("a", now=100.0) == 0


def test_the_global_bucket_refills_and_memory_is_bounded() -> None:
    throttle = LoginThrottle(free_failures=10**6, burst=3, per_minute=60, max_clients=100)
    assert [throttle.failed(f"c{n}", now=0.0) for n in range(4)] == [0, 0, 1, 1]
    assert throttle.retry_after("new", now=0.5) == 1 and throttle.retry_after("new", now=1.0) == 0
    for n in range(5000):
        throttle.failed(f"spoofed-{n}", now=float(n))
    assert len(throttle._clients) <= 100


def test_the_throttle_counts_exactly_under_concurrency() -> None:
    throttle = LoginThrottle(free_failures=10**6, burst=10**6, per_minute=0.0)
    threads = [threading.Thread(target=lambda: [throttle.failed("x") for _ in range(500)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert throttle._clients["x"].failures == 4000 and throttle._tokens == 10**6 - 4000


@pytest.mark.parametrize(("peer", "header", "key"), [
    ("127.0.0.1", "6.6.6.6", "127.0.0.1"), ("", "203.0.113.7:443", "203.0.113.7"), ("", "[2001:db8::1]:443", "2001:db8::1"),
    ("", "2001:db8::1", "2001:db8::1"), ("", None, "unknown"), ("", "  ", "unknown")])
def test_the_throttled_address_is_the_peer_or_app_services_client_ip(peer: str, header: str | None, key: str) -> None:
    assert client_address(peer, header) == key


# --- the embedded secrets file ----------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"{", b"[]", b"[" * 4000, b'{"token": 1, "secret": 2}',
                                     b'{"token": "short", "secret": "s"}', b"\xff\xfe", b"[" * 100_000,
                                     b'{"token": "' + b"a" * 5000 + b'"}'])
def test_a_damaged_secrets_file_disables_the_dashboard_with_the_fix(env: Path, content: bytes,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (env / SECRETS_FILE).write_bytes(content)
    with pytest.raises(ConfigError, match="delete it"):
        local_secrets(env)
    monkeypatch.delenv("TRIAGE_DASHBOARD_TOKEN")
    _runtime.services.cache_clear()
    response = get()
    assert response.status_code == 503 and SECRETS_FILE in response.get_body().decode()


def test_secrets_are_made_whole_once_by_concurrent_processes(tmp_path: Path) -> None:
    results: list[tuple[str, bytes]] = []
    threads = [threading.Thread(target=lambda: results.append(local_secrets(tmp_path / "home"))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16 and len(set(results)) == 1
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == [SECRETS_FILE], "no draft is left behind"
    assert urlsplit(BASE).path == "/api/dashboard"
