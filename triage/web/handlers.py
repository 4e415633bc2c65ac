"""The dashboard's two handlers: ``GET /api/dashboard[?repo=owner/name]`` shows one repository (see
:mod:`triage.web.view`); ``POST /api/dashboard/review`` carries out a maintainer's Confirm, Apply on GitHub or
Reject of a predicted label (:mod:`triage.app.review`).

The Functions triggers (``functions/dashboard.py``) and the local server (:mod:`triage.web.local_server`)
only translate HTTP to :class:`~triage.web.http.WebRequest` and :class:`~triage.web.http.WebResponse`.
Every request is authenticated here (:mod:`triage.web.auth`), every POST is CSRF-checked, every field
validated.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from urllib.parse import quote, urlencode

from triage.app.bootstrap import Services
from triage.app.learning_loop import after_feedback, retrain_due
from triage.app.review import VERDICTS, review
from triage.app.status import repositories
from triage.domain.errors import ConcurrencyError, GitHubError, InputError, NotFoundError
from triage.web.auth import COOKIE_PATH, DashboardAuth, Denied
from triage.web.http import (
    WebRequest,
    WebResponse,
    error_response,
    page_response,
    redirect,
    status_for,
    too_many_requests,
)
from triage.web.page import render_dashboard
from triage.web.throttle import LOGIN_THROTTLE, LoginThrottle, client_address
from triage.web.view import dashboard_view

DASHBOARD_PATH = COOKIE_PATH  # the Functions route "dashboard" under the host's default "api" prefix
MAX_LABEL = 200
REVIEW_NOTICES = {
    "applied": "#{issue}: the label was applied on GitHub and counted as confirmed.",
    "rejected": "#{issue}: rejected (the label was not on GitHub, so nothing was removed).",
    "removed": "#{issue}: rejected, and the bot's label was removed from GitHub.",
    "would-remove": "#{issue}: rejected; dry run (TRIAGE_DRY_RUN), so the bot's label was left on GitHub.",
}


def _denied(denied: Denied, auth: DashboardAuth, base: str) -> WebResponse:
    if denied.status == 401 and auth.mode == "easyauth":
        # App Service Authentication's own sign-in endpoint, back to the dashboard afterwards.
        sign_in = f"/.auth/login/aad?post_login_redirect_uri={quote(base, safe='/')}"
        return error_response(401, denied.message, link=(sign_in, "Sign in with Microsoft Entra ID"))
    return error_response(denied.status, denied.message)


def auth_for(s: Services) -> DashboardAuth:
    """The dashboard's authentication from the app's settings."""
    return DashboardAuth.from_settings(s.config.dashboard, s.settings.home, embedded=s.config.storage.embedded)


def handle_dashboard(s: Services, request: WebRequest, auth: DashboardAuth | None = None,
                     throttle: LoginThrottle = LOGIN_THROTTLE) -> WebResponse:
    """``GET`` the dashboard: log in with ``?token=`` (token mode), else render the page for a maintainer."""
    auth = auth or auth_for(s)
    if request.method != "GET":
        return error_response(405, "use GET")
    if "token" in request.query and auth.mode == "token" and not auth.disabled:
        return _login(request, auth, throttle)
    session = auth.session(request)
    if isinstance(session, Denied):
        return _denied(session, auth, DASHBOARD_PATH)
    repos = repositories(s)
    repo = request.query.get("repo") or (repos[0] if repos else None)
    if repo is not None and repo not in repos:
        return error_response(404, f"no repository {repo!r} here; known: {', '.join(repos) or 'none'}")
    nonce = secrets.token_urlsafe(16)
    view = dashboard_view(s, repo) if repo else None
    page = render_dashboard(view, repos, identity=session.identity, csrf=auth.csrf_token(session), nonce=nonce,
                            base=DASHBOARD_PATH, notice=review_notice(request.query))
    return page_response(200, page, nonce)


def review_notice(query: Mapping[str, str]) -> str | None:
    """The line shown after a review action (``?done=…&issue=…``): only the known outcomes, never the query's text."""
    issue = query.get("issue", "")
    if query.get("done") not in REVIEW_NOTICES or not (issue.isascii() and issue.isdigit() and len(issue) < 10):
        return None
    return REVIEW_NOTICES[query["done"]].format(issue=int(issue))


