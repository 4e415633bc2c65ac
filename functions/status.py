"""GET /api/status: per repository, the current model, the last scrape, training runs, queues and decisions."""

from __future__ import annotations

import json

import azure.functions as func

from triage import jobs

from ._runtime import services

bp = func.Blueprint()


@bp.route(route="status", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def status(req: func.HttpRequest) -> func.HttpResponse:
    """The status JSON (function key required)."""
    return func.HttpResponse(json.dumps(jobs.status(services()), indent=1), mimetype="application/json")
