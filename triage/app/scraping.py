"""Scraping use case: keep the issue store up to date with a repository on GitHub."""

from __future__ import annotations

from typing import Any

from triage.app import telemetry
from triage.app.bootstrap import Services
from triage.data.scraper import scrape


def scrape_repository(s: Services, repo: str) -> dict[str, Any]:
    """Scrape one repository (resuming if interrupted) and report it."""
    with telemetry.span("scrape", repo=repo):
        api = s.github()
        result = scrape(api, s.docs, s.blobs, repo)
    out = result.to_dict() | {"requests": getattr(api, "requests_made", None)}
    telemetry.event("ScrapeCompleted", **out)
    telemetry.count("triage.scrape.requests", out["requests"] or 0, repo=repo)
    if result.not_modified:
        telemetry.count("triage.scrape.not_modified", 1, repo=repo)
    return out