def _login(request: WebRequest, auth: DashboardAuth, throttle: LoginThrottle) -> WebResponse:
    """Check ``?token=`` (throttled per client and globally); on success set the session and drop the token.

    The redirect goes to the fixed dashboard path, never to the request's: a path such as ``//evil.example/…``
    would be read by the browser as another site.
    """
    client = client_address(request.client, request.header("Client-IP"))
    wait = throttle.retry_after(client)
    if wait:
        return too_many_requests(wait, "too many wrong sign-in tokens from this address or from everyone; wait "
                                       "before trying again")
    cookie = auth.login(request.query["token"], request, path=DASHBOARD_PATH)
    if cookie is None:
        throttle.failed(client)
        return error_response(401, "the token in the URL is wrong", hint="Open the login URL that `triage dashboard` "
                              "printed, or use the value of TRIAGE_DASHBOARD_TOKEN.")
    throttle.succeeded(client)
    repo = request.query.get("repo")
    return redirect(DASHBOARD_PATH + (f"?{urlencode({'repo': repo})}" if repo else ""), **{"Set-Cookie": cookie})


def handle_review(s: Services, request: WebRequest,
                  auth: DashboardAuth | None = None) -> tuple[WebResponse, str | None]:
    """``POST`` a Confirm/Reject; returns the response and the repository whose retraining is now due, if any."""
    auth = auth or auth_for(s)
    if request.method != "POST":
        return error_response(405, "use POST"), None
    base = DASHBOARD_PATH
    session = auth.session(request)
    if isinstance(session, Denied):
        return _denied(session, auth, base), None
    try:
        form = request.form()
    except InputError as exc:
        return error_response(400, str(exc)), None
    refused = auth.check_post(session, request, form.get("csrf", ""))
    if refused:
        return _denied(refused, auth, base), None
    try:
        repo, number, label, verdict = _review_fields(form, repositories(s))
        outcome = review(s, repo, number, label, verdict, actor=session.identity)
    except (NotFoundError, InputError, ConcurrencyError, GitHubError) as exc:
        back = f"{base}?{urlencode({'repo': form.get('repo', '')})}#review" if form.get("repo") else base
        return error_response(status_for(exc), str(exc), link=(back, "Back to the review queue")), None
    after_feedback(s, repo, [outcome.record])
    due = retrain_due(s, repo)
    shown = {"repo": repo} | ({"done": outcome.done, "issue": str(number)} if outcome.done != "confirmed" else {})
    return redirect(f"{base}?{urlencode(shown)}#review"), (repo if due else None)


def _review_fields(form: Mapping[str, str], repos: list[str]) -> tuple[str, int, str, str]:
    missing = [name for name in ("repo", "number", "label", "verdict") if not form.get(name)]
    if missing:
        raise InputError(f"the review form lacks {', '.join(missing)}")
    repo, number, label, verdict = form["repo"], form["number"], form["label"], form["verdict"]
    if repo not in repos:
        raise InputError(f"{repo!r} is not a repository of this app; known: {', '.join(repos) or 'none'}")
    if not number.isascii() or not number.isdigit() or len(number) > 9 or not 0 < int(number) < 10**9:
        raise InputError(f"issue number {number!r} is not a positive integer")
    if len(label) > MAX_LABEL or not label.isprintable():
        raise InputError(f"label {label[:50]!r} is not a label name (printable, at most {MAX_LABEL} characters)")
    if verdict not in VERDICTS:
        raise InputError(f"verdict {verdict!r} must be one of {', '.join(VERDICTS)}")
    return repo, int(number), label, verdict


