"""A GitHub App on several installations: each repository is served with the token of the installation that holds it.

:class:`AppClient` is the :class:`~triage.ports.github.GitHubApi` of a GitHub App. Its own requests carry the App's
JWT (``GET /app``, ``GET /repos/{owner}/{repo}/installation``); every repository call goes through the client of
the installation that holds that repository, one per installation and kept for the process, so each installation
token is fetched once and reused until shortly before its ``expires_at`` (PyGithub renews it 20 seconds before).

Which installation holds a repository: the one the caller recorded (``lookup``: the installation registry, fed by
webhook deliveries), else ``GET /repos/{owner}/{repo}/installation`` once, whose answer is handed to ``remember``.
A repository whose installation is gone answers 404 to its token; the client then asks GitHub again, once.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any

from triage.adapters.github.client import GitHubClient
from triage.adapters.github.settings import GitHubSettings
from triage.domain.errors import ConfigError, GitHubError

Lookup = Callable[[str], "int | None"]
Remember = Callable[[str, int, "str | None"], None]


class AppClient(GitHubClient):
    """A GitHub App's client: App-level calls with its JWT, repository calls with the right installation's token."""

    def __init__(self, settings: GitHubSettings, *, lookup: Lookup | None = None, remember: Remember | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        """``lookup(repo)``: a recorded installation id (or None); ``remember(repo, id, account)``: record one found
        on GitHub. Both default to nothing (each repository is then looked up once per process)."""
        if not settings.is_app:
            raise ConfigError("AppClient needs a GitHub App: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY(_PATH)")
        self._clients: dict[int, GitHubClient] = {}
        self._holder: dict[str, int] = {}
        self._own_requests = 0
        self._rate_wait = settings.max_rate_wait
        super().__init__(settings, sleep, clock, as_app=True)
        self._lookup: Lookup = lookup or (lambda _repo: None)
        self._remember: Remember = remember or (lambda _repo, _id, _account: None)
        self._app: dict[str, Any] | None = None

    # --- the App itself ---------------------------------------------------------------------------------------

    def app(self) -> dict[str, Any]:
        """``GET /app`` (once per process): the App's ``id``, ``slug``, ``name``, ``permissions``, ``events``."""
        if self._app is None:
            data = self.request("GET", "/app").data
            if not isinstance(data, dict) or not isinstance(data.get("slug"), str) or not data["slug"]:
                raise GitHubError("GET /app: the answer has no App slug; is GITHUB_APP_ID the App's id?")
            self._app = data
        return self._app

    def bot_login(self) -> str:
        """The login the App acts as on issues: its slug and ``[bot]``."""
        return f"{self.app()['slug']}[bot]"

    def installation_of(self, repo: str, *, fresh: bool = False) -> int:
        """The id of the installation that holds ``repo``: recorded, else asked of GitHub (``fresh``: always asked).

        Raises :class:`GitHubError` (status 404) when the App is not installed on the repository."""
        key = repo.lower()
        if not fresh:
            known = self._holder.get(key) or self._lookup(key)
            if known:
                self._holder[key] = known
                return known
        try:
            data = self.request("GET", f"/repos/{repo}/installation").data
        except GitHubError as exc:
            if exc.status == 404:
                raise GitHubError(f"the GitHub App is not installed on {repo}: install it on the repository (or its "
                                  "account) and grant it the repository", 404) from exc
            raise
        ident = data.get("id") if isinstance(data, dict) else None
        if type(ident) is not int or not 0 < ident < 2**63:
            raise GitHubError(f"GET /repos/{repo}/installation: the answer has no installation id")
        account = (data.get("account") or {}).get("login") if isinstance(data.get("account"), dict) else None
        self._holder[key] = ident
        self._remember(key, ident, account if isinstance(account, str) else None)
        return ident

    def installation_client(self, installation_id: int) -> GitHubClient:
        """The client of one installation (its token cached in it), made on first use."""
        client = self._clients.get(installation_id)
        if client is None:
            client = GitHubClient(self.settings, self._sleep, self._clock, installation_id=installation_id)
            client.max_rate_wait = self._rate_wait
            self._clients[installation_id] = client
        return client

    def for_repo(self, repo: str) -> GitHubClient:
        """The client whose token reaches ``repo``."""
        return self.installation_client(self.installation_of(repo))

    def forget(self, repo: str) -> None:
        """Drop what is known of ``repo``'s installation (it was uninstalled or moved to another one)."""
        self._holder.pop(repo.lower(), None)

    # --- counters shared with the installation clients ------------------------------------------------------------

    @property
    def requests_made(self) -> int:  # type: ignore[override]
        """Requests made by this client and its installation clients."""
        return self._own_requests + sum(c.requests_made for c in self._clients.values())

    @requests_made.setter
    def requests_made(self, value: int) -> None:
        self._own_requests = value - sum(c.requests_made for c in self._clients.values())

    @property
    def max_rate_wait(self) -> float:  # type: ignore[override]
        """The longest wait for a rate-limit reset, for this client and every installation client."""
        return self._rate_wait

    @max_rate_wait.setter
    def max_rate_wait(self, value: float) -> None:
        self._rate_wait = value
        for client in self._clients.values():
            client.max_rate_wait = value


def _through_installation(name: str) -> Callable[..., Any]:
    """``name`` of :class:`GitHubClient`, sent with the token of the installation that holds its ``repo``; a
    404 from a recorded installation (the App was uninstalled or the repository moved) asks GitHub once more."""
    def call(self: AppClient, repo: str, *args: Any, **kwargs: Any) -> Any:
        recorded = self._holder.get(repo.lower()) or self._lookup(repo.lower())
        try:
            return getattr(self.for_repo(repo), name)(repo, *args, **kwargs)
        except GitHubError as exc:
            if exc.status not in (401, 404) or not recorded:
                raise
            if self.installation_of(repo, fresh=True) == recorded:
                raise
            return getattr(self.for_repo(repo), name)(repo, *args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = getattr(GitHubClient, name).__doc__ or f"``{name}`` with the installation's token."
    return call


# Every public method of GitHubClient whose first argument is the repository (those other parts of the product add
# included) is routed to that repository's installation.
REPOSITORY_METHODS = tuple(
    name for name, member in vars(GitHubClient).items()
    if inspect.isfunction(member) and not name.startswith("_")
    and list(inspect.signature(member).parameters)[1:2] == ["repo"])
for _name in REPOSITORY_METHODS:
    setattr(AppClient, _name, _through_installation(_name))
