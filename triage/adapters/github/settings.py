"""How to reach and authenticate to GitHub (no PyGithub import here: the settings tree reads it cheaply)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from triage.domain import env as envreader
from triage.domain.env import between, setting
from triage.domain.errors import ConfigError


def _url(text: str) -> str:
    url = text.strip().rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise ValueError("expected an http(s) URL such as https://api.github.com or https://HOST/api/v3")
    return url


@dataclass(frozen=True)
class GitHubSettings:
    """How to reach and authenticate to GitHub.

    Either ``app_id`` + ``private_key`` (a GitHub App, the production path: each repository is served
    with the token of the installation that holds it; ``installation_id`` optionally names one for
    tools that have no repository at hand) or ``token`` (a personal access token, for local use).
    ``base_url`` points at GitHub Enterprise Server (``https://HOST/api/v3``) or a test server.
    """

    base_url: str = setting("GITHUB_API_URL", "https://api.github.com", "GitHub's REST API: "
                            "`https://HOST/api/v3` for GitHub Enterprise Server.", parse=_url)
    token: str | None = setting("GITHUB_TOKEN", None, "A personal access token (local use).", secret=True)
    app_id: str | None = setting("GITHUB_APP_ID", None, "The GitHub App's id (production).")
    private_key: str | None = setting("GITHUB_APP_PRIVATE_KEY", None, "The App's private key (PEM text; a Key Vault "
                                      "reference in Azure).", secret=True)
    private_key_path: str | None = setting("GITHUB_APP_PRIVATE_KEY_PATH", None, "... or the path of its `.pem` "
                                           "file.")
    installation_id: int | None = setting("GITHUB_APP_INSTALLATION_ID", None, "Optional: the App's installation "
                                          "id when it has one; without it each repository's installation is found "
                                          "from webhook deliveries or `GET /repos/{owner}/{repo}/installation`.",
                                          between(1, 2**53))
    timeout: float = 15.0
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    max_rate_wait: float = 900.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GitHubSettings:
        """Read the ``GITHUB_*`` settings; a private key file is read here. Credentials are checked on use."""
        settings = envreader.read(cls, os.environ if env is None else env)
        if not settings.private_key and settings.private_key_path:
            try:
                with open(settings.private_key_path, encoding="utf-8") as handle:
                    settings = replace(settings, private_key=handle.read())
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"GITHUB_APP_PRIVATE_KEY_PATH: cannot read the private key ({exc}); point it at the "
                                  "App's .pem file") from exc
        return settings

    @property
    def is_app(self) -> bool:
        """Whether a GitHub App is configured (its id and private key)."""
        return bool(self.app_id and self.private_key)

    def check(self) -> None:
        """Raise :class:`ConfigError` unless exactly one complete way to authenticate is configured."""
        app = (self.app_id, self.private_key)
        if (any(app) or self.installation_id) and not all(app):
            raise ConfigError("a GitHub App needs GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY(_PATH) "
                              "(GITHUB_APP_INSTALLATION_ID is optional)")
        if not all(app) and not self.token:
            raise ConfigError("no GitHub credentials: set GITHUB_TOKEN, or the GITHUB_APP_* settings of a GitHub App")
