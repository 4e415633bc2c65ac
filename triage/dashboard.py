"""The maintainer dashboard, framework-free: a request/response pair and the two handlers.

``GET /api/dashboard[?repo=owner/name]`` shows one repository (see :func:`dashboard_view`);
``POST /api/dashboard/review`` records a maintainer's Confirm/Reject of a predicted label. The
Functions triggers (``functions/dashboard.py``) and the local server (``triage.localweb``) only
translate HTTP to :class:`WebRequest` and :class:`WebResponse`. Every request is authenticated
here (:mod:`triage.dashboard_auth`), every POST is CSRF-checked, every field validated.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import parse_qsl, quote, urlencode

from . import jobs
from .bootstrap import Services
from .dashboard_auth import DashboardAuth, Denied
from .dashboard_page import render_dashboard, render_error
from .errors import InputError, NotFoundError
from .feedback import FEEDBACK, JUDGED, arrival, record_review, review_queue
from .labeler import PREDICTIONS
from .live import live_quality
from .queues import LABEL_REQUESTS
from .registry import MODELS, model_prefix, read_pointer
from .training import RUNS
from .tuning import current_overrides, known_config, tuning_history

MAX_BODY = 16 * 1024
MAX_LABEL = 200
VERDICTS = ("confirm", "reject")
CARD_IMAGES = ("precision_coverage", "confusion_matrix")
DECISIONS_SHOWN = 50


@dataclass(frozen=True)
class WebRequest:
    """An HTTP request as the dashboard sees it; header names are case-insensitive."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    scheme: str = "http"

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", {k.lower(): v for k, v in self.headers.items()})
        object.__setattr__(self, "method", self.method.upper())

    def header(self, name: str) -> str | None:
        """A header's value, or None."""
        return self.headers.get(name.lower())

    def cookie(self, name: str) -> str | None:
        """A cookie's value from the ``Cookie`` header, or None."""
        for part in (self.header("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    def form(self) -> dict[str, str]:
        """The ``application/x-www-form-urlencoded`` body (first value of each field)."""
        if len(self.body) > MAX_BODY:
            raise InputError(f"the form is larger than {MAX_BODY} bytes")
        try:
            pairs = parse_qsl(self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"the form is not URL-encoded UTF-8 ({exc})") from None
        form: dict[str, str] = {}
        for key, value in pairs:
            form.setdefault(key, value)
        return form


@dataclass
class WebResponse:
    """An HTTP response: status, body and headers (one ``Set-Cookie`` at most)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8")


def security_headers(nonce: str) -> dict[str, str]:
    """Headers of every dashboard response: a strict CSP (styles by nonce, no script), no sniffing, no referrer."""
    csp = (f"default-src 'none'; img-src data:; style-src 'nonce-{nonce}'; form-action 'self'; "
           "frame-ancestors 'none'; base-uri 'none'")
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store", "X-Frame-Options": "DENY"}


def _page(status: int, html_text: str, nonce: str, **extra: str) -> WebResponse:
    headers = {"Content-Type": "text/html; charset=utf-8", **security_headers(nonce), **extra}
    return WebResponse(status, html_text.encode("utf-8"), headers)


def _error(status: int, message: str, *, hint: str = "", link: tuple[str, str] | None = None) -> WebResponse:
    nonce = secrets.token_urlsafe(16)
    return _page(status, render_error(status, message, nonce, hint=hint, link=link), nonce)


def _redirect(location: str, **extra: str) -> WebResponse:
    nonce = secrets.token_urlsafe(16)
    return WebResponse(303, b"", {"Location": location, **security_headers(nonce), **extra})


def _denied(denied: Denied, auth: DashboardAuth, base: str) -> WebResponse:
    if denied.status == 401 and auth.mode == "easyauth":
        # App Service Authentication's own sign-in endpoint, back to the dashboard afterwards.
        sign_in = f"/.auth/login/aad?post_login_redirect_uri={quote(base, safe='/')}"
        return _error(401, denied.message, link=(sign_in, "Sign in with Microsoft Entra ID"))
    return _error(denied.status, denied.message)


def auth_for(s: Services) -> DashboardAuth:
    """The dashboard's authentication from the app's settings."""
    return DashboardAuth.from_env(s.env, s.settings.home)


def handle_dashboard(s: Services, request: WebRequest, auth: DashboardAuth | None = None) -> WebResponse:
    """``GET`` the dashboard: log in with ``?token=`` (token mode), else render the page for a maintainer."""
    auth = auth or auth_for(s)
    if request.method != "GET":
        return _error(405, "use GET")
    if "token" in request.query and auth.mode == "token" and not auth.disabled:
        cookie = auth.login(request.query["token"], request, path=request.path)
        if cookie is None:
            return _error(401, "the token in the URL is wrong", hint="Open the login URL that `triage dashboard` "
                               "printed, or use the value of TRIAGE_DASHBOARD_TOKEN.")
        rest = {k: v for k, v in request.query.items() if k != "token"}
        return _redirect(request.path + (f"?{urlencode(rest)}" if rest else ""), **{"Set-Cookie": cookie})
    session = auth.session(request)
    if isinstance(session, Denied):
        return _denied(session, auth, request.path)
    repos = jobs.repositories(s)
    repo = request.query.get("repo") or (repos[0] if repos else None)
    if repo is not None and repo not in repos:
        return _error(404, f"no repository {repo!r} here; known: {', '.join(repos) or 'none'}")
    nonce = secrets.token_urlsafe(16)
    view = dashboard_view(s, repo) if repo else None
    page = render_dashboard(view, repos, identity=session.identity, csrf=auth.csrf_token(session), nonce=nonce,
                            base=request.path)
    return _page(200, page, nonce)


def handle_review(s: Services, request: WebRequest,
                  auth: DashboardAuth | None = None) -> tuple[WebResponse, str | None]:
    """``POST`` a Confirm/Reject; returns the response and the repository whose retraining is now due, if any."""
    auth = auth or auth_for(s)
    if request.method != "POST":
        return _error(405, "use POST"), None
    base = request.path.removesuffix("/review")
    session = auth.session(request)
    if isinstance(session, Denied):
        return _denied(session, auth, base), None
    try:
        form = request.form()
    except InputError as exc:
        return _error(400, str(exc)), None
    refused = auth.check_post(session, request, form.get("csrf", ""))
    if refused:
        return _denied(refused, auth, base), None
    try:
        repo, number, label, verdict = _review_fields(form, jobs.repositories(s))
        record = record_review(s.docs, repo, number, label, verdict, actor=session.identity)
    except NotFoundError as exc:
        return _error(404, str(exc)), None
    except InputError as exc:
        return _error(400, str(exc)), None
    jobs.after_feedback(s, repo, [record])
    due = jobs.retrain_due(s, repo)
    return _redirect(f"{base}?repo={quote(repo, safe='')}#review"), (repo if due else None)


def _review_fields(form: Mapping[str, str], repos: list[str]) -> tuple[str, int, str, str]:
    missing = [name for name in ("repo", "number", "label", "verdict") if not form.get(name)]
    if missing:
        raise InputError(f"the review form lacks {', '.join(missing)}")
    repo, number, label, verdict = form["repo"], form["number"], form["label"], form["verdict"]
    if repo not in repos:
        raise InputError(f"{repo!r} is not a repository of this app; known: {', '.join(repos) or 'none'}")
    if not number.isascii() or not number.isdigit() or not 0 < int(number) < 10**9:
        raise InputError(f"issue number {number!r} is not a positive integer")
    if len(label) > MAX_LABEL or not label.isprintable():
        raise InputError(f"label {label[:50]!r} is not a label name (printable, at most {MAX_LABEL} characters)")
    if verdict not in VERDICTS:
        raise InputError(f"verdict {verdict!r} must be one of {', '.join(VERDICTS)}")
    return repo, int(number), label, verdict


def dashboard_view(s: Services, repo: str) -> dict[str, Any]:
    """Everything the page shows for ``repo``, as plain data."""
    pointer, _ = read_pointer(s.blobs, repo)
    manifest = _manifest(s, repo, pointer["version"]) if pointer else None
    target = s.settings.target_precision
    live = live_quality(s.docs, repo, window_days=s.settings.live_window_days,
                        max_decisions=s.settings.live_window_decisions, target=target)
    return {
        "repo": repo,
        "model": _model(s, repo, pointer, manifest),
        "card": {name: _image(s, repo, pointer["version"], name) if pointer else None for name in CARD_IMAGES},
        "live": live,
        "target": target,
        "labels": _labels(s, repo, pointer, manifest, live),
        "decisions": _decisions(s, repo),
        "review": review_queue(s.docs, repo, limit=50),
        "runs": [{k: r.get(k) for k in ("id", "state", "dataset_version", "started_at", "ended_at", "detail")}
                 for r in sorted(s.docs.query(RUNS, repo), key=lambda r: r.get("started_at") or "", reverse=True)[:20]],
        "queue": _queues(s, repo),
        "tuning": tuning_history(s.docs, repo, limit=20),
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _manifest(s: Services, repo: str, version: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(s.blobs.get(f"{model_prefix(repo, version)}/manifest.json")))
    except NotFoundError:
        return None


def _image(s: Services, repo: str, version: str, name: str) -> str | None:
    try:
        return base64.b64encode(s.blobs.get(f"{model_prefix(repo, version)}/{name}.png")).decode("ascii")
    except NotFoundError:
        return None


def _model(s: Services, repo: str, pointer: dict[str, Any] | None,
           manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    if pointer is None:
        return None
    record = s.docs.get(MODELS, repo, pointer["version"]) or {}
    test = (manifest or {}).get("metrics", {}).get("test", {})
    raw, at = test.get("raw", {}), test.get("at_thresholds", {})
    return {
        "version": pointer["version"], "promoted_at": pointer.get("promoted_at"),
        "created_at": (manifest or {}).get("created_at"),
        "train_size": (manifest or {}).get("training", {}).get("train_size"),
        "dataset_version": (manifest or {}).get("dataset_version") or record.get("dataset_version"),
        "accuracy": raw.get("accuracy"), "macro_f1": raw.get("macro_f1"),
        "coverage": at.get("coverage"), "precision": at.get("precision_when_labeled"),
        "status": record.get("status"), "reason": record.get("reason") or pointer.get("reason"),
        "gate_scores": record.get("gate_scores"),
    }


def _labels(s: Services, repo: str, pointer: dict[str, Any] | None, manifest: dict[str, Any] | None,
            live: dict[str, Any]) -> list[dict[str, Any]]:
    """Per label: live counts and precision, and the threshold in force with where it comes from."""
    model_thresholds = (manifest or {}).get("thresholds", {}).get("per_label", {})
    overrides = current_overrides(s.docs, repo, pointer["version"]) if pointer else {}
    config = known_config(s.docs, repo)
    pinned = config.get("pinned", {}) or {}
    rows = []
    for label in sorted(set(model_thresholds) | set(live["per_label"])):
        stats = live["per_label"].get(label, {})
        threshold, state, reason = model_thresholds.get(label), "from model", ""
        if config.get("default_threshold"):
            threshold, state = config["default_threshold"], "repository default"
        if label in pinned:
            threshold, state = pinned[label], "pinned"
        elif label in overrides:
            override = overrides[label]
            threshold, reason = override["threshold"], override.get("reason", "")
            state = "paused" if override.get("paused") else "auto-tuned"
        rows.append({"label": label, **{k: stats.get(k, 0) for k in ("applied", "confirmed", "corrected", "missed")},
                     "precision": stats.get("precision"), "coverage": stats.get("coverage"),
                     "threshold": threshold, "state": state, "reason": reason})
    return rows


def _decisions(s: Services, repo: str) -> list[dict[str, Any]]:
    """The newest decisions with the human outcome of each issue."""
    outcomes: dict[int, dict[str, dict[str, Any]]] = {}
    for f in sorted(s.docs.query(FEEDBACK, repo), key=arrival):
        if f.get("verdict") in JUDGED:  # in arrival order, as live quality counts them: the last verdict shows
            outcomes.setdefault(f["number"], {})[f.get("judged_label") or f.get("label", "")] = f
    newest = sorted(s.docs.query(PREDICTIONS, repo), key=lambda d: d.get("decided_at", ""), reverse=True)
    rows = []
    for d in newest[:DECISIONS_SHOWN]:
        status = "abstained" if not d.get("add") else ("would apply (dry run)" if d.get("dry_run", True) else "applied")
        judged = outcomes.get(d["number"], {})
        rows.append({
            "number": d["number"], "decided_at": d.get("decided_at"), "model_version": d.get("model_version"),
            "add": d.get("add", []), "top": d.get("top", []), "status": status, "reasons": d.get("reasons", []),
            "outcomes": [{"verdict": f["verdict"], "label": label, "actor": f.get("actor"), "source": f.get("source")}
                         for label, f in sorted(judged.items())],
        })
    return rows


def _queues(s: Services, repo: str) -> dict[str, Any]:
    poison = sorted(s.docs.query(jobs.POISON, repo), key=lambda d: d.get("at", ""), reverse=True)
    return {"depth": s.queue.depth(), "poison_depth": s.queue.depth(f"{LABEL_REQUESTS}-poison"),
            "poison_messages": len(poison), "poison_latest": [{"at": p.get("at"), "message": p.get("message")}
                                                              for p in poison[:5]]}
