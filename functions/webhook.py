"""POST /api/github/webhook: GitHub's deliveries. Signature-checked by the core; no model work here."""

from __future__ import annotations

import json

import azure.durable_functions as df
import azure.functions as func

from triage import jobs

from ._runtime import services, start_singleton

bp = df.Blueprint()


@bp.route(route="github/webhook", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def github_webhook(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Verify and route the delivery; start training when enough human feedback arrived."""
    s = services()
    result = jobs.receive_webhook(s, dict(req.headers), req.get_body())
    for repo in sorted({record["repo"] for record in result.feedback}):
        if jobs.retrain_due(s, repo):
            await start_singleton(client, "training_orchestrator", f"train:{repo}", jobs.training_input(s, repo, "feedback"))
    return func.HttpResponse(json.dumps({"message": result.message}), status_code=result.status,
                             mimetype="application/json")
