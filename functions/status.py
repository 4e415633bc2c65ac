"""GET /api/status: per repository, the current model, the last scrape, training runs, queues and decisions."""

from __future__ import annotations

import azure.functions as func

from triage.app.status import status as app_status

from ._runtime import json_response, services

bp = func.Blueprint()


@bp.route(route="status", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def status(req: func.HttpRequest) -> func.HttpResponse:
    """The status JSON (function key required)."""
    return json_response(app_status(services()))
