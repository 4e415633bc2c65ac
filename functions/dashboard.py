"""GET /api/dashboard and POST /api/dashboard/review: the maintainer dashboard.

Anonymous at the Functions level on purpose: the core authenticates every request itself
(App Service Authentication identities or a signed session, see ``triage/web/auth.py``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import azure.durable_functions as df
import azure.functions as func

from triage.web.handlers import handle_dashboard, handle_review
from triage.web.http import WebRequest, WebResponse

from ._runtime import services, start_training

bp = df.Blueprint()


def web_request(req: func.HttpRequest) -> WebRequest:
    """The dashboard's view of a Functions HTTP request."""
    url = urlsplit(req.url)
    headers = dict(req.headers)
    forwarded = {k.lower(): v for k, v in headers.items()}.get("x-forwarded-proto", "")
    scheme = url.scheme or forwarded.split(",")[0].strip() or "http"
    return WebRequest(method=req.method, path=url.path, query=dict(req.params), headers=headers,
                      body=req.get_body() or b"", scheme=scheme)


def http_response(response: WebResponse) -> func.HttpResponse:
    """A Functions HTTP response from the dashboard's response."""
    return func.HttpResponse(body=response.body, status_code=response.status, headers=response.headers)


@bp.route(route="dashboard", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def dashboard(req: func.HttpRequest) -> func.HttpResponse:
    """The dashboard page (maintainers only; the core checks)."""
    return http_response(handle_dashboard(services(), web_request(req)))


@bp.route(route="dashboard/review", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def dashboard_review(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Record a Confirm/Reject; start training when enough human feedback arrived."""
    s = services()
    response, retrain = handle_review(s, web_request(req))
    if retrain:
        await start_training(client, s, retrain, "review")
    return http_response(response)
