"""GET /api/health: liveness and the running version (anonymous, reveals nothing else)."""

import json

import azure.functions as func

from triage import __version__

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Answer 200 with the product version."""
    return func.HttpResponse(json.dumps({"status": "ok", "version": __version__}), mimetype="application/json")
