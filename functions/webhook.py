"""POST /api/github/webhook: GitHub's deliveries. Signature-checked by the core; no model work here."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from triage.app.learning_loop import retrain_due
from triage.app.webhook import receive_webhook

from ._runtime import json_response, services, start_training

bp = df.Blueprint()


@bp.route(route="github/webhook", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def github_webhook(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Verify and route the delivery; start training when enough human feedback arrived."""
    s = services()
    result = receive_webhook(s, dict(req.headers), req.get_body())
    for repo in sorted({record["repo"] for record in result.feedback}):
        if retrain_due(s, repo):
            await start_training(client, s, repo, "feedback")
    return json_response({"message": result.message}, result.status)
