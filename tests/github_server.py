"""A GitHub REST API on loopback for tests (test infrastructure, not product code); the code is in tests/github/.

Tests talk to it exactly as to GitHub (or GitHub Enterprise Server), for example through PyGithub::

    fixture = build_fixture()                        # the bundled dotnet/corefx issues as REST objects
    with GitHubServer(fixture) as server:            # binds 127.0.0.1 on a free port
        gh = Github(auth=Auth.Token("test-token"), base_url=server.url, retry=None)
        gh.get_repo("dotnet/corefx").get_issues(state="all")
        gh.requester.requestJson("GET", "/repos/dotnet/corefx/issues", {"per_page": 100})

Checked against GitHub's own description
    Every answer is validated against the operation's schema in npm ``@octokit/openapi`` (status, headers,
    body; :mod:`tests.openapi_check`).  Deviations are collected per server: :meth:`GitHubServer.stop`
    (the end of a ``with`` block) raises AssertionError if there are any, and ``tests/conftest.py`` fails
    the test run if any server of the session produced one.  ``schema_check=None`` turns it off.

Fixture (:func:`build_fixture`)
    The bundled issues ordered by number, with deterministic (``seed``) extra fields: ``created_at``
    one hour apart from 2018-01-01T00:00:00Z, ``updated_at`` 25 to 55 minutes after ``created_at``
    (so ``updated_at`` is unique and strictly increasing with the number too), ~30 % closed (a fifth of
    the closed issues ``not_planned``), ~5 % pull requests, 0-3 comments, one ``labeled`` event per label
    by a human maintainer (2, 3, ... minutes after ``created_at``), and the other events real issues have:
    ``renamed`` (~10 %), ``assigned`` (~20 %, with the issue's assignee), ``mentioned`` + ``subscribed``
    (~10 %), ``referenced`` (~10 %, with a commit), ``closed`` then ``reopened`` (~15 %), and a final
    ``closed`` (with its ``state_reason``) at ``closed_at`` for closed issues.  Events fall between
    ``created_at`` and ``updated_at``; their ids grow with time across the repository.

State and time
    The server deep-copies the fixture; everything changes in memory under one lock.  Mutations
    (through the API or the methods below) are stamped by a mutation clock that is independent of
    :attr:`GitHubServer.clock`: it starts one hour after the newest fixture timestamp and moves one
    minute per mutation.  Events created by one mutation (e.g. one POST of two labels) share its time.
    :attr:`GitHubServer.clock` (epoch seconds, default :func:`time.time`) drives the rate-limit windows
    and installation-token expiry; :attr:`GitHubServer.jwt_clock` checks App JWTs.

Changes on demand (all record GitHub's events; ``actor`` is a login)
    ``open_issue``, ``edit_issue`` (a new title: ``renamed``), ``close_issue(n, actor, reason=
    "completed"|"not_planned"|"duplicate")``, ``reopen_issue(n, actor)``, ``add_label``, ``remove_label``,
    ``add_comment``; and the real world:

    * ``rename_repository(new_full_name)``: ``/repos/{old}/...`` answers 301 with ``Location:
      {url}/repositories/{id}/...`` (path tail and query string kept); ``/repositories/{id}/...`` is served
      as ``/repos/{new}/...``; issue URLs use the new name.
    * ``transfer_issue(n, to_repo) -> int``: the issue moves (comments and history kept, labels the target
      lacks dropped, a ``transferred`` event added there) to ``to_repo``, which the server then also serves;
      here it is no longer listed and ``/repos/{repo}/issues/{n}[/...]`` answers 301 to it.
    * ``delete_issue(n)``: no longer listed, its events and comments gone; its paths answer 410
      ``This issue was deleted``.
    * ``set_issues_enabled(False)``: every issues endpoint answers 410 ``Issues are disabled for this repo``.

Lists
    ``page``/``per_page`` (30 by default, 100 at most; other values ignored as GitHub does) with GitHub's
    ``Link`` header (``next``, ``last``, ``prev``, ``first``; URLs on ``/repositories/{id}/...``).
    ``/issues``: ``state``, ``sort=created|updated|comments``, ``direction`` (default ``desc``), ``since``
    (inclusive: ``updated_at >= since``), ``labels``, ``creator``.  Issue comments: ``since``; the
    repository's comments (``/issues/comments``): ``sort=created|updated``, ``direction``, ``since``.
    Event lists take only ``page``/``per_page``, as on GitHub: the repository's newest first, an issue's
    oldest first; the timeline adds ``commented`` items.  Bad ``state``/``sort``/``direction``/``since``: 422.

Auth
    ``Authorization: token X`` or ``Bearer X`` with a personal token (``token``, login ``token_login``,
    more with :meth:`GitHubServer.add_token`) or a non-expired installation token; a wrong one gets 401
    ``Bad credentials``.  No ``Authorization`` at all is an anonymous caller: GETs of a public repository
    are served (a private one, ``private=True``, answers 404), writes get 401 ``Requires authentication``.
    ``/app/...`` and ``GET /repos/{o}/{r}/installation`` need ``Bearer <JWT>`` signed RS256 by the App's
    key with ``iss`` = app id.  Changes by an installation token (or by any ``Bot``) are made by its
    ``[bot]`` account and carry ``performed_via_github_app`` (the App); people's changes carry null.

Rate limits
    Every answer carries ``X-RateLimit-*`` headers of the caller's bucket: one ``core`` bucket for all
    credentials (``rate_limit``), one for anonymous callers (``anonymous_rate_limit``, 60 as on GitHub).
    Counted: requests of tokens and anonymous callers except ``GET /rate_limit``, 304 answers, 401s,
    rate-limit 403s and injected faults; JWT requests are not counted.  A window (``rate_limit_window``
    seconds) starts at its first request and refills when ``clock() >= reset``.  At 0 remaining: 403
    ``API rate limit exceeded for ...``.

Faults (:class:`Fault`, queued with :meth:`GitHubServer.inject`, matched in order with
``re.search(path_regex, path)`` against the path without its query, method ``"*"`` = any):
    ``Fault.status(code, body=None, headers=None)``, ``Fault.secondary_limit(retry_after=1, status=403)``,
    ``Fault.primary_limit(reset_in=60)``, ``Fault.drop()``, ``Fault.slow(seconds)``, ``Fault.truncate()``.
    ``status``/``*_limit`` answer instead of the endpoint (nothing changes, nothing is counted);
    ``drop`` reads the request and closes the connection without an answer; ``slow`` sleeps then
    answers normally; ``truncate`` serves the request normally (state changes apply and it is
    counted) but sends only half of the body declared by ``Content-Length``, then closes.
"""

from __future__ import annotations

from tests.github.faults import Fault, RequestRecord
from tests.github.fixture import COMMENT_TEXTS, DEFAULT_ISSUES, MAINTAINERS, USERS, FixtureRepo, build_fixture
from tests.github.objects import (
    API_BASE,
    HTML_BASE,
    app_object,
    installation_object,
    iso,
    issue_urls,
    label_object,
    parse_iso,
    user_object,
)
from tests.github.server import GitHubServer

__all__ = ["API_BASE", "COMMENT_TEXTS", "DEFAULT_ISSUES", "HTML_BASE", "MAINTAINERS", "USERS", "Fault", "FixtureRepo",
           "GitHubServer", "RequestRecord", "app_object", "build_fixture", "installation_object", "iso", "issue_urls",
           "label_object", "parse_iso", "user_object"]
