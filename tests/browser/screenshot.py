"""The README's dashboard picture, taken in headless Chromium from a real pipeline's stores.

After ``make demo`` (whose stores are in ``.triage``)::

    .venv/bin/python -m tests.browser.screenshot --home .triage --out docs/dashboard.png

serves the dashboard as ``triage dashboard`` does (token sign-in, the embedded stores of ``--home``), signs in,
and saves the whole page. The browser test runs the same function after a demo of its own.
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from triage.app.bootstrap import build_services
from triage.web.handlers import auth_for, handle_dashboard
from triage.web.local_server import LocalServer, router

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def dashboard_screenshot(home: Path, repo: str, out: Path, width: int = 1280, height: int = 1500) -> dict[str, Any]:
    """Save the top ``height`` pixels of the dashboard of ``repo`` in the embedded stores under ``home`` as the PNG
    ``out``; return what the page shows (model panel, decision rows) for the caller to check."""
    from playwright.sync_api import sync_playwright

    token = secrets.token_hex(16)
    s = build_services({"TRIAGE_HOME": str(home), "TRIAGE_DASHBOARD_TOKEN": token})
    auth = auth_for(s)
    routes = {("GET", "/api/dashboard"): lambda request: handle_dashboard(s, request, auth)}
    with LocalServer(router(routes)) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            response = page.goto(f"{server.url}/api/dashboard?token={token}&repo={quote(repo, safe='')}")
            if response is None or response.status != 200:
                raise RuntimeError(f"the dashboard answered {response and response.status}: {page.content()[:300]}")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            return {"model": page.locator("#model").inner_text(),
                    "decisions": page.locator("#decisions tbody tr").count()}
        finally:
            browser.close()


def main() -> None:
    """``python -m tests.browser.screenshot --home .triage --out docs/dashboard.png``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=Path(".triage"), help="TRIAGE_HOME of a finished `make demo`")
    parser.add_argument("--repo", default="dotnet/corefx")
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard.png"))
    args = parser.parse_args()
    shown = dashboard_screenshot(args.home, args.repo, args.out)
    print(f"{args.out}: {shown['decisions']} decisions shown; model: {shown['model'].splitlines()[:1]}")


if __name__ == "__main__":
    main()
